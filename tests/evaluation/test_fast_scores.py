"""The one-pass numpy scorer against the xarray metric functions (the former path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.evaluation import fast_scores as fs
from glonet_regions.evaluation import metrics as m
from glonet_regions.evaluation.scoring import (
    BUILTIN_METRICS,
    MetricSpec,
    region_zones,
    score_models,
)
from glonet_regions.testing.dummy import make_dummy_region

SUBS = [
    SubRegion("west", "Western half", BBox(-20.0, -9.0, 30.0, 48.0)),
    SubRegion("north", "Northern band", BBox(-20.0, 2.0, 40.0, 48.0)),  # overlaps "west"
    SubRegion("corner", "South-east corner", BBox(-4.0, 2.0, 30.0, 36.0)),
]


def random_cubes(
    region: Region, seed: int, *, n_dates: int = 2, n_lead: int = 3, dtype: type = np.float32
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Truth, forecast and climatology cubes with NaN land varying with depth."""
    rng = np.random.default_rng(seed)
    grid = region.grid
    nlat, nlon = grid.shape
    depth = np.array([0.494, 47.37, 92.33])
    shape = (n_dates, n_lead, depth.size, nlat, nlon)
    land = rng.random((depth.size, nlat, nlon)) < 0.2
    land[1:] |= land[0]  # deeper levels have at least the land of the surface
    land[2, :3, :] = True
    coords = {
        "first_day_datetime": np.arange(n_dates).astype("datetime64[D]").astype("datetime64[ns]"),
        "lead_day_index": np.arange(n_lead),
        "depth": depth,
        "latitude": grid.lat,
        "longitude": grid.lon,
    }
    dims3 = ("first_day_datetime", "lead_day_index", "depth", "latitude", "longitude")
    dims2 = ("first_day_datetime", "lead_day_index", "latitude", "longitude")

    def cube(values: np.ndarray, surface: np.ndarray) -> xr.Dataset:
        v: np.ndarray = np.where(land, np.nan, values).astype(dtype)
        s: np.ndarray = np.where(land[0], np.nan, surface).astype(dtype)
        return xr.Dataset(
            {"thetao": (dims3, v), "zos": (dims2, s)},
            coords=coords,
        )

    t3 = 15 + rng.normal(size=shape)
    t2 = rng.normal(size=shape[:2] + shape[3:])
    c3 = 15 + 0.5 * rng.normal(size=shape)
    c2 = 0.3 * rng.normal(size=t2.shape)
    f3 = t3 + rng.normal(0.2, 0.7, size=shape)
    f2 = t2 + rng.normal(-0.1, 0.4, size=t2.shape)
    truth = cube(t3, t2)
    fc = cube(f3, f2)
    # A few extra forecast holes (not land): the scorer must drop them like the metrics do.
    fc["thetao"] = fc["thetao"].where(rng.random(shape) > 0.05)
    clim = cube(c3, c2)
    clim["thetao"] = clim["thetao"].where(rng.random(shape) > 0.05)
    return truth, fc, clim


