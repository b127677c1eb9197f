"""Day-of-year and harmonic climatologies; ACC and the climatology baseline on a short split."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.region import DateRange, DateSplits, Region
from glonet_regions.evaluation.climatology import (
    DOY,
    HARMONIC_METHOD,
    doy_climatology,
    doy_of,
    harmonic_climatology,
)
from glonet_regions.evaluation.pipeline import evaluate_forecast
from glonet_regions.forecast.align import daily_to_cube, open_daily
from glonet_regions.forecast.sources import FileSource
from glonet_regions.testing.synthetic import synthetic_daily

OMEGA = 2 * np.pi / 365.25


def daily(start: str, n_days: int, fn: object, shape: tuple[int, int] = (3, 4)) -> xr.Dataset:
    """Daily field ``fn(doy) * pattern`` on a small grid, the first cell land (NaN)."""
    days = np.arange(np.datetime64(start), np.datetime64(start) + n_days)
    doy = doy_of(days).astype(np.float64)
    pattern = np.linspace(0.5, 2.0, shape[0] * shape[1]).reshape(shape)
    values = fn(doy)[:, None, None] * pattern[None]  # type: ignore[operator]
    values[:, 0, 0] = np.nan
    return xr.Dataset(
        {"thetao": (("time", "latitude", "longitude"), values)},
        coords={
            "time": days.astype("datetime64[ns]"),
            "latitude": np.arange(shape[0], dtype=float),
            "longitude": np.arange(shape[1], dtype=float),
        },
    )


def expected(fn: object, shape: tuple[int, int] = (3, 4)) -> np.ndarray:
    pattern = np.linspace(0.5, 2.0, shape[0] * shape[1]).reshape(shape)
    out = fn(np.arange(1, 367, dtype=np.float64))[:, None, None] * pattern[None]  # type: ignore[operator]
    out[:, 0, 0] = np.nan
    return np.asarray(out)


def annual(doy: np.ndarray) -> np.ndarray:
    return 10.0 + 3.0 * np.cos(OMEGA * doy) - 2.0 * np.sin(OMEGA * doy)


def seasonal(doy: np.ndarray) -> np.ndarray:
    return annual(doy) + 0.7 * np.cos(2 * OMEGA * doy) + 0.4 * np.sin(2 * OMEGA * doy)


@pytest.mark.parametrize("fn", [annual, seasonal])
def test_sinusoid_recovered_from_half_a_year(fn: object) -> None:
    ds = daily("2021-01-01", 183, fn)
    clim = harmonic_climatology(ds)
    assert clim["thetao"].dims == (DOY, "latitude", "longitude")
    assert clim.attrs["climatology_method"] == HARMONIC_METHOD
    np.testing.assert_allclose(clim["thetao"].values, expected(fn), rtol=2e-6, equal_nan=True)
    # doy_climatology picks the harmonic fit by itself for less than a year.
    auto = doy_climatology(ds)
    assert auto.attrs["climatology_method"] == HARMONIC_METHOD
    np.testing.assert_allclose(auto["thetao"].values, clim["thetao"].values, equal_nan=True)


def test_cells_with_missing_days_are_fitted_on_their_own_days() -> None:
    ds = daily("2021-03-01", 200, seasonal)
    vals = ds["thetao"].values.copy()
    rng = np.random.default_rng(0)
    vals[rng.random(vals.shape) < 0.3] = np.nan  # 30 % of the days missing, cell by cell
    vals[:, 2, 3] = np.nan
    vals[5:8, 2, 3] = 4.0  # 3 valid days: too few for 5 coefficients, the mean is used
    clim = harmonic_climatology(ds.copy(data={"thetao": vals}))["thetao"].values
    want = expected(seasonal)
    np.testing.assert_allclose(clim[:, :2], want[:, :2], rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(clim[:, 2, 3], 4.0)
    assert np.isnan(clim[:, 0, 0]).all()


def test_short_split_drops_harmonics_it_cannot_constrain() -> None:
    short = harmonic_climatology(daily("2021-01-01", 20, annual))
    assert short.attrs["climatology_harmonics"] == 0
    assert "mean only" in short.attrs["climatology_method"]
    v = short["thetao"].values
    assert np.isfinite(v[:, 1:, :]).all() and np.allclose(v[0], v[200], equal_nan=True)
    mid = harmonic_climatology(daily("2021-01-01", 90, annual))
    assert mid.attrs["climatology_harmonics"] == 1
    np.testing.assert_allclose(mid["thetao"].values, expected(annual), rtol=2e-6, equal_nan=True)


def test_full_years_keep_the_day_of_year_mean() -> None:
    ds = daily("2019-01-01", 730, seasonal)
    auto = doy_climatology(ds, window=31)
    plain = doy_climatology(ds, window=31, method="doy")
    assert auto.attrs["climatology_method"] == "day-of-year mean (31-day window)"
    np.testing.assert_array_equal(auto["thetao"].values, plain["thetao"].values)
    assert np.isfinite(auto["thetao"].values[:, 1:]).all()


def test_seasonal_gap_of_a_multi_year_split_is_filled_by_the_fit() -> None:
    ds = daily("2019-01-01", 730, seasonal)
    doy = doy_of(ds["time"].values)
    gap = ds.isel(time=np.flatnonzero((doy < 100) | (doy > 160)))  # 60 days never seen
    plain = doy_climatology(gap, window=11, method="doy")
    auto = doy_climatology(gap, window=11)
    assert plain.attrs["climatology_method"] == "day-of-year mean (11-day window)"
    assert auto.attrs["climatology_method"] == (
        "day-of-year mean (11-day window); days of year without data: " + HARMONIC_METHOD
    )
    p, a = plain["thetao"].values, auto["thetao"].values
    holes = np.isnan(p[:, 1, 1])
    assert holes.sum() > 40 and np.isfinite(a[:, 1:]).all()
    np.testing.assert_array_equal(a[~holes], p[~holes])
    np.testing.assert_allclose(a[holes], expected(seasonal)[holes], rtol=1e-5, equal_nan=True)


def test_day_of_year_gaps_filled_after_smoothing() -> None:
    ds = daily("2019-01-01", 1095, seasonal)
    doy = doy_of(ds["time"].values)
    keep = np.ones(doy.size, bool)
    keep[(doy > 100) & (doy < 130) & (ds["time"].values < np.datetime64("2021-01-01"))] = False
    vals = ds["thetao"].values.copy()
    late = (doy > 100) & (doy < 130) & (ds["time"].values >= np.datetime64("2021-01-01"))
    vals[late, 1, :] = np.nan  # one row never sees those days: a gap for that row only
    part = ds.copy(data={"thetao": vals}).isel(time=np.flatnonzero(keep))
    plain = doy_climatology(part, window=11, method="doy")["thetao"].values
    assert np.isnan(plain[110, 1, 1]) and np.isfinite(plain[110, 2, 1])
    auto = doy_climatology(part, window=11)
    assert "days of year without data: harmonic fit" in auto.attrs["climatology_method"]
    got = auto["thetao"].values
    assert np.isfinite(got[:, 1:]).all() and np.isnan(got[:, 0, 0]).all()
    np.testing.assert_allclose(got[110, 1, 1], expected(seasonal)[110, 1, 1], rtol=1e-5)
    np.testing.assert_array_equal(got[:, 2], plain[:, 2])


def test_bad_method_raises() -> None:
    with pytest.raises(ValidationError, match="climatology method"):
        doy_climatology(daily("2021-01-01", 10, annual), method="spline")


def test_acc_and_climatology_baseline_finite_on_sample_like_split(
    dummy_registry: object, region: Region, tmp_path: Path
) -> None:
    """About 270 days, ~75 % training: the test days' days of year are not in training."""
    start = dt.date(2020, 1, 1)
    n_days = 270
    path = tmp_path / "truth.nc"
    ds = synthetic_daily(region.grid, n_days=n_days, depths=(0.494, 47.37))
    doy = doy_of(ds["time"].values).astype(np.float64)
    season = 2.0 * np.cos(OMEGA * (doy - 220))[:, None, None, None]
    ds["thetao"] = ds["thetao"] + season.astype(np.float32)
    ds.to_netcdf(path)

    def day(k: int) -> dt.date:
        return start + dt.timedelta(days=k)

    splits = DateSplits(
        train=DateRange(day(0), day(201)),
        validation=DateRange(day(202), day(234)),
        test=DateRange(day(235), day(n_days - 1)),
    )
    reg = dataclasses.replace(region, splits=splits)
    src = FileSource(path, splits=splits)
    starts = [day(240)]
    truth = daily_to_cube(open_daily(path), starts, 5)
    fc = (truth + 0.05).assign_attrs(model="fc")
    res = evaluate_forecast(reg, fc, src, depths=[0.494, 47.37])
    df = res.scores
    assert df.attrs["climatology_method"] == HARMONIC_METHOD
    acc = df[(df.metric == "acc") & (df.model == "fc")]
    assert len(acc) and np.isfinite(acc.value).all()
    clim_rows = df[
        (df.model.str.startswith("climatology (")) & (df.metric.isin(["rmse", "rmsd", "bias"]))
    ]
    assert len(clim_rows) and np.isfinite(clim_rows.value).all()
    assert not any("NaN" in note for note in res.notes)
