"""The built-in components: sources, regridders, boundary providers, metrics, assets and the
folder of region files that depend on no plugin (``glonet_regions/regions/``: ``glo4``).

Everything is registered by import string (``"module:attribute"``), resolved on first use,
so loading the registry imports none of these modules (nor xarray, torch or the toolbox).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from glonet_regions.registry.markers import hookimpl

SOURCES = {
    "copernicusmarine": "glonet_regions.data.sources.copernicus:CopernicusMarineSource",
    "local": "glonet_regions.data.sources.local:LocalSource",
}
REGRIDDERS = {
    "builtin": "glonet_regions.data.regrid.builtin:BuiltinRegridder",
    "weights-file": "glonet_regions.data.regrid.weights:WeightsFileRegridder",
    "xesmf": "glonet_regions.data.regrid.xesmf_backend:XesmfRegridder",
}
BOUNDARY_PROVIDERS = {
    "strip": "glonet_regions.boundary.providers:StripBoundary",
    "relaxation": "glonet_regions.boundary.providers:RelaxationBoundary",
    "none": "glonet_regions.boundary.providers:NoBoundary",
}
#: name -> (import string, scoring convention)
METRICS = {
    "rmsd": ("glonet_regions.evaluation.metrics:rmsd_oceanbench", "oceanbench"),
    "rmse": ("glonet_regions.evaluation.metrics:rmse", "weatherbench2"),
    "bias": ("glonet_regions.evaluation.metrics:bias", "weatherbench2"),
    "acc": ("glonet_regions.evaluation.metrics:acc", "weatherbench2"),
}
ASSETS = "glonet_regions.data.assets:GLONET_ASSETS"
#: Region files shipped with glonet-regions: regions that depend on no plugin (GLONET's grid).
BUILTIN_REGIONS_DIR = Path(__file__).resolve().parent.parent / "regions"


@hookimpl
def register_region_paths(register: Callable[[Path], None]) -> None:
    """The built-in folder of region files."""
    register(BUILTIN_REGIONS_DIR)


@hookimpl
def register_sources(register: Callable[..., None]) -> None:
    """Copernicus Marine toolbox and local files."""
    for name, target in SOURCES.items():
        register(name, target)


@hookimpl
def register_regridders(register: Callable[..., None]) -> None:
    """The built-in weights, ESMF weight files and xesmf."""
    for name, target in REGRIDDERS.items():
        register(name, target)


@hookimpl
def register_boundary_providers(register: Callable[..., None]) -> None:
    """Strip overwrite, Davies relaxation and no forcing."""
    for name, target in BOUNDARY_PROVIDERS.items():
        register(name, target)


@hookimpl
def register_metrics(register: Callable[..., None]) -> None:
    """OceanBench RMSD and WeatherBench-2 RMSE, bias and ACC."""
    for name, (target, convention) in METRICS.items():
        register(name, target, convention=convention)


@hookimpl
def register_assets(register: Callable[..., None]) -> None:
    """GLONET's published weights and normalisation statistics."""
    register(ASSETS)
