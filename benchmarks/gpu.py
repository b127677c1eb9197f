#!/usr/bin/env python
"""GPU benchmark of the GLONET networks on the full ibi36 grid: eager baseline vs fast paths.

Run on a CUDA machine from the repository root::

    PYTHONPATH=src python benchmarks/gpu.py [--out DIR] [--budget-s 540]

One run measures, on the card it finds:

* the bf16 matmul peak (8192^3 random bf16, median) and device-to-device copy bandwidth;
* per model (surface C=5, 40-channel C=40): forward time, peak memory, achieved TFLOP/s and
  relative L2 error of each forward against a float32 eager forward (TF32 off) on fresh random
  inputs; the forward replayed from a CUDA graph;
* a training step (AdamW, bf16 autocast, MSE): eager baseline (all blocks checkpointed) and the
  fast path with several checkpointing choices, time, peak memory and TFLOP/s;
* the 10-day forecast of all three depth groups (5 autoregressive calls each): compute only,
  and the host-to-device / device-to-host copies separately;
* a short torch.profiler summary (top kernels by CUDA time) and the bytes the eager forward's
  operators read and write (the memory-traffic floor at the measured copy bandwidth);
* one training step profiled (C=40, or ``--profile-channels 5``), eager and fast: forward /
  backward / optimizer split (CUDA events) and top kernels
  (``profile_train_{eager,fast}_c{C}.txt``);
* one AFNO of each token grid (space.NO, dynamics), eager vs each transform layout: time and
  error vs float32 (section ``afno``).

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode``: matrix products and
convolutions (forward and backward), not FFTs, normalisations or pointwise work.

Each section (with the one it needs: a training section takes its model's forward FLOPs from
the inference section) runs in its own fresh Python process, as the product runs one model
family per process; ``--no-isolate`` runs them all in one process (slower numbers, see
``run_isolated``).

It prints a markdown table last and writes ``results.json``, ``table.md`` and logs under
``--out`` (default ``$OUT`` or ``benchmarks/out``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from glonet_regions.model.gpu import (
    ForecastRunner,
    forecast_groups,
    optimise_model,
    set_checkpoint_branches,
)
from glonet_regions.model.gpu import conv as fast_conv
from glonet_regions.model.network import Glonet, build_glonet
from glonet_regions.model.rollout import rollout

GRID = (1081, 865)  # ibi36 (lat x lon); the network pads to 1088 x 880
GROUPS = {"surface": 5, "intermediate": 40, "deep": 40}
GIB = 1024**3
T0 = time.time()
RESULTS: dict[str, Any] = {"grid": list(GRID), "sections": {}}
LOG_LINES: list[str] = []
ARGS: argparse.Namespace


def log(*parts: object) -> None:
    line = f"[{time.time() - T0:7.1f}s] " + " ".join(str(p) for p in parts)
    print(line, flush=True)
    LOG_LINES.append(line)


def left() -> float:
    return float(ARGS.budget_s) - (time.time() - T0)


def save() -> None:
    out = Path(ARGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(RESULTS, indent=2, default=str))
    (out / "log.txt").write_text("\n".join(LOG_LINES) + "\n")


def sync() -> None:
    torch.cuda.synchronize()


def timed(fn: Callable[[], object], reps: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median seconds of ``fn`` (CUDA events around each call)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times), times


@contextlib.contextmanager
def peak_memory(record: dict[str, Any], key: str = "peak_gib") -> Iterator[None]:
    sync()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    try:
        yield
    finally:
        sync()
        record[key] = torch.cuda.max_memory_allocated() / GIB
        record["resident_before_gib"] = base / GIB


def free() -> None:
    gc.collect()
    torch.cuda.empty_cache()


def rel_l2(y: Tensor, ref: Tensor) -> float:
    y64, r64 = y.double(), ref.double()
    if not torch.isfinite(y64).all():
        return float("nan")
    return float((y64 - r64).norm() / r64.norm())


def env_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "python": sys.version.split()[0],
        "card": torch.cuda.get_device_name(),
        "sm_count": torch.cuda.get_device_properties(0).multi_processor_count,
        "memory_gib": torch.cuda.get_device_properties(0).total_memory / GIB,
    }
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        info["nvidia_smi"] = smi.stdout.strip()
        info["driver"] = smi.stdout.split(",")[1].strip() if "," in smi.stdout else "?"
    except (OSError, subprocess.SubprocessError) as exc:
        info["nvidia_smi"] = f"unavailable: {exc}"
        info["driver"] = "?"
    return info


def ceilings() -> dict[str, float]:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    med, _ = timed(lambda: a @ b, reps=30, warmup=5)
    peak = 2 * 8192**3 / med / 1e12
    src = torch.randn(512 * 1024**2, device="cuda")  # 2 GiB
    dst = torch.empty_like(src)
    cmed, _ = timed(lambda: dst.copy_(src), reps=20, warmup=3)
    bw = 2 * src.numel() * 4 / cmed / 1e9
    free()
    return {"matmul_bf16_tflops": peak, "copy_gbps": bw}


class ByteCounter(TorchDispatchMode):
    """Sums the bytes of every tensor each aten op reads and writes (no cache reuse assumed)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func._overloadpacket in (torch.ops.aten.view, torch.ops.aten._unsafe_view):
            return out
        seen: set[int] = set()

        def add(t: object) -> None:
            if isinstance(t, Tensor) and t.device.type == "cuda" and id(t) not in seen:
                seen.add(id(t))
                self.bytes += t.numel() * t.element_size()

        flat = list(args) + list((kwargs or {}).values())
        flat += list(out) if isinstance(out, (list, tuple)) else [out]
        for a in flat:
            for item in a if isinstance(a, (list, tuple)) else [a]:
                add(item)
        return out


