"""What a user waits for on a GPU, each figure against eager in the same call, fresh processes.

Three parts (``--parts``), each a sequence of product commands run as separate processes and
timed as a whole (wall clock, interpreter start included):

- ``train``: time to the first training step of a fresh ``finetune`` process (one step of
  every depth group of the full-size network, random init, ``--max-steps 1``, eager and
  optimised, each with empty compile caches); its ``best.pt`` is the bundle of the other parts.
  The steady step and the fraction of the bf16 matmul peak come from
  ``benchmarks/bench_train_gpu.py`` (run by ``device_user.sh``).
- ``single``: ``glonet-regions forecast ... --start ONE_DATE`` of the three-group bundle:
  eager; ``--exec-mode fast`` with empty caches (it must compile); ``auto`` without packages
  (it should choose eager for one start date).
- ``package``: eager again (the same-call baseline), ``model compile`` once, then ``auto``
  with the packages and an empty Inductor cache (nothing left to compile).
- ``campaign``: one process forecasting ``--campaign-starts`` start dates (``--start`` with
  every date), writing a zarr cube; eager and auto (compiling), seconds per start date.

``--sample`` runs everything on the embedded sample (the tiny network, CPU or GPU) to check
the plumbing; the full-size figures need ``--store`` (a full-grid store with at least
``campaign_starts + 12`` days; ``--prepare`` writes one from the analytic source).
Prints one JSON line per command and a table; writes ``results.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "glonet_regions.cli"]


def run(name: str, args: list[str], out: Path, cache: Path | None, timeout: int) -> dict[str, Any]:
    """Run one product command in a fresh process; its wall time, exit code and log tail."""
    env = dict(os.environ)
    if cache is not None:
        env["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
        env["TRITON_CACHE_DIR"] = str(cache / "triton")
    log = out / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as fh:
        try:
            rc = subprocess.run(
                args, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    seconds = time.perf_counter() - start
    tail = log.read_text(errors="replace").splitlines()[-6:]
    row = {"name": name, "seconds": round(seconds, 2), "rc": rc, "tail": tail}
    print(json.dumps(row), flush=True)
    return row


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def prepare_store(store: Path, days: int, first: dt.date) -> None:
    """A full-grid ibi36 store of ``days`` days from the analytic source (benchmarks only)."""
    from glonet_regions.data.prepare import prepare_store as prepare
    from glonet_regions.data.prepare_source import SyntheticSource
    from glonet_regions.registry.facade import get_region

    region = get_region("ibi36")
    prepare(store, SyntheticSource(region.grid, first, days), region=region, workers=8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gpu_user"))
    ap.add_argument("--parts", default="train,single,package,campaign")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sample", action="store_true", help="the embedded sample (plumbing check)")
    ap.add_argument("--store", type=Path, default=None, help="full-grid store")
    ap.add_argument("--prepare", action="store_true", help="write --store first")
    ap.add_argument(
        "--first-day",
        default="2018-12-18",
        help="first store day (ibi36: train split ends 2018-12-31)",
    )
    ap.add_argument("--campaign-starts", type=int, default=52)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--timeout", type=int, default=560, help="seconds per command")
    args = ap.parse_args()
    out, work = args.out, args.work
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    first = dt.date.fromisoformat(args.first_day)
    if args.sample:
        data = ["--sample"]
        starts = None
    else:
        if args.store is None:
            ap.error("give --store (full-grid store) or --sample")
        if args.prepare:
            t0 = time.perf_counter()
            prepare_store(args.store, args.campaign_starts + args.days + 2, first)
            print(json.dumps({"name": "prepare", "seconds": time.perf_counter() - t0}))
        data = ["--store", str(args.store)]
        starts = [first + dt.timedelta(days=2 + k) for k in range(args.campaign_starts)]
    rows: list[dict[str, Any]] = []
    run_dir = work / "run"
    bundle = run_dir / "checkpoints" / "best.pt"
    size = [] if args.sample else ["--groups", "all", "--model-size", "full", "--init", "random"]
    dev = ["--device", args.device]
    if "train" in parts or not bundle.exists():
        for mode in ("eager", "fast"):
            rows.append(run(
                f"first_step_{mode}",
                [*CLI, "finetune", "ibi36", *data, *size, *dev, "--run-dir", str(run_dir),
                 "--epochs", "1", "--max-steps", "1", "--max-val-batches", "1",
                 "--exec-mode", mode, "--no-progress", "--no-tensorboard"],
                out, fresh(work / f"cache_train_{mode}"), args.timeout,
            ))  # fmt: skip
    one = [] if starts is None else ["--start", starts[0].isoformat()]
    fc = [*CLI, "forecast", "ibi36", *data, "--checkpoint", str(bundle), *dev,
          "--days", str(args.days)]  # fmt: skip
    cache = work / "cache_fc"
    if "single" in parts or "package" in parts:
        rows.append(run("single_eager", [*fc, *one, "--exec-mode", "eager",
                                         "--out", str(work / "single_eager.zarr")],
                        out, fresh(cache), args.timeout))  # fmt: skip
    if "single" in parts:
        rows.append(run("single_fast_cold", [*fc, *one, "--exec-mode", "fast",
                                             "--out", str(work / "single_fast.zarr")],
                        out, fresh(cache), args.timeout))  # fmt: skip
        rows.append(run("single_auto_no_package", [*fc, *one, "--exec-mode", "auto",
                                                   "--out", str(work / "single_auto.zarr")],
                        out, cache, args.timeout))  # fmt: skip
    if "package" in parts:
        rows.append(run("model_compile", [*CLI, "model", "compile", str(bundle), *dev],
                        out, fresh(work / "cache_compile"), args.timeout))  # fmt: skip
        rows.append(run("single_auto_package", [*fc, *one, "--exec-mode", "auto",
                                                "--out", str(work / "single_pkg.zarr")],
                        out, fresh(cache), args.timeout))  # fmt: skip
    if "campaign" in parts:
        every = [] if starts is None else ["--start", ",".join(s.isoformat() for s in starts)]
        n = args.campaign_starts if starts is not None else None
        for mode in ("eager", "auto"):
            row = run(f"campaign_{mode}", [*fc, *every, "--exec-mode", mode,
                                           "--out", str(work / f"campaign_{mode}.zarr")],
                      out, work / "cache_fc", args.timeout)  # fmt: skip
            if n:
                row["seconds_per_start"] = round(row["seconds"] / n, 3)
            rows.append(row)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    eager = {
        r["name"][: -len("_eager")]: r["seconds"] for r in rows if r["name"].endswith("_eager")
    }
    print("\n| command | s | rc | eager / this |\n|---|---|---|---|")
    for r in rows:
        base = next((v for k, v in eager.items() if r["name"].startswith(k + "_")), None)
        ratio = f"{base / r['seconds']:.2f}x" if base and r["seconds"] else ""
        print(f"| {r['name']} | {r['seconds']:.1f} | {r['rc']} | {ratio} |")


if __name__ == "__main__":
    main()
