"""Preparation scaling on a dask.distributed LocalCluster: days/minute against workers.

Usage::

    glonet-regions data sample ibi36 --variant full --out SAMPLE
    python benchmarks/bench_prepare_cluster.py SAMPLE WORKDIR --workers 1 2 4 --days 12

For each worker count, prepares the first ``--days`` days of the sample (work chunks of
``--chunk-days``) with ``--scheduler local:N`` (N single-threaded worker processes) and prints
one JSON line: the days per minute of the chunk phase (from the first chunk submitted to the
last one written, so the cluster's start-up is left out) and of the whole call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sample", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--days", type=int, default=12)
    ap.add_argument("--chunk-days", type=int, default=2)
    ap.add_argument("--storage-dtype", default="int16")
    args = ap.parse_args()

    from glonet_regions.data.canonical_source import CanonicalSource
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.store import Layout
    from glonet_regions.registry.facade import get_region
    from glonet_regions.sample.generate import SampleInfo

    info = SampleInfo.load(args.sample)
    region = get_region("ibi36")
    end = info.start + dt.timedelta(days=args.days - 1)
    for n in args.workers:
        out = args.work / f"scale{n}.zarr"
        if out.exists():
            shutil.rmtree(out)
        marks: dict[str, float] = {}

        def log(msg: str, marks: dict[str, float] = marks) -> None:
            if "time chunks to write" in msg:
                marks["start"] = time.perf_counter()

        t0 = time.perf_counter()
        reg, glo = list(info.regional_files), list(info.global_files)
        if len(reg) > 1:  # one file per day (full variant): open only the days used
            reg, glo = reg[: args.days], glo[: args.days]
        source = CanonicalSource.from_files(region, reg, glo)
        prepare_store(
            out, source, region=region, splits=info.splits, end=end,
            layout=Layout(args.chunk_days, args.chunk_days, storage_dtype=args.storage_dtype),
            scheduler=f"local:{n}", log=log,
        )  # fmt: skip
        t1 = time.perf_counter()
        print(json.dumps({
            "workers": n, "days": args.days, "chunk_days": args.chunk_days,
            "cpu_count": os.cpu_count(),
            "days_per_minute_chunks": args.days / ((t1 - marks["start"]) / 60),
            "days_per_minute_total": args.days / ((t1 - t0) / 60),
            "seconds_total": t1 - t0,
        }), flush=True)  # fmt: skip
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
