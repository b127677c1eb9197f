"""Land/sea from the ``global-land-mask`` package's 1 km mask, read one latitude band at a time.

``global_land_mask.globe`` decompresses its whole 0.9 GB mask on import (about 5 s). The
sample only needs a band of latitudes, so this module streams the same file and keeps just the
rows it needs, with exactly ``globe.is_land``'s indexing. If the package's file layout is not
what we expect, it falls back to ``globe.is_land``.
"""

from __future__ import annotations

import functools
import importlib.util
import zipfile
from pathlib import Path

import numpy as np

_CHUNK = 1 << 22


def _mask_file() -> Path | None:
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "globe_combined_mask_compressed.npz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _axes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(path) as zf:
        with zf.open("lat.npy") as f:
            lat = np.lib.format.read_array(f)
        with zf.open("lon.npy") as f:
            lon = np.lib.format.read_array(f)
    return lat, lon


_CACHE: dict[Path, tuple[int, int, np.ndarray]] = {}


def _band(path: Path, row0: int, row1: int) -> tuple[int, np.ndarray]:
    """A band of the ``mask`` array (True = ocean) holding rows ``row0:row1``, and its first row.

    The last band read is kept; a request inside it is served from memory.
    """
    cached = _CACHE.get(path)
    if cached is not None and cached[0] <= row0 and row1 <= cached[1]:
        return cached[0], cached[2]
    with zipfile.ZipFile(path) as zf, zf.open("mask.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran or dtype != np.bool_ or len(shape) != 2:
            raise ValueError("unexpected mask layout")
        ncol = int(shape[1])
        _skip(f, row0 * ncol)
        data = f.read((row1 - row0) * ncol)
    band = np.frombuffer(data, dtype=np.bool_).reshape(row1 - row0, ncol)
    _CACHE.clear()
    _CACHE[path] = (row0, row1, band)
    return row0, band


def _skip(f: object, n: int) -> None:
    read = f.read  # type: ignore[attr-defined]
    while n > 0:
        got = len(read(min(n, _CHUNK)))
        if got == 0:
            break
        n -= got


def is_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Whether each point is land; same answer as ``global_land_mask.globe.is_land``."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    path = _mask_file()
    try:
        if path is None:
            raise ValueError("no mask file")
        mlat, mlon = _axes(path)
        la = np.clip(lat, mlat.min(), mlat.max())
        lo = np.clip(lon, mlon.min(), mlon.max())
        li = ((la - mlat[0]) / (mlat[1] - mlat[0])).astype(int)
        lj = ((lo - mlon[0]) / (mlon[1] - mlon[0])).astype(int)
        # Round the band outwards to 2-degree blocks so nearby requests share the cache.
        block = 240
        row0 = int(li.min()) // block * block
        row1 = min((int(li.max()) // block + 1) * block, mlat.size)
        first, band = _band(path, row0, row1)
        return np.logical_not(band[li - first, lj])
    except (ValueError, KeyError, OSError, AttributeError, zipfile.BadZipFile):
        from global_land_mask import globe

        return np.asarray(globe.is_land(lat, lon), dtype=bool)
