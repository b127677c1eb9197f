"""The example plugin's hooks: one region in code, one folder of region files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from glonet_regions import (
    BBox,
    DateRange,
    DateSplits,
    Grid,
    GridVersion,
    OpenBoundaries,
    Region,
    SourceDataset,
    hookimpl,
)

#: GLORYS12, the global reanalysis at 1/12 degree; its nodes are lon -180 + i/12, lat -80 + j/12.
GLORYS12 = SourceDataset(
    key="glorys12",
    kind="reanalysis",
    service="copernicusmarine",
    product_id="GLOBAL_MULTIYEAR_PHY_001_030",
    dataset_id="cmems_mod_glo_phy_my_0.083deg_P1D-m",
    variables={v: v for v in ("zos", "thetao", "so", "uo", "vo")},
    description="GLORYS12 global reanalysis, daily means.",
)


def north_sea() -> Region:
    """The North Sea at 1/12 degree: centres lon -4..10, lat 51..60 (109 x 169)."""
    grid = Grid.regular(lon0=-4.0, lat0=51.0, dlon=1 / 12, dlat=1 / 12, nlon=169, nlat=109)
    return Region(
        name="northsea12",
        title="North Sea at 1/12 degree",
        description="Example region: the North Sea on GLORYS12's grid nodes.",
        bbox=BBox(-4.0, 10.0, 51.0, 60.0),
        resolution_deg=1 / 12,
        grid_versions=(GridVersion("glorys12", grid, "GLORYS12 nodes"),),
        splits=DateSplits(
            train=DateRange(date(1993, 1, 1), date(2018, 12, 31)),
            validation=DateRange(date(2019, 1, 1), date(2020, 12, 31)),
            test=DateRange(date(2021, 1, 1), date(2021, 6, 30)),
        ),
        open_boundaries=OpenBoundaries(
            edges=("north", "west", "south", "east"),
            width=4,
            provider="relaxation",
            source="glorys12",
        ),
        datasets=(GLORYS12,),
    )


@hookimpl
def register_regions(register: Callable[[Region], None]) -> None:
    """Register the North Sea region."""
    register(north_sea())


@hookimpl
def register_region_paths(register: Callable[[Path], None]) -> None:
    """Register the package's folder of region files."""
    register(Path(__file__).parent / "regions")
