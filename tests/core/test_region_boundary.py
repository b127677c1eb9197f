"""The open-boundary zone is one physical band, whatever grid a store or forecast lies on."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from glonet_regions.core import (
    DateRange,
    DateSplits,
    Grid,
    GridVersion,
    OpenBoundaries,
    Region,
)


def _region(width: int = 8) -> Region:
    grid = Grid.regular(lon0=-19.0, lat0=26.0, dlon=1 / 36, dlat=1 / 36, nlon=865, nlat=1081)
    day = dt.date(2020, 1, 1)
    return Region(
        name="ibi-like",
        title="IBI-like",
        bbox=grid.bbox,
        resolution_deg=1 / 36,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            DateRange(day, day + dt.timedelta(days=9)),
            DateRange(day + dt.timedelta(days=10), day + dt.timedelta(days=19)),
            DateRange(day + dt.timedelta(days=20), day + dt.timedelta(days=29)),
        ),
        open_boundaries=OpenBoundaries(("west", "north", "south", "east"), width),
    )


@pytest.mark.parametrize(("stride", "expected"), [(1, 8), (3, 3), (8, 1), (12, 1)])
def test_width_on_thinned_grids(stride: int, expected: int) -> None:
    region = _region()
    grid = region.grid.isel(slice(0, None, stride), slice(0, None, stride))
    assert region.boundary_width_on(grid) == expected


def test_zone_is_the_same_sea_on_every_grid() -> None:
    region = _region()
    full = region.boundary_zone(region.grid)
    assert full.sum() == region.open_boundaries.zone_mask(region.grid.shape).sum()
    thin = region.grid.isel(slice(0, None, 12), slice(0, None, 12))
    np.testing.assert_array_equal(region.boundary_zone(thin), full[::12, ::12])
    window = region.grid.isel(slice(400, 500), slice(300, 400))
    assert not region.boundary_zone(window).any()  # a window in the middle has no zone
    assert region.boundary_width_on(window) == 0


def test_no_open_boundary() -> None:
    region = dataclasses.replace(_region(), open_boundaries=OpenBoundaries((), 0, provider="none"))
    assert not region.boundary_zone(region.grid).any()
    assert region.boundary_width_on(region.grid) == 0
