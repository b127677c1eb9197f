"""open_canonical and the checks, on the real CMEMS sample files and broken copies of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import DataError, GridMismatchError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.mask import LandSeaMask
from glonet_regions.core.region import (
    DateRange,
    DateSplits,
    GridVersion,
    OpenBoundaries,
    Region,
)
from glonet_regions.data.reader import (
    check_no_nan_in_ocean,
    check_on_region,
    open_canonical,
)


def _ibi_like_region() -> Region:
    step = 1 / 36
    grid = Grid.regular(lon0=-19.0, lat0=26.0, dlon=step, dlat=step, nlon=865, nlat=1081)
    return Region(
        name="ibi-like",
        title="IBI-like 1/36 test region",
        bbox=BBox(-19.0, 5.0, 26.0, 56.0),
        resolution_deg=step,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            DateRange(dt.date(2010, 1, 1), dt.date(2019, 12, 31)),
            DateRange(dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
            DateRange(dt.date(2021, 1, 1), dt.date(2022, 12, 31)),
        ),
        open_boundaries=OpenBoundaries(("west", "north", "south")),
    )


def _rewrite(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    """Write ``edit(decoded dataset)`` to ``dst`` as plain float netCDF."""
    with xr.open_dataset(src) as ds:
        out = edit(ds.load())
    for name in out.variables:
        out[name].encoding = {}
    out.to_netcdf(dst)
    return dst


# -- the real files ------------------------------------------------------------------------
def test_ibi_decodes_to_plausible_values(ibi_file):
    ds = open_canonical(ibi_file)
    assert list(ds.data_vars) == ["zos", "thetao", "so", "uo", "vo"]
    assert ds["thetao"].dims == ("time", "depth", "latitude", "longitude")
    assert ds["zos"].dims == ("time", "latitude", "longitude")
    assert all(ds[v].dtype == np.float32 for v in ds.data_vars)
    assert ds.sizes == {"time": 2, "depth": 40, "latitude": 8, "longitude": 13}
    surface_t = ds["thetao"].isel(depth=0)
    assert float(surface_t.min()) > 11.0 and float(surface_t.max()) < 15.0  # Feb, Finisterre
    surface_s = ds["so"].isel(depth=0)
    assert float(surface_s.min()) > 35.4 and float(surface_s.max()) < 36.1
    assert -1.0 < float(ds["zos"].min()) < float(ds["zos"].max()) < 1.0
    for v in ("uo", "vo"):
        assert float(np.abs(ds[v]).max()) < 1.0
        assert float(np.abs(ds[v].isel(depth=0)).mean()) > 0.005  # not all zero
    assert ds["thetao"].attrs["units"] == "degC"  # the file says degrees_C
    assert ds["so"].attrs["units"] == "1e-3"
    assert np.all(np.diff(ds["latitude"].values) > 0)
    assert str(ibi_file) == ds.attrs["glonet_source"]


def test_ibi_packing_and_fill_values_decode(ibi_file):
    with netCDF4.Dataset(ibi_file) as nc:
        assert nc.file_format.startswith("NETCDF3")
        var = nc["thetao"]
        var.set_auto_maskandscale(False)
        raw = var[:]
        assert raw.dtype == np.int16
        fill = var.getncattr("_FillValue")
    ds = open_canonical(ibi_file)
    values = ds["thetao"].values
    n_fill = int((raw == fill).sum())
    assert n_fill > 0  # below the sea floor
    assert int(np.isnan(values).sum()) == n_fill  # fill -> NaN, land stays NaN
    ok = raw != fill
    expected = raw[ok] * np.float32(0.001) + np.float32(10.0)
    np.testing.assert_allclose(values[ok], expected, atol=1e-5)


def test_ibi_time_axis_is_daily_and_normalised(ibi_file):
    ds = open_canonical(ibi_file)
    # The file stamps daily means at 12:00; canonical days are at 00:00.
    assert list(ds["time"].values.astype("datetime64[D]").astype(str)) == [
        "2022-02-06",
        "2022-02-07",
    ]
    assert np.all(ds["time"].values == ds["time"].values.astype("datetime64[D]"))


def test_glo12_opens_with_uo_vo(glo12_file):
    ds = open_canonical(glo12_file, variables=["uo", "vo"])
    assert list(ds.data_vars) == ["uo", "vo"]
    assert ds.sizes == {"time": 9, "depth": 22, "latitude": 120, "longitude": 183}
    wet = float(ds["uo"].isel(time=0, depth=0).notnull().mean())
    assert 0.01 < wet < 0.1  # about 4% of surface cells hold values
    assert float(np.nanmax(np.abs(ds["uo"].values))) < 3.0


def test_ibi_lies_on_the_ibi_grid(ibi_file):
    ds = open_canonical(ibi_file)
    match = check_on_region(ds, _ibi_like_region())
    assert match.version.name == "v1"
    assert match.stride == (3, 3)  # thinned to every 3rd point


# -- bad inputs ----------------------------------------------------------------------------
def test_missing_variable_names_file_variable_and_found(glo12_file):
    with pytest.raises(DataError) as err:
        open_canonical(glo12_file)  # all five GLONET variables
    msg = str(err.value)
    assert glo12_file.name in msg and "thetao" in msg and "zos" in msg
    assert "uo (eastward_sea_water_velocity)" in msg  # what was found
    ds = open_canonical(glo12_file, require=False)
    assert list(ds.data_vars) == ["uo", "vo"]


def test_variables_found_by_alias_and_standard_name(ibi_file, tmp_path):
    def edit(ds):
        ds = ds.rename({"thetao": "votemper", "so": "my_salinity"})
        return ds

    path = _rewrite(ibi_file, tmp_path / "renamed.nc", edit)
    ds = open_canonical(path, variables=["thetao", "so"])
    assert ds["thetao"].attrs["source_name"] == "votemper"
    assert ds["so"].attrs["source_name"] == "my_salinity"


def test_wrong_units(ibi_file):
    with netCDF4.Dataset(ibi_file, "a") as nc:
        nc["so"].units = "furlongs"
    with pytest.raises(DataError) as err:
        open_canonical(ibi_file)
    msg = str(err.value)
    assert ibi_file.name in msg and "so" in msg and "'furlongs'" in msg and "'1e-3'" in msg


def test_kelvin_converted_to_celsius(ibi_file, tmp_path):
    def edit(ds):
        ds["thetao"] = ds["thetao"] + 273.15
        ds["thetao"].attrs = {"units": "K", "standard_name": "sea_water_potential_temperature"}
        return ds

    path = _rewrite(ibi_file, tmp_path / "kelvin.nc", edit)
    ref = open_canonical(ibi_file)
    ds = open_canonical(path)
    np.testing.assert_allclose(ds["thetao"].values, ref["thetao"].values, atol=1e-4)
    assert ds["thetao"].attrs["units"] == "degC"
    assert "K -> degC" in ds["thetao"].attrs["history"]
    assert ds["thetao"].attrs["original_units"] == "K"


def test_centimetres_converted(ibi_file, tmp_path):
    def edit(ds):
        ds["zos"] = ds["zos"] * 100
        ds["zos"].attrs = {"units": "cm"}
        ds["uo"] = ds["uo"] * 100
        ds["uo"].attrs = {"units": "cm/s", "standard_name": "eastward_sea_water_velocity"}
        return ds

    ref = open_canonical(ibi_file)
    ds = open_canonical(_rewrite(ibi_file, tmp_path / "cm.nc", edit))
    np.testing.assert_allclose(ds["zos"].values, ref["zos"].values, atol=1e-5)
    np.testing.assert_allclose(ds["uo"].values, ref["uo"].values, atol=1e-5, equal_nan=True)
    assert "cm/s -> m/s" in ds["uo"].attrs["history"]


def test_six_hourly_steps_rejected(ibi_file, tmp_path):
    def edit(ds):
        return ds.assign_coords(
            time=np.array(["2022-02-06T00:00", "2022-02-06T06:00"], dtype="datetime64[ns]")
        )

    path = _rewrite(ibi_file, tmp_path / "six_hourly.nc", edit)
    with pytest.raises(DataError, match="time steps of 6 h") as err:
        open_canonical(path)
    assert path.name in str(err.value) and "daily" in str(err.value)


def test_duplicate_days_rejected(ibi_file, tmp_path):
    def edit(ds):
        ds = ds.isel(time=[0, 1, 1])  # two overlapping downloads concatenated
        times = ["2022-02-06T12:00", "2022-02-07T12:00", "2022-02-07T12:00"]
        return ds.assign_coords(time=np.array(times, dtype="datetime64[ns]"))

    path = _rewrite(ibi_file, tmp_path / "dups.nc", edit)
    with pytest.raises(DataError, match=r"duplicate days.*2022-02-07") as err:
        open_canonical(path)
    assert path.name in str(err.value)


def test_missing_days_rejected(ibi_file, tmp_path):
    def edit(ds):
        ds = ds.isel(time=[0, 1, 1])
        times = ["2022-02-06T12:00", "2022-02-07T12:00", "2022-02-09T12:00"]
        return ds.assign_coords(time=np.array(times, dtype="datetime64[ns]"))

    path = _rewrite(ibi_file, tmp_path / "gap.nc", edit)
    with pytest.raises(DataError, match=r"missing days.*2022-02-08") as err:
        open_canonical(path)
    assert path.name in str(err.value)
    assert open_canonical(path, allow_gaps=True).sizes["time"] == 3


def test_descending_latitude_sorted(ibi_file, tmp_path):
    path = _rewrite(
        ibi_file, tmp_path / "desc.nc", lambda ds: ds.isel(latitude=slice(None, None, -1))
    )
    ref = open_canonical(ibi_file)
    ds = open_canonical(path)
    assert np.all(np.diff(ds["latitude"].values) > 0)
    np.testing.assert_array_equal(ds["thetao"].values, ref["thetao"].values)


def test_grid_offset_by_half_a_cell(ibi_file, tmp_path):
    def edit(ds):
        return ds.assign_coords(longitude=ds["longitude"] + 0.5 / 36)

    path = _rewrite(ibi_file, tmp_path / "offset.nc", edit)
    ds = open_canonical(path)
    with pytest.raises(GridMismatchError) as err:
        check_on_region(ds, _ibi_like_region())
    msg = str(err.value)
    assert path.name in msg and "Longitude" in msg and "0.500 cells" in msg


def test_nan_in_the_ocean(ibi_file):
    ds = open_canonical(ibi_file)
    mask = LandSeaMask.from_data(ds["thetao"].isel(time=0).values)
    check_no_nan_in_ocean(ds, mask)  # the real file is clean
    check_no_nan_in_ocean(ds, mask.ocean[0])  # a surface mask checks level 0
    broken = ds.copy(deep=True)
    broken["so"][1, 0, 3, 4:7] = np.nan
    with pytest.raises(DataError) as err:
        check_no_nan_in_ocean(broken, mask, source="broken.nc")
    msg = str(err.value)
    assert "broken.nc" in msg and "so on 2022-02-07: 3 NaN cells" in msg
    with pytest.raises(DataError, match="mask has 3 levels"):
        check_no_nan_in_ocean(ds, mask.ocean[:3])


def test_truncated_file(ibi_file, tmp_path):
    data = ibi_file.read_bytes()
    path = tmp_path / "truncated.nc"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        open_canonical(path)
    assert str(path) in str(err.value)


def test_truncated_hdf5_file(glo12_file, tmp_path):
    data = glo12_file.read_bytes()
    path = tmp_path / "truncated_glo.nc"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        open_canonical(path, variables=["uo"])
    assert str(path) in str(err.value)


def test_implausible_values(ibi_file, tmp_path):
    def edit(ds):
        ds["so"] = ds["so"] * 10
        ds["so"].attrs = {"units": "1e-3", "standard_name": "sea_water_salinity"}
        return ds

    path = _rewrite(ibi_file, tmp_path / "so_x10.nc", edit)
    with pytest.raises(DataError, match=r"so has .* outside its plausible range") as err:
        open_canonical(path)
    assert path.name in str(err.value)


def test_several_files_and_a_dataset(ibi_file, tmp_path):
    with xr.open_dataset(ibi_file) as ds:
        ds.isel(time=[0]).to_netcdf(tmp_path / "part_a.nc")
        ds.isel(time=[1]).to_netcdf(tmp_path / "part_b.nc")
    both = open_canonical(str(tmp_path / "part_*.nc"))
    ref = open_canonical(ibi_file)
    np.testing.assert_array_equal(both["thetao"].values, ref["thetao"].values)
    with xr.open_dataset(ibi_file) as raw:
        from_ds = open_canonical(raw, source="in-memory IBI", variables=["zos"])
    assert from_ds.attrs["glonet_source"] == "in-memory IBI"


def test_no_match_for_a_glob(tmp_path):
    with pytest.raises(DataError, match="No file matches"):
        open_canonical(str(tmp_path / "nothing_*.nc"))
