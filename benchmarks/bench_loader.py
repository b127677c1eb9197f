"""Loader throughput against the raw read+decompress limit and a naive xarray loader.

For each store layout (days per shard), builds a store from the analytic
:class:`~glonet_regions.data.prepare_source.SyntheticSource` and measures, for one depth group:

- raw: ``zarr`` reads of whole shards, decoded (the limit of the store on this machine);
- loader: :class:`GlonetStoreDataset` through :func:`make_loader` (2 input + 2 target days +
  boundary, normalised), in process and with worker processes;
- naive: the same samples from a netCDF file of the canonical fields, with
  ``xarray .isel(time=...).values`` per variable, stacked and normalised.

Usage: ``python benchmarks/bench_loader.py [--full] [--group intermediate] [--workers 2]``.
The default size (192 x 160, 40 days) runs in about a minute on 2 CPU cores; ``--full`` uses
IBI's 1081 x 865 grid (about 150 MB per day of a 40-channel group).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _region(nlat: int, nlon: int, edges: tuple[str, ...] = ("west", "south", "north")) -> Any:
    """A benchmark region on the ibi36 grid v1 (first ``nlat`` x ``nlon`` points)."""
    from glonet_regions.core.grid import Grid
    from glonet_regions.core.region import (
        DateRange,
        DateSplits,
        GridVersion,
        OpenBoundaries,
        Region,
    )

    res = 1 / 36
    grid = Grid.regular(lon0=-19.0, lat0=26.0, dlon=res, dlat=res, nlon=nlon, nlat=nlat)
    start = dt.date(2021, 1, 1)
    far = dt.date(2030, 1, 1)
    return Region(
        name="bench",
        title="benchmark",
        bbox=grid.bbox,
        resolution_deg=res,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            DateRange(start, far),
            DateRange(dt.date(2031, 1, 1), dt.date(2031, 2, 1)),
            DateRange(dt.date(2032, 1, 1), dt.date(2032, 2, 1)),
        ),
        open_boundaries=OpenBoundaries(edges, width=8),  # type: ignore[arg-type]
    )


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_raw(store: Path, group: str) -> tuple[float, float]:
    import zarr

    arr = zarr.open_group(str(store), mode="r")[f"{group}/data"]
    shard = arr.shards[0]
    n = arr.shape[0]

    def run() -> int:
        total = 0
        for s in range(0, n, shard):
            total += np.asarray(arr[s : s + shard]).nbytes
        return total

    nbytes, sec = _timed(run)
    return nbytes / sec / 1e9, n / sec


def bench_loader(store: Path, group: str, workers: int, max_batches: int) -> tuple[float, float]:
    from glonet_regions.data.loader import GlonetStoreDataset, make_loader

    ds = GlonetStoreDataset(store, group, "train", n_input=2, n_target=2)
    loader = make_loader(ds, batch_size=1, shuffle=True, seed=0, num_workers=workers)
    it = iter(loader)
    next(it)  # start-up (worker spawn, store opening) excluded
    count, nbytes = 0, 0
    t0 = time.perf_counter()
    for batch in it:
        count += 1
        nbytes += sum(batch[k].numel() * 4 for k in ("x", "y", "boundary"))
        if count >= max_batches:
            break
    sec = time.perf_counter() - t0
    del it, loader
    return count / sec, nbytes / sec / 1e9


def write_netcdf(src, days, path: Path) -> None:  # type: ignore[no-untyped-def]
    import xarray as xr

    fields = src.interior(days)
    grid = src.grid()
    coords = {
        "time": np.asarray([np.datetime64(d, "ns") for d in days]),
        "depth": src.levels.as_array(),
        "latitude": grid.lat,
        "longitude": grid.lon,
    }
    data = {
        k: (("time", "depth", "latitude", "longitude") if v.ndim == 4 else
            ("time", "latitude", "longitude"), v)
        for k, v in fields.items()
    }  # fmt: skip
    enc = {k: {"zlib": True, "complevel": 1, "chunksizes": (1, *v[1].shape[1:])}
           for k, v in data.items()}  # fmt: skip
    xr.Dataset(data, coords=coords).to_netcdf(path, encoding=enc)


def bench_naive(nc: Path, store: Path, group: str, max_samples: int) -> tuple[float, float]:
    import xarray as xr

    from glonet_regions.core.depth import GLONET_DEPTH_SCHEME
    from glonet_regions.data.store import StoreReader

    g = GLONET_DEPTH_SCHEME.group(group)
    stats = StoreReader(store).stats(group)
    mean, std = stats.mean[:, None, None], stats.std[:, None, None]
    ds = xr.open_dataset(nc)
    n = ds.sizes["time"] - 3
    order = np.random.default_rng(0).permutation(n)[:max_samples]
    nbytes = 0
    t0 = time.perf_counter()
    for i in order:
        win = ds.isel(time=slice(int(i), int(i) + 4))
        chans = []
        for v, li in g.channels():
            da = win[v] if li is None else win[v].isel(depth=li)
            chans.append(da.values)
        x = np.stack(chans, axis=1)
        x = np.nan_to_num((x - mean) / std).astype(np.float32)
        nbytes += x.nbytes
    sec = time.perf_counter() - t0
    ds.close()
    return len(order) / sec, nbytes / sec / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="IBI-size grid (1081 x 865)")
    ap.add_argument("--group", default="intermediate")
    ap.add_argument("--days", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", default="1,4,16", help="days per shard, comma separated")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temp folder)")
    args = ap.parse_args()

    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource
    from glonet_regions.data.store import Layout

    nlat, nlon = (1081, 865) if args.full else (192, 160)
    n_days = args.days or (48 if args.full else 40)
    region = _region(nlat, nlon)
    src = SyntheticSource(region.grid, dt.date(2021, 1, 1), n_days)
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="bench_loader_"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    nc = scratch / "naive.nc"
    try:
        for shard in (int(s) for s in args.shards.split(",")):
            store = scratch / f"store_s{shard}.zarr"
            if store.exists():
                shutil.rmtree(store)
            lay = Layout(chunk_days=max(shard, 4) // shard * shard, shard_days=shard)
            _, prep_s = _timed(lambda: prepare_store(store, src, region=region, layout=lay))  # noqa: B023
            size = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 1e6
            raw_gbs, raw_days = bench_raw(store, args.group)
            l0 = bench_loader(store, args.group, 0, args.batches)
            lw = bench_loader(store, args.group, args.workers, args.batches)
            rows.append((shard, size, prep_s, raw_gbs, raw_days, l0, lw))
            last_store = store
        _timed(lambda: write_netcdf(src, src.available_days(), nc))
        naive = bench_naive(nc, last_store, args.group, args.batches)
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nLoader benchmark: group {args.group}, grid {nlat} x {nlon}, {n_days} days, "
          f"sample = 2 input + 2 target days + boundary, batch 1\n")  # fmt: skip
    print("| days/shard | store MB | raw decode GB/s (days/s) | loader 0 workers samples/s "
          f"(GB/s) | loader {args.workers} workers samples/s (GB/s) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for shard, size, _prep, raw_gbs, raw_days, l0, lw in rows:
        print(f"| {shard} | {size:.0f} | {raw_gbs:.2f} ({raw_days:.0f}) | {l0[0]:.1f} "
              f"({l0[1]:.2f}) | {lw[0]:.1f} ({lw[1]:.2f}) |")  # fmt: skip
    print(f"\nNaive xarray netCDF loader (.isel(time=...).values, zlib 1): "
          f"{naive[0]:.1f} samples/s ({naive[1]:.2f} GB/s of x+y)\n")  # fmt: skip


if __name__ == "__main__":
    main()
