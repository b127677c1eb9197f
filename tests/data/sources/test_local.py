"""LocalSource on the real files: netCDF (one, many, glob) and zarr, with sub-setting."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import SourceDataset
from glonet_regions.data.sources import BUILTIN_SOURCES, Source, load_builtin_source
from glonet_regions.data.sources.local import LocalSource


def test_is_a_source():
    assert isinstance(LocalSource(), Source)
    assert load_builtin_source("local") is LocalSource
    assert set(BUILTIN_SOURCES) == {"copernicusmarine", "local"}


def test_subset_by_box_depth_dates_and_variables(ibi_file):
    ds = LocalSource().open(
        ibi_file,
        bbox=BBox(-10.0, -9.5, 43.7, 44.0),
        depth_range=(0.0, 50.0),
        start=dt.date(2022, 2, 7),
        end=dt.date(2022, 2, 7),
        variables=["thetao", "zos"],
    )
    assert set(ds.data_vars) == {"thetao", "zos"}
    assert ds.sizes["time"] == 1
    assert str(ds["time"].values[0])[:10] == "2022-02-07"  # a 12:00 stamp is inside its day
    assert float(ds["longitude"].min()) >= -10.0 and float(ds["longitude"].max()) <= -9.5
    assert float(ds["latitude"].min()) >= 43.7 and float(ds["latitude"].max()) <= 44.0
    assert float(ds["depth"].max()) <= 50.0 and ds.sizes["depth"] == 18


def test_descending_latitude_box(ibi_file, tmp_path):
    with xr.open_dataset(ibi_file) as ds:
        ds.isel(latitude=slice(None, None, -1)).to_netcdf(tmp_path / "desc.nc")
    out = LocalSource().open(tmp_path / "desc.nc", bbox=BBox(-10.0, -9.5, 43.7, 44.0))
    assert out.sizes["latitude"] == 3
    assert np.all(np.diff(out["latitude"].values) < 0)  # order kept; the reader sorts


def test_many_files_by_glob_and_list(ibi_file, tmp_path):
    with xr.open_dataset(ibi_file) as ds:
        ds.isel(time=[0]).to_netcdf(tmp_path / "day1.nc")
        ds.isel(time=[1]).to_netcdf(tmp_path / "day2.nc")
        ref = ds.load()
    src = LocalSource()
    by_glob = src.open(str(tmp_path / "day*.nc"))
    by_list = src.open([tmp_path / "day2.nc", tmp_path / "day1.nc"])
    for out in (by_glob, by_list):
        assert out.sizes["time"] == 2
        np.testing.assert_array_equal(out["thetao"].values, ref["thetao"].values)


def test_zarr_store(ibi_file, tmp_path):
    store = tmp_path / "ibi.zarr"
    with xr.open_dataset(ibi_file) as ds:
        ds.to_zarr(store, consolidated=False)
        ref = ds.load()
    out = LocalSource().open(
        store, variables=["so"], start=dt.date(2022, 2, 6), end=dt.date(2022, 2, 6)
    )
    assert out.sizes["time"] == 1
    np.testing.assert_allclose(out["so"].values, ref["so"].isel(time=[0]).values, atol=1e-5)


def test_source_dataset_maps_names(ibi_file):
    declared = SourceDataset(
        key="ibi", kind="analysis-forecast", service="local", dataset_id=ibi_file.name,
        variables={"temperature_ours": "thetao"},
    )  # fmt: skip
    out = LocalSource(root=ibi_file.parent).open(declared, variables=["temperature_ours"])
    assert list(out.data_vars) == ["temperature_ours"]


def test_errors_name_the_input(ibi_file, tmp_path):
    src = LocalSource()
    with pytest.raises(DataError, match="No file matches"):
        src.open(str(tmp_path / "*.nc.missing"))
    with pytest.raises(DataError, match=r"does not exist"):
        src.open(tmp_path / "absent.nc")
    with pytest.raises(DataError, match=r"variable\(s\) \['zos_typo'\] not found") as err:
        src.open(ibi_file, variables=["zos_typo"])
    assert str(ibi_file) in str(err.value)
    with pytest.raises(DataError, match="no latitude within"):
        src.open(ibi_file, bbox=BBox(0.0, 1.0, 0.0, 1.0))
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"not a netCDF file at all")
    with pytest.raises(DataError, match="cannot be read") as err:
        src.open(garbage)
    assert str(garbage) in str(err.value)
