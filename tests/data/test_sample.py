"""Tests of the embedded synthetic sample (small: thinned grid, a few weeks)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from ibi_levels import IBI_LEVELS

from glonet_regions.core import (
    GLONET_LEVELS,
    BBox,
    DateRange,
    DateSplits,
    DepthLevels,
    Grid,
    GridVersion,
    OpenBoundaries,
    Region,
)
from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.data.vertical import interpolate_levels
from glonet_regions.sample import ocean as so
from glonet_regions.sample.generate import (
    GENERATOR_VERSION,
    SampleInfo,
    generate_sample,
    generator_version,
    global_grid_for,
    native_levels_for,
    sample_splits,
)

N_DAYS = 30


def ibi36_like() -> Region:
    grid = Grid.regular(lon0=-19.0, lat0=26.0, dlon=1 / 36, dlat=1 / 36, nlon=865, nlat=1081)
    return Region(
        name="ibi36-test",
        title="IBI-like test region",
        bbox=BBox(-19.0, 5.0007, 26.0, 56.0009),
        resolution_deg=1 / 36,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            DateRange("2010-01-01", "2018-12-31"),
            DateRange("2019-01-01", "2019-12-31"),
            DateRange("2020-01-01", "2020-12-31"),
        ),
        open_boundaries=OpenBoundaries(("west", "north", "south", "east"), 8),
        native_levels=DepthLevels(IBI_LEVELS),
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    out = tmp_path_factory.mktemp("sample")
    return generate_sample(ibi36_like(), out, n_days=N_DAYS, seed=3)


@pytest.fixture(scope="module")
def regional(sample: SampleInfo) -> xr.Dataset:
    return xr.concat([xr.open_dataset(p) for p in sample.regional_files], "time").load()


def _node(grid: Grid, lat: float, lon: float) -> tuple[int, int]:
    return int(np.argmin(np.abs(grid.lat - lat))), int(np.argmin(np.abs(grid.lon - lon)))


def test_info_layout_and_manifest(sample: SampleInfo) -> None:
    assert sample.grid.shape == (91, 73)
    assert sample.grid == ibi36_like().grid.isel(slice(None, None, 12), slice(None, None, 12))
    assert sample.n_days == N_DAYS and sample.end == dt.date(2021, 1, 30)
    assert [p.name for p in sample.regional_files] == ["sample_regional_20210101.nc"]
    assert all(p.parent.name == "global" for p in sample.global_files)
    assert sample.reference_forecast_files[0].name == "sample_physical_forecast.nc"
    s = sample.splits
    assert s.train.start == sample.start and s.test.end == sample.end
    assert s.train.end < s.validation.start < s.test.start
    loaded = SampleInfo.load(sample.root)  # type: ignore[arg-type]
    assert loaded == sample


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no sample manifest"):
        SampleInfo.load(tmp_path)
    (tmp_path / "sample_manifest.json").write_text("{}")
    with pytest.raises(DataError, match="malformed"):
        SampleInfo.load(tmp_path)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="variant"):
        generate_sample(ibi36_like(), tmp_path, variant="huge")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="n_days"):
        generate_sample(ibi36_like(), tmp_path, n_days=2)
    with pytest.raises(ValidationError, match="start"):
        generate_sample(ibi36_like(), tmp_path, start="2021-13-01")


def test_splits_proportions() -> None:
    s = sample_splits(dt.date(2021, 1, 1), 270)
    assert (s.train.n_days, s.validation.n_days, s.test.n_days) == (203, 32, 35)


def test_file_contents_are_cmems_like(sample: SampleInfo, regional: xr.Dataset) -> None:
    ds = regional
    assert set(ds.data_vars) == {"zos", "thetao", "so", "uo", "vo"}
    assert ds.thetao.dims == ("time", "depth", "latitude", "longitude")
    assert ds.zos.dims == ("time", "latitude", "longitude")
    assert ds.thetao.dtype == np.float32
    assert ds.thetao.attrs["standard_name"] == "sea_water_potential_temperature"
    assert ds.so.attrs["units"] == "1e-3" and ds.uo.attrs["units"] == "m s-1"
    assert (ds.time.dt.hour == 12).all()
    np.testing.assert_allclose(ds.depth.values, sample.native_depths, rtol=1e-6)
    with netCDF4.Dataset(sample.regional_files[0]) as nc:
        assert "SYNTHETIC SAMPLE" in nc.title and nc.sample_seed == 3
        assert nc["thetao"].filters()["zlib"] and nc["thetao"].filters()["complevel"] == 1
    # Every GLONET level can be interpolated from the native levels and holds ocean.
    glonet = interpolate_levels(ds.thetao.values[:1], ds.depth.values, GLONET_LEVELS.values)
    assert np.isfinite(glonet).any(axis=(0, 2, 3)).all()


def test_real_coastline_and_nan_below_bottom(sample: SampleInfo, regional: xr.Dataset) -> None:
    t = regional.thetao.values[0]
    madrid = _node(sample.grid, 40.4, -3.7)
    biscay = _node(sample.grid, 45.5, -5.0)
    assert np.isnan(t[:, madrid[0], madrid[1]]).all()
    assert np.isnan(regional.zos.values[0][madrid])
    assert np.isfinite(t[:10, biscay[0], biscay[1]]).all()
    # Wet cells form a contiguous column from the surface, and the same in every variable.
    wet = np.isfinite(t)
    assert not np.any(wet[1:] & ~wet[:-1])
    for v in ("so", "uo", "vo"):
        np.testing.assert_array_equal(np.isfinite(regional[v].values[0]), wet)
    # Shelf near the coast, abyssal plain far offshore (synthetic bathymetry).
    depth = np.asarray(sample.native_depths)
    n_wet = wet.sum(axis=0)
    offshore = _node(sample.grid, 40.0, -17.0)
    assert depth[n_wet[offshore] - 1] > 3500
    shelf = _node(sample.grid, 43.6, -8.3)  # just off Galicia
    assert n_wet[shelf] > 0 and depth[n_wet[shelf] - 1] < 1000


def test_stratification_and_seasonal_signal(regional: xr.Dataset) -> None:
    t = regional.thetao.values
    prof = np.nanmean(t[0], axis=(1, 2))
    assert prof[0] > prof[-1] + 10
    assert np.all(np.diff(prof[2:]) < 0)
    s_south = np.nanmean(regional.so.values[0, 0, :20])
    s_north = np.nanmean(regional.so.values[0, 0, -20:])
    assert s_south > s_north
    # January: the seasonal cycle cools the surface day by day.
    assert np.nanmean(t[-1, 0]) < np.nanmean(t[0, 0])


def test_currents_are_geostrophic_with_zos(sample: SampleInfo, regional: xr.Dataset) -> None:
    static = so.OceanOnGrid.build(
        so.Geography.build(_geo_box(sample)), sample.grid, sample.native_depths
    )
    zos = regional.zos.values[5].astype(np.float64)
    ug, vg = so.geostrophic(np.nan_to_num(zos), sample.grid)
    z0 = sample.native_depths[0]
    u = regional.uo.values[5, 0] - static.u_drift * np.exp(-z0 / so.H_DRIFT_VEL)
    v = regional.vo.values[5, 0] - static.v_drift * np.exp(-z0 / so.H_DRIFT_VEL)
    ocean = np.isfinite(zos)
    interior = ocean.copy()
    for axis in (0, 1):
        for shift in (1, -1):
            interior &= np.roll(ocean, shift, axis=axis)
    interior[[0, -1], :] = interior[:, [0, -1]] = False
    for model, geo in ((u, ug), (v, vg)):
        a, b = model[interior], geo[interior]
        assert np.corrcoef(a, b)[0, 1] > 0.95
        slope = float(np.dot(a, b) / np.dot(b, b))
        assert 0.9 < slope < 1.1


def _geo_box(sample: SampleInfo) -> BBox:
    a, b = ibi36_like().grid.bbox, sample.global_grid.bbox  # type: ignore[union-attr]
    return BBox(
        min(a.lon_min, b.lon_min), max(a.lon_max, b.lon_max),
        min(a.lat_min, b.lat_min), max(a.lat_max, b.lat_max),
    )  # fmt: skip


def test_day_to_day_change_is_mostly_advection(sample: SampleInfo, regional: xr.Dataset) -> None:
    """Shifting the SSH anomaly by the mean flow beats persistence clearly at lead day 1."""
    geo = so.Geography.build(_geo_box(sample))
    static = so.OceanOnGrid.build(geo, sample.grid, sample.native_depths)
    lat2d, lon2d = np.meshgrid(sample.grid.lat, sample.grid.lon, indexing="ij")
    u, v = so.translation_velocity(geo, lat2d, lon2d, np.zeros_like(lat2d))
    m_per_deg = so.EARTH_RADIUS_M * np.pi / 180
    dep_lat = lat2d - v * 86400 / m_per_deg
    dep_lon = lon2d - u * 86400 / (m_per_deg * np.cos(np.deg2rad(lat2d)))
    g = sample.grid
    fi = (dep_lat - g.lat[0]) / g.dlat
    fj = (dep_lon - g.lon[0]) / g.dlon
    errors_p, errors_a = [], []
    for day in range(3, N_DAYS - 1):
        date = sample.start + dt.timedelta(days=day)
        anom = regional.zos.values[day] - static.eta_slope - so.steric_ssh(date)
        nxt = regional.zos.values[day + 1]
        next_bg = static.eta_slope + so.steric_ssh(date + dt.timedelta(days=1))
        from scipy.ndimage import map_coordinates

        adv = map_coordinates(np.nan_to_num(anom), [fi, fj], order=1, mode="nearest") + next_bg
        ok = np.isfinite(nxt) & np.isfinite(regional.zos.values[day])
        errors_p.append(np.mean((regional.zos.values[day][ok] - nxt[ok]) ** 2))
        errors_a.append(np.mean((adv[ok] - nxt[ok]) ** 2))
    persistence, advection = np.sqrt(np.mean(errors_p)), np.sqrt(np.mean(errors_a))
    assert persistence > 0.002  # day-to-day changes are real, well above the noise's (0.9 mm)
    assert advection < 0.75 * persistence


def test_global_source(sample: SampleInfo, regional: xr.Dataset) -> None:
    gl = xr.concat([xr.open_dataset(p) for p in sample.global_files], "time")
    assert gl.sizes["depth"] == 21
    np.testing.assert_allclose(gl.depth.values, GLONET_LEVELS.values, rtol=1e-6)
    assert sample.global_grid == global_grid_for(ibi36_like().grid)
    assert gl.latitude.values[0] <= 23.0 and gl.longitude.values[-1] >= 8.0
    np.testing.assert_allclose(np.diff(gl.longitude.values), 0.25, atol=1e-5)
    # Land on the global grid too; warm bias of about 0.2 degC at depth, where eddies are weak.
    madrid = _node(sample.global_grid, 40.5, -3.75)  # type: ignore[arg-type]
    assert np.isnan(gl.thetao.values[0, 0][madrid])
    deep_g = np.nanmean(gl.thetao.sel(depth=3220.82, method="nearest").values)
    deep_r = np.nanmean(regional.thetao.sel(depth=3220.82, method="nearest").values)
    assert 0.1 < deep_g - deep_r < 0.3


def test_reference_forecast_shape_and_error_growth(
    sample: SampleInfo, regional: xr.Dataset
) -> None:
    fc = xr.open_dataset(sample.reference_forecast_files[0])
    assert fc.thetao.dims == (
        "first_day_datetime",
        "lead_day_index",
        "depth",
        "latitude",
        "longitude",
    )
    assert fc.sizes["lead_day_index"] == 10 and fc.sizes["depth"] == 21
    assert fc.zos.attrs["standard_name"] == "sea_surface_height_above_geoid"
    first = sample.forecast_first_days[0]
    assert first == sample.splits.test.start
    assert fc.first_day_datetime.values[0] == np.datetime64(f"{first}T12:00")
    errors = []
    for lead in range(sample.splits.test.n_days):
        day = (first - sample.start).days + lead
        truth = regional.zos.values[day]
        pred = fc.zos.values[0, lead]
        errors.append(np.sqrt(np.nanmean((pred - truth) ** 2)))
    assert errors[0] > 0
    assert all(b > a for a, b in itertools.pairwise(errors))


def test_global_forecast_error_starts_at_the_global_model_and_grows(
    sample: SampleInfo, regional: xr.Dataset
) -> None:
    from glonet_regions.data.regrid.builtin import BuiltinRegridder

    (path,) = sample.global_forecast_files
    assert path.name == "sample_global_forecast.nc" and path.parent.name == "global_forecast"
    fc = xr.open_dataset(path)
    assert fc.thetao.dims == (
        "first_day_datetime", "lead_day_index", "depth", "latitude", "longitude"
    )  # fmt: skip
    assert fc.sizes["lead_day_index"] == 10 and fc.sizes["latitude"] == sample.global_grid.shape[0]  # type: ignore[union-attr]
    first = sample.forecast_first_days[0]
    rg = BuiltinRegridder(sample.global_grid, sample.grid, "bilinear", cache=False)  # type: ignore[arg-type]
    n = min(sample.end - first + dt.timedelta(days=1), dt.timedelta(days=10)).days
    errors = []
    for lead in range(n):
        truth = regional.zos.values[(first - sample.start).days + lead]
        pred = rg.regrid(fc.zos.values[0, lead])
        errors.append(float(np.sqrt(np.nanmean((pred - truth) ** 2))))
    assert errors[0] > 0 and errors[-1] > 1.2 * errors[0]
    # The forecast's warm bias grows with the lead day (0.2 degC + 0.02 per day).
    deep = [np.nanmean(fc.thetao.sel(depth=3220.82, method="nearest").values[0, k]) for k in (0, 9)]
    assert 0.15 < deep[1] - deep[0] < 0.25
    assert SampleInfo.load(sample.root).global_forecast_files == [path]  # type: ignore[arg-type]


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    region = ibi36_like()
    kw = {"n_days": 4, "stride": 36}
    a = generate_sample(region, tmp_path / "a", seed=1, **kw)  # type: ignore[arg-type]
    b = generate_sample(region, tmp_path / "b", seed=1, **kw)  # type: ignore[arg-type]
    c = generate_sample(region, tmp_path / "c", seed=2, **kw)  # type: ignore[arg-type]
    for fa, fb, fc in zip(
        a.regional_files + a.global_files + a.reference_forecast_files,
        b.regional_files + b.global_files + b.reference_forecast_files,
        c.regional_files + c.global_files + c.reference_forecast_files,
    ):
        with netCDF4.Dataset(fa) as x, netCDF4.Dataset(fb) as y, netCDF4.Dataset(fc) as z:
            for v in ("zos", "thetao", "uo"):
                xa, ya = np.asarray(x[v][:].filled(np.nan)), np.asarray(y[v][:].filled(np.nan))
                assert xa.tobytes() == ya.tobytes()
            za = np.asarray(z["zos"][:].filled(np.nan))
            assert not np.array_equal(np.asarray(x["zos"][:].filled(np.nan)), za, equal_nan=True)


def test_demo_levels_subset() -> None:
    region = ibi36_like()
    demo, full = native_levels_for(region, "demo"), native_levels_for(region, "full")
    assert len(full) == 49 and full[-1] == pytest.approx(5274.784)
    assert set(demo) <= set(full) and len(demo) == 30
    for t in GLONET_LEVELS.values:
        assert min(abs(t - d) for d in demo) < 0.05


def test_levels_come_from_the_region() -> None:
    """A region without native levels gets its own target levels, not another region's."""
    from dataclasses import replace

    from glonet_regions.testing import make_dummy_region

    plain = make_dummy_region()
    assert plain.native_levels is None
    assert native_levels_for(plain, "full") == plain.depth.levels.values
    own = replace(plain, native_levels=DepthLevels((0.5, 3.0, 10.0, 6000.0)))
    assert native_levels_for(own, "full") == (0.5, 3.0, 10.0, 6000.0)


