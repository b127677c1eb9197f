"""Weight files (ESMF/xesmf layout), the cache, xarray objects, real files and the file command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr

from glonet_regions.core.errors import (
    DataError,
    GridMismatchError,
    UnknownNameError,
    ValidationError,
)
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid import crop_to_overlap, make_regridder, regrid
from glonet_regions.data.regrid.builtin import BuiltinRegridder, compute_weights
from glonet_regions.data.regrid.cache import regrid_cache_dir
from glonet_regions.data.regrid.files import regrid_file
from glonet_regions.data.regrid.matrix import RegridWeights
from glonet_regions.data.regrid.weights import WeightsFileRegridder
from glonet_regions.testing.real_data import real_data_dir

REAL = real_data_dir()  # the offline mirror, the asset cache or the files' origins
GLO12 = REAL / "glo12_anfc_uo_vo_P1D_french_coast_2025-02-06_14.nc"
IBI = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
SRC = Grid.regular(lon0=-10, lat0=40, dlon=0.5, dlat=0.5, nlon=12, nlat=10)
DST = Grid.regular(lon0=-9.5, lat0=40.5, dlon=1.0, dlat=1.0, nlon=5, nlat=4)


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep cached weights out of the user's cache folder."""
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path_factory.mktemp("cache")))


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data file {path} is missing")


def _write_like_xesmf(weights: RegridWeights, path: Path) -> None:
    """Exactly what xesmf's Regridder.to_netcdf writes: S, col, row on n_s, 1-based."""
    coo = weights.matrix.tocoo()
    xr.Dataset(
        {"S": ("n_s", coo.data), "col": ("n_s", coo.col + 1), "row": ("n_s", coo.row + 1)}
    ).to_netcdf(path)


def test_reads_files_written_like_xesmf(tmp_path: Path) -> None:
    weights = compute_weights(SRC, DST, "bilinear")
    path = tmp_path / "xesmf.nc"
    _write_like_xesmf(weights, path)
    with pytest.raises(GridMismatchError, match="pass the source grid"):
        RegridWeights.from_netcdf(path)
    again = RegridWeights.from_netcdf(path, src_grid=SRC, dst_grid=DST)
    assert again.method == "bilinear"
    assert (again.matrix != weights.matrix).nnz == 0
    regridder = WeightsFileRegridder(SRC, DST, "bilinear", path=path)
    field = np.random.default_rng(0).normal(size=SRC.shape)
    np.testing.assert_allclose(
        regridder.regrid(field), BuiltinRegridder(SRC, DST, cache=False).regrid(field)
    )


def test_written_layout_is_esmf(tmp_path: Path) -> None:
    weights = compute_weights(SRC, DST, "conservative")
    path = weights.to_netcdf(tmp_path / "w.nc")
    import netCDF4

    with netCDF4.Dataset(path) as nc:  # dimensions without variables: xarray hides them
        assert len(nc.dimensions["n_a"]) == SRC.size and len(nc.dimensions["n_b"]) == DST.size
    with xr.open_dataset(path) as ds:
        assert ds["row"].min() == 1 and ds["col"].min() == 1
        assert ds["src_grid_dims"].values.tolist() == [SRC.shape[1], SRC.shape[0]]
        assert ds.attrs["map_method"] == "Conservative remapping"
        m = sp.csr_matrix(
            (ds["S"].values, (ds["row"].values - 1, ds["col"].values - 1)),
            shape=(DST.size, SRC.size),
        )
    assert abs(m - weights.matrix).max() == 0


