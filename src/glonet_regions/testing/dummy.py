"""A tiny dummy region and a plugin registering it, for tests of glonet-regions and plugins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import (
    DateRange,
    DateSplits,
    GridVersion,
    OpenBoundaries,
    Region,
    SourceDataset,
    SubRegion,
)
from glonet_regions.registry.markers import hookimpl

DUMMY_NAME = "dummy"


def make_dummy_region(name: str = DUMMY_NAME) -> Region:
    """A 2-degree region of 10 x 12 cells (lat x lon) in the North Atlantic.

    Centres lon -20..2, lat 30..48; open on the west and south edges (2 cells, relaxation,
    forced by its ``boundary`` dataset); short train/validation/test periods in 2020; one
    local reanalysis-like dataset giving GLONET's five variables.
    """
    grid = Grid.regular(lon0=-20.0, lat0=30.0, dlon=2.0, dlat=2.0, nlon=12, nlat=10)
    names = {v: v for v in ("zos", "thetao", "so", "uo", "vo")}
    return Region(
        name=name,
        title="Dummy 2-degree test region",
        description="A tiny synthetic region for tests; not a real forecasting domain.",
        bbox=BBox(-21.0, 3.0, 29.0, 49.0),
        resolution_deg=2.0,
        grid_versions=(GridVersion("v1", grid, "The only grid"),),
        splits=DateSplits(
            train=DateRange(date(2020, 1, 1), date(2020, 1, 20)),
            validation=DateRange(date(2020, 1, 21), date(2020, 1, 26)),
            test=DateRange(date(2020, 1, 27), date(2020, 2, 5)),
        ),
        open_boundaries=OpenBoundaries(("west", "south"), 2, "relaxation", "boundary"),
        datasets=(
            SourceDataset("reanalysis", "reanalysis", "local", "dummy-reanalysis", variables=names),
            SourceDataset("boundary", "boundary", "local", "dummy-boundary", variables=names),
        ),
        evaluation_box=BBox(-20.0, 2.0, 30.0, 48.0),
        subregions=(SubRegion("west", "Western half", BBox(-20.0, -9.0, 30.0, 48.0)),),
    )


class DummyPlugin:
    """A plugin object registering the dummy region and, for it, one more sub-region.

    Register it with ``make_plugin_manager(plugins=[("dummy", DummyPlugin())])``.
    """

    def __init__(self, name: str = DUMMY_NAME) -> None:
        self.region = make_dummy_region(name)

    @hookimpl
    def register_regions(self, register: Callable[[Region], None]) -> None:
        register(self.region)

    @hookimpl
    def register_evaluation(self, region: Any, register: Callable[..., None]) -> None:
        if getattr(region, "name", None) == self.region.name:
            register(subregion=SubRegion("east", "Eastern half", BBox(-9.0, 2.0, 30.0, 48.0)))