@pytest.mark.slow  # importing global_land_mask.globe decompresses its whole 0.9 GB mask
def test_land_matches_global_land_mask() -> None:
    from global_land_mask import globe

    region = ibi36_like()

    grid = region.grid.isel(slice(None, None, 20), slice(None, None, 20))
    lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    np.testing.assert_array_equal(so.land_mask(grid), globe.is_land(lat2d, lon2d))


def test_red_noise_is_smooth_red_and_deterministic() -> None:
    box = BBox(-19.0, 5.0, 26.0, 56.0)
    a = so.RedNoise.build(box, 60, seed=1, stream=1)
    b = so.RedNoise.build(box, 60, seed=1, stream=1)
    c = so.RedNoise.build(box, 60, seed=1, stream=2)
    f = a.fields["zos"]
    assert f.tobytes() == b.fields["zos"].tobytes()
    assert not np.array_equal(f, c.fields["zos"])
    assert 0.6 < float(f.std()) < 1.4  # unit variance (up to sampling)
    # Red in time: lag-1 correlation exp(-1 / tau); the daily change is small.
    lag1 = np.corrcoef(f[1:].ravel(), f[:-1].ravel())[0, 1]
    assert abs(lag1 - np.exp(-1 / so.NOISE_TAU_DAYS)) < 0.03
    assert np.std(np.diff(f, axis=0)) < 0.55 * np.std(f)
    # Smooth in space: neighbouring coarse cells are strongly correlated.
    assert np.corrcoef(f[:, :, 1:].ravel(), f[:, :, :-1].ravel())[0, 1] > 0.8
    # On a grid, scaled by NOISE and a depth profile decaying to a tenth.
    grid = ibi36_like().grid.isel(slice(None, None, 24), slice(None, None, 24))
    z = a.level_block("thetao", 3, grid, np.array([0.5, 5000.0]))
    assert z.shape == (2, *grid.shape) and z.dtype == np.float32
    np.testing.assert_allclose(z[1] / z[0], 0.1 / (0.1 + 0.9 * np.exp(-0.5 / 300)), rtol=1e-3)
    assert abs(float(z[0].std()) - so.NOISE["thetao"]) < 0.6 * so.NOISE["thetao"]


def test_generator_version_and_sample_reuse(tmp_path: Path) -> None:
    from glonet_regions.data.prepare import load_or_generate_sample

    region = ibi36_like()
    assert generator_version(tmp_path) == 1  # no manifest
    info = generate_sample(region, tmp_path, n_days=4, stride=36, seed=1)
    assert generator_version(tmp_path) == GENERATOR_VERSION == 3
    # A matching sample is reused as it is (a default one would have 400 days).
    again = load_or_generate_sample(region, tmp_path, variant="demo", seed=1)
    assert again == info and again.n_days == 4
