"""DDP on 2 CPU processes (gloo): both ranks end with identical weights; rank 0 writes files."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from glonet_regions.engine.distributed import pick_device, setup_distributed, teardown_distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from engine_fakes import make_group_data, tiny_config  # type: ignore[import-not-found]

    from glonet_regions.boundary import RelaxationBoundary
    from glonet_regions.core.grid import Grid
    from glonet_regions.engine.run import train_groups

    ctx = setup_distributed("cpu")
    assert ctx.enabled and ctx.backend == "gloo" and ctx.world_size == world
    try:
        cfg = tiny_config(Path(out) / "run", epochs=2)
        data = make_group_data("surface", k=2)

        def loader_fn(dataset, *, shuffle, epoch):
            from glonet_regions.data.loader import make_loader

            return make_loader(
                dataset,
                batch_size=2,
                shuffle=shuffle,
                seed=cfg.seed,
                epoch=epoch,
                drop_last=shuffle,
                rank=ctx.rank,
                world_size=ctx.world_size,
            )

        grid = Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=20, nlat=16)
        result = train_groups(
            cfg,
            groups=["surface"],
            group_data=lambda _g: data,
            provider=RelaxationBoundary(["west"], 2),
            ctx=ctx,
            loader_fn=loader_fn,
            region_name="fake",
            grid=grid,
            log=lambda _m: None,
        )
        torch.save(
            {"weights": result.final_weights["surface"], "metrics": result.metrics},
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        teardown_distributed(ctx)


def test_two_gloo_processes_train_identical_weights(tmp_path: Path) -> None:
    here = str(Path(__file__).parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = here + (os.pathsep + old if old else "")
    try:
        mp.start_processes(
            _worker,
            args=(2, _free_port(), str(tmp_path)),
            nprocs=2,
            join=True,
            start_method="spawn",
        )
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key, value in r0["weights"].items():
        assert torch.equal(value, r1["weights"][key]), key
    assert r0["metrics"] == r1["metrics"]
    assert (tmp_path / "run" / "checkpoints" / "best.pt").exists()
    assert (tmp_path / "run" / "metrics.json").exists()


def test_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert setup_distributed("cpu").world_size == 1
    assert pick_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto", 1).type == expected
    assert pick_device("cuda", 1) == torch.device("cuda:1")
