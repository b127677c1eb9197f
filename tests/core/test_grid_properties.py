"""Property tests of the regular grid: sub-setting, areas, coarsening, padding, matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glonet_regions.core.errors import GridMismatchError, ValidationError
from glonet_regions.core.grid import BBox, Grid, Padding
from glonet_regions.testing.strategies import bboxes_inside, fields, grid_and_bbox, grids

SETTINGS = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(grid_and_bbox())
def test_subset_then_locate_gives_the_same_slices(gb: tuple[Grid, BBox]) -> None:
    grid, bbox = gb
    lat_sl, lon_sl = grid.index_box(bbox)
    sub = grid.subset(bbox)
    index = grid.locate(sub.lat, sub.lon)
    assert index.lat_slice == lat_sl
    assert index.lon_slice == lon_sl
    assert index.stride == (1, 1)
    assert sub == grid.isel(lat_sl, lon_sl)
    # Every selected centre lies in the box, and the neighbours outside it do not.
    assert np.all((sub.lat >= bbox.lat_min - 1e-9) & (sub.lat <= bbox.lat_max + 1e-9))
    if lat_sl.start > 0:
        assert grid.lat[lat_sl.start - 1] < bbox.lat_min


@SETTINGS
@given(grids(lat_range=(-60, 60)), st.integers(1, 4), st.integers(1, 4))
def test_strided_selection_is_located_with_its_stride(grid: Grid, si: int, sj: int) -> None:
    sub = grid.isel(slice(0, None, si), slice(0, None, sj))
    index = grid.locate(sub.lat, sub.lon)
    np.testing.assert_array_equal(index.lat, np.arange(0, grid.shape[0], si))
    np.testing.assert_array_equal(index.lon, np.arange(0, grid.shape[1], sj))
    if sub.shape[0] > 1 and sub.shape[1] > 1:
        assert index.stride == (si, sj)


@SETTINGS
@given(grids(max_step=5.0))
def test_cell_areas_sum_to_the_analytic_box_area(grid: Grid) -> None:
    total = grid.cell_area().sum()
    assert total == pytest.approx(grid.bbox.area_m2(), rel=1e-10)
    assert np.all(grid.cell_area() > 0)


@SETTINGS
@given(grid_and_bbox())
def test_subset_areas_match_their_box(gb: tuple[Grid, BBox]) -> None:
    grid, bbox = gb
    sub = grid.subset(bbox)
    lat_sl, lon_sl = grid.index_box(bbox)
    np.testing.assert_allclose(sub.cell_area(), grid.cell_area()[lat_sl, lon_sl], rtol=1e-10)


@SETTINGS
@given(grids(min_size=1, max_size=24), st.integers(1, 5), st.booleans())
def test_coarsening_conserves_area(grid: Grid, factor: int, trim: bool) -> None:
    h, w = grid.shape
    if h < factor or w < factor:
        with pytest.raises(ValidationError):
            grid.coarsen(factor, trim=True)
        return
    if not trim and (h % factor or w % factor):
        with pytest.raises(ValidationError, match="multiple"):
            grid.coarsen(factor)
        return
    coarse = grid.coarsen(factor, trim=trim)
    nh, nw = coarse.shape
    fine = grid.cell_area()[: nh * factor, : nw * factor]
    blocks = fine.reshape(nh, factor, nw, factor).sum(axis=(1, 3))
    np.testing.assert_allclose(blocks, coarse.cell_area(), rtol=1e-10)
    assert coarse.cell_area().sum() == pytest.approx(fine.sum(), rel=1e-10)
    # Coarse edges are every factor-th fine edge.
    np.testing.assert_allclose(
        coarse.lat_bounds, grid.lat_bounds[: nh * factor + 1 : factor], atol=1e-9
    )
    np.testing.assert_allclose(
        coarse.lon_bounds, grid.lon_bounds[: nw * factor + 1 : factor], atol=1e-9
    )


@SETTINGS
@given(
    grids(lat_range=(-60, 60)),
    st.tuples(*[st.integers(0, 5)] * 4),
    st.integers(0, 2**32 - 1),
)
def test_pad_then_crop_is_the_identity(grid: Grid, widths: tuple[int, ...], seed: int) -> None:
    padding = Padding(*widths)
    padded = grid.pad(padding)
    assert padded.shape == (
        grid.shape[0] + widths[0] + widths[1],
        grid.shape[1] + widths[2] + widths[3],
    )
    assert padded.crop(padding) == grid
    np.testing.assert_allclose(padded.crop(padding).lat, grid.lat, atol=1e-9)
    # The original grid sits on the padded one at the padding offsets.
    index = padded.locate(grid.lat, grid.lon)
    assert index.lat_slice == slice(widths[0], widths[0] + grid.shape[0])
    arr = np.random.default_rng(seed).normal(size=(2, *grid.shape))
    for mode in ("edge", "constant", "reflect"):
        if mode == "reflect" and min(grid.shape) < 2:
            continue
        np.testing.assert_array_equal(padding.crop_array(padding.pad_array(arr, mode=mode)), arr)


@SETTINGS
@given(grids(min_size=2, max_size=20), st.integers(1, 8))
def test_pad_to_multiple(grid: Grid, multiple: int) -> None:
    try:
        padded, padding = grid.pad_to_multiple(multiple, centred=True)
    except ValidationError:  # padding would push cells past a pole
        return
    assert padded.shape[0] % multiple == 0 and padded.shape[1] % multiple == 0
    assert padded.crop(padding) == grid


@SETTINGS
@given(grid_and_bbox())
def test_locate_tolerates_float32_rounding(gb: tuple[Grid, BBox]) -> None:
    grid, bbox = gb
    sub = grid.subset(bbox)
    index = grid.locate(sub.lat.astype(np.float32), sub.lon.astype(np.float32))
    assert (index.lat_slice, index.lon_slice) == grid.index_box(bbox)
    # A grid rebuilt from float32 coordinates is the same grid.
    assert Grid(sub.lat.astype(np.float32), sub.lon.astype(np.float32), sub.dlat, sub.dlon) == sub


@SETTINGS
@given(grids(min_size=2), st.sampled_from(["lat", "lon"]), st.floats(0.2, 0.8), st.booleans())
def test_locate_rejects_fractional_cell_offsets(
    grid: Grid, axis: str, frac: float, negative: bool
) -> None:
    sign = -1 if negative else 1
    lat, lon = grid.lat.copy(), grid.lon.copy()
    if axis == "lat":
        lat = lat + sign * frac * grid.dlat
    else:
        lon = lon + sign * frac * grid.dlon
    with pytest.raises(GridMismatchError, match=r"cells from the nearest grid node|outside"):
        grid.locate(lat, lon, source="test.nc")


@SETTINGS
@given(grids(min_size=2))
def test_locate_rejects_points_outside(grid: Grid) -> None:
    with pytest.raises(GridMismatchError, match="outside the grid"):
        grid.locate(grid.lat[:1], [grid.lon[-1] + grid.dlon])


@SETTINGS
@given(grids())
def test_dict_round_trip_fingerprint_and_hash(grid: Grid) -> None:
    again = Grid.from_dict(grid.to_dict())
    assert again == grid
    assert again.fingerprint() == grid.fingerprint()
    assert hash(again) == hash(grid)


@SETTINGS
@given(grids(min_size=2))
def test_equal_grids_hash_equal_under_float32_rounding(grid: Grid) -> None:
    rounded = Grid(grid.lat.astype(np.float32), grid.lon.astype(np.float32))
    if rounded == grid:
        assert hash(rounded) == hash(grid)


@SETTINGS
@given(grids(min_size=2, max_size=10), st.data())
def test_fields_strategy_makes_nan_land(grid: Grid, data: st.DataObject) -> None:
    values = data.draw(fields(grid, leading=(2,)))
    assert values.shape == (2, *grid.shape)
    assert np.isfinite(values).any()
    box = data.draw(bboxes_inside(grid))
    assert grid.bbox.contains(box, tol=1e-6 * max(grid.dlat, grid.dlon) + 1e-9)
