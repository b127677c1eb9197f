"""Writing a 10-day forecast cube of the whole ibi36 grid: netCDF and zarr, as the product does.

The forecast itself (three full-size depth groups, 5 autoregressive calls each) is timed on the
GPU by ``benchmarks/gpu.py``; this script times the other part of a forecast's wall time:
building the OceanBench-shaped cube (1 start date, 10 lead days, 21 depths, 1081 x 865) and
writing it with :func:`glonet_regions.forecast.cube.write_cube`.

Usage: ``python benchmarks/bench_forecast_write.py [--out-dir DIR] [--days 10]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=None)
    ap.add_argument("--days", type=int, default=10)
    args = ap.parse_args()

    from glonet_regions.core.depth import GLONET_LEVELS
    from glonet_regions.core.grid import Grid
    from glonet_regions.forecast.cube import build_cube, write_cube

    grid = Grid.regular(lon0=-19.0, lat0=26.0, dlon=1 / 36, dlat=1 / 36, nlon=865, nlat=1081)
    nz = len(GLONET_LEVELS)
    rng = np.random.default_rng(0)
    land = rng.random(grid.shape) < 0.3
    fields = {}
    t0 = time.perf_counter()
    for name in ("thetao", "so", "uo", "vo"):
        a = rng.standard_normal((1, args.days, nz, *grid.shape), dtype=np.float32)
        a[..., land] = np.nan
        fields[name] = a
    zos = rng.standard_normal((1, args.days, *grid.shape), dtype=np.float32)
    zos[..., land] = np.nan
    fields["zos"] = zos
    cube = build_cube(
        fields, first_days=[dt.date(2024, 1, 1)], grid=grid, depths=list(GLONET_LEVELS.values)
    )
    t_build = time.perf_counter() - t0
    nbytes = sum(v.nbytes for v in fields.values())
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="bench_write_"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for fmt, name in (("netcdf", "forecast.nc"), ("zarr", "forecast.zarr")):
            t0 = time.perf_counter()
            path = write_cube(cube, out / name, fmt=fmt)
            dt_s = time.perf_counter() - t0
            size = (
                sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                if path.is_dir()
                else path.stat().st_size
            )
            rows.append((fmt, dt_s, size / 1e9))
    finally:
        if args.out_dir is None:
            shutil.rmtree(out, ignore_errors=True)
    print(f"\nCube: 1 start, {args.days} lead days, {nz} depths, {grid.shape[0]} x "
          f"{grid.shape[1]}, {nbytes / 1e9:.2f} GB float32 in memory; "
          f"random data, 30% land (NaN); building it took {t_build:.1f} s\n")  # fmt: skip
    print("| format | write s | on disk GB | GB/s (in-memory bytes) |")
    print("|---|---|---|---|")
    for fmt, sec, gb in rows:
        print(f"| {fmt} | {sec:.1f} | {gb:.2f} | {nbytes / 1e9 / sec:.2f} |")


if __name__ == "__main__":
    main()
