"""Evaluation throughput on CPU: scoring a 10-day forecast cube against truth.

Times :func:`glonet_regions.evaluation.scoring.score_models` (4 metrics x 2 conventions, every
zone of the region) on synthetic cubes, for the demo grid (ibi36 thinned by 12) and the full
1/36 degree ibi36 grid, at OceanBench's 6 depths, one start date, 10 lead days. Both engines
are timed in the same run: ``numpy`` (the one-pass scorer of
:mod:`glonet_regions.evaluation.fast_scores`, the default) and ``xarray`` (the metric functions
of :mod:`glonet_regions.evaluation.metrics` per zone, the former path), and the largest
difference between their scores is printed. Prints a markdown table. Run:
``python benchmarks/bench_evaluate.py [--large/--no-large] [--baseline/--no-baseline]
[--subregions N]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.evaluation.scoring import OCEANBENCH_DEPTHS, region_zones, score_models
from glonet_regions.forecast.align import daily_to_cube
from glonet_regions.testing.synthetic import synthetic_daily


def _region() -> Region:
    from glonet_regions.registry.facade import get_region

    return get_region("ibi36")


def _subregions(region: Region, n: int) -> list[SubRegion]:
    """The region's sub-regions, plus ``n`` extra halves / quarters of its evaluation box."""
    subs = list(region.subregions)
    box = region.evaluation_box or region.bbox
    lat_mid = 0.5 * (box.lat_min + box.lat_max)
    lon_mid = 0.5 * (box.lon_min + box.lon_max)
    extra = [
        ("bench_south", BBox(box.lon_min, box.lon_max, box.lat_min, lat_mid)),
        ("bench_west", BBox(box.lon_min, lon_mid, box.lat_min, box.lat_max)),
        ("bench_ne", BBox(lon_mid, box.lon_max, lat_mid, box.lat_max)),
    ]
    subs += [SubRegion(name, name, bb) for name, bb in extra[:n]]
    return subs


def _time(fn: Callable[[], pd.DataFrame], repeat: int) -> tuple[float, pd.DataFrame]:
    best = np.inf
    df = pd.DataFrame()
    for _ in range(repeat):
        t0 = time.perf_counter()
        df = fn()
        best = min(best, time.perf_counter() - t0)
    return best, df


def bench(
    grid: Grid, label: str, repeat: int = 2, *, baseline: bool = True, n_sub: int = 0
) -> dict[str, object]:
    region = _region()
    # A land block of ~1/25 of the domain; daily stamps at 12:00 floored to the day so the
    # cube picks them up (not flooring left an all-NaN truth cube in the first version).
    daily = synthetic_daily(
        grid, n_days=12, depths=OCEANBENCH_DEPTHS, land_corner=max(2, grid.shape[0] // 5)
    )
    daily = daily.assign_coords(time=daily["time"].dt.floor("D"))
    truth = daily_to_cube(daily, ["2020-01-02"], 10)
    if not all(bool(truth[v].notnull().any()) for v in truth.data_vars):
        raise RuntimeError("benchmark truth cube is all NaN")
    clim = truth * 0.0 + truth.mean("lead_day_index")
    models = {"forecast": truth + 0.1, "persistence": truth * 1.01}
    zones = region_zones(region, grid, _subregions(region, n_sub))

    def run(engine: str) -> pd.DataFrame:
        return score_models(models, truth, grid=grid, zones=zones, climatology=clim, engine=engine)

    fast_s, df = _time(lambda: run("numpy"), repeat)
    slow_s, diff = np.nan, np.nan
    if baseline:
        slow_s, ref = _time(lambda: run("xarray"), 1 if grid.size > 1e5 else repeat)
        a, b = df["value"].to_numpy(), ref["value"].to_numpy()
        same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-30)
        diff = float(np.nanmax(rel)) if same_nan else np.inf
    points = len(models) * 10 * (4 * len(OCEANBENCH_DEPTHS) + 1) * grid.size
    return {
        "grid": f"{label} {grid.shape[0]}x{grid.shape[1]}",
        "zones": len(zones),
        "rows": len(df),
        "xarray_s": slow_s,
        "numpy_s": fast_s,
        "speedup": slow_s / fast_s,
        "mpoints_per_s": points / fast_s / 1e6,
        "max_rel_diff": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the former xarray path (engine='xarray') and compare the scores",
    )
    parser.add_argument(
        "--subregions", type=int, default=0, help="extra sub-regions (0-3) scored as zones"
    )
    args = parser.parse_args()
    full = _region().grid
    demo = full.isel(slice(0, None, 12), slice(0, None, 12))
    kw = {"baseline": args.baseline, "n_sub": args.subregions}
    results = [bench(demo, "demo (ibi36 / 12)", repeat=3, **kw)]
    if args.large:
        results.append(bench(full, "ibi36 1/36", repeat=1, **kw))
    print(
        "| grid | zones | score rows | xarray s (before) | numpy s (after) | speed-up "
        "| M grid points / s (after) | max rel. diff |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['grid']} | {r['zones']} | {r['rows']} | {r['xarray_s']:.2f} | "
            f"{r['numpy_s']:.2f} | {r['speedup']:.1f}x | {r['mpoints_per_s']:.1f} | "
            f"{r['max_rel_diff']:.1e} |"
        )
    print(
        "\n10 lead days, 1 start date, 6 depths x 4 variables + zos, 2 models, metrics rmsd,"
        " rmse, bias, acc; 'grid points' = model x lead x (level, variable) x cell;"
        f" {os.cpu_count()} CPU core(s)."
    )


if __name__ == "__main__":
    main()
