"""On-disk cache of regridding weights, keyed by both grids and the method.

Folder: ``$GLONET_REGIONS_CACHE/regrid`` (default ``~/.cache/glonet-regions/regrid``). Files are
ESMF/xesmf weight files written atomically, so a crashed or concurrent writer never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.matrix import RegridWeights

CACHE_ENV = "GLONET_REGIONS_CACHE"


def cache_root() -> Path:
    """The package cache folder (``$GLONET_REGIONS_CACHE`` or ``~/.cache/glonet-regions``)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "glonet-regions"


def regrid_cache_dir() -> Path:
    """The folder holding cached weight files."""
    return cache_root() / "regrid"


def weights_key(src: Grid, dst: Grid, method: str, backend: str) -> str:
    """A stable hash of the source grid, target grid, method and backend."""
    text = "|".join((src.fingerprint(), dst.fingerprint(), method, backend))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def weights_path(src: Grid, dst: Grid, method: str, backend: str) -> Path:
    """Where the weights for these grids and method are cached."""
    return regrid_cache_dir() / f"{method}_{backend}_{weights_key(src, dst, method, backend)}.nc"


def load_or_build(
    src: Grid,
    dst: Grid,
    method: str,
    *,
    backend: str,
    build: Callable[[], RegridWeights],
) -> RegridWeights:
    """Cached weights if present and readable, else ``build()`` them and cache them."""
    path = weights_path(src, dst, method, backend)
    if path.is_file():
        try:
            return RegridWeights.from_netcdf(path, src_grid=src, dst_grid=dst, method=method)
        except DataError:
            pass  # unreadable (e.g. truncated by a full disk): rebuild below
    weights = build()
    with contextlib.suppress(OSError):  # a read-only cache must not stop regridding
        weights.to_netcdf(path)
    return weights
