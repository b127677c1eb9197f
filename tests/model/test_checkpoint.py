"""Our checkpoints: atomic writes, weights_only loading, metadata and RNG resumption."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from glonet_regions.core.errors import (
    CheckpointError,
    CheckpointIncompatibleError,
    CheckpointNotFoundError,
)
from glonet_regions.model import checkpoint as ckpt_module
from glonet_regions.model.checkpoint import (
    FORMAT_VERSION,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from glonet_regions.model.network import Glonet


class NotAllowed:
    """A class that weights_only loading refuses."""


def _extra(model: Glonet) -> dict[str, Any]:
    return {
        "region": "dummy",
        "lat": np.linspace(40.0, 45.0, 32),
        "lon": torch.linspace(-5.0, 2.0, 48),
        "ocean_mask": np.ones((32, 48), dtype=bool),
        "variables": ["zos", "thetao", "so", "uo", "vo"],
        "depths": [0.494],
        "norm_mean": np.zeros(5, dtype=np.float32),
        "norm_std": np.ones(5, dtype=np.float32),
        "model_config": model.config,
        "epoch": np.int64(3),
    }


def test_round_trip_with_optimizer_and_metadata(
    tmp_path: Path, tiny: Callable[..., Glonet]
) -> None:
    model = tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    model(torch.randn(1, 2, 5, 32, 48)).square().mean().backward()
    opt.step()
    sched.step()
    path = save_checkpoint(
        tmp_path / "sub" / "last.pt",
        model_state=model.state_dict(),
        optimizer_state=opt.state_dict(),
        scheduler_state=sched.state_dict(),
        rng_state=capture_rng_state(),
        extra=_extra(model),
    )
    raw = torch.load(path, weights_only=True)  # plain torch can read it safely
    assert raw["format_version"] == FORMAT_VERSION

    ck = load_checkpoint(path)
    assert ck.region == "dummy"
    assert ck.model_config == model.config
    assert ck.extra["ocean_mask"].dtype == torch.bool
    assert ck.extra["epoch"] == 3 and isinstance(ck.extra["epoch"], int)
    fresh = tiny()
    fresh.load_state_dict(ck.model_state)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    opt2 = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    assert ck.optimizer_state is not None
    opt2.load_state_dict(ck.optimizer_state)
    ck.check_compatible(region="dummy", config=model.config)
    with pytest.raises(CheckpointIncompatibleError, match="region"):
        ck.check_compatible(region="ibi36")
    with pytest.raises(CheckpointIncompatibleError, match="channels"):
        ck.check_compatible(config=model.config.replace(channels=40))


def _failing_save(obj: object, fh: Any, *args: object, **kwargs: object) -> None:
    fh.write(b"PK\x03\x04 half a checkpoint")
    raise OSError("disk full (simulated)")


def test_failed_write_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, model_state={"w": torch.ones(3)}, extra={"n": 1})
    before = path.read_bytes()
    monkeypatch.setattr(ckpt_module.torch, "save", _failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model_state={"w": torch.zeros(3)}, extra={"n": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path).model_state["w"], torch.ones(3))


def test_failed_first_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ckpt_module.torch, "save", _failing_save)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "new.pt", model_state={}, extra={})
    assert list(tmp_path.iterdir()) == []


def test_unstorable_value_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"extra\['obj'\]"):
        save_checkpoint(tmp_path / "x.pt", model_state={}, extra={"obj": NotAllowed()})
    assert list(tmp_path.iterdir()) == []


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    good = save_checkpoint(tmp_path / "good.pt", model_state={"w": torch.ones(100)}, extra={})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointIncompatibleError, match="not a glonet-regions checkpoint"):
        load_checkpoint(foreign)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "x", "obj": NotAllowed()}, unsafe)
    with pytest.raises(CheckpointError, match="not a glonet-regions checkpoint") as err:
        load_checkpoint(unsafe)
    assert "weights_only" not in str(err.value)
    for name, content in (("random.pt", bytes(range(256)) * 8), ("text.pt", b"hello\n")):
        other = tmp_path / name
        other.write_bytes(content)
        with pytest.raises(CheckpointError, match="not a glonet-regions checkpoint") as err:
            load_checkpoint(other)
        assert "weights_only" not in str(err.value)
    future = tmp_path / "future.pt"
    torch.save({"format": ckpt_module.CHECKPOINT_FORMAT, "format_version": 99}, future)
    with pytest.raises(CheckpointIncompatibleError, match="version 99"):
        load_checkpoint(future)


def _draws() -> tuple[list[float], list[float], list[float]]:
    return (
        torch.rand(3).tolist(),
        np.random.rand(3).tolist(),  # noqa: NPY002 - the legacy global state is under test
        [random.random() for _ in range(3)],
    )


def test_rng_state_survives_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(7)
    np.random.seed(7)  # noqa: NPY002
    random.seed(7)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    state = capture_rng_state()
    expected = _draws()
    path = save_checkpoint(tmp_path / "rng.pt", model_state={}, rng_state=state, extra={})
    _draws()  # move every generator on
    loaded = load_checkpoint(path).rng_state
    assert loaded is not None
    restore_rng_state(loaded)
    assert _draws() == expected
