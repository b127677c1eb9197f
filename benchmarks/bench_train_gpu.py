"""Full-size fine-tuning steps on the GPU: batches from the real loader against batches already on
the GPU, with and without the optimised path, and DDP scaling under torchrun.

One process per GPU (``torchrun --nproc_per_node N benchmarks/bench_train_gpu.py ...``) or a
single process. Rank 0 first writes a full-size store (the whole ibi36 grid, 1081 x 865) of
``--days`` days from the analytic synthetic source, with every depth group, through the same
``prepare_store`` the product uses; then every rank trains the full-size network of ``--group``
for ``--steps`` steps, batch 1 per GPU:

- ``on-GPU``: one batch already on the device, reused (the compute ceiling of the step);
- ``loader``: batches from :class:`GlonetStoreDataset` through :func:`make_loader` (worker
  processes, pinned memory, non-blocking copies): the ratio to ``on-GPU`` says whether the
  loader keeps the GPU fed.

It prints one JSON line per measurement (rank 0) and a markdown table at the end, and writes
them to ``--out`` when given. Needs CUDA; NCCL_NVLS_ENABLE=0 is set before NCCL starts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loader import _region  # the benchmarks' region on the ibi36 grid v1

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")


def _prepare(store: Path, days: int, workers: int) -> float:
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource

    region = _region(1081, 865, edges=("west", "south", "north", "east"))
    src = SyntheticSource(region.grid, dt.date(2021, 1, 1), days)
    t0 = time.perf_counter()
    prepare_store(store, src, region=region, workers=workers)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True, help="store folder (built if missing)")
    ap.add_argument("--days", type=int, default=12)
    ap.add_argument("--group", default="surface")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=6, help="loader worker processes per rank")
    ap.add_argument("--prepare-workers", type=int, default=8)
    ap.add_argument(
        "--modes",
        default="eager,fast",
        help="exec modes to time; add '+search' (e.g. fast+search) for DDP's unused-parameter "
        "search instead of freezing the unused parameters",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from glonet_regions.data.loader import GlonetStoreDataset, make_loader
    from glonet_regions.engine.distributed import has_trainable_unused
    from glonet_regions.engine.freeze import freeze_unused
    from glonet_regions.model.gpu import optimise_model
    from glonet_regions.model.network import build_glonet

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    device = torch.device("cuda", local)
    if world > 1:
        dist.init_process_group("nccl", device_id=device)
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        row = {"world_size": world, "card": torch.cuda.get_device_name(device), **row}
        rows.append(row)
        if rank == 0:
            print(json.dumps(row), flush=True)

    if rank == 0 and not (args.store / "zarr.json").exists():
        emit(
            {
                "what": "prepare",
                "days": args.days,
                "seconds": _prepare(args.store, args.days, args.prepare_workers),
            }
        )
    if world > 1:
        dist.barrier()

    ds = GlonetStoreDataset(
        args.store, args.group, "train", n_input=2, n_target=2, with_boundary=False
    )
    c = int(ds[0]["x"].shape[1])
    h, w = (int(s) for s in ds[0]["x"].shape[-2:])

    # Matmul peak of this card, measured here (bf16, 8192^3, random data).
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    peak = 2 * 8192**3 * 10 / (time.perf_counter() - t0)
    del a, b

    for spec in args.modes.split(","):
        # "fast" / "eager": the product's path (unused parameters frozen, no DDP search);
        # "fast+search": DDP searching the graph for unused parameters (the old behaviour).
        mode, _, variant = spec.partition("+")
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        model = build_glonet(c, "full", (h, w), checkpoint_blocks=(mode == "eager"))
        model = optimise_model(model, device=device, mode=mode, training=True)  # type: ignore[arg-type]
        if variant != "search":
            freeze_unused(model)
        net: Any = model
        if world > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[local], find_unused_parameters=has_trainable_unused(model)
            )
        opt = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=True
        )

        def step(x: torch.Tensor, y: torch.Tensor, net: Any = net, opt: Any = opt) -> None:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.mse_loss(net(x).float(), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        item = ds[0]
        x_gpu = item["x"][None].to(device)
        y_gpu = item["y"][None].to(device)
        for _ in range(args.warmup):
            step(x_gpu, y_gpu)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(x_gpu, y_gpu)
        torch.cuda.synchronize()
        t_gpu = (time.perf_counter() - t0) / args.steps

        loader = make_loader(
            ds,
            batch_size=1,
            shuffle=True,
            seed=0,
            num_workers=args.workers,
            pin_memory=True,
            drop_last=True,
            rank=rank,
            world_size=world,
        )
        it = iter(loader)
        batch = next(it)  # workers started, first batch decoded
        step(batch["x"].to(device, non_blocking=True), batch["y"].to(device, non_blocking=True))
        torch.cuda.synchronize()
        n = 0
        t0 = time.perf_counter()
        while n < args.steps:
            try:
                batch = next(it)
            except StopIteration:
                it = iter(loader)
                batch = next(it)
            step(batch["x"].to(device, non_blocking=True), batch["y"].to(device, non_blocking=True))
            n += 1
        torch.cuda.synchronize()
        t_loader = (time.perf_counter() - t0) / n
        peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
        # FLOPs counted last, so the counter's dispatch mode cannot change the timed steps or
        # the peak memory. Every rank takes this step (DDP needs the same steps on all ranks).
        counter = FlopCounterMode(display=False)
        with counter:
            step(x_gpu, y_gpu)
        flops = counter.get_total_flops()
        torch.cuda.synchronize()
        emit({
            "what": "train_step", "mode": spec, "group": args.group, "channels": c,
            "grid": [h, w], "batch_per_gpu": 1,
            "step_s_on_gpu": t_gpu, "step_s_loader": t_loader,
            "loader_feeds_ratio": t_gpu / t_loader,
            "samples_per_s_total_loader": world / t_loader,
            "peak_gib": peak_gib,
            "counted_tflop_per_step": flops / 1e12,
            "achieved_tflops": flops / t_gpu / 1e12 if flops else None,
            "matmul_peak_tflops": peak / 1e12,
            "fraction_of_peak": flops / t_gpu / peak if flops else None,
        })  # fmt: skip
        del loader, it, step, net, model, opt
    if world > 1:
        dist.destroy_process_group()
    if rank == 0:
        print(
            "\n| world | mode | step s (on-GPU batch) | step s (loader) | loader/GPU ratio | "
            "samples/s (loader, all GPUs) | peak GiB | TFLOP/s | % of bf16 matmul peak |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r["what"] != "train_step":
                continue
            frac = r["fraction_of_peak"]
            print(
                f"| {r['world_size']} | {r['mode']} | {r['step_s_on_gpu']:.3f} | "
                f"{r['step_s_loader']:.3f} | {r['loader_feeds_ratio']:.2f} | "
                f"{r['samples_per_s_total_loader']:.2f} | {r['peak_gib']:.1f} | "
                f"{(r['achieved_tflops'] or 0):.1f} | {100 * (frac or 0):.1f}% |"
            )
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as fh:
                for r in rows:
                    fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
