"""Lagrangian trajectory deviation: RK4 drifters, seeding, deviation, pipeline rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.grid import EARTH_RADIUS_M, great_circle_km
from glonet_regions.core.region import Region
from glonet_regions.evaluation.lagrangian import (
    advect,
    seed_particles,
    trajectory_deviation,
)
from glonet_regions.evaluation.pipeline import LAGRANGIAN_METRIC, evaluate_forecast
from glonet_regions.evaluation.report import skill_table, write_report
from glonet_regions.evaluation.scoring import SCORE_COLUMNS
from glonet_regions.forecast.align import daily_to_cube, open_daily
from glonet_regions.forecast.cube import FIRST_DAY, LEAD
from glonet_regions.forecast.sources import FileSource

LAT = np.arange(40.0, 46.0 + 1e-9, 0.1)
LON = np.arange(-10.0, -2.0 + 1e-9, 0.1)


def _cube(u: np.ndarray, v: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> xr.Dataset:
    """A cube ``(first_day, lead, depth=1, lat, lon)`` from ``(date, lead, lat, lon)`` currents."""
    n_date, n_lead = u.shape[:2]
    dims = (FIRST_DAY, LEAD, "depth", "latitude", "longitude")
    starts = np.datetime64("2020-01-01") + np.arange(n_date) * np.timedelta64(7, "D")
    coords = {
        FIRST_DAY: starts.astype("datetime64[ns]"),
        LEAD: np.arange(n_lead),
        "depth": [0.494],
        "latitude": lat,
        "longitude": lon,
    }
    return xr.Dataset({"uo": (dims, u[:, :, None]), "vo": (dims, v[:, :, None])}, coords=coords)


def test_uniform_zonal_current_moves_along_the_parallel() -> None:
    u = np.full((3, LAT.size, LON.size), 0.1)
    tr = advect(u, np.zeros_like(u), LAT, LON, [43.0], [-6.0], days=1)
    assert tr.alive.all()
    assert tr.lat[0, 0] == pytest.approx(43.0, abs=1e-12)
    along = np.deg2rad(tr.lon[0, 0] + 6.0) * EARTH_RADIUS_M * np.cos(np.deg2rad(43.0)) / 1000
    assert along == pytest.approx(8.64, rel=1e-3)
    # A steady (lat, lon) field is accepted too, and two days go twice as far.
    tr2 = advect(u[0], np.zeros_like(u[0]), LAT, LON, [43.0], [-6.0], days=2)
    assert tr2.lon[1, 0] + 6.0 == pytest.approx(2 * (tr.lon[0, 0] + 6.0), rel=1e-6)


def test_time_interpolation_between_daily_fields() -> None:
    # u = 0 on day 0 and 0.2 m/s on day 1: linear in between, so 0.1 m/s on average on day 1,
    # then the last field is held: 0.2 m/s on day 2.
    u = np.zeros((2, LAT.size, LON.size))
    u[1] = 0.2
    tr = advect(u, np.zeros_like(u), LAT, LON, [43.0], [-9.0], days=2)
    km = np.deg2rad(tr.lon[:, 0] + 9.0) * EARTH_RADIUS_M * np.cos(np.deg2rad(43.0)) / 1000
    np.testing.assert_allclose(km, [8.64, 8.64 + 17.28], rtol=1e-3)


def test_particle_advected_into_land_stops() -> None:
    u = np.full((1, LAT.size, LON.size), 0.5)
    coast = -6.0  # land from the node at -6.0 eastward: the ocean ends at -6.05
    u[:, :, coast - 1e-9 <= LON] = np.nan
    v = np.where(np.isnan(u), np.nan, 0.0)
    tr = advect(u, v, LAT, LON, [43.0, 43.0], [-7.2, -8.5], days=3)
    # 0.5 m/s is 43 km/day (~0.53 degrees at 43N): the first particle reaches the coast on
    # day 3, the second one does not.
    assert tr.alive[:, 1].all()
    assert tr.alive[0, 0] and tr.alive[1, 0] and not tr.alive[2, 0]
    assert tr.lon[2, 0] <= coast - 0.05 + 1e-9
    dead_at = tr.lon[2, 0]
    more = advect(u, v, LAT, LON, [43.0], [-7.2], days=6)
    np.testing.assert_array_equal(more.lon[2:, 0], dead_at)  # stays where it stopped
    assert not more.alive[2:, 0].any()


def test_particle_leaving_the_grid_dies() -> None:
    u = np.full((1, LAT.size, LON.size), -1.0)
    tr = advect(u, np.zeros_like(u), LAT, LON, [43.0], [-9.8], days=2)
    assert not tr.alive[-1, 0]
    assert tr.lon[-1, 0] >= LON[0] - 0.05 - 1e-9  # stopped within the outer half-cell


def test_solid_body_rotation_returns_to_its_start() -> None:
    lat = np.arange(-1.0, 1.0 + 1e-9, 0.05)
    lon = np.arange(-1.0, 1.0 + 1e-9, 0.05)
    period = 2 * 86_400.0
    omega = 2 * np.pi / period
    y = EARTH_RADIUS_M * np.deg2rad(lat)[:, None] * np.ones(lon.size)
    x = EARTH_RADIUS_M * np.deg2rad(lon)[None, :] * np.ones((lat.size, 1))
    u, v = -omega * y, omega * x
    lat0, lon0 = 0.0, 0.45  # 50 km east of the centre
    tr = advect(u, v, lat, lon, [lat0], [lon0], days=2)
    assert tr.alive.all()
    half = great_circle_km(tr.lat[0, 0], tr.lon[0, 0], lat0, -lon0)
    full = great_circle_km(tr.lat[1, 0], tr.lon[1, 0], lat0, lon0)
    assert half < 0.1 and full < 0.1  # km, on a 50 km radius


def test_seeding_never_picks_land_and_takes_every_cell_when_few() -> None:
    lat = np.linspace(30, 50, 9)
    lon = np.linspace(-20, 0, 7)
    ocean = np.random.default_rng(3).random((9, 7)) > 0.4
    pla, plo = seed_particles(lat, lon, ocean, 10, rng=0)
    assert pla.size == 10
    ii = np.searchsorted(lat, pla)
    jj = np.searchsorted(lon, plo)
    assert ocean[ii, jj].all()
    assert len(set(zip(ii.tolist(), jj.tolist()))) == 10  # without replacement
    pla, plo = seed_particles(lat, lon, ocean, 1000, rng=0)
    cells = sorted(zip(np.searchsorted(lat, pla).tolist(), np.searchsorted(lon, plo).tolist()))
    assert cells == sorted(zip(*np.nonzero(ocean)))
    with pytest.raises(ValidationError, match="shape"):
        seed_particles(lat, lon, ocean.T, 5, rng=0)


def test_seeding_follows_cos_latitude() -> None:
    lat = np.array([0.0, 80.0])
    lon = np.arange(500.0) * 0.01
    ocean = np.ones((2, lon.size), dtype=bool)
    pla, _ = seed_particles(lat, lon, ocean, 100, rng=1)
    # cos(80) / cos(0) = 0.17: most of 100 draws out of 1000 cells come from the equator.
    assert (pla == 0.0).sum() > 70


def _flow_cube(seed: int, n_date: int = 2, n_lead: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    lat = np.linspace(40, 44, 9)
    lon = np.linspace(-10, -5, 11)
    shape = (n_date, n_lead, lat.size, lon.size)
    u = rng.normal(0, 0.3, shape).astype(np.float32)
    v = rng.normal(0, 0.3, shape).astype(np.float32)
    u[..., -2:, -3:] = np.nan  # a block of land
    v[..., -2:, -3:] = np.nan
    return _cube(u, v, lat, lon)


def test_identical_model_and_truth_deviate_by_zero() -> None:
    cube = _flow_cube(0)
    dev = trajectory_deviation(cube, cube.copy(deep=True), n_particles=50)
    assert dev["deviation_km"].dims == (FIRST_DAY, "lead_day")
    assert list(dev["lead_day"].values) == [2, 3]  # OceanBench's: L - 1 days of drift
    assert (dev["n_particles"] > 0).all()
    assert (dev["deviation_km"].values == 0.0).all()


def test_dead_particles_are_excluded_from_the_deviation() -> None:
    lat = np.linspace(40, 44, 9)
    lon = np.linspace(-10, -5, 11)
    shape = (1, 4, lat.size, lon.size)
    truth_u = np.zeros(shape)
    land = np.zeros((lat.size, lon.size), bool)
    land[:, -1] = True
    truth_u[..., land] = np.nan
    model_u = np.where(np.isnan(truth_u), np.nan, 1.0)  # 86 km/day eastward, into the land
    zeros = np.where(np.isnan(truth_u), np.nan, 0.0)
    truth = _cube(truth_u, zeros, lat, lon)
    model = _cube(model_u, zeros, lat, lon)
    dev = trajectory_deviation(model, truth, n_particles=1000)
    n = dev["n_particles"].values[0]
    # 86 km in a day on 0.5-degree (~41 km) cells: the two columns nearest the coast beach.
    assert n[0] == (~land).sum() - 2 * lat.size
    assert (np.diff(n) <= 0).all() and n[-1] < n[0]
    # The survivors have moved with the model, the truth's particles have not.
    assert (dev["deviation_km"].values[0][n > 0] > 0).all()


@settings(deadline=None, max_examples=8)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_deviation_is_nonnegative_and_symmetric(seed_a: int, seed_b: int) -> None:
    a = _flow_cube(seed_a)
    b = _flow_cube(seed_b)
    ab = trajectory_deviation(a, b, n_particles=30, dt_s=7200)
    ba = trajectory_deviation(b, a, n_particles=30, dt_s=7200)
    vals = ab["deviation_km"].values
    assert (vals[np.isfinite(vals)] >= 0).all()
    np.testing.assert_allclose(vals, ba["deviation_km"].values, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ab["n_particles"].values, ba["n_particles"].values)


@settings(deadline=None, max_examples=20)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(0, 2**16))
def test_seeding_is_reproducible(seed: int, n: int, mask_seed: int) -> None:
    lat = np.linspace(-60, 60, 12)
    lon = np.linspace(0, 30, 8)
    ocean = np.random.default_rng(mask_seed).random((12, 8)) > 0.3
    first = seed_particles(lat, lon, ocean, n, rng=seed)
    again = seed_particles(lat, lon, ocean, n, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0].size == min(n, int(ocean.sum()))


def test_bad_step_is_refused() -> None:
    u = np.zeros((1, LAT.size, LON.size))
    with pytest.raises(ValidationError, match="divide a day"):
        advect(u, u, LAT, LON, [43.0], [-6.0], dt_s=7000, days=1)


def _truth_cube(path: Path, starts: list[dt.date], n: int) -> xr.Dataset:
    return daily_to_cube(open_daily(path), starts, n)


def test_pipeline_rows_and_persistence_deviates_more_than_a_perfect_forecast(
    dummy_registry: object, region: Region, truth_file: Path, tmp_path: Path
) -> None:
    starts = [dt.date(2020, 1, 28), dt.date(2020, 1, 30)]
    perfect = _truth_cube(truth_file, starts, 4).assign_attrs(model="perfect")
    src = FileSource(truth_file, splits=region.splits)
    res = evaluate_forecast(region, perfect, src, depths=[0.494], lagrangian_particles=200)
    df = res.scores
    assert list(df.columns) == [*SCORE_COLUMNS, "boundary_mode"]
    lag = df[df.metric == LAGRANGIAN_METRIC]
    assert set(lag.variable) == {"trajectory"}
    assert set(lag.convention) == {"oceanbench"}
    np.testing.assert_allclose(lag.depth, 0.494, rtol=1e-6)
    assert sorted(lag.lead_day.unique()) == [2, 3, 4]  # OceanBench's labels: from lead day 2
    assert set(lag.area) == {"box"} and lag.missing_fraction.isna().all()
    assert {"perfect", "persistence"} <= set(lag.model)
    assert any(m.startswith("climatology (") for m in lag.model)
    assert {"region", "west", "east"} <= set(lag.subregion)
    mine = lag[lag.model == "perfect"]
    assert (mine.value == 0.0).all() and (mine.n_forecasts == 2).all()
    pers = lag[(lag.model == "persistence") & (lag.subregion == "region")].set_index("lead_day")
    mine_region = mine[mine.subregion == "region"].set_index("lead_day")
    assert (pers.value > mine_region.value).all()
    assert any("Lagrangian" in n for n in res.notes)
    # The rows don't disturb the skill table, and the report draws them.
    assert "trajectory" not in "".join(skill_table(df, "perfect").index)
    paths = write_report(res, tmp_path / "rep")
    assert (tmp_path / "rep" / f"lead_{LAGRANGIAN_METRIC}_trajectory.png").is_file()
    assert "lagrangian_deviation_km" in Path(paths["html"]).read_text()
    off = evaluate_forecast(region, perfect, src, depths=[0.494], lagrangian_particles=0)
    assert LAGRANGIAN_METRIC not in set(off.scores.metric)
    with pytest.raises(ValidationError, match="lagrangian_particles"):
        evaluate_forecast(region, perfect, src, lagrangian_particles=-1)


def test_pipeline_skips_models_without_currents(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    starts = [dt.date(2020, 1, 28)]
    cube = _truth_cube(truth_file, starts, 2)
    fc = cube.drop_vars(["uo", "vo"]).assign_attrs(model="no-currents")
    src = FileSource(truth_file, splits=region.splits)
    res = evaluate_forecast(region, fc, src, depths=[0.494], lagrangian_particles=50)
    lag = res.scores[res.scores.metric == LAGRANGIAN_METRIC]
    assert "no-currents" not in set(lag.model) and "persistence" in set(lag.model)
    assert any("no-currents" in n and "uo/vo" in n for n in res.notes)


def test_lead_day_labels_follow_oceanbench() -> None:
    """OceanBench's "lead day L" is L - 1 days of drift from the first forecast day, from L = 2.

    Worked by hand: the model's current is 0.1 m/s northward on every lead day, the truth's
    is zero, so after ``k`` days the separation is ``0.1 * 86400 * k`` m = 8.64 k km (along a
    meridian the great-circle distance is exact). Lead day 2 is 8.64 km, lead day 4 is
    25.92 km; lead day 1 (no drift yet) is not reported, nor any day past the last field.
    """
    shape = (1, 4, LAT.size, LON.size)
    zero = np.zeros(shape, np.float32)
    north = np.full(shape, 0.1, np.float32)
    model = _cube(zero, north, LAT, LON)
    truth = _cube(zero, zero, LAT, LON)
    mask = np.zeros((LAT.size, LON.size), bool)
    mask[20:30, 30:50] = True  # seed well away from the edges
    dev = trajectory_deviation(model, truth, zone_mask=mask, n_particles=20)
    assert list(dev["lead_day"].values) == [2, 3, 4]
    km = dev["deviation_km"].values[0]
    np.testing.assert_allclose(km, [8.64, 17.28, 25.92], rtol=2e-3)
