"""Hooks of the med24 plugin: the region (from package data), its evaluation sub-regions and
its own boundary provider (``atlantic-sponge``, see :mod:`glonet_regions_med24.sponge`).

Only the public API of glonet-regions is used. The region's facts live in ``med24.yaml``; the
sub-region boxes below are data too ([lon_min, lon_max, lat_min, lat_max], degrees).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import as_file, files
from typing import Any

from glonet_regions import BBox, Region, SubRegion, hookimpl, load_region_file

REGION_NAME = "med24"
#: The boundary provider this plugin brings, registered by import string (loaded on first use).
SPONGE = ("atlantic-sponge", "glonet_regions_med24.sponge:AtlanticSponge")

#: Sub-regions scored on their own: name -> (title, [lon_min, lon_max, lat_min, lat_max]).
SUBREGIONS: dict[str, tuple[str, list[float]]] = {
    "alboran": ("Alboran Sea", [-5.5, -1.0, 35.0, 37.5]),
    "gulf_of_lion": ("Gulf of Lion", [2.5, 6.5, 41.0, 43.7]),
    "tyrrhenian": ("Tyrrhenian Sea", [9.5, 16.0, 37.5, 44.0]),
    "adriatic": ("Adriatic Sea", [12.0, 20.0, 39.8, 45.8]),
    "ionian": ("Ionian Sea", [15.0, 23.0, 32.0, 40.0]),
    "aegean": ("Aegean Sea", [22.5, 28.0, 35.0, 41.0]),
    "levantine": ("Levantine Basin", [28.0, 36.2, 31.0, 37.5]),
}


@cache
def load_region() -> Region:
    """The med24 region, built from the package's ``med24.yaml``."""
    with as_file(files("glonet_regions_med24") / "med24.yaml") as path:
        return load_region_file(path)


def subregions() -> list[SubRegion]:
    """The evaluation sub-regions of med24."""
    return [
        SubRegion(name, title, BBox.from_sequence(box, what=f"sub-region {name}"))
        for name, (title, box) in SUBREGIONS.items()
    ]


@hookimpl
def register_regions(register: Callable[[Region], None]) -> None:
    """Register med24."""
    register(load_region())


@hookimpl
def register_boundary_providers(register: Callable[..., None]) -> None:
    """The Atlantic-edge sponge med24's region file names."""
    register(*SPONGE)


@hookimpl
def register_evaluation(region: Any, register: Callable[..., None]) -> None:
    """Add med24's sub-regions when med24 is scored (and nothing for other regions)."""
    if getattr(region, "name", None) != REGION_NAME:
        return
    for sub in subregions():
        register(subregion=sub)
