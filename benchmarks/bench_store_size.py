"""Store size on disk, loader samples/s and round-trip error per storage dtype, on a sample.

Usage::

    glonet-regions data sample ibi36 --variant full --out SAMPLE
    python benchmarks/bench_store_size.py SAMPLE WORKDIR --dtype float32 --dtype int16 ...
    python benchmarks/bench_store_size.py SAMPLE WORKDIR --compare float32 int16 float16

The first form prepares ``WORKDIR/<dtype>.zarr`` from the sample (work chunks and shards of
2 days, ``--n-days`` first days) (the ``--label`` names it
instead, e.g. to measure another checkout through PYTHONPATH) and prints one JSON line:
preparation wall and CPU seconds, bytes on disk per array kind, and the loader's samples/s
(``--group``, 2 input + 2 target days with boundary, in process). The second form prints,
per variable, the largest and RMS difference of each store's decoded values from the first
store's, over ``--days`` days of every group. ``--emulate-before float32`` rewrites that
store in the previous layout (format 1, full-grid float32 boundary arrays) as
``WORKDIR/before.zarr``; ``--loader before`` times the loader alone on it (run that with the
previous checkout on the ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def prepare(sample: Path, out: Path, dtype: str, workers: int, days: int) -> dict[str, Any]:
    import datetime as dt

    from glonet_regions.data.canonical_source import CanonicalSource
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.store import Layout
    from glonet_regions.registry.facade import get_region
    from glonet_regions.sample.generate import SampleInfo

    info = SampleInfo.load(sample)
    region = get_region("ibi36")
    reg, glo = list(info.regional_files), list(info.global_files)
    if days and len(reg) > 1:  # one file per day (full variant): open only the days used
        reg, glo = reg[:days], glo[: max(days, 1)]
    src = CanonicalSource.from_files(region, reg, glo)
    try:
        layout = Layout(1, 1, storage_dtype=dtype)
    except TypeError:  # a checkout without storage dtypes: today's float32 layout
        layout = Layout(1, 1)
    end = info.start + dt.timedelta(days=days - 1) if days else None
    if out.exists():
        shutil.rmtree(out)
    w0, c0 = time.perf_counter(), time.process_time()
    prepare_store(
        out, src, region=region, splits=info.splits, layout=layout, workers=workers, end=end
    )
    return {"prepare_wall_s": time.perf_counter() - w0, "prepare_cpu_s": time.process_time() - c0}


def sizes(store: Path) -> dict[str, int]:
    out = {"total": _bytes(store), "data": 0, "boundary": 0}
    for g in ("surface", "intermediate", "deep"):
        out["data"] += _bytes(store / g / "data")
        out["boundary"] += _bytes(store / g / "boundary")
    return out


def loader_rate(store: Path, group: str, n: int) -> dict[str, float]:
    from glonet_regions.data.loader import GlonetStoreDataset

    ds = GlonetStoreDataset(store, group, "train", n_input=2, n_target=2)
    ds[0]  # open the store, warm the caches
    idx = [i % len(ds) for i in range(1, n + 1)]
    w0, c0 = time.perf_counter(), time.process_time()
    for i in idx:
        ds[i]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"loader_samples_per_s_wall": n / wall, "loader_samples_per_s_cpu": n / cpu}


def compare(work: Path, labels: list[str], n_days: int) -> dict[str, Any]:
    from glonet_regions.data.store import StoreReader

    ref = StoreReader(work / f"{labels[0]}.zarr")
    days = np.linspace(0, ref.times.size - 1, n_days).astype(int)
    out: dict[str, Any] = {}
    for lab in labels[1:]:
        other = StoreReader(work / f"{lab}.zarr")
        per: dict[str, dict[str, float]] = {}
        for g in ref.group_names:
            chans = [v for v, _ in ref.group_info(g)["channel_variables"]]
            for d in days:
                a, b = ref.read(g, d, d + 1)[0], other.read(g, d, d + 1)[0]
                for c, var in enumerate(chans):
                    diff = (b[c] - a[c])[np.isfinite(a[c])]
                    if not diff.size:
                        continue
                    p = per.setdefault(var, {"max_abs": 0.0, "sq": 0.0, "n": 0.0})
                    p["max_abs"] = max(p["max_abs"], float(np.abs(diff).max()))
                    p["sq"] += float(np.square(diff, dtype=np.float64).sum())
                    p["n"] += diff.size
        out[lab] = {
            v: {"max_abs": p["max_abs"], "rms": (p["sq"] / p["n"]) ** 0.5} for v, p in per.items()
        }
    return out


def emulate_before(work: Path, source_label: str) -> None:
    """``WORK/before.zarr``: the float32 store ``source_label`` rewritten in the previous layout
    (format 1: boundary arrays on the whole grid, NaN outside the zone, lz4), byte for byte what
    the previous code wrote for the same values, without re-reading the sample."""
    import zarr

    from glonet_regions.data.store import ROOT_ATTR, Codec, StoreReader

    src, out = work / f"{source_label}.zarr", work / "before.zarr"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    reader = StoreReader(src)
    root: Any = zarr.open_group(str(out), mode="r+")
    h, w = reader.grid.shape
    t = reader.times.size
    for g in reader.group_names:
        old = root[f"{g}/boundary"]
        shard = old.shards[0]
        del root[f"{g}/boundary"]
        c = int(reader.group_info(g)["n_channels"])
        arr = root[g].create_array(
            "boundary", shape=(t, c, h, w), dtype="float32", chunks=(1, c, h, w),
            shards=(shard, c, h, w), compressors=Codec().build(), fill_value=np.nan,
            dimension_names=("time", "channel", "latitude", "longitude"),
        )  # fmt: skip
        for s0 in range(0, t, shard):
            arr[s0 : s0 + shard] = reader.read_boundary(g, s0, min(s0 + shard, t))
    del root["boundary_index"]
    attrs = dict(root.attrs[ROOT_ATTR])
    attrs["format_version"] = 1
    attrs.pop("storage", None)
    root.attrs[ROOT_ATTR] = attrs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sample", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--dtype", action="append", default=[])
    ap.add_argument("--label", default=None)
    ap.add_argument("--group", default="intermediate")
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--n-days", type=int, default=0, help="Prepare only the first N days.")
    ap.add_argument("--compare", nargs="+", default=None)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--emulate-before", default=None, help="float32 store label to rewrite.")
    ap.add_argument("--loader", default=None, help="Only time the loader on this store label.")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.emulate_before:
        emulate_before(args.work, args.emulate_before)
        store = args.work / "before.zarr"
        print(json.dumps({"label": "before", "bytes": sizes(store)}), flush=True)
        return
    if args.loader:
        row = {"label": args.loader, **loader_rate(args.work / f"{args.loader}.zarr", args.group,
                                                   args.samples)}  # fmt: skip
        print(json.dumps(row), flush=True)
        return
    if args.compare:
        print(json.dumps({"round_trip": compare(args.work, args.compare, args.days)}))
        return
    for dtype in args.dtype:
        label = args.label or dtype
        store = args.work / f"{label}.zarr"
        row: dict[str, Any] = {"label": label, "dtype": dtype}
        row.update(prepare(args.sample, store, dtype, args.workers, args.n_days))
        row["bytes"] = sizes(store)
        row.update(loader_rate(store, args.group, args.samples))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
