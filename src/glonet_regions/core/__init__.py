"""Core abstractions: variables, depth levels, grids, masks and regions (no torch, no I/O)."""

from glonet_regions.core.depth import (
    GLONET_DEPTH_SCHEME,
    GLONET_LEVELS,
    DepthGroup,
    DepthLevels,
    DepthScheme,
)
from glonet_regions.core.errors import (
    ConfigError,
    DataError,
    GlonetRegionsError,
    GridMismatchError,
    ValidationError,
)
from glonet_regions.core.grid import EARTH_RADIUS_M, BBox, Grid, GridIndex, Padding
from glonet_regions.core.mask import LandSeaMask
from glonet_regions.core.region import (
    DateRange,
    DateSplits,
    GridMatch,
    GridVersion,
    OpenBoundaries,
    Region,
    SourceDataset,
    SubRegion,
)
from glonet_regions.core.variables import GLONET_VARIABLES, Variable, VariableSet

__all__ = [
    "EARTH_RADIUS_M",
    "GLONET_DEPTH_SCHEME",
    "GLONET_LEVELS",
    "GLONET_VARIABLES",
    "BBox",
    "ConfigError",
    "DataError",
    "DateRange",
    "DateSplits",
    "DepthGroup",
    "DepthLevels",
    "DepthScheme",
    "GlonetRegionsError",
    "Grid",
    "GridIndex",
    "GridMatch",
    "GridMismatchError",
    "GridVersion",
    "LandSeaMask",
    "OpenBoundaries",
    "Padding",
    "Region",
    "SourceDataset",
    "SubRegion",
    "ValidationError",
    "Variable",
    "VariableSet",
]
