"""Hooks of the ibi36 plugin: the region (from package data), its evaluation sub-regions and
a folder of region files built on it (``regions/``: ``biscay36``).

Only the public API of glonet-regions is used. The region's facts live in ``ibi36.yaml``;
the sub-region boxes below are data too ([lon_min, lon_max, lat_min, lat_max], degrees).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from glonet_regions import BBox, Region, SubRegion, hookimpl, load_region_file

REGION_NAME = "ibi36"
#: Region files built on ibi36 (``grid.from_region: ibi36``), resolved by the registry.
REGIONS_DIR = Path(__file__).resolve().parent / "regions"

#: Sub-regions scored on their own: name -> (title, [lon_min, lon_max, lat_min, lat_max]).
SUBREGIONS: dict[str, tuple[str, list[float]]] = {
    "bay_of_biscay": ("Bay of Biscay", [-10.0, -1.0, 43.0, 48.5]),
    "iberian_upwelling": ("Western Iberian upwelling", [-11.0, -8.5, 37.0, 44.0]),
    "gulf_of_cadiz_gibraltar": ("Gulf of Cadiz and Strait of Gibraltar", [-9.5, -5.0, 35.0, 37.5]),
    "celtic_sea": ("Celtic Sea", [-11.0, -5.0, 48.5, 52.0]),
    "canary": ("Canary Islands and the NW African upwelling", [-19.0, -9.0, 26.17, 32.0]),
}


@cache
def load_region() -> Region:
    """The ibi36 region, built from the package's ``ibi36.yaml``."""
    with as_file(files("glonet_regions_ibi36") / "ibi36.yaml") as path:
        return load_region_file(path)


def subregions() -> list[SubRegion]:
    """The evaluation sub-regions of ibi36."""
    return [
        SubRegion(name, title, BBox.from_sequence(box, what=f"sub-region {name}"))
        for name, (title, box) in SUBREGIONS.items()
    ]


@hookimpl
def register_regions(register: Callable[[Region], None]) -> None:
    """Register ibi36."""
    register(load_region())


@hookimpl
def register_region_paths(register: Callable[[Path], None]) -> None:
    """Register the folder of region files built on ibi36 (``biscay36``)."""
    register(REGIONS_DIR)


@hookimpl
def register_evaluation(region: Any, register: Callable[..., None]) -> None:
    """Add ibi36's sub-regions when ibi36 is scored (and nothing for other regions)."""
    if getattr(region, "name", None) != REGION_NAME:
        return
    for sub in subregions():
        register(subregion=sub)