def autocast() -> contextlib.AbstractContextManager[None]:
    return torch.autocast("cuda", dtype=torch.bfloat16)


def fp32_reference(model: nn.Module, x: Tensor) -> Tensor:
    prev = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad():
            return model(x).float()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def inference_section(c: int, peak_tflops: float) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    torch.manual_seed(c)
    model = build_glonet(c, "full", GRID).cuda().eval()
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    ref = fp32_reference(model, x)
    log(f"C={c}: fp32 reference done")

    flops = FlopCounterMode(display=False)
    with torch.no_grad(), autocast(), flops:
        model(x)
    sec["forward_flops"] = flops.get_total_flops()

    def eager() -> Tensor:
        with torch.no_grad(), autocast():
            return model(x)

    base: dict[str, Any] = {}
    with peak_memory(base):
        base["time_s"], base["times"] = timed(eager, reps=3)
    base["rel_l2_vs_fp32"] = rel_l2(eager(), ref)
    sec["eager"] = base
    log(f"C={c}: eager forward {base['time_s']:.3f}s peak {base['peak_gib']:.1f} GiB")

    if c == 40 and left() > 200:  # bytes the eager forward's operators move
        counter = ByteCounter()
        with torch.no_grad(), autocast(), counter:
            model(x)
        sec["eager_forward_bytes"] = counter.bytes

    fast_model = optimise_model(copy.deepcopy(model), device="cuda", mode="fast", training=False)

    def fast() -> Tensor:
        with torch.no_grad(), autocast():
            return fast_model(x)

    fast_rec: dict[str, Any] = {}
    t = time.time()
    fast()
    sync()
    fast_rec["first_call_s"] = time.time() - t  # includes lazy compilation (or cache load)
    with peak_memory(fast_rec):
        fast_rec["time_s"], fast_rec["times"] = timed(fast, reps=3)
    fast_rec["rel_l2_vs_fp32"] = rel_l2(fast(), ref)
    sec["fast"] = fast_rec
    log(f"C={c}: fast forward {fast_rec['time_s']:.3f}s first {fast_rec['first_call_s']:.1f}s")

    runner = ForecastRunner(fast_model, n_calls=1)
    graph_rec: dict[str, Any] = {}
    with peak_memory(graph_rec):
        runner.capture(x)
        graph_rec["time_s"], graph_rec["times"] = timed(lambda: runner(x), reps=5)
    x2 = torch.randn_like(x)  # fresh input through the same graph
    ref2 = fp32_reference(model, x2)
    graph_rec["rel_l2_vs_fp32"] = rel_l2(runner(x2)[:, :2], ref2)
    sec["fast_graph"] = graph_rec
    log(f"C={c}: graph forward {graph_rec['time_s']:.3f}s")
    for rec in (base, fast_rec, graph_rec):
        rec["tflops"] = sec["forward_flops"] / rec["time_s"] / 1e12
        rec["pct_peak"] = 100 * rec["tflops"] / peak_tflops
    free()
    return sec