def test_weight_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        RegridWeights.from_netcdf(tmp_path / "none.nc")
    bad = tmp_path / "bad.nc"
    xr.Dataset({"S": ("n_s", [1.0])}).to_netcdf(bad)
    with pytest.raises(DataError, match=r"lacks variable\(s\) \['row', 'col'\]"):
        RegridWeights.from_netcdf(bad)
    path = compute_weights(SRC, DST, "nearest").to_netcdf(tmp_path / "w.nc")
    with pytest.raises(GridMismatchError, match="shape"):
        WeightsFileRegridder(SRC.coarsen(2), DST, path=path)
    with pytest.raises(ValidationError, match="path="):
        WeightsFileRegridder(SRC, DST, "nearest")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(DataError, match="not a readable netCDF"):
        RegridWeights.from_netcdf(junk)


def test_unknown_method_and_backend() -> None:
    with pytest.raises(ValidationError, match="Unknown regridding method 'cubic'"):
        BuiltinRegridder(SRC, DST, "cubic", cache=False)
    with pytest.raises(UnknownNameError, match=r"regridder 'esmpy'.*builtin, weights-file"):
        make_regridder(SRC, DST, "bilinear", "esmpy")
    with pytest.raises(ValidationError, match="fill"):
        BuiltinRegridder(SRC, DST, cache=False).regrid(np.zeros(SRC.shape), fill="linear")
    with pytest.raises(GridMismatchError, match="do not end in the source grid shape"):
        BuiltinRegridder(SRC, DST, cache=False).regrid(np.zeros((3, 4)))


def test_cache_is_used_and_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path / "cache"))
    first = BuiltinRegridder(SRC, DST, "conservative")
    files = list(regrid_cache_dir().iterdir())
    assert len(files) == 1 and files[0].suffix == ".nc" and not files[0].name.startswith(".")
    second = BuiltinRegridder(SRC, DST, "conservative")
    assert (first.weights.matrix != second.weights.matrix).nnz == 0
    BuiltinRegridder(SRC, DST, "bilinear")
    assert len(list(regrid_cache_dir().iterdir())) == 2
    files[0].write_bytes(b"truncated")  # a broken cache entry is rebuilt
    third = BuiltinRegridder(SRC, DST, "conservative")
    assert (third.weights.matrix != first.weights.matrix).nnz == 0


def _dataset(grid: Grid) -> xr.Dataset:
    rng = np.random.default_rng(1)
    t = rng.normal(size=(2, 3, *grid.shape)).astype(np.float32)
    t[..., :2, :3] = np.nan
    return xr.Dataset(
        {
            "thetao": (
                ("time", "depth", "lat", "lon"),
                t,
                {"units": "degC", "standard_name": "sea_water_potential_temperature"},
            ),
            "zos": (("lat", "time", "lon"), rng.normal(size=(grid.shape[0], 2, grid.shape[1]))),
            "time_bnds": (("time", "nv"), np.zeros((2, 2))),
            "lat_bnds": (("lat", "nv"), np.zeros((grid.shape[0], 2))),
        },
        coords={
            "time": [0, 1],
            "depth": ("depth", [0.5, 10.0, 50.0], {"positive": "down"}),
            "lat": ("lat", grid.lat, {"units": "degrees_north"}),
            "lon": ("lon", grid.lon, {"units": "degrees_east"}),
        },
        attrs={"title": "test"},
    )


def test_xarray_dataset_regrid_keeps_structure() -> None:
    ds = _dataset(SRC)
    out = BuiltinRegridder(SRC, DST, "conservative", cache=False).regrid(ds)
    assert set(out.data_vars) == {"thetao", "zos", "time_bnds"}
    assert out.thetao.dims == ("time", "depth", "lat", "lon") and out.thetao.dtype == np.float32
    assert out.zos.dims == ("lat", "time", "lon")
    assert out.attrs == {"title": "test"} and out.thetao.attrs["units"] == "degC"
    assert out.lat.attrs["units"] == "degrees_north" and out.depth.attrs["positive"] == "down"
    np.testing.assert_allclose(out.lat, DST.lat)
    np.testing.assert_allclose(
        out.thetao.values,
        BuiltinRegridder(SRC, DST, "conservative", cache=False).regrid(ds.thetao.values),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        out.zos.transpose("time", "lat", "lon").values,
        BuiltinRegridder(SRC, DST, "conservative", cache=False).regrid(
            ds.zos.transpose("time", "lat", "lon").values
        ),
    )
    da = BuiltinRegridder(SRC, DST, "nearest", cache=False).regrid(ds.thetao)
    assert isinstance(da, xr.DataArray) and da.shape == (2, 3, *DST.shape)
    with pytest.raises(GridMismatchError, match="not the regridder's source grid"):
        BuiltinRegridder(DST, SRC, "nearest", cache=False).regrid(ds)


