"""Local files as a data source: netCDF (one file, many files, a glob) and zarr stores."""

from __future__ import annotations

import datetime as dt
import glob as globmod
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import SourceDataset
from glonet_regions.data.sources.base import (
    dataset_id_of,
    rename_to_short_names,
    source_variable_names,
    subset_dataset,
)

__all__ = [
    "LocalSource",
    "check_netcdf3_complete",
    "expand_paths",
    "is_zarr_store",
    "open_paths",
]

PathLike = str | os.PathLike[str]


def is_zarr_store(path: Path) -> bool:
    """Whether ``path`` is a zarr store (v2 or v3 metadata, or a ``.zarr`` name)."""
    if path.suffix == ".zarr":
        return True
    return path.is_dir() and any(
        (path / meta).exists() for meta in ("zarr.json", ".zgroup", ".zarray", ".zmetadata")
    )


def expand_paths(obj: PathLike | Sequence[PathLike]) -> list[Path]:
    """Files named by a path, a glob pattern or a list of them (sorted, deduplicated).

    Raises:
        DataError: A pattern matches nothing or a path does not exist.
    """
    items = [obj] if isinstance(obj, str | os.PathLike) else list(obj)
    if not items:
        raise DataError("No input file given")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if globmod.has_magic(text):
            matches = sorted(globmod.glob(os.path.expanduser(text)))
            if not matches:
                raise DataError(f"No file matches {text!r}")
            out.extend(Path(m) for m in matches)
        else:
            path = Path(text).expanduser()
            if not path.exists():
                raise DataError(f"Input file {path} does not exist")
            out.append(path)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def check_netcdf3_complete(path: Path) -> None:
    """Raise :class:`DataError` if a classic (NETCDF3) file is shorter than its header says.

    The netCDF-C library opens a truncated classic file and returns fill values for the
    missing bytes without complaint; this reads the header only (HDF5-based files are checked
    by the HDF5 library itself when opened).
    """
    from glonet_regions.data.netcdf3 import classic_required_size

    try:
        required = classic_required_size(path)
    except ValueError as exc:
        raise DataError(f"{path}: truncated or corrupt netCDF header ({exc})") from None
    if required is not None and path.stat().st_size < required:
        raise DataError(
            f"{path}: truncated netCDF file: {path.stat().st_size} bytes, but its header "
            f"describes {required} bytes of data"
        )


def _zarr_consolidated(path: Path) -> bool:
    """Whether a zarr store carries consolidated metadata (v2 ``.zmetadata`` or v3 inline)."""
    if (path / ".zmetadata").is_file():
        return True
    meta = path / "zarr.json"
    if meta.is_file():
        try:
            return bool(json.loads(meta.read_text()).get("consolidated_metadata"))
        except (OSError, ValueError):
            return False
    return False


def _open_one(path: Path, *, engine: str | None, chunks: Any) -> xr.Dataset:
    try:
        if is_zarr_store(path):
            return xr.open_zarr(path, chunks=chunks, consolidated=_zarr_consolidated(path))
        check_netcdf3_complete(path)
        return xr.open_dataset(path, engine=engine, chunks=chunks)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as netCDF or zarr ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from None


def open_paths(
    obj: PathLike | Sequence[PathLike],
    *,
    engine: str | None = None,
    chunks: Any = None,
) -> tuple[xr.Dataset, str]:
    """Open one or many netCDF files or zarr stores as one dataset.

    Several files are combined by coordinates (usually consecutive periods). Returns the
    dataset and a label naming the input (for error messages).

    Raises:
        DataError: Nothing matches, a file is unreadable (truncated, corrupt) or the files do
            not combine; the message names the file(s).
    """
    paths = expand_paths(obj)
    label = str(paths[0]) if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more files)"
    parts = [_open_one(p, engine=engine, chunks=chunks) for p in paths]
    if len(parts) == 1:
        ds = parts[0]
    else:
        try:
            ds = xr.combine_by_coords(parts, combine_attrs="drop_conflicts")  # type: ignore[assignment]
        except Exception as exc:
            raise DataError(
                f"Files {[str(p) for p in paths]} do not combine into one dataset by their "
                f"coordinates ({type(exc).__name__}: {exc})"
            ) from None
    ds.attrs["glonet_source"] = label
    return ds, label


class LocalSource:
    """Local netCDF files and zarr stores.

    Args:
        engine: xarray engine for netCDF files (default: xarray's choice).
        chunks: Dask chunks passed to xarray (default: no dask, lazy loading).
        root: Folder relative paths are resolved against.
    """

    name = "local"

    def __init__(
        self, *, engine: str | None = None, chunks: Any = None, root: PathLike | None = None
    ) -> None:
        self.engine = engine
        self.chunks = chunks
        self.root = Path(root) if root is not None else None

    def _resolve(self, obj: SourceDataset | PathLike | Sequence[PathLike]) -> list[str]:
        if isinstance(obj, SourceDataset):
            items: list[str] = [obj.dataset_id]
        elif isinstance(obj, str | os.PathLike):
            items = [os.fspath(obj)]
        else:
            items = [os.fspath(p) for p in obj]
        if self.root is not None:
            items = [i if os.path.isabs(i) else os.fspath(self.root / i) for i in items]
        return items

    def open(
        self,
        dataset: SourceDataset | PathLike | Sequence[PathLike],
        *,
        bbox: BBox | None = None,
        depth_range: tuple[float, float] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        variables: list[str] | None = None,
    ) -> xr.Dataset:
        """Open files (a path, glob or list; or a SourceDataset whose id is one) and sub-set.

        ``variables`` are our short names, translated through ``SourceDataset.variables``
        when given; the result uses our short names for mapped variables.
        """
        ds, label = open_paths(self._resolve(dataset), engine=self.engine, chunks=self.chunks)
        key: SourceDataset | str = (
            dataset if isinstance(dataset, SourceDataset) else dataset_id_of(label)
        )
        ds = subset_dataset(
            ds,
            bbox=bbox,
            depth_range=depth_range,
            start=start,
            end=end,
            variables=source_variable_names(key, variables),
            source=label,
        )
        return rename_to_short_names(ds, key)