def train_step_fn(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor):
    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast():
            pred = model(x)
        loss = F.mse_loss(pred.float(), y)
        loss.backward()
        opt.step()

    return step


def training_section(c: int, peak_tflops: float, fwd_flops: float) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    torch.manual_seed(100 + c)
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    y = torch.randn(1, 2, c, *GRID, device="cuda")
    model = build_glonet(c, "full", GRID, checkpoint_blocks=True).cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    base: dict[str, Any] = {"checkpoint": "all"}
    with peak_memory(base):
        base["time_s"], base["times"] = timed(train_step_fn(model, opt, x, y), reps=2)
    sec["eager_ckpt_all"] = base
    log(f"C={c}: eager train (ckpt) {base['time_s']:.3f}s peak {base['peak_gib']:.1f} GiB")

    big_card = torch.cuda.get_device_properties(0).total_memory > 100 * GIB
    if ARGS.eager_no_ckpt and c == 5 and big_card and left() > 300:
        model.set_checkpoint_blocks(False)
        rec: dict[str, Any] = {"checkpoint": "none"}
        try:
            with peak_memory(rec):
                rec["time_s"], rec["times"] = timed(train_step_fn(model, opt, x, y), reps=2)
        except torch.OutOfMemoryError as exc:
            rec["error"] = f"OOM: {str(exc)[:120]}"
        sec["eager_ckpt_none"] = rec
        free()

    del opt
    optimise_model(model, device="cuda", mode="fast", training=True)
    policies = [("space", "dynamics"), ("space",)]
    for policy in policies:
        if left() < 120:
            log(f"C={c}: skipping train policy {policy}: time budget")
            break
        name = "fast_ckpt_" + ("+".join(policy) or "none")
        rec = {"checkpoint": "+".join(policy) or "none"}
        assert isinstance(model, Glonet)
        set_checkpoint_branches(model, policy)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
        step = train_step_fn(model, opt, x, y)
        try:
            t = time.time()
            step()
            sync()
            rec["first_step_s"] = time.time() - t
            with peak_memory(rec):
                rec["time_s"], rec["times"] = timed(step, reps=4)
        except torch.OutOfMemoryError as exc:
            rec["error"] = f"OOM: {str(exc)[:160]}"
        sec[name] = rec
        log(f"C={c}: {name}: {rec}")
        del opt, step
        free()
    # FLOPs of a step: matmul/conv forward + backward, counted without recomputation.
    set_checkpoint_branches(model, ())
    sec["train_flops_model"] = 3 * fwd_flops
    try:
        for p in model.parameters():
            p.grad = None
        small_flops = FlopCounterMode(display=False)
        set_checkpoint_branches(model, ("space", "dynamics", "jump"))
        with small_flops:
            with autocast():
                pred = model(x)
            F.mse_loss(pred.float(), y).backward()
        sec["train_flops_counted_with_recompute"] = small_flops.get_total_flops()
    except torch.OutOfMemoryError:
        pass
    for _key, rec in sec.items():
        if isinstance(rec, dict) and "time_s" in rec:
            rec["tflops"] = sec["train_flops_model"] / rec["time_s"] / 1e12
            rec["pct_peak"] = 100 * rec["tflops"] / peak_tflops
    del model
    free()
    return sec


def compile_seconds() -> dict[str, float]:
    """Seconds Dynamo and Inductor spent compiling in this process (their own timers)."""
    try:
        from torch._dynamo import utils as dynamo_utils

        names, values = dynamo_utils.compile_times(repr="csv", aggregate=True)
        times = {str(n): float(str(v)) for n, v in zip(names, values, strict=True)}
    except Exception as exc:  # a private API: the benchmark goes on without it
        log(f"compile times unavailable: {exc!r}")
        return {}
    keep = {"_compile.compile_inner": "dynamo_inductor_compile",
            "OutputGraph.call_user_compiler": "inductor_compile"}  # fmt: skip
    return {label: times[name] for name, label in keep.items() if name in times}


