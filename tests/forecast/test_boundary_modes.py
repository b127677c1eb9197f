"""Boundary modes of a forecast: what forces the open-boundary zone, and the bad inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.forecast.boundary_sources import (
    REANALYSIS_DESCRIPTION,
    StoreBoundary,
    open_global_forecast,
)
from glonet_regions.forecast.operational import boundary_data, default_boundary_mode
from glonet_regions.forecast.runner import run_bundle_forecast
from glonet_regions.forecast.sources import StoreSource
from glonet_regions.testing.dummy import make_dummy_region

from .conftest import START, fake_bundle, global_cube

DAYS = 4


@pytest.fixture(scope="module")
def store(dummy_store: Path) -> StoreSource:
    return StoreSource(dummy_store)


def _forecast(store: StoreSource, mode: str, source: Path | None = None) -> xr.Dataset:
    region = make_dummy_region()
    bundle = fake_bundle(region, store.grid, {"surface": store.channels("surface")})
    bnd = boundary_data(
        mode, region=region, source=store, boundary_source=source, start=START, n_days=DAYS
    )
    return run_bundle_forecast(bundle, store, region, [START], DAYS, boundary=bnd)


def test_forecast_mode_uses_the_latest_run_before_the_start_at_the_offset_lead(
    store: StoreSource, tmp_path: Path
) -> None:
    path = tmp_path / "global.nc"
    # Runs on the 25th (used: the latest on or before the 27th) and the 28th (the future).
    global_cube(store.grid, [dt.date(2020, 1, 25), dt.date(2020, 1, 28)]).to_netcdf(path)
    cube = _forecast(store, "forecast", path)
    # West edge (the zone): run 1 -> 100, lead day L of a start 2 days after the run -> L + 2.
    np.testing.assert_allclose(cube["zos"].values[0, :, 4, 0], [102, 103, 104, 105])
    np.testing.assert_allclose(cube["so"].values[0, :, 0, 4, 0], [112, 113, 114, 115])
    assert np.all(np.abs(cube["zos"].values[0, :, 4, 6]) < 5)  # the interior is the model's
    assert cube.attrs["boundary_mode"] == "forecast"
    assert "global forecast issued 2020-01-25" in cube.attrs["boundary_mode_description"]
    assert str(path) in cube.attrs["boundary_source"]
    assert cube.attrs["depth_groups_model"] == "surface"
    assert "deep" in cube.attrs["depth_groups_persistence"]


def test_persistence_mode_holds_the_day_before(store: StoreSource) -> None:
    cube = _forecast(store, "persistence")
    before = store.group_days("surface", [START - dt.timedelta(days=1)])[0, 0]
    for lead in range(DAYS):
        np.testing.assert_allclose(cube["zos"].values[0, lead, :, 0], before[:, 0], rtol=1e-6)
    assert cube.attrs["boundary_mode"] == "persistence"
    assert cube.attrs["boundary_mode_description"] == (
        "boundary held at its state on the day before the start"
    )


def test_reanalysis_mode_is_labelled_idealised(store: StoreSource) -> None:
    cube = _forecast(store, "reanalysis")
    days = [START + dt.timedelta(days=k) for k in range(DAYS)]
    bnd = store.group_days("surface", days, boundary=True)[:, 0]
    np.testing.assert_allclose(cube["zos"].values[0, :, :, 0], bnd[:, :, 0], rtol=1e-6)
    assert cube.attrs["boundary_mode"] == "reanalysis"
    assert "idealised: perfect boundaries" in cube.attrs["boundary_mode_description"]
    assert cube.attrs["boundary_mode_description"] == REANALYSIS_DESCRIPTION


def test_future_run_is_refused_naming_both_dates_before_any_model_call(
    store: StoreSource, tmp_path: Path
) -> None:
    path = tmp_path / "future.nc"
    global_cube(store.grid, [dt.date(2020, 1, 28)]).to_netcdf(path)
    with pytest.raises(DataError, match=r"run 2020-01-28 is after the start date 2020-01-27"):
        _forecast(store, "forecast", path)


@pytest.mark.parametrize(
    ("kwargs", "n_lead", "message"),
    [
        ({"drop": ("so",)}, 12, r"lacks variable\(s\) so"),
        ({"margin": -2}, 12, r"not the open-boundary zone"),
        ({}, 4, r"run 2020-01-25 has 4 lead day\(s\).*needs lead days 2\.\.5"),
    ],
)
def test_bad_boundary_sources_fail_before_the_model(
    store: StoreSource, tmp_path: Path, kwargs: dict, n_lead: int, message: str
) -> None:
    path = tmp_path / "bad.nc"
    global_cube(store.grid, [dt.date(2020, 1, 25)], n_lead, **kwargs).to_netcdf(path)
    region = make_dummy_region()
    bundle = fake_bundle(region, store.grid, {"surface": store.channels("surface")})

    def no_model(group: str, device: str = "cpu") -> None:
        raise AssertionError("the model was built before the boundary source was checked")

    bundle.build_model = no_model  # type: ignore[method-assign]
    bnd = boundary_data(
        "forecast", region=region, source=store, boundary_source=path, start=START, n_days=DAYS
    )
    with pytest.raises(DataError, match=message):
        run_bundle_forecast(bundle, store, region, [START], DAYS, boundary=bnd)


def test_reanalysis_needs_boundary_arrays_and_default_mode_needs_a_source() -> None:
    fake = SimpleNamespace(reader=SimpleNamespace(has_boundary=False), path="s.zarr")
    with pytest.raises(DataError, match=r"s.zarr has no boundary arrays"):
        StoreBoundary(fake)
    region = make_dummy_region()
    from glonet_regions.core.errors import ValidationError

    with pytest.raises(ValidationError, match=r"--boundary-source .*--boundary persistence"):
        default_boundary_mode(region)
    assert default_boundary_mode(region, boundary_source="g.nc") == "forecast"


def test_daily_fields_are_one_run_issued_on_their_first_day(tmp_path: Path) -> None:
    grid = make_dummy_region().grid
    cube = global_cube(grid, [dt.date(2020, 1, 25)], 5).isel(first_day_datetime=0)
    daily = cube.rename(lead_day_index="time").assign_coords(
        time=np.arange("2020-01-25", "2020-01-30", dtype="datetime64[D]").astype("datetime64[ns]")
    )
    run = open_global_forecast(daily.drop_vars("first_day_datetime"), source="daily")
    assert run.sizes["first_day_datetime"] == 1 and run.sizes["lead_day_index"] == 5
    assert str(run["first_day_datetime"].values[0])[:10] == "2020-01-25"
    gap = daily.isel(time=[0, 1, 3]).drop_vars("first_day_datetime")
    with pytest.raises(DataError, match=r"misses day 2020-01-27"):
        open_global_forecast(gap, source="daily")


def test_empty_lead_day_is_refused_and_zone_gaps_hold_the_day_before(
    store: StoreSource, tmp_path: Path
) -> None:
    cube = global_cube(store.grid, [dt.date(2020, 1, 25)])
    empty = cube.copy(deep=True)
    empty["uo"][0, 3] = np.nan  # lead 3 = valid 2020-01-28, the forecast's second day
    empty.to_netcdf(tmp_path / "empty.nc")
    with pytest.raises(DataError, match=r"uo of run 2020-01-25 lead day 3 \(valid 2020-01-28\)"):
        _forecast(store, "forecast", tmp_path / "empty.nc")
    holes = cube.copy(deep=True)
    holes["zos"][:, :, :, :3] = np.nan  # the west edge and one cell inside: no data
    holes.to_netcdf(tmp_path / "holes.nc")
    out = _forecast(store, "forecast", tmp_path / "holes.nc")
    before = store.group_days("surface", [START - dt.timedelta(days=1)])[0, 0]
    np.testing.assert_allclose(out["zos"].values[0, :, 4, 0], before[4, 0], rtol=1e-6)
