"""Evaluation throughput on CPU: scoring a 10-day forecast cube against truth.

Times :func:`glonet_regions.evaluation.scoring.score_models` (4 metrics x 2 conventions, every
zone of the region) on synthetic cubes, for the demo grid (ibi36 thinned by 12) and the full
1/36 degree ibi36 grid, at OceanBench's 6 depths, one start date, 10 lead days. Prints a
markdown table. Run: ``python benchmarks/bench_evaluate.py [--large/--no-large]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

from glonet_regions.core.grid import Grid
from glonet_regions.evaluation.align import daily_to_cube
from glonet_regions.evaluation.scoring import OCEANBENCH_DEPTHS, region_zones, score_models
from glonet_regions.evaluation.synthetic import synthetic_daily


def _region():  # type: ignore[no-untyped-def]
    from glonet_regions.registry.facade import get_region

    return get_region("ibi36")


def bench(grid: Grid, label: str, repeat: int = 2) -> dict[str, object]:
    region = _region()
    daily = synthetic_daily(grid, n_days=12, depths=OCEANBENCH_DEPTHS, land_corner=0)
    truth = daily_to_cube(daily, ["2020-01-02"], 10)
    clim = truth * 0.0 + truth.mean("lead_day_index")
    models = {"forecast": truth + 0.1, "persistence": truth * 1.01}
    zones = region_zones(region, grid, list(region.subregions))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        df = score_models(models, truth, grid=grid, zones=zones, climatology=clim)
        best = min(best, time.perf_counter() - t0)
    n_vars = 5
    points = len(models) * 10 * (4 * len(OCEANBENCH_DEPTHS) + 1) * grid.size
    return {
        "grid": f"{label} {grid.shape[0]}x{grid.shape[1]}",
        "zones": len(zones),
        "rows": len(df),
        "seconds": best,
        "cubes_per_s": len(models) / best,
        "mpoints_per_s": points / best / 1e6,
        "vars": n_vars,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    full = _region().grid
    demo = full.isel(slice(0, None, 12), slice(0, None, 12))
    results = [bench(demo, "demo (ibi36 / 12)", repeat=3)]
    if args.large:
        results.append(bench(full, "ibi36 1/36", repeat=1))
    print("| grid | zones | score rows | seconds | model cubes / s | M grid points / s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['grid']} | {r['zones']} | {r['rows']} | {r['seconds']:.2f} | "
            f"{r['cubes_per_s']:.2f} | {r['mpoints_per_s']:.1f} |"
        )
    print(
        "\n10 lead days, 1 start date, 6 depths x 4 variables + zos, 2 models, metrics rmsd,"
        " rmse, bias, acc; 'grid points' = model x lead x (level, variable) x cell."
    )
    _ = xr  # xarray is what the scorer runs on


if __name__ == "__main__":
    main()
