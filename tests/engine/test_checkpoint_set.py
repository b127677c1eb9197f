"""A crash at any checkpoint write boundary resumes to the uninterrupted run, bit for bit."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from engine_fakes import make_group_data, tiny_config  # type: ignore[import-not-found]

import glonet_regions.model.bundle as bundle_module
from glonet_regions.engine import run as run_module
from glonet_regions.engine.distributed import DistContext
from glonet_regions.engine.run import CRASH_POINTS, train_groups
from glonet_regions.model.bundle import load_bundle


class SimulatedCrash(BaseException):
    """Raised where the process would have been killed."""


def _loader_fn(cfg: Any) -> Callable[..., Any]:
    from glonet_regions.data.loader import make_loader

    def fn(dataset: Any, *, shuffle: bool, epoch: int) -> Any:
        return make_loader(dataset, batch_size=cfg.batch_size, shuffle=shuffle, seed=cfg.seed,
                           epoch=epoch, drop_last=shuffle)  # fmt: skip

    return fn


def _run(run_dir: Path, grid: Any, provider: Any, **changes: Any) -> Any:
    cfg = tiny_config(run_dir, epochs=2, **changes)
    data = make_group_data("surface", k=2, n_train=8, n_val=4)
    return train_groups(cfg, groups=["surface"], group_data=lambda _g: data, provider=provider,
                        ctx=DistContext(), loader_fn=_loader_fn(cfg), region_name="fake",
                        grid=grid, log=lambda _m: None)  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_same_run(a: Path, b: Path) -> None:
    for name in ("last.pt", "best.pt"):
        wa = load_bundle(a / "checkpoints" / name).groups["surface"].state_dict
        wb = load_bundle(b / "checkpoints" / name).groups["surface"].state_dict
        assert wa.keys() == wb.keys()
        differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
        assert not differ, f"{name}: {len(differ)} of {len(wa)} tensors differ"
    for log in ("train.csv", "val.csv"):
        assert _rows(a / "logs" / log) == _rows(b / "logs" / log), log
    assert not list((b / "checkpoints").glob("*.next.pt"))
    assert not list((b / "checkpoints").glob(".*.tmp"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine_fakes import H, W  # type: ignore[import-not-found]

    from glonet_regions.boundary import RelaxationBoundary
    from glonet_regions.core.grid import Grid

    run_dir = tmp_path_factory.mktemp("reference")
    grid = Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=W, nlat=H)
    assert _run(run_dir, grid, RelaxationBoundary(["west", "south"], 2)).finished
    return run_dir


def test_crash_between_last_and_best_resumes_identically(
    reference: Path, tmp_path: Path, grid: Any, provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash right after last.pt of the final epoch is written (the old window before best.pt);
    the resumed run must keep that epoch's best weights and log no row twice."""
    real_save = bundle_module.save_bundle
    lasts = []

    def save(path: Any, **kwargs: Any) -> Path:
        out = real_save(path, **kwargs)
        if Path(path).name == "last.pt":
            lasts.append(path)
            if len(lasts) == 2:  # the end of epoch 2 (the last epoch)
                raise SimulatedCrash
        return out

    monkeypatch.setattr(bundle_module, "save_bundle", save)
    with pytest.raises(SimulatedCrash):
        _run(tmp_path, grid, provider)
    monkeypatch.setattr(bundle_module, "save_bundle", real_save)
    assert _run(tmp_path, grid, provider, resume=True).finished
    _assert_same_run(reference, tmp_path)


def test_resume_mid_epoch_logs_no_row_twice(
    reference: Path, tmp_path: Path, grid: Any, provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash in the middle of epoch 2: its logged rows are replayed, not duplicated."""
    from glonet_regions.engine.trainer import GroupTrainer

    real_step = GroupTrainer.train_step
    steps = []

    def step(self: Any, batch: Any, calls: int) -> float:
        if len(steps) == 3:  # the second step of epoch 2, after its first row was logged
            raise SimulatedCrash
        steps.append(1)
        return real_step(self, batch, calls)

    monkeypatch.setattr(GroupTrainer, "train_step", step)
    with pytest.raises(SimulatedCrash):
        _run(tmp_path, grid, provider)
    monkeypatch.setattr(GroupTrainer, "train_step", real_step)
    assert _run(tmp_path, grid, provider, resume=True).finished
    _assert_same_run(reference, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
@pytest.mark.parametrize("occurrence", [1, 2, 3])
def test_crash_at_every_write_boundary(
    reference: Path, tmp_path: Path, grid: Any, provider: Any, monkeypatch: pytest.MonkeyPatch,
    point: str, occurrence: int,
) -> None:  # fmt: skip
    seen = []

    def hook(name: str) -> None:
        if name == point:
            seen.append(name)
            if len(seen) == occurrence:
                raise SimulatedCrash

    monkeypatch.setattr(run_module, "_crash_hook", hook)
    try:
        _run(tmp_path, grid, provider)
    except SimulatedCrash:
        pass
    else:
        pytest.skip(f"{point} is reached fewer than {occurrence} times")
    monkeypatch.setattr(run_module, "_crash_hook", None)
    # Killed before the first commit, there is nothing to resume: the run starts again.
    resume = (tmp_path / "checkpoints" / "last.pt").exists()
    assert _run(tmp_path, grid, provider, resume=resume).finished
    _assert_same_run(reference, tmp_path)


@pytest.mark.slow
def test_sigkill_trials(tmp_path: Path) -> None:
    """Real SIGKILLs of a training subprocess at every write boundary and at random times."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "kill_trials.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--work", str(tmp_path), "--random", "3"],
        capture_output=True, text=True, timeout=3000, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "non-identical resumes: 0" in proc.stdout and "corrupt results: 0" in proc.stdout


def test_stop_after_epochs_is_not_saved_and_region_is_checked(
    tmp_path: Path, grid: Any, provider: Any
) -> None:
    """stop_after_epochs stays out of the checkpoint; a run is resumed only as its region."""
    from glonet_regions.core.errors import ConfigError

    part = _run(tmp_path, grid, provider, stop_after_epochs=1)
    assert not part.finished
    assert load_bundle(tmp_path / "checkpoints" / "last.pt").config["stop_after_epochs"] is None
    cfg = tiny_config(tmp_path, epochs=2, resume=True)
    data = make_group_data("surface", k=2, n_train=8, n_val=4)
    with pytest.raises(ConfigError, match=r"region 'fake'.*not 'other'"):
        train_groups(cfg, groups=["surface"], group_data=lambda _g: data, provider=provider,
                     ctx=DistContext(), loader_fn=_loader_fn(cfg), region_name="other",
                     grid=grid, log=lambda _m: None)  # fmt: skip


def test_store_of_another_region_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glonet_regions.data.store as store_module
    from glonet_regions.core.errors import StoreError

    monkeypatch.setattr(store_module, "read_attrs", lambda _p: {"region": "biscay36"})
    with pytest.raises(StoreError, match=r"prepared for region 'biscay36', not 'ibi36'"):
        run_module._check_store_region(tmp_path, "ibi36")
    run_module._check_store_region(tmp_path, "biscay36")
