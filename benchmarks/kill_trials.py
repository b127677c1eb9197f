"""Kill trials: SIGKILL a fine-tuning process, resume it, compare with the uninterrupted run.

A training subprocess (the tiny network on in-memory fake data, 1 group, 3 epochs) is killed
with SIGKILL (a) at every write boundary of the checkpoint set (``CRASH_POINTS`` x each epoch)
and (b) at random moments; each killed run is resumed (``resume=True``) until it finishes.
A trial is *corrupt* when a checkpoint cannot be loaded or the resume fails, *non-identical*
when the final ``last.pt``/``best.pt`` weights or the train/val logs differ in any bit from the
uninterrupted run. Prints the figures quoted in docs/reference/refuses.md. Run::

    OMP_NUM_THREADS=1 python benchmarks/kill_trials.py [--random 10] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 3


def _child(run_dir: Path, resume: bool, kill_at: str | None) -> None:
    """Train (or resume); with ``kill_at`` = 'POINT:N', SIGKILL self at the N-th POINT."""
    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    from engine_fakes import H, W, make_group_data, tiny_config  # type: ignore[import-not-found]

    from glonet_regions.boundary import RelaxationBoundary
    from glonet_regions.core.grid import Grid
    from glonet_regions.data.loader import make_loader
    from glonet_regions.engine import run as run_module
    from glonet_regions.engine.distributed import DistContext

    if kill_at:
        point, _, nth = kill_at.partition(":")
        seen: list[str] = []

        def hook(name: str) -> None:
            if name == point:
                seen.append(name)
                if len(seen) == int(nth):
                    os.kill(os.getpid(), signal.SIGKILL)

        run_module._crash_hook = hook
    cfg = tiny_config(run_dir, epochs=EPOCHS, resume=resume)
    data = make_group_data("surface", k=2, n_train=8, n_val=4)

    def loader_fn(dataset: Any, *, shuffle: bool, epoch: int) -> Any:
        return make_loader(dataset, batch_size=cfg.batch_size, shuffle=shuffle, seed=cfg.seed,
                           epoch=epoch, drop_last=shuffle)  # fmt: skip

    grid = Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=W, nlat=H)
    result = run_module.train_groups(
        cfg, groups=["surface"], group_data=lambda _g: data,
        provider=RelaxationBoundary(["west", "south"], 2), ctx=DistContext(),
        loader_fn=loader_fn, region_name="fake", grid=grid, log=lambda _m: None,
    )  # fmt: skip
    sys.exit(0 if result.finished else 3)


def _spawn(run_dir: Path, resume: bool = False, kill_at: str | None = None) -> subprocess.Popen:
    args = [sys.executable, __file__, "--child", str(run_dir)]
    if resume:
        args.append("--resume")
    if kill_at:
        args += ["--kill-at", kill_at]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _compare(ref: Path, run: Path) -> str | None:
    """None when identical, else what differs."""
    import torch

    from glonet_regions.model.bundle import load_bundle

    for name in ("last.pt", "best.pt"):
        a = load_bundle(ref / "checkpoints" / name).groups["surface"].state_dict
        b = load_bundle(run / "checkpoints" / name).groups["surface"].state_dict
        differ = [k for k in a if k not in b or not torch.equal(a[k], b[k])]
        if differ:
            return f"{name}: {len(differ)} of {len(a)} tensors differ"
    for log in ("train.csv", "val.csv"):
        if _rows(ref / "logs" / log) != _rows(run / "logs" / log):
            return f"logs/{log} differs"
    return None


def _resume_until_done(run_dir: Path) -> str | None:
    """Resume until finished; an error message when a resume fails (a corrupt result).

    A run killed before its first checkpoint has nothing to resume: it starts again (as
    ``finetune`` asks: ``--resume`` needs a ``last.pt``).
    """
    for _ in range(EPOCHS + 2):
        proc = _spawn(run_dir, resume=(run_dir / "checkpoints" / "last.pt").exists())
        _, err = proc.communicate()
        if proc.returncode == 0:
            return None
        if proc.returncode != 3:
            return (err.strip().splitlines() or ["?"])[-1]
    return "did not finish"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill-at")
    parser.add_argument("--random", type=int, default=10, help="Kills at random moments.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.resume, args.kill_at)
        return

    from glonet_regions.engine.run import CRASH_POINTS

    work = args.work or Path(tempfile.mkdtemp(prefix="kill-trials-"))
    ref = work / "reference"
    t0 = time.perf_counter()
    proc = _spawn(ref)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"reference run failed: {err}")
    duration = time.perf_counter() - t0
    trials: list[tuple[str, str | None, str | None]] = []  # (label, corrupt, non-identical)

    def trial(label: str, run_dir: Path) -> None:
        corrupt = _resume_until_done(run_dir)
        diff = None if corrupt else _compare(ref, run_dir)
        trials.append((label, corrupt, diff))
        status = "corrupt: " + corrupt if corrupt else ("DIFFERS: " + diff if diff else "same")
        print(f"  {label}: {status}", flush=True)

    # The final set (after the last epoch) passes every point once more: EPOCHS + 1 in all.
    for point in CRASH_POINTS:
        for nth in range(1, EPOCHS + 2):
            run_dir = work / f"{point}-{nth}"
            proc = _spawn(run_dir, kill_at=f"{point}:{nth}")
            proc.communicate()
            if proc.returncode != -signal.SIGKILL:
                continue  # that point is not reached nth times (no new best at that epoch)
            trial(f"SIGKILL at {point} #{nth}", run_dir)
    rng = random.Random(args.seed)
    for k in range(args.random):
        run_dir = work / f"random-{k}"
        proc = _spawn(run_dir)
        delay = rng.uniform(0.2, 1.0) * duration
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if proc.returncode != -signal.SIGKILL:
            continue
        trial(f"SIGKILL after {delay:.1f} s", run_dir)
    corrupt = sum(1 for _, c, _ in trials if c)
    differ = sum(1 for _, _, d in trials if d)
    print(f"kill trials run: {len(trials)}")
    print(f"corrupt results: {corrupt}")
    print(f"non-identical resumes: {differ}")
    sys.exit(1 if corrupt or differ else 0)


if __name__ == "__main__":
    main()
