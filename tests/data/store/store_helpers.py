"""Helpers of the store tests: a tiny region (importable by subprocesses too)."""

from __future__ import annotations

import datetime as dt

from glonet_regions.core.grid import Grid
from glonet_regions.core.region import DateRange, DateSplits, GridVersion, OpenBoundaries, Region

START = dt.date(2021, 1, 1)


def tiny_region(nlat: int = 12, nlon: int = 16, width: int = 2) -> Region:
    """A 1-degree region in the Atlantic with open west and south edges."""
    grid = Grid.regular(lon0=-20.0, lat0=30.0, dlon=1.0, dlat=1.0, nlon=nlon, nlat=nlat)
    return Region(
        name="tiny",
        title="Tiny test region",
        bbox=grid.bbox,
        resolution_deg=1.0,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            train=DateRange(START, START + dt.timedelta(days=19)),
            validation=DateRange(START + dt.timedelta(days=20), START + dt.timedelta(days=25)),
            test=DateRange(START + dt.timedelta(days=26), START + dt.timedelta(days=40)),
        ),
        open_boundaries=OpenBoundaries(("west", "south"), width=width),
    )
