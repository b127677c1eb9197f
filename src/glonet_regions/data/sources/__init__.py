"""Data sources: where region datasets come from (Copernicus Marine, local files).

``BUILTIN_SOURCES`` maps the built-in source names to ``"module:attribute"`` factories, so the
registry can register them without importing xarray or the Copernicus toolbox up front.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from glonet_regions.data.sources.base import Source, dataset_id_of, subset_dataset

__all__ = ["BUILTIN_SOURCES", "Source", "dataset_id_of", "load_builtin_source", "subset_dataset"]

BUILTIN_SOURCES: dict[str, str] = {
    "copernicusmarine": "glonet_regions.data.sources.copernicus:CopernicusMarineSource",
    "local": "glonet_regions.data.sources.local:LocalSource",
}


def load_builtin_source(name: str) -> Any:
    """The factory (class) of a built-in source, imported on demand."""
    from glonet_regions.core.errors import UnknownNameError

    try:
        target = BUILTIN_SOURCES[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown built-in source {name!r}; known: {', '.join(BUILTIN_SOURCES)}"
        ) from None
    module, attr = target.split(":")
    return getattr(import_module(module), attr)