def forecast_section() -> dict[str, Any]:
    sec: dict[str, Any] = {}
    torch.manual_seed(7)
    models = {g: build_glonet(c, "full", GRID).cuda().eval() for g, c in GROUPS.items()}
    mask = torch.rand(*GRID, device="cuda") > 0.3  # ~70% ocean
    host_in = {g: torch.randn(1, 2, c, *GRID).pin_memory() for g, c in GROUPS.items()}
    dev_in = {g: t.cuda() for g, t in host_in.items()}

    # Copies alone (pinned memory).
    out_shapes = {g: (1, 10, c, *GRID) for g, c in GROUPS.items()}
    host_out = {g: torch.empty(s).pin_memory() for g, s in out_shapes.items()}
    dev_out = {g: torch.empty(s, device="cuda") for g, s in out_shapes.items()}
    sec["h2d_s"], _ = timed(lambda: [dev_in[g].copy_(host_in[g]) for g in GROUPS], reps=3)
    sec["d2h_s"], _ = timed(lambda: [host_out[g].copy_(dev_out[g]) for g in GROUPS], reps=3)

    def eager_all() -> None:
        for g, m in models.items():
            with autocast():
                rollout(m, dev_in[g], 5, ocean_mask=mask, grad=False)

    with torch.no_grad(), autocast():  # warm-up: one call per group
        for g, m in models.items():
            m(dev_in[g])
    if ARGS.forecast_eager:
        base: dict[str, Any] = {}
        with peak_memory(base):
            base["time_s"], base["times"] = timed(eager_all, reps=1, warmup=0)
        sec["eager"] = base
        log(f"forecast eager {base['time_s']:.2f}s")
        free()

    runners = {}
    t = time.time()
    for g, m in models.items():
        optimise_model(m, device="cuda", mode="fast", training=False)
        runners[g] = ForecastRunner(m, n_calls=5, ocean_mask=mask)
    fast_seq: dict[str, Any] = {}
    with peak_memory(fast_seq):
        for g, r in runners.items():
            r.capture(dev_in[g])
        sec["capture_s"] = time.time() - t
        log(f"forecast capture {sec['capture_s']:.1f}s")
        # What "auto" measured and chose per convolution shape, and where the first capture's
        # time went (the next round's evidence).
        sec["conv_choices"] = json.loads(json.dumps(fast_conv.choices(), default=str))
        sec["capture_split_s"] = {**fast_conv.measurement_seconds(), **compile_seconds()}
        log(
            f"forecast conv choices: {len(sec['conv_choices'])} shapes measured; capture split "
            + ", ".join(f"{k} {v:.1f}s" for k, v in sec["capture_split_s"].items())
        )
        fast_seq["time_s"], fast_seq["times"] = timed(
            lambda: forecast_groups(runners, dev_in, concurrent=False), reps=1, warmup=0
        )
    sec["fast_sequential"] = fast_seq
    # Each group's graph-replayed 5-call rollout alone (where the sequential time goes).
    per_group: dict[str, float] = {}
    for g, r in runners.items():
        per_group[g] = timed(functools.partial(r, dev_in[g]), reps=2, warmup=1)[0]
    sec["per_group_s"] = per_group
    log(f"forecast per group {sec['per_group_s']}")
    conc: dict[str, Any] = {}
    with peak_memory(conc):
        conc["time_s"], conc["times"] = timed(
            lambda: forecast_groups(runners, dev_in, concurrent=True), reps=2, warmup=0
        )
    sec["fast_concurrent"] = conc
    e2e: dict[str, Any] = {}
    e2e["time_s"], e2e["times"] = timed(
        lambda: forecast_groups(runners, host_in, concurrent=True, host_outputs=host_out),
        reps=1,
        warmup=0,
    )
    sec["fast_concurrent_with_copies"] = e2e
    log(
        f"forecast fast seq {fast_seq['time_s']:.2f}s conc {conc['time_s']:.2f}s "
        f"e2e {e2e['time_s']:.2f}s"
    )
    # Consistency: graph forecast vs eager bf16 rollout on the same input.
    with torch.no_grad():
        ref = ForecastRunner(models["surface"], n_calls=5, ocean_mask=mask, use_graph=False)
        sec["graph_vs_nograph_rel_l2_surface"] = rel_l2(
            runners["surface"](dev_in["surface"]).clone(), ref(dev_in["surface"])
        )
    free()
    return sec


