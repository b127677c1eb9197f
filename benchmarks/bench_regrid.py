"""Benchmark: glonet-regions' built-in regridder vs xarray-regrid on the IBI box.

Cases (the same random-phase smooth fields with a real NaN land mask for both libraries):

- ``1/36 -> 1/12``: IBI 1/36 grid (1081 x 865) to 1/12 (361 x 289);
- ``1/4 -> 1/36``: a 1/4 degree grid around the IBI box to the IBI 1/36 grid.

For each method (bilinear vs xarray-regrid ``linear``; conservative vs ``conservative``) it
reports the weight-build time (ours; xarray-regrid builds inside every call), the apply time of
a stack of fields, and the error against the analytic field at the destination cell centres
over ocean cells both libraries fill, plus how many ocean cells each leaves NaN.

Run: ``python benchmarks/bench_regrid.py [--fields 8] [--repeat 3]``. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.apply import apply_weights
from glonet_regions.data.regrid.builtin import compute_weights


def ibi36() -> Grid:
    return Grid.regular(lon0=-19, lat0=26, dlon=1 / 36, dlat=1 / 36, nlon=865, nlat=1081)


def ibi12() -> Grid:
    return Grid.regular(lon0=-19, lat0=26, dlon=1 / 12, dlat=1 / 12, nlon=289, nlat=361)


def quarter_around_ibi() -> Grid:
    return Grid.regular(lon0=-20.125, lat0=24.875, dlon=0.25, dlat=0.25, nlon=106, nlat=130)


def analytic(lat: np.ndarray, lon: np.ndarray, k: int) -> np.ndarray:
    """A smooth field (scales of a few degrees), different for each k."""
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return 10 + np.cos(8 * la + 0.3 * k) * np.sin(6 * lo + 0.5 * k) + 0.2 * k * np.sin(la)  # type: ignore[no-any-return]


def ocean_mask(grid: Grid) -> np.ndarray:
    """Real land from the global-land-mask package (True = ocean)."""
    from global_land_mask import globe

    la, lo = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    return ~globe.is_land(la, lo)  # type: ignore[no-any-return]


def as_dataset(grid: Grid, values: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"f": (("k", "lat", "lon"), values)},
        coords={"k": np.arange(values.shape[0]), "lat": grid.lat, "lon": grid.lon},
    )


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def score(
    out: np.ndarray, truth: np.ndarray, ocean: np.ndarray, common: np.ndarray
) -> tuple[float, float, int]:
    err = (out - truth)[common]
    nan_ocean = int(np.sum(np.isnan(out) & ocean[None]))
    return float(np.sqrt(np.mean(err**2))), float(np.max(np.abs(err))), nan_ocean


def run_case(name: str, src: Grid, dst: Grid, n_fields: int, repeat: int) -> list[str]:
    ocean_s, ocean_d = ocean_mask(src), ocean_mask(dst)
    values = np.stack([analytic(src.lat, src.lon, k) for k in range(n_fields)])
    values = np.where(ocean_s[None], values, np.nan)
    truth = np.stack([analytic(dst.lat, dst.lon, k) for k in range(n_fields)])
    ds_src = as_dataset(src, values)
    ds_dst = xr.Dataset(coords={"lat": dst.lat, "lon": dst.lon})
    rows = []
    for ours_method, theirs in (("bilinear", "linear"), ("conservative", "conservative")):
        t_build, weights = timed(lambda m=ours_method: compute_weights(src, dst, m), repeat)
        t_apply, ours = timed(lambda w=weights: apply_weights(w, values, dst_mask=ocean_d), repeat)
        if theirs == "linear":
            call = lambda: ds_src.regrid.linear(ds_dst)["f"].values  # noqa: E731
        else:
            call = lambda: ds_src.regrid.conservative(ds_dst, latitude_coord="lat")["f"].values  # noqa: E731
        t_first, _ = timed(call, 1)
        t_theirs, theirs_out = timed(call, repeat)
        theirs_out = np.where(ocean_d[None], theirs_out, np.nan)
        common = np.isfinite(ours) & np.isfinite(theirs_out) & ocean_d[None]
        r_ours = score(ours, truth, ocean_d, common)
        r_theirs = score(theirs_out, truth, ocean_d, common)
        n_ocean = int(ocean_d.sum()) * n_fields
        rows.append(
            f"| {name} | {ours_method} | glonet-regions builtin | {t_build:.3f} | {t_apply:.3f} "
            f"| {r_ours[0]:.2e} | {r_ours[1]:.2e} | {r_ours[2]} / {n_ocean} |"
        )
        rows.append(
            f"| {name} | {theirs} | xarray-regrid | (in call; 1st call {t_first:.3f}) "
            f"| {t_theirs:.3f} "
            f"| {r_theirs[0]:.2e} | {r_theirs[1]:.2e} | {r_theirs[2]} / {n_ocean} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fields", type=int, default=8, help="fields regridded at once")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best kept)")
    args = parser.parse_args()
    import xarray_regrid

    try:
        import sparse  # noqa: F401

        sparse_note = "installed (slows xarray-regrid's conservative method, DESIGN.md section 6)"
    except ImportError:
        sparse_note = "not installed"
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores; "
        f"numpy {np.__version__}, xarray {xr.__version__}, xarray-regrid "
        f"{xarray_regrid.__version__}; `sparse` {sparse_note}. Fields per call: {args.fields}; "
        f"best of {args.repeat}. Times in seconds. Errors vs the analytic field at destination "
        "centres over ocean cells both libraries fill; NaN = ocean destination cells left NaN.\n"
    )
    print("| case | method | library | weights (s) | apply (s) | RMSE | max err | NaN ocean |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    cases = [
        ("1/36 -> 1/12 IBI (1081x865 -> 361x289)", ibi36(), ibi12()),
        ("1/4 -> 1/36 IBI (130x106 -> 1081x865)", quarter_around_ibi(), ibi36()),
    ]
    for name, src, dst in cases:
        for row in run_case(name, src, dst, args.fields, args.repeat):
            print(row, flush=True)


if __name__ == "__main__":
    main()
