"""LandSeaMask: building from data closes wet cells under land."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.mask import LandSeaMask


def test_from_data_closes_wet_cells_under_land() -> None:
    values = np.ones((3, 2, 2))
    values[1, 0, 0] = np.nan  # land at level 1 ...
    values[2, 0, 0] = 5.0  # ... with a (spurious) wet cell below it
    values[0, 1, 1] = np.nan  # land at the surface, wet below
    mask = LandSeaMask.from_data(values)
    assert mask.ocean[:, 0, 0].tolist() == [True, False, False]
    assert mask.ocean[:, 1, 1].tolist() == [False, False, False]
    assert mask.bottom_level()[0, 0] == 0
    assert mask.bottom_level()[1, 1] == -1
    assert mask.bottom_level()[0, 1] == 2


@settings(deadline=None, max_examples=50)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)),
                  elements=st.one_of(st.just(np.nan), st.floats(-5, 5))))  # fmt: skip
def test_from_data_is_monotone_and_a_subset_of_wet(values: np.ndarray) -> None:
    mask = LandSeaMask.from_data(values)
    ocean = mask.ocean
    assert not np.any(ocean[1:] & ~ocean[:-1])  # never wet under dry
    assert not np.any(ocean & ~np.isfinite(values))  # never ocean where data are missing
    # Maximal: a cell is ocean iff it and everything above it are finite.
    expected = np.cumprod(np.isfinite(values), axis=0).astype(bool)
    np.testing.assert_array_equal(ocean, expected)
    np.testing.assert_array_equal(mask.ocean_fraction(), expected.mean(axis=(1, 2)))


def test_constructor_rejects_wet_under_land() -> None:
    ocean = np.array([[[False]], [[True]]])
    with pytest.raises(ValidationError, match="level 1 has ocean under land"):
        LandSeaMask(ocean)


def test_constructor_accepts_2d_and_0_1() -> None:
    assert LandSeaMask(np.array([[0, 1], [1, 1]])).shape == (1, 2, 2)
    with pytest.raises(ValidationError, match="booleans"):
        LandSeaMask(np.array([[0, 2]]))
    with pytest.raises(ValidationError, match="levels, lat, lon"):
        LandSeaMask(np.zeros((1, 1, 1, 1), dtype=bool))


def test_apply_select_isel() -> None:
    values = np.arange(12.0).reshape(3, 2, 2)
    values[1, 0, 0] = np.nan
    mask = LandSeaMask.from_data(values)
    out = mask.apply(np.ones((4, 3, 2, 2)))
    assert out.shape == (4, 3, 2, 2)
    assert np.isnan(out[:, 2, 0, 0]).all() and np.isfinite(out[:, 0]).all()
    assert mask.select_levels([0, 2]).n_levels == 2
    assert mask.isel(slice(0, 1), slice(0, 2)).shape == (3, 1, 2)
    assert not mask.ocean.flags.writeable
