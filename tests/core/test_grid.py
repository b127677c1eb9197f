"""Example tests of Grid: construction from datasets, errors, known geometry."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import GridMismatchError, ValidationError
from glonet_regions.core.grid import (
    EARTH_RADIUS_M,
    BBox,
    Grid,
    GridIndex,
    Padding,
    great_circle_km,
)

LAT = 26 + np.arange(10) / 36
LON = -19 + np.arange(12) / 36


def _ds(
    lat_name: str, lon_name: str, *, attrs: bool = False, dims: tuple[str, str] | None = None
) -> xr.Dataset:
    lat_dim, lon_dim = dims or (lat_name, lon_name)
    lat_attrs = {"standard_name": "latitude"} if attrs else {}
    lon_attrs = {"standard_name": "longitude"} if attrs else {}
    return xr.Dataset(
        {"thetao": ((lat_dim, lon_dim), np.zeros((LAT.size, LON.size)))},
        coords={
            lat_name: (lat_dim, LAT.astype(np.float32), lat_attrs),
            lon_name: (lon_dim, LON.astype(np.float32), lon_attrs),
        },
    )


@pytest.mark.parametrize(
    ("lat_name", "lon_name"),
    [("lat", "lon"), ("latitude", "longitude"), ("nav_lat", "nav_lon"), ("Latitude", "Longitude")],
)
def test_from_dataset_by_name(lat_name: str, lon_name: str) -> None:
    grid = Grid.from_dataset(_ds(lat_name, lon_name))
    assert grid.shape == (10, 12)
    assert grid.dlat == pytest.approx(1 / 36, rel=1e-5)
    assert grid == Grid.regular(lon0=-19, lat0=26, dlon=1 / 36, dlat=1 / 36, nlon=12, nlat=10)


def test_from_dataset_by_standard_name_only() -> None:
    ds = _ds("phi", "lambda_", attrs=True)
    assert Grid.from_dataset(ds).shape == (10, 12)
    assert Grid.from_dataset(ds["thetao"]).shape == (10, 12)


def test_from_dataset_by_units_only() -> None:
    ds = _ds("a", "b")
    ds["a"].attrs["units"] = "degrees_north"
    ds["b"].attrs["units"] = "degrees_east"
    assert Grid.from_dataset(ds).shape == (10, 12)


def test_index_x_y_are_not_taken_for_lat_lon() -> None:
    # NEMO-style index coordinates must not be read as degrees.
    ds = xr.Dataset(
        {"t": (("y", "x"), np.zeros((5, 6)))},
        coords={"y": np.arange(5.0), "x": np.arange(6.0)},
    )
    with pytest.raises(GridMismatchError, match=r"No 1-D latitude coordinate found in f\.nc"):
        Grid.from_dataset(ds, source="f.nc")
    ds["y"].attrs["units"] = "degrees_north"
    ds["x"].attrs["units"] = "degrees_east"
    assert Grid.from_dataset(ds).shape == (5, 6)


def test_missing_coordinates_named() -> None:
    ds = xr.Dataset({"t": (("a", "b"), np.zeros((2, 2)))})
    with pytest.raises(GridMismatchError, match="latitude"):
        Grid.from_dataset(ds)


@pytest.mark.parametrize(
    ("lat", "match"),
    [
        (LAT[::-1], "strictly increasing"),
        (np.array([0.0, 1.0, 1.0, 2.0]), "strictly increasing"),
        (np.array([0.0, 1.0, 2.5, 3.0]), "not regular"),
        (np.array([0.0, np.nan, 2.0]), "NaN"),
        (np.zeros((2, 2)), "1-D"),
    ],
)
def test_bad_coordinates_are_named(lat: np.ndarray, match: str) -> None:
    with pytest.raises(ValidationError, match=f"latitude.*{match}|{match}"):
        Grid(lat, LON)


def test_descending_dataset_error_says_sort() -> None:
    ds = _ds("lat", "lon").isel(lat=slice(None, None, -1))
    with pytest.raises(ValidationError, match="sort the data by latitude"):
        Grid.from_dataset(ds)


def test_single_point_axis_needs_step() -> None:
    with pytest.raises(ValidationError, match="one point"):
        Grid(np.array([1.0]), LON)
    assert Grid(np.array([1.0]), LON, dlat=0.5).shape == (1, 12)


def test_latitudes_beyond_the_pole_rejected() -> None:
    with pytest.raises(ValidationError, match=r"\[-90, 90\]"):
        Grid.regular(lon0=0, lat0=89.5, dlon=1, dlat=1, nlon=2, nlat=2)


def test_global_quarter_degree_grid() -> None:
    grid = Grid.regular(lon0=-180, lat0=-78, dlon=0.25, dlat=0.25, nlon=1440, nlat=672)
    assert grid.lat[-1] == pytest.approx(89.75)
    sphere_part = (
        2 * np.pi * EARTH_RADIUS_M**2 * (np.sin(np.deg2rad(89.875)) - np.sin(np.deg2rad(-78.125)))
    )
    assert grid.cell_area().sum() == pytest.approx(sphere_part, rel=1e-10)
    assert grid.area_weights().mean() == pytest.approx(1.0)


def test_index_box_no_centre() -> None:
    grid = Grid.regular(lon0=0, lat0=0, dlon=1, dlat=1, nlon=4, nlat=4)
    with pytest.raises(GridMismatchError, match="holds no cell centre"):
        grid.index_box(BBox(0.2, 0.8, 0.2, 0.8))


def test_locate_message_names_source_and_offset() -> None:
    grid = Grid.regular(lon0=-19, lat0=26, dlon=1 / 36, dlat=1 / 36, nlon=100, nlat=100)
    with pytest.raises(GridMismatchError, match=r"in ibi\.nc is 0\.500 cells"):
        grid.locate(grid.lat[:3] + 0.5 / 36, grid.lon[:3], source="ibi.nc")


def test_real_ibi_file_on_the_136_grid(real_dir: object = None) -> None:

    from glonet_regions.testing.real_data import real_data_dir

    path = real_data_dir()
    f = path / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
    if not f.exists():
        pytest.skip(f"real data file {f} is missing")
    with xr.open_dataset(f) as ds:
        sub = Grid.from_dataset(ds)
        ibi = Grid.regular(lon0=-19, lat0=26, dlon=1 / 36, dlat=1 / 36, nlon=865, nlat=1081)
        index = ibi.locate(ds.latitude.values, ds.longitude.values, source=str(f))
    assert index.stride == (3, 3)
    assert sub.dlat == pytest.approx(1 / 12, rel=1e-5)


def test_grid_index_slices() -> None:
    gi = GridIndex(lat=np.array([2, 3, 4]), lon=np.array([0, 2, 4]))
    assert gi.lat_slice == slice(2, 5)
    assert gi.lon_slice == slice(0, 5, 2)
    assert gi.stride == (1, 2)
    assert GridIndex(lat=np.array([0, 1, 5]), lon=np.array([1])).lat_slice is None


def test_padding_validation_and_zero() -> None:
    with pytest.raises(ValidationError):
        Padding(-1)
    assert Padding().is_zero
    with pytest.raises(ValidationError, match="multiple"):
        Grid.regular(lon0=0, lat0=0, dlon=1, dlat=1, nlon=2, nlat=2).padding_to_multiple(0)


def test_bbox_validation() -> None:
    with pytest.raises(ValidationError, match="lon_min"):
        BBox(1, 0, 0, 1)
    with pytest.raises(ValidationError, match=r"\[-90, 90\]"):
        BBox(0, 1, -91, 1)
    with pytest.raises(ValidationError, match=r"lon_min, lon_max"):
        BBox.from_sequence([0, 1, 2])
    assert BBox(0, 2, 0, 2).intersection(BBox(3, 4, 0, 1)) is None
    assert BBox(0, 2, 0, 2).intersection(BBox(1, 4, 1, 3)) == BBox(1, 2, 1, 2)


def test_great_circle_km() -> None:
    one_degree = EARTH_RADIUS_M * np.pi / 180.0 / 1000.0
    assert great_circle_km(10.0, -5.0, 11.0, -5.0) == pytest.approx(one_degree, rel=1e-12)
    assert great_circle_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_degree, rel=1e-12)
    assert great_circle_km(60.0, 0.0, 60.0, 1.0) < one_degree  # parallels converge
    d = great_circle_km(np.array([40.0, 41.0]), np.array([-9.0, 2.0]), 43.0, -3.0)
    back = great_circle_km(43.0, -3.0, [40.0, 41.0], [-9.0, 2.0])
    assert d.shape == (2,) and np.allclose(d, back)