def test_xarray_masks_broadcast_by_name() -> None:
    ds = _dataset(SRC)
    ocean = xr.DataArray(np.ones((3, *SRC.shape), dtype=bool), dims=("depth", "lat", "lon"))
    ocean[2, :, :6] = False
    out = BuiltinRegridder(SRC, DST, "nearest", cache=False).regrid(ds, src_mask=ocean)
    assert np.isnan(out.thetao.isel(depth=2, lon=0)).all()
    assert np.isfinite(out.zos).all()  # the surface level of the mask is all ocean


def test_convenience_regrid_crops_to_overlap() -> None:
    ds = _dataset(SRC)
    big = Grid.regular(lon0=-30, lat0=20, dlon=1.0, dlat=1.0, nlon=60, nlat=40)
    out = regrid(ds, big, "bilinear", cache=False)
    cropped = crop_to_overlap(SRC, big)
    assert out.thetao.shape[-2:] == cropped.shape
    assert cropped.bbox.lon_min >= SRC.bbox.lon_min - 0.5 and cropped.lon[0] >= SRC.bbox.lon_min
    far = Grid.regular(lon0=100, lat0=0, dlon=1, dlat=1, nlon=3, nlat=3)
    with pytest.raises(GridMismatchError, match="does not overlap"):
        regrid(ds, far)


def test_real_glo12_to_quarter_degree_no_nan_leak() -> None:
    _need(GLO12)
    quarter = Grid.regular(lon0=-180, lat0=-78, dlon=0.25, dlat=0.25, nlon=1440, nlat=672)
    with xr.open_dataset(GLO12) as ds:
        ds = ds.isel(time=slice(0, 3)).load()
    src = Grid.from_dataset(ds)
    for method in ("bilinear", "conservative", "nearest"):
        out = regrid(ds, quarter, method, cache=False)
        for name in ("uo", "vo"):
            v, o = ds[name].values, out[name].values
            assert np.isfinite(o).any()
            lo, hi = np.nanmin(v), np.nanmax(v)
            finite = o[np.isfinite(o)]
            # Valid outputs are convex combinations of valid inputs: no NaN, no blow-up.
            assert finite.min() >= lo - 1e-6 and finite.max() <= hi + 1e-6
        assert out.uo.attrs == ds.uo.attrs
        assert out.sizes["time"] == 3 and out.sizes["depth"] == ds.sizes["depth"]
    # Where the source is all-valid around a target point, bilinear equals numpy interpolation.
    out = regrid(ds.uo.isel(time=0, depth=0), quarter, "bilinear", cache=False)
    lat_t, lon_t = out.latitude.values, out.longitude.values
    v = ds.uo.isel(time=0, depth=0).values.astype(np.float64)
    i = np.searchsorted(src.lat, lat_t) - 1
    j = np.searchsorted(src.lon, lon_t) - 1
    for a in range(lat_t.size):
        for b in range(lon_t.size):
            ii, jj = i[a], j[b]
            if 0 <= ii < src.shape[0] - 1 and 0 <= jj < src.shape[1] - 1:
                block = v[ii : ii + 2, jj : jj + 2]
                if np.isfinite(block).all():
                    ty = (lat_t[a] - src.lat[ii]) / src.dlat
                    tx = (lon_t[b] - src.lon[jj]) / src.dlon
                    ref = (block[0, 0] * (1 - ty) * (1 - tx) + block[0, 1] * (1 - ty) * tx
                           + block[1, 0] * ty * (1 - tx) + block[1, 1] * ty * tx)  # fmt: skip
                    assert out.values[a, b] == pytest.approx(ref, rel=1e-5, abs=1e-6)