def both(region: Region, seed: int, **kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    truth, fc, clim = random_cubes(region, seed, **kw)  # type: ignore[arg-type]
    zones = region_zones(region, region.grid, SUBS)
    args = {"grid": region.grid, "zones": zones, "climatology": clim, "depths": None}
    models = {"fc": fc, "pers": truth * 1.01}
    new = score_models(models, truth, engine="numpy", **args)  # type: ignore[arg-type]
    old = score_models(models, truth, engine="xarray", **args)  # type: ignore[arg-type]
    return new, old


def assert_same(new: pd.DataFrame, old: pd.DataFrame) -> None:
    keys = [c for c in new.columns if c != "value"]
    pd.testing.assert_frame_equal(new[keys], old[keys])
    a, b = new["value"].to_numpy(), old["value"].to_numpy()
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_numpy_engine_equals_xarray_metrics(region: Region) -> None:
    new, old = both(region, 0)
    assert {"region", "west", "north", "corner"} == set(new.subregion)
    assert {"rmsd", "rmse", "bias", "acc"} == set(new.metric)
    assert np.isfinite(new["value"]).all()
    assert_same(new, old)


def test_float64_inputs_and_one_date(region: Region) -> None:
    new, old = both(region, 3, n_dates=1, dtype=np.float64)
    assert_same(new, old)


@settings(deadline=None, max_examples=5)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_equal_on_random_cubes(seed: int, n_dates: int) -> None:
    new, old = both(make_dummy_region(), seed, n_dates=n_dates, n_lead=2)
    assert_same(new, old)


def test_direct_against_metric_functions(region: Region) -> None:
    """Per zone, the fast sums give what the metric functions give on the masked window."""
    truth, fc, clim = random_cubes(region, 7)
    zones = region_zones(region, region.grid, SUBS)
    area = region.grid.area_weights()
    masks = []
    for z in zones:
        full = np.zeros(region.grid.shape, bool)
        full[z.lat, z.lon] = z.mask
        masks.append(full)
    zi = fs.build_zone_index([z.name for z in zones], masks, area, chunk=7)  # tiny pieces
    f = fc["thetao"].values
    t = truth["thetao"].values
    c = clim["thetao"].values
    sums = [
        [fs.slice_sums(f[i, j, 1], t[i, j, 1], zi, c[i, j, 1]) for j in range(f.shape[1])]
        for i in range(f.shape[0])
    ]
    err = np.array([[s[0] for s in row] for row in sums])
    acc = np.array([[s[1] for s in row] for row in sums])
    for zn, z in enumerate(zones):
        sl = {"latitude": z.lat, "longitude": z.lon}
        mk = xr.DataArray(z.mask, dims=("latitude", "longitude"))
        fz, tz, cz = (x["thetao"].isel({**sl, "depth": 1}).where(mk) for x in (fc, truth, clim))
        w = area[z.lat, z.lon]
        expected = {
            ("rmsd", False): m.rmsd_oceanbench(fz, tz, np.ones_like(w)),
            ("missing", True): m.missing_fraction(fz, tz),  # cos(lat): OceanBench's
            ("rmse", True): m.rmse(fz, tz, w),
            ("rmse", False): m.rmse(fz, tz, None),
            ("bias", True): m.bias(fz, tz, w),
            ("rmsd", True): m.rmsd_oceanbench(fz, tz),  # cos(lat) ~ the cell areas
            ("acc", True): m.acc(fz, tz, cz, w),
        }
        for (name, weighted), ref in expected.items():
            got = fs.finalize(name, weighted, err, acc)[:, zn]
            np.testing.assert_allclose(got, ref.values, rtol=1e-12, err_msg=f"{name} {z.name}")


def test_plugin_metric_falls_back_and_keeps_row_order(region: Region) -> None:
    def mae(forecast: xr.DataArray, reference: xr.DataArray, weights: object) -> xr.DataArray:
        return abs(forecast - reference).mean(["first_day_datetime", "latitude", "longitude"])

    table = {**BUILTIN_METRICS, "mae": MetricSpec("mae", mae, "custom")}
    truth, fc, clim = random_cubes(region, 5)
    zones = region_zones(region, region.grid, SUBS)
    kw = {"grid": region.grid, "zones": zones, "climatology": clim, "metrics": table}
    new = score_models({"fc": fc}, truth, engine="numpy", **kw)  # type: ignore[arg-type]
    old = score_models({"fc": fc}, truth, engine="xarray", **kw)  # type: ignore[arg-type]
    assert "mae" in set(new.metric)
    assert_same(new, old)


def test_all_nan_zone_gives_nan_without_warnings(region: Region) -> None:
    truth, fc, clim = random_cubes(region, 1)
    fc["zos"] = fc["zos"] * np.nan
    zones = region_zones(region, region.grid, SUBS)
    df = score_models({"fc": fc}, truth, grid=region.grid, zones=zones, climatology=clim)
    assert df[df.variable == "zos"]["value"].isna().all()
    assert df[df.variable == "thetao"]["value"].notna().all()


def test_unknown_engine_raises(region: Region) -> None:
    truth, fc, _ = random_cubes(region, 1)
    zones = region_zones(region, region.grid)
    with pytest.raises(ValidationError, match="engine"):
        score_models({"fc": fc}, truth, grid=region.grid, zones=zones, engine="fortran")
