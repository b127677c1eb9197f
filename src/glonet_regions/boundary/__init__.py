"""Open-boundary providers (strip overwrite, Davies relaxation, none); pluggable by name."""

from __future__ import annotations

from glonet_regions.boundary.providers import (
    BUILTIN_PROVIDERS,
    BoundaryProvider,
    NoBoundary,
    RelaxationBoundary,
    StripBoundary,
    boundary_provider_names,
    make_boundary_provider,
    provider_for_region,
)

__all__ = [
    "BUILTIN_PROVIDERS",
    "BoundaryProvider",
    "NoBoundary",
    "RelaxationBoundary",
    "StripBoundary",
    "boundary_provider_names",
    "make_boundary_provider",
    "provider_for_region",
]
