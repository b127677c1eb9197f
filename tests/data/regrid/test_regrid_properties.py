"""Property tests of the built-in weights and their NaN-aware application."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.apply import apply_weights
from glonet_regions.data.regrid.builtin import BuiltinRegridder, compute_weights
from glonet_regions.testing.strategies import fields, grids, land_masks

SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
METHODS = ["bilinear", "conservative", "nearest"]


def _between(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi) if hi > lo else st.just(lo)


@st.composite
def grid_pairs(draw: st.DrawFn, *, inside: str = "cells") -> tuple[Grid, Grid]:
    """A source grid and a target grid lying inside it (its cells, or its centres' hull)."""
    src = draw(grids(min_size=2, max_size=25, min_step=0.05, max_step=2.0, lat_range=(-80, 80)))
    if inside == "cells":
        lo_lat, hi_lat = src.lat_bounds[0], src.lat_bounds[-1]
        lo_lon, hi_lon = src.lon_bounds[0], src.lon_bounds[-1]
    else:
        lo_lat, hi_lat, lo_lon, hi_lon = src.lat[0], src.lat[-1], src.lon[0], src.lon[-1]
    nlat = draw(st.integers(1, 20))
    nlon = draw(st.integers(1, 20))
    if inside == "cells":  # target cells inside source cells
        dlat = draw(st.floats(0.05, 1.0)) * (hi_lat - lo_lat) / nlat
        dlon = draw(st.floats(0.05, 1.0)) * (hi_lon - lo_lon) / nlon
        lat0 = draw(_between(lo_lat + dlat / 2, hi_lat - dlat * (nlat - 0.5)))
        lon0 = draw(_between(lo_lon + dlon / 2, hi_lon - dlon * (nlon - 0.5)))
    else:  # target centres inside the source centres' hull
        dlat = draw(st.floats(0.05, 1.0)) * (hi_lat - lo_lat) / max(nlat - 1, 1)
        dlon = draw(st.floats(0.05, 1.0)) * (hi_lon - lo_lon) / max(nlon - 1, 1)
        lat0 = draw(_between(lo_lat, hi_lat - dlat * (nlat - 1)))
        lon0 = draw(_between(lo_lon, hi_lon - dlon * (nlon - 1)))
    assume(dlat > 1e-6 and dlon > 1e-6)
    dst = Grid.regular(lon0=lon0, lat0=lat0, dlon=dlon, dlat=dlat, nlon=nlon, nlat=nlat)
    return src, dst


@SETTINGS
@given(grid_pairs(), st.data())
def test_conservative_preserves_the_area_integral(
    pair: tuple[Grid, Grid], data: st.DataObject
) -> None:
    src, dst = pair
    values = data.draw(fields(src, land=False, leading=(2,)))
    out = BuiltinRegridder(src, dst, "conservative", cache=False).regrid(values)
    assert np.isfinite(out).all()
    # The exact integral over the target box of the piecewise-constant source field,
    # computed cell by cell from the closed-form spherical overlap.
    box = dst.bbox
    lat_b, lon_b = src.lat_bounds, src.lon_bounds
    dsin = np.clip(
        np.minimum(np.sin(np.deg2rad(lat_b[1:])), np.sin(np.deg2rad(box.lat_max)))
        - np.maximum(np.sin(np.deg2rad(lat_b[:-1])), np.sin(np.deg2rad(box.lat_min))),
        0,
        None,
    )
    dl = np.clip(np.minimum(lon_b[1:], box.lon_max) - np.maximum(lon_b[:-1], box.lon_min), 0, None)
    overlap = np.outer(dsin, np.deg2rad(dl))
    expected = (values * overlap).sum(axis=(-2, -1))
    got = (out * dst.cell_area(radius=1.0)).sum(axis=(-2, -1))
    np.testing.assert_allclose(
        got, expected, rtol=1e-6, atol=1e-9 * np.abs(values).max() * overlap.sum()
    )


@SETTINGS
@given(
    grid_pairs(inside="centres"),
    st.floats(-5, 5),
    st.floats(-5, 5),
    st.floats(-5, 5),
    st.floats(-0.1, 0.1),
)
def test_bilinear_is_exact_for_bilinear_fields(
    pair: tuple[Grid, Grid], a: float, b: float, c: float, d: float
) -> None:
    src, dst = pair

    def f(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        la, lo = np.meshgrid(lat, lon, indexing="ij")
        return a + b * lo + c * la + d * lo * la  # type: ignore[no-any-return]

    out = BuiltinRegridder(src, dst, "bilinear", cache=False).regrid(f(src.lat, src.lon))
    assert np.isfinite(out).all()
    expected = f(dst.lat, dst.lon)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


@SETTINGS
@given(grid_pairs(), st.sampled_from(METHODS), st.data())
def test_constants_stay_constant_with_nan_land(
    pair: tuple[Grid, Grid], method: str, data: st.DataObject
) -> None:
    src, dst = pair
    ocean = data.draw(land_masks(src.shape))
    field = np.where(ocean, 7.25, np.nan)
    out = BuiltinRegridder(src, dst, method, cache=False).regrid(field)
    finite = np.isfinite(out)
    np.testing.assert_allclose(out[finite], 7.25, rtol=1e-12)
    if ocean.all() and method != "bilinear":
        assert finite.all()


@SETTINGS
@given(grid_pairs(), st.sampled_from(METHODS), st.data())
def test_land_never_leaks_into_ocean(
    pair: tuple[Grid, Grid], method: str, data: st.DataObject
) -> None:
    src, dst = pair
    ocean = data.draw(land_masks(src.shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    sea = rng.uniform(-1, 1, src.shape)
    field = np.where(ocean, sea, 1e30)  # land holds huge numbers, not NaN
    dst_ocean = data.draw(land_masks(dst.shape))
    regridder = BuiltinRegridder(src, dst, method, cache=False)
    for fill in (None, "nearest"):
        out = regridder.regrid(field, src_mask=ocean, dst_mask=dst_ocean, fill=fill)
        assert np.all(np.isnan(out[~dst_ocean]))
        vals = out[np.isfinite(out)]
        assert np.all(np.abs(vals) <= 1 + 1e-12)
        # And the same as regridding with land as NaN: no land value influenced anything.
        ref = regridder.regrid(np.where(ocean, sea, np.nan), dst_mask=dst_ocean, fill=fill)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(grid_pairs(), st.sampled_from(METHODS), st.data())
def test_leading_dims_vectorised(pair: tuple[Grid, Grid], method: str, data: st.DataObject) -> None:
    src, dst = pair
    values = data.draw(fields(src, leading=(2, 3)))
    weights = compute_weights(src, dst, method)
    out = apply_weights(weights, values)
    assert out.shape == (2, 3, *dst.shape)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(
                out[i, j], apply_weights(weights, values[i, j]), equal_nan=True
            )
    out32 = apply_weights(weights, values.astype(np.float32))
    assert out32.dtype == np.float32


@SETTINGS
@given(grid_pairs(), st.sampled_from(METHODS))
def test_weight_files_round_trip(pair: tuple[Grid, Grid], method: str) -> None:
    import tempfile
    from pathlib import Path

    from glonet_regions.data.regrid.matrix import RegridWeights

    src, dst = pair
    weights = compute_weights(src, dst, method)
    with tempfile.TemporaryDirectory() as tmp:
        path = weights.to_netcdf(Path(tmp) / "w.nc")
        again = RegridWeights.from_netcdf(path)
        assert list(Path(tmp).iterdir()) == [path]
    assert again.method == method
    assert again.src_shape == src.shape and again.dst_shape == dst.shape
    assert (again.matrix != weights.matrix).nnz == 0


@SETTINGS
@given(grid_pairs(), st.data())
def test_nearest_picks_a_containing_source_cell(
    pair: tuple[Grid, Grid], data: st.DataObject
) -> None:
    src, dst = pair
    values = data.draw(fields(src, land=False))
    out = BuiltinRegridder(src, dst, "nearest", cache=False).regrid(values)
    i = np.clip(np.searchsorted(src.lat_bounds, dst.lat) - 1, 0, src.shape[0] - 1)
    j = np.clip(np.searchsorted(src.lon_bounds, dst.lon) - 1, 0, src.shape[1] - 1)
    # Ties on a cell edge may go either way; elsewhere the containing cell is the nearest.
    on_edge_lat = np.isclose(dst.lat[:, None], src.lat_bounds[None, :], atol=1e-9).any(axis=1)
    on_edge_lon = np.isclose(dst.lon[:, None], src.lon_bounds[None, :], atol=1e-9).any(axis=1)
    ok = ~(on_edge_lat[:, None] | on_edge_lon[None, :])
    np.testing.assert_array_equal(out[ok], values[np.ix_(i, j)][ok])


def test_bilinear_outside_the_hull_is_nan() -> None:
    src = Grid.regular(lon0=0, lat0=0, dlon=1, dlat=1, nlon=5, nlat=5)
    dst = Grid.regular(lon0=-0.5, lat0=0, dlon=1, dlat=1, nlon=6, nlat=5)
    out = BuiltinRegridder(src, dst, "bilinear", cache=False).regrid(np.ones(src.shape))
    assert np.isnan(out[:, 0]).all() and np.isnan(out[:, -1]).all()
    assert np.isfinite(out[:, 1:-1]).all()


def test_fill_nearest_fills_coastal_ocean() -> None:
    src = Grid.regular(lon0=0, lat0=0, dlon=1, dlat=1, nlon=6, nlat=6)
    dst = Grid.regular(lon0=0.25, lat0=0.25, dlon=0.5, dlat=0.5, nlon=10, nlat=10)
    field = np.arange(36.0).reshape(6, 6)
    field[:, :3] = np.nan  # land in the west half of the source
    dst_ocean = np.ones(dst.shape, dtype=bool)
    dst_ocean[:, :3] = False
    regridder = BuiltinRegridder(src, dst, "bilinear", cache=False)
    plain = regridder.regrid(field, dst_mask=dst_ocean)
    filled = regridder.regrid(field, dst_mask=dst_ocean, fill="nearest")
    assert np.isnan(plain[:, 3]).all()  # between two land source cells: no valid weight
    assert np.isfinite(filled[dst_ocean]).all()
    assert np.isnan(filled[~dst_ocean]).all()
    np.testing.assert_array_equal(filled[np.isfinite(plain)], plain[np.isfinite(plain)])
    lat_idx = np.rint(dst.lat[:, None]).astype(int).clip(0, 5)
    np.testing.assert_array_equal(filled[:, 3], field[lat_idx[:, 0], 3])


def test_threshold_rejects_thin_coverage() -> None:
    src = Grid.regular(lon0=0, lat0=0, dlon=1, dlat=1, nlon=4, nlat=4)
    dst = src.coarsen(2)
    field = np.ones(src.shape)
    field[:2, :2] = np.nan
    field[0, 0] = 3.0  # one quarter of the first coarse cell is valid
    loose = BuiltinRegridder(src, dst, "conservative", cache=False).regrid(field)
    strict = BuiltinRegridder(src, dst, "conservative", cache=False, threshold=0.5).regrid(field)
    assert loose[0, 0] == pytest.approx(3.0)
    assert np.isnan(strict[0, 0]) and strict[1, 1] == pytest.approx(1.0)
