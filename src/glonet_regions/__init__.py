"""glonet-regions: regional fine-tuning of the GLONET neural ocean forecaster.

The package root stays light (no torch, no xarray): heavy modules are imported by the
commands and functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glonet_regions.registry.markers import hookimpl

__version__ = "0.1.0"

if TYPE_CHECKING:
    from glonet_regions.core import (
        BBox,
        DateRange,
        DateSplits,
        DepthGroup,
        DepthLevels,
        DepthScheme,
        Grid,
        GridVersion,
        LandSeaMask,
        OpenBoundaries,
        Region,
        SourceDataset,
        SubRegion,
        Variable,
        VariableSet,
    )
    from glonet_regions.registry.facade import (
        Registry,
        evaluation_extras,
        get_region,
        get_registry,
        plugin_infos,
        region_names,
        reset_registry,
    )
    from glonet_regions.registry.regionfile import load_region_file

_CORE_NAMES = {
    "BBox", "DateRange", "DateSplits", "DepthGroup", "DepthLevels", "DepthScheme", "Grid",
    "GridVersion", "LandSeaMask", "OpenBoundaries", "Region", "SourceDataset", "SubRegion",
    "Variable", "VariableSet", "GLONET_VARIABLES", "GLONET_LEVELS", "GLONET_DEPTH_SCHEME",
}  # fmt: skip
_FACADE_NAMES = {
    "get_region", "region_names", "plugin_infos", "get_registry", "reset_registry", "Registry",
    "evaluation_extras",
}  # fmt: skip
_REGIONFILE_NAMES = {"load_region_file"}


def __getattr__(name: str) -> Any:
    if name in _CORE_NAMES:
        from glonet_regions import core

        return getattr(core, name)
    if name in _FACADE_NAMES:
        from glonet_regions.registry import facade

        return getattr(facade, name)
    if name in _REGIONFILE_NAMES:
        from glonet_regions.registry import regionfile

        return getattr(regionfile, name)
    raise AttributeError(f"module 'glonet_regions' has no attribute {name!r}")


__all__ = [
    "BBox", "DateRange", "DateSplits", "DepthGroup", "DepthLevels", "DepthScheme", "Grid",
    "GridVersion", "LandSeaMask", "OpenBoundaries", "Region", "SourceDataset", "SubRegion",
    "Variable", "VariableSet", "__version__", "get_region", "get_registry", "hookimpl",
    "plugin_infos", "region_names", "load_region_file", "reset_registry", "Registry",
    "evaluation_extras",
]  # fmt: skip