def profile_section() -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    sec: dict[str, Any] = {}
    torch.manual_seed(3)
    c = ARGS.profile_channels
    model = build_glonet(c, "full", GRID).cuda().eval()
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    out_dir = Path(ARGS.out)
    for label in ("eager", "fast"):
        if label == "fast":
            optimise_model(model, device="cuda", mode="fast", training=False)
        with torch.no_grad(), autocast():
            model(x)
        sync()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            with torch.no_grad(), autocast():
                model(x)
            sync()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=80)
        (out_dir / f"profile_{label}_c{c}.txt").write_text(table)
        rows = []
        for evt in sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:12]:
            rows.append((evt.key[:90], evt.device_time_total / 1e3, evt.count))
        sec[label] = rows
        log(f"profile {label}:")
        for r in rows[:10]:
            log(f"   {r[1]:9.1f} ms  x{r[2]:<5} {r[0]}")
    del model
    free()
    return sec


def step_split(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor) -> dict:
    """Seconds of forward, backward and optimizer step of one training step (CUDA events)."""
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
    opt.zero_grad(set_to_none=True)
    ev[0].record()
    with autocast():
        pred = model(x)
    loss = F.mse_loss(pred.float(), y)
    ev[1].record()
    loss.backward()
    ev[2].record()
    opt.step()
    ev[3].record()
    ev[3].synchronize()
    names = ("forward_s", "backward_s", "optimizer_s")
    return {n: ev[i].elapsed_time(ev[i + 1]) / 1e3 for i, n in enumerate(names)}


def profile_train_section() -> dict[str, Any]:
    """One training step (C=--profile-channels): forward/backward/optimizer split and top
    kernels, eager vs fast."""
    from torch.profiler import ProfilerActivity, profile

    sec: dict[str, Any] = {}
    torch.manual_seed(41)
    c = ARGS.profile_channels
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    y = torch.randn(1, 2, c, *GRID, device="cuda")
    model = build_glonet(c, "full", GRID, checkpoint_blocks=True).cuda().train()
    out_dir = Path(ARGS.out)
    for label in ("eager", "fast"):
        if label == "fast":
            optimise_model(model, device="cuda", mode="fast", training=True)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        step = train_step_fn(model, opt, x, y)
        t = time.time()
        step()
        sync()
        first = time.time() - t
        step()
        splits = [step_split(model, opt, x, y) for _ in range(2)]
        split = {k: min(s_[k] for s_ in splits) for k in splits[0]}
        sync()
        sec[label] = {"first_step_s": first, "split": split}
        log(f"train profile {label} C={c}: first {first:.1f}s split {split}")
        with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU],
                     record_shapes=True) as prof:  # fmt: skip
            step()
            sync()
        kernels = [e for e in prof.key_averages() if "CUDA" in str(getattr(e, "device_type", ""))]
        kernels.sort(key=lambda e: -e.self_device_time_total)
        total = sum(e.self_device_time_total for e in kernels) / 1e3
        rows = [(e.key[:100], e.self_device_time_total / 1e3, e.count) for e in kernels[:25]]
        text = "\n".join(f"{r[1]:10.2f} ms x{r[2]:<6} {r[0]}" for r in rows)
        text += f"\n\ntotal kernel time {total:.1f} ms\n\n"
        try:
            ops = prof.key_averages(group_by_input_shape=True)
            text += ops.table(sort_by="self_cuda_time_total", row_limit=40,
                              max_name_column_width=60, max_shapes_column_width=110)  # fmt: skip
        except Exception as exc:  # the kernel list above is the main result
            text += f"op table failed: {exc!r}"
        (out_dir / f"profile_train_{label}_c{c}.txt").write_text(text)
        sec[label].update(kernel_ms=total, top=rows)
        log(f"train profile {label} C={c}: kernels {total:.0f} ms")
        for r in rows[:15]:
            log(f"   {r[1]:9.1f} ms  x{r[2]:<5} {r[0]}")
        del opt, step
        free()
    del model
    free()
    return sec


