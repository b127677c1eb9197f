"""Tests of the vertical interpolation (native levels -> target levels, sea floor respected)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from ibi_levels import IBI_LEVELS

from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.core.errors import ValidationError
from glonet_regions.data.vertical import (
    VerticalInterpolator,
    interpolate_dataset,
    interpolate_levels,
)

IBI = np.asarray(IBI_LEVELS)
GLONET = np.asarray(GLONET_LEVELS.values)


def _columns(n_cols: int, bottoms: np.ndarray, native: np.ndarray) -> np.ndarray:
    """(depth, 1, n_cols) linear profiles, NaN below the bottom index of each column."""
    z = native[:, None, None]
    vals = 20.0 - 0.003 * z + np.arange(n_cols)[None, None, :]
    k = np.arange(native.size)[:, None, None]
    return np.where(k <= bottoms[None, None, :], vals, np.nan)


def test_identity_when_targets_equal_natives() -> None:
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(2, IBI.size, 3, 4)).astype(np.float32)
    out = interpolate_levels(vals, IBI, IBI)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, vals)


def test_glonet_levels_pick_ibi_members_exactly() -> None:
    rng = np.random.default_rng(1)
    vals = rng.normal(size=(IBI.size, 5, 6))
    out = interpolate_levels(vals, IBI, GLONET)
    idx = [int(np.argmin(np.abs(IBI - t))) for t in GLONET]
    np.testing.assert_array_equal(out, vals[idx])


def test_linear_profile_is_exact_and_shallow_target_takes_first_value() -> None:
    native = np.array([1.0, 10.0, 30.0, 100.0])
    vals = (2.0 + 0.5 * native)[:, None, None] * np.ones((1, 2, 2))
    out = interpolate_levels(vals, native, [0.2, 5.0, 20.0, 77.0])
    np.testing.assert_allclose(out[:, 0, 0], [2.5, 4.5, 12.0, 40.5])


def test_bottom_rule_between_last_wet_and_first_dry_level() -> None:
    native = np.array([0.0, 10.0, 20.0, 30.0])
    col = np.array([1.0, 2.0, np.nan, np.nan])[:, None, None]
    out = interpolate_levels(col, native, [5.0, 10.0, 15.0, 25.0, 40.0], axis=0)
    np.testing.assert_allclose(out[:2, 0, 0], [1.5, 2.0])
    assert np.isnan(out[2:, 0, 0]).all()


def test_target_deeper_than_every_native_level_is_nan() -> None:
    native = np.array([0.0, 10.0])
    out = interpolate_levels(np.ones((2, 1, 1)), native, [10.0, 10.5, 200.0])
    assert out[0, 0, 0] == 1.0 and np.isnan(out[1:, 0, 0]).all()


def test_axis_argument_and_errors() -> None:
    vals = np.ones((3, 4, IBI.size))
    assert interpolate_levels(vals, IBI, GLONET, axis=-1).shape == (3, 4, GLONET.size)
    with pytest.raises(ValidationError, match="native depths"):
        interpolate_levels(np.ones((3, 2, 2)), IBI, GLONET)
    with pytest.raises(ValidationError, match="strictly increasing"):
        VerticalInterpolator.build([1.0, 1.0], [1.0])
    with pytest.raises(ValidationError, match="out of range"):
        interpolate_levels(np.ones((3,)), [1.0, 2.0, 3.0], [1.5], axis=3)


@settings(deadline=None, max_examples=40)
@given(
    bottoms=st.lists(
        st.integers(min_value=-1, max_value=len(IBI_LEVELS) - 1), min_size=1, max_size=12
    ),
    targets=st.lists(st.floats(min_value=0.0, max_value=6000.0), min_size=1, max_size=25),
)
def test_never_below_bottom_and_monotone_wet_mask(bottoms: list[int], targets: list[float]) -> None:
    b = np.asarray(bottoms)
    vals = _columns(b.size, b, IBI)
    t = np.sort(np.asarray(targets))
    out = interpolate_levels(vals, IBI, t)
    wet = np.isfinite(out[:, 0, :])
    for c, bottom in enumerate(b):
        deepest = IBI[bottom] if bottom >= 0 else -np.inf
        # Wet exactly where the target lies at or above the deepest wet native level.
        expected = t <= deepest + 0.05
        np.testing.assert_array_equal(wet[:, c], expected)
    # Wet mask is monotone down each column (sorted targets).
    assert not np.any(wet[1:] & ~wet[:-1])
    # Linear profiles are reproduced where wet.
    ref = 20.0 - 0.003 * np.maximum(t, IBI[0])[:, None] + np.arange(b.size)[None, :]
    np.testing.assert_allclose(out[:, 0, :][wet], ref[wet], rtol=0, atol=1e-3)


def test_nan_columns_stay_nan() -> None:
    vals = np.full((IBI.size, 2, 2), np.nan, dtype=np.float32)
    assert np.isnan(interpolate_levels(vals, IBI, GLONET)).all()


def test_interpolate_dataset_keeps_2d_variables_and_order() -> None:
    rng = np.random.default_rng(2)
    ds = xr.Dataset(
        {
            "thetao": (
                ("time", "depth", "latitude", "longitude"),
                rng.normal(size=(2, IBI.size, 3, 4)),
            ),
            "zos": (("time", "latitude", "longitude"), rng.normal(size=(2, 3, 4))),
        },
        coords={"depth": ("depth", IBI.astype(np.float32), {"units": "m", "positive": "down"})},
    )
    out = interpolate_dataset(ds, GLONET)
    assert out.thetao.dims == ("time", "depth", "latitude", "longitude")
    assert out.sizes["depth"] == GLONET.size
    assert out.depth.attrs["positive"] == "down"
    np.testing.assert_array_equal(out.zos.values, ds.zos.values)
    np.testing.assert_allclose(out.thetao.values, interpolate_levels(ds.thetao.values, IBI, GLONET))
    lazy = interpolate_dataset(ds.chunk({"time": 1}), GLONET)
    np.testing.assert_allclose(lazy.thetao.values, out.thetao.values)
    with pytest.raises(ValidationError, match="no 'level' dimension"):
        interpolate_dataset(ds, GLONET, depth_dim="level")