def test_real_ibi_file_onto_a_coarser_grid(tmp_path: Path) -> None:
    _need(IBI)
    coarse = Grid.regular(lon0=-19, lat0=26, dlon=1 / 6, dlat=1 / 6, nlon=145, nlat=181)
    out_path = regrid_file(IBI, coarse, tmp_path / "ibi_6.nc", method="conservative")
    with xr.open_dataset(IBI) as src, xr.open_dataset(out_path) as out:
        assert set(out.data_vars) == set(src.data_vars)
        assert out.thetao.dims == src.thetao.dims and out.thetao.dtype == np.float32
        assert out.thetao.attrs["standard_name"] == src.thetao.attrs["standard_name"]
        np.testing.assert_allclose(np.diff(out.latitude.values), 1 / 6)
        # Coarse cells whose fine cells are all sea hold the fine mean (same area weights).
        fine_t = src.thetao.isel(time=0, depth=0).values.astype(np.float64)
        assert np.isfinite(out.thetao).any()
        lo, hi = np.nanmin(fine_t), np.nanmax(fine_t)
        coarse_t = out.thetao.isel(time=0, depth=0).values
        assert np.nanmin(coarse_t) >= lo - 1e-4 and np.nanmax(coarse_t) <= hi + 1e-4
        deep = out.thetao.isel(time=0, depth=-1).values
        assert np.isnan(deep).sum() >= np.isnan(coarse_t).sum()  # land grows with depth
    assert [p.name for p in tmp_path.iterdir()] == ["ibi_6.nc"]


def test_regrid_file_errors(tmp_path: Path) -> None:
    target = Grid.regular(lon0=-19, lat0=26, dlon=1 / 12, dlat=1 / 12, nlon=289, nlat=361)
    with pytest.raises(DataError, match="does not exist"):
        regrid_file(tmp_path / "none.nc", target, tmp_path / "o.nc")
    nolatlon = tmp_path / "nolatlon.nc"
    xr.Dataset({"t": (("a", "b"), np.zeros((2, 2)))}).to_netcdf(nolatlon)
    with pytest.raises(GridMismatchError, match=r"nolatlon\.nc"):
        regrid_file(nolatlon, target, tmp_path / "o.nc")
    far = tmp_path / "far.nc"
    _dataset(Grid.regular(lon0=100, lat0=0, dlon=1, dlat=1, nlon=3, nlat=3)).to_netcdf(far)
    with pytest.raises(GridMismatchError, match=r"far\.nc.*does not overlap"):
        regrid_file(far, target, tmp_path / "o.nc")
    with pytest.raises(ValidationError, match="Unknown regridding method"):
        regrid_file(far, target, tmp_path / "o.nc", method="spline")
    with pytest.raises(ValidationError, match="--weights"):
        regrid_file(far, target, tmp_path / "o.nc", backend="weights-file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["far.nc", "nolatlon.nc"]


def test_regrid_file_with_a_weights_file(tmp_path: Path) -> None:
    ds = _dataset(SRC)
    src_path = tmp_path / "in.nc"
    ds.to_netcdf(src_path)
    target = crop_to_overlap(SRC, DST)
    wpath = compute_weights(SRC, target, "bilinear").to_netcdf(tmp_path / "w.nc")
    out = regrid_file(src_path, DST, tmp_path / "out.nc", backend="weights-file", weights=wpath)
    ref = BuiltinRegridder(SRC, target, "bilinear", cache=False).regrid(ds)
    with xr.open_dataset(out) as got:
        np.testing.assert_allclose(got.thetao.values, ref.thetao.values, rtol=1e-6)
