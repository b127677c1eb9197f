"""Preparation throughput (days per minute) of ``prepare_store``.

Two sources: the analytic :class:`SyntheticSource` (measures the writer: packing, checks,
statistics, compression, zarr writes) and, unless ``--no-sample``, CMEMS-like files of the
embedded sample read through :class:`CanonicalSource` (adds netCDF reading, the reader's
checks, vertical interpolation from 49 native levels and the bilinear regridding of the global
source). Both for 1 and ``--workers`` dask threads.

Usage: ``python benchmarks/bench_prepare.py [--full] [--workers 2] [--days N]``.
Default: a 192 x 160 grid; ``--full``: IBI's 1081 x 865.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loader import _region


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--days", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-sample", action="store_true")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()

    from glonet_regions.data.canonical_source import CanonicalSource
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource
    from glonet_regions.data.store import Layout

    nlat, nlon = (1081, 865) if args.full else (192, 160)
    n_days = args.days or 16
    region = _region(nlat, nlon)
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="bench_prepare_"))
    scratch.mkdir(parents=True, exist_ok=True)
    sources = [
        ("synthetic (writer only)", SyntheticSource(region.grid, dt.date(2021, 1, 1), n_days))
    ]
    if not args.no_sample:
        from glonet_regions.sample.generate import generate_sample

        t0 = time.perf_counter()
        info = generate_sample(region, scratch / "sample", variant="demo", n_days=n_days, stride=1)
        print(f"sample generation: {time.perf_counter() - t0:.1f} s for {n_days} days")
        sources.append(
            (
                "sample files (reader+vertical+regrid)",
                CanonicalSource.from_files(region, info.regional_files, info.global_files),
            )
        )
    rows = []
    try:
        for name, src in sources:
            for workers in sorted({1, args.workers}):
                out = scratch / f"p_{len(rows)}.zarr"
                t0 = time.perf_counter()
                prepare_store(
                    out,
                    src,
                    region=region,
                    layout=Layout(4, 4),
                    workers=workers,
                    splits=getattr(src, "_splits", None),
                )
                sec = time.perf_counter() - t0
                rows.append((name, workers, n_days / sec * 60, sec))
                shutil.rmtree(out)
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\nPreparation: grid {nlat} x {nlon}, {n_days} days, all 3 groups (85 channels) "
        "+ boundary, work chunk 4 days, shard 4 days\n"
    )
    print("| source | dask threads | days/minute | seconds |")
    print("|---|---|---|---|")
    for name, workers, dpm, sec in rows:
        print(f"| {name} | {workers} | {dpm:.1f} | {sec:.1f} |")


if __name__ == "__main__":
    main()