def afno_section() -> dict[str, Any]:
    """One AFNO of each token grid: eager vs the fast layouts, time and error vs float32.

    ``space.NO``'s (768 wide, 2 x 68 x 55 tokens) and ``dynamics``' (128 wide, 544 x 440).
    """
    from glonet_regions.model.blocks import AdativeFourierNeuralOperator
    from glonet_regions.model.gpu.blocks import FastAFNO
    from glonet_regions.model.gpu.kernels import afno_mix

    sec: dict[str, Any] = {}
    for grid_name, (b, h, w, d) in (("space", (2, 68, 55, 768)), ("dynamics", (1, 544, 440, 128))):
        torch.manual_seed(5)
        mod = AdativeFourierNeuralOperator(d, 2).cuda()
        for p in mod.parameters():  # larger than the 0.02 init so the spectral path matters
            torch.nn.init.normal_(p, std=0.05)
        x = torch.randn(b, h * w, d, device="cuda")
        mods: list[tuple[str, nn.Module]] = [("eager", mod)]
        for layout in ("planes", "dft"):
            fast_mod = copy.deepcopy(mod)
            fast_mod.__class__ = FastAFNO
            fast_mod.fft_layout = layout  # type: ignore[assignment]
            mods.append((f"fast_{layout}", fast_mod))
        with torch.no_grad():
            ref = mod(x, h, w)
            for label, m in mods:

                def call(m: nn.Module = m, x: Tensor = x, h: int = h, w: int = w) -> Tensor:
                    return m(x, h, w)

                with autocast():
                    out = call()
                    sec[f"{grid_name}_{label}_s"], _ = timed(call, reps=20, warmup=2)
                sec[f"{grid_name}_{label}_rel_l2_vs_fp32"] = rel_l2(out.float(), ref)
        if grid_name == "space":
            fm = mods[1][1]
            assert isinstance(fm, FastAFNO)
            with torch.no_grad():
                s32 = afno_mix(x, h, w, *fm.fused_args(torch.float32, h, w, x.device))
                s16 = afno_mix(x, h, w, *fm.fused_args(torch.bfloat16, h, w, x.device))
            sec["spectral_bf16_vs_fp32_rel_l2"] = rel_l2(s16, s32)
        mods.clear()
        free()
    log(f"afno: {sec}")
    return sec


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def fmt(v: Any, spec: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return format(v, spec)


def table() -> str:
    r = RESULTS
    s = r["sections"]
    env = r.get("env", {})
    ceil = r.get("ceilings", {})
    lines = [
        f"Card: {env.get('card')} | driver {env.get('driver')} | torch {env.get('torch')} | "
        f"CUDA {env.get('cuda')} | cuDNN {env.get('cudnn')}",
        f"Measured ceilings: bf16 matmul {fmt(ceil.get('matmul_bf16_tflops'), '.0f')} "
        f"TFLOP/s, copy {fmt(ceil.get('copy_gbps'), '.0f')} GB/s. Grid {GRID[0]}x{GRID[1]} "
        "(padded 1088x880), batch 1, bf16 autocast. FLOPs: FlopCounterMode (matmul+conv, no FFT).",
        "",
        "| what | C | eager baseline | optimised | ratio (base/opt) | peak GiB base -> opt | "
        "TFLOP/s (% peak) opt | rel L2 vs fp32 base / opt |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in (5, 40):
        inf = s.get(f"inference_c{c}")
        if inf and "eager" in inf:
            b = inf["eager"]
            for key, label in (("fast", "forward (fast)"), ("fast_graph", "forward (fast+graph)")):
                o = inf.get(key)
                if not o:
                    continue
                lines.append(
                    f"| {label} | {c} | {fmt(b['time_s'])} s | {fmt(o['time_s'])} s | "
                    f"{fmt(b['time_s'] / o['time_s'], '.2f')}x | {fmt(b['peak_gib'], '.1f')} -> "
                    f"{fmt(o['peak_gib'], '.1f')} | {fmt(o['tflops'], '.0f')} "
                    f"({fmt(o['pct_peak'], '.1f')}%) | "
                    f"{fmt(b['rel_l2_vs_fp32'], '.1e')} / {fmt(o['rel_l2_vs_fp32'], '.1e')} |"
                )
        tr = s.get(f"training_c{c}")
        if tr and "eager_ckpt_all" in tr:
            b = tr["eager_ckpt_all"]
            for key, o in tr.items():
                if not key.startswith("fast_ckpt") or not isinstance(o, dict):
                    continue
                if "time_s" not in o:
                    lines.append(
                        f"| train step {key} | {c} | {fmt(b['time_s'])} s | "
                        f"{o.get('error', 'n/a')[:40]} | | | | |"
                    )
                    continue
                lines.append(
                    f"| train step ({key.removeprefix('fast_')}) | {c} | {fmt(b['time_s'])} s | "
                    f"{fmt(o['time_s'])} s | {fmt(b['time_s'] / o['time_s'], '.2f')}x | "
                    f"{fmt(b['peak_gib'], '.1f')} -> {fmt(o['peak_gib'], '.1f')} | "
                    f"{fmt(o['tflops'], '.0f')} ({fmt(o['pct_peak'], '.1f')}%) | |"
                )
            nock = tr.get("eager_ckpt_none")
            if nock:
                lines.append(
                    f"| train step eager, no ckpt | {c} | {fmt(nock.get('time_s'))} s | | | "
                    f"{fmt(nock.get('peak_gib'), '.1f')} | | {nock.get('error', '')[:40]} |"
                )
    fc = s.get("forecast")
    if fc and "eager" in fc:
        b = fc["eager"]["time_s"]
        for key, label in (
            ("fast_sequential", "10-day forecast, 3 groups (graphs, sequential)"),
            ("fast_concurrent", "10-day forecast, 3 groups (graphs, 3 streams)"),
            ("fast_concurrent_with_copies", "same + pinned H2D/D2H copies"),
        ):
            o = fc.get(key)
            if o:
                lines.append(
                    f"| {label} | 5/40/40 | {fmt(b, '.2f')} s | {fmt(o['time_s'], '.3f')} s | "
                    f"{fmt(b / o['time_s'], '.1f')}x | "
                    f"{fmt(fc['eager'].get('peak_gib'), '.1f')} -> "
                    f"{fmt(o.get('peak_gib'), '.1f')} | | |"
                )
        lines.append(
            f"\nCopies alone (pinned): inputs H2D {fmt(fc.get('h2d_s'), '.3f')} s, "
            f"outputs D2H {fmt(fc.get('d2h_s'), '.3f')} s; graph capture of 3 groups "
            f"{fmt(fc.get('capture_s'), '.1f')} s (once per process)."
        )
    return "\n".join(lines)


SECTIONS = (
    "afno", "inference_c40", "training_c40", "forecast", "inference_c5", "training_c5",
    "profile_train", "profile",
)  # fmt: skip
NEEDS = {"training_c40": "inference_c40", "training_c5": "inference_c5"}


def run_isolated(names: list[str]) -> None:
    """Run the sections in fresh child processes and merge their results into ``RESULTS``.

    Sections run in one long process inherit each other's allocator state and cuDNN algorithm
    choices: on an H200 the C=5 training step measured 1.83 s after the other sections and
    1.02 s in a fresh process, the 10-day forecast 5.06 s against 3.34 s. The product runs one
    model family per process, so each section (with the section it needs) gets its own.
    """
    groups: list[list[str]] = []
    for name in names:
        if groups and NEEDS.get(name) in groups[-1]:
            groups[-1].append(name)
        else:
            groups.append([name])
    out = Path(ARGS.out)
    for k, group in enumerate(groups, 1):
        if left() < 30:
            log(f"SKIP {group}: {left():.0f}s left")
            for name in group:
                RESULTS["sections"][name] = {"skipped": "time budget"}
            continue
        work = Path(tempfile.mkdtemp(prefix=f"gpu_bench_{k}_"))
        cmd = [
            sys.executable, __file__, "--no-isolate", "--out", str(work),
            "--budget-s", str(int(left())), "--profile-channels", str(ARGS.profile_channels),
            "--skip", ",".join(n for n in SECTIONS if n not in group),
        ] + (["--eager-no-ckpt"] if ARGS.eager_no_ckpt else []) + (
            [] if ARGS.forecast_eager else ["--no-forecast-eager"]
        )  # fmt: skip
        log(f"process {k}: {', '.join(group)}")
        try:
            rc: int | str = subprocess.run(cmd, timeout=max(left(), 1.0), check=False).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        try:
            child = json.loads((work / "results.json").read_text())
        except (OSError, ValueError):
            child = {"sections": {}}
        for name in group:
            RESULTS["sections"][name] = child["sections"].get(
                name, {"error": f"child process ended ({rc}) without this section"}
            )
        RESULTS.setdefault("process_ceilings", {})[",".join(group)] = child.get("ceilings")
        if (work / "log.txt").exists():
            child_log = (work / "log.txt").read_text().splitlines()
            LOG_LINES.extend(f"  [{k}] {line}" for line in child_log)
        for prof in work.glob("profile*.txt"):
            shutil.copy(prof, out / prof.name)
        shutil.rmtree(work, ignore_errors=True)
        save()


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "benchmarks/out"))
    parser.add_argument("--budget-s", type=float, default=540.0)
    parser.add_argument(
        "--eager-no-ckpt", action="store_true", help="also time eager training unchecked"
    )
    parser.add_argument("--skip", default="", help="comma list of sections to skip")
    parser.add_argument(
        "--forecast-eager",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the eager 10-day forecast as the baseline (default); --no-forecast-eager "
        "leaves it out (A/B runs that compare settings with each other, benchmarks/device_ab.sh)",
    )
    parser.add_argument(
        "--profile-channels", type=int, default=40, help="C of the profiled models (5 or 40)"
    )
    parser.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each section (with the one it needs) in a fresh Python process, as the "
        "product runs one model family per process (default); --no-isolate runs all in this one",
    )
    ARGS = parser.parse_args()
    if not torch.cuda.is_available():
        print("benchmarks/gpu.py needs a CUDA device", file=sys.stderr)
        return 2
    skip = set(filter(None, ARGS.skip.split(",")))
    RESULTS["env"] = env_info()
    log("env", RESULTS["env"])
    RESULTS["ceilings"] = ceilings()
    log("ceilings", RESULTS["ceilings"])
    peak = RESULTS["ceilings"]["matmul_bf16_tflops"]
    free()
    save()
    plan: list[tuple[str, float, Callable[[], dict[str, Any]]]] = [
        ("afno", 20, afno_section),
        ("inference_c40", 90, lambda: inference_section(40, peak)),
        ("training_c40", 60, lambda: training_section(
            40, peak, RESULTS["sections"]["inference_c40"]["forward_flops"])),
        ("forecast", 90, forecast_section),
        ("inference_c5", 40, lambda: inference_section(5, peak)),
        ("training_c5", 120, lambda: training_section(
            5, peak, RESULTS["sections"]["inference_c5"]["forward_flops"])),
        ("profile_train", 100, profile_train_section),
        ("profile", 40, profile_section),
    ]  # fmt: skip
    plan = [item for item in plan if item[0] not in skip]
    if ARGS.isolate:
        run_isolated([name for name, _, _ in plan])
    for name, need, fn in plan if not ARGS.isolate else []:
        if left() < need:
            log(f"SKIP {name}: {left():.0f}s left < {need}s")
            RESULTS["sections"][name] = {"skipped": "time budget"}
            continue
        try:
            RESULTS["sections"][name] = fn()
        except Exception as exc:  # keep going: report what failed
            log(f"FAILED {name}: {exc!r}")
            RESULTS["sections"][name] = {"error": repr(exc), "trace": traceback.format_exc()}
        free()
        save()
    md = table()
    Path(ARGS.out, "table.md").write_text(md + "\n")
    save()
    print("\n" + md, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
