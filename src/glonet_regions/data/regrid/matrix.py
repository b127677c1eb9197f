"""Regridding weights as a sparse matrix, and their ESMF/xesmf netCDF file format.

A weight matrix ``W`` has shape ``(n_dst, n_src)`` over flattened ``(lat, lon)`` cells (C order:
index ``ilat * nlon + ilon``, the order xesmf and ESMF use). On disk it is the layout ESMF's
``ESMF_RegridWeightGen`` and xesmf's ``Regridder.to_netcdf`` write: variables ``S``, ``row``
(destination index) and ``col`` (source index) along dimension ``n_s``, indices 1-based, plus
dimensions ``n_a`` (source size) and ``n_b`` (destination size) and the grid dimensions.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from glonet_regions.core.errors import DataError, GridMismatchError, ValidationError
from glonet_regions.core.grid import Grid

#: Methods every backend understands, and the spellings accepted for them.
METHODS = ("bilinear", "conservative", "nearest")
_ALIASES = {
    "nearest_s2d": "nearest",
    "conservative_normed": "conservative",
    "linear": "bilinear",
}
_ESMF_METHOD_NAMES = {
    "bilinear": "Bilinear remapping",
    "conservative": "Conservative remapping",
    "nearest": "Nearest source to destination",
}


def normalise_method(method: str) -> str:
    """The canonical method name (``bilinear``, ``conservative`` or ``nearest``).

    Raises:
        ValidationError: for an unknown method, naming the known ones.
    """
    name = _ALIASES.get(str(method).lower(), str(method).lower())
    if name not in METHODS:
        raise ValidationError(
            f"Unknown regridding method {method!r}; expected one of {', '.join(METHODS)} "
            f"(or {', '.join(_ALIASES)})"
        )
    return name


@dataclass(frozen=True, eq=False)
class RegridWeights:
    """A sparse regridding matrix with the grid shapes it maps between.

    Attributes:
        matrix: CSR matrix of shape ``(n_dst, n_src)``.
        src_shape: Source ``(nlat, nlon)``.
        dst_shape: Destination ``(nlat, nlon)``.
        method: ``bilinear``, ``conservative`` or ``nearest``.
        src_grid: The source grid, when known (needed for ``fill="nearest"``).
        dst_grid: The destination grid, when known.
    """

    matrix: sp.csr_matrix
    src_shape: tuple[int, int]
    dst_shape: tuple[int, int]
    method: str
    src_grid: Grid | None = None
    dst_grid: Grid | None = None

    def __post_init__(self) -> None:
        matrix = sp.csr_matrix(self.matrix, dtype=np.float64)
        src_shape = (int(self.src_shape[0]), int(self.src_shape[1]))
        dst_shape = (int(self.dst_shape[0]), int(self.dst_shape[1]))
        n_src, n_dst = src_shape[0] * src_shape[1], dst_shape[0] * dst_shape[1]
        if matrix.shape != (n_dst, n_src):
            raise ValidationError(
                f"Weight matrix shape {matrix.shape} does not fit grids {dst_shape} <- {src_shape} "
                f"(expected ({n_dst}, {n_src}))"
            )
        if self.src_grid is not None and self.src_grid.shape != src_shape:
            raise GridMismatchError(f"Source grid {self.src_grid} is not of shape {src_shape}")
        if self.dst_grid is not None and self.dst_grid.shape != dst_shape:
            raise GridMismatchError(f"Destination grid {self.dst_grid} is not of shape {dst_shape}")
        matrix.sum_duplicates()
        matrix.sort_indices()
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "src_shape", src_shape)
        object.__setattr__(self, "dst_shape", dst_shape)
        object.__setattr__(self, "method", normalise_method(self.method))

    @property
    def n_src(self) -> int:
        return self.src_shape[0] * self.src_shape[1]

    @property
    def n_dst(self) -> int:
        return self.dst_shape[0] * self.dst_shape[1]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def row_sums(self) -> np.ndarray:
        """Sum of the weights of every destination cell, shape ``dst_shape``."""
        return np.asarray(self.matrix.sum(axis=1)).reshape(self.dst_shape)

    def with_grids(self, src_grid: Grid | None, dst_grid: Grid | None) -> RegridWeights:
        """The same weights, attached to grids (their shapes must match)."""
        return RegridWeights(self.matrix, self.src_shape, self.dst_shape, self.method,
                             src_grid, dst_grid)  # fmt: skip

    # -- file format ------------------------------------------------------------------------
    def to_netcdf(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights in ESMF/xesmf layout, atomically (temp file, then rename)."""
        import netCDF4

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        coo = self.matrix.tocoo()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            with netcdf_lock(), netCDF4.Dataset(tmp_name, "w", format="NETCDF4") as nc:
                nc.createDimension("n_s", coo.nnz)
                nc.createDimension("n_a", self.n_src)
                nc.createDimension("n_b", self.n_dst)
                nc.createDimension("src_grid_rank", 2)
                nc.createDimension("dst_grid_rank", 2)
                s = nc.createVariable("S", "f8", ("n_s",))
                s[:] = coo.data
                row = nc.createVariable("row", "i4", ("n_s",))
                row[:] = coo.row.astype(np.int32) + 1
                col = nc.createVariable("col", "i4", ("n_s",))
                col[:] = coo.col.astype(np.int32) + 1
                # ESMF stores grid dims in Fortran order (nlon, nlat).
                sgd = nc.createVariable("src_grid_dims", "i4", ("src_grid_rank",))
                sgd[:] = np.array(self.src_shape[::-1], dtype=np.int32)
                dgd = nc.createVariable("dst_grid_dims", "i4", ("dst_grid_rank",))
                dgd[:] = np.array(self.dst_shape[::-1], dtype=np.int32)
                nc.title = "glonet-regions regridding weights"
                nc.map_method = _ESMF_METHOD_NAMES[self.method]
                nc.glonet_regions_method = self.method
                nc.Conventions = "NCAR-CSM"
                if self.src_grid is not None:
                    nc.src_grid = json.dumps(self.src_grid.to_dict())
                if self.dst_grid is not None:
                    nc.dst_grid = json.dumps(self.dst_grid.to_dict())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_netcdf(
        cls,
        path: str | os.PathLike[str],
        *,
        src_shape: tuple[int, int] | None = None,
        dst_shape: tuple[int, int] | None = None,
        method: str | None = None,
        src_grid: Grid | None = None,
        dst_grid: Grid | None = None,
    ) -> RegridWeights:
        """Read a weight file written by ESMF, xesmf or :meth:`to_netcdf`.

        Grid shapes come from the arguments, the grids, or the file's ``src_grid_dims`` /
        ``dst_grid_dims`` variables (files written by xesmf carry none, so pass the grids).
        ``n_a`` / ``n_b``, when present, are checked against them.

        Raises:
            DataError: the file is missing, unreadable or lacks ``row``/``col``/``S``.
            GridMismatchError: the file's sizes or indices do not fit the grids.
        """
        import netCDF4

        path = Path(path)
        if not path.is_file():
            raise DataError(f"Weight file {path} does not exist")
        with netcdf_lock():
            try:
                nc = netCDF4.Dataset(path, "r")
            except OSError as exc:
                raise DataError(
                    f"Weight file {path} is not a readable netCDF file: {exc}"
                ) from None
            with nc:
                contents = _read_weight_variables(nc, path)
        row, col, s, n_a, n_b, file_src, file_dst, attrs = contents
        if row.size and (row.min() < 0 or col.min() < 0):
            raise DataError(f"Weight file {path}: 'row'/'col' must be 1-based positive indices")
        src_shape = _pick_shape("source", path, src_shape, src_grid, file_src, n_a)
        dst_shape = _pick_shape("destination", path, dst_shape, dst_grid, file_dst, n_b)
        n_src, n_dst = src_shape[0] * src_shape[1], dst_shape[0] * dst_shape[1]
        if row.size and (row.max() >= n_dst or col.max() >= n_src):
            raise GridMismatchError(
                f"Weight file {path} refers to destination cell {row.max() + 1} / source cell "
                f"{col.max() + 1}, beyond the grids ({n_dst} / {n_src} cells)"
            )
        if method is None:
            method = str(attrs.get("glonet_regions_method") or _method_from_esmf(attrs, path))
        matrix = sp.csr_matrix((s, (row, col)), shape=(n_dst, n_src))
        return cls(matrix, src_shape, dst_shape, method, src_grid, dst_grid)


def _grid_dims(nc: Any, name: str) -> tuple[int, int] | None:
    if name not in nc.variables:
        return None
    dims = [int(v) for v in np.asarray(nc.variables[name][:]).ravel()]
    if len(dims) != 2:
        return None
    return (dims[1], dims[0])  # Fortran (nlon, nlat) -> (nlat, nlon)


def _pick_shape(
    what: str,
    path: Path,
    given: tuple[int, int] | None,
    grid: Grid | None,
    from_file: tuple[int, int] | None,
    n: int | None,
) -> tuple[int, int]:
    candidates = [c for c in (given, grid.shape if grid is not None else None) if c is not None]
    shape = candidates[0] if candidates else from_file
    if shape is None:
        raise GridMismatchError(
            f"Weight file {path} does not record the {what} grid shape: pass the {what} grid"
        )
    shape = (int(shape[0]), int(shape[1]))
    for other in (*candidates, from_file):
        if other is not None and tuple(other) != shape:
            raise GridMismatchError(
                f"Weight file {path} is for a {what} grid of shape {tuple(other)}, not {shape}"
            )
    if n is not None and n != shape[0] * shape[1]:
        raise GridMismatchError(
            f"Weight file {path} is for a {what} grid of {n} cells, not {shape} "
            f"({shape[0] * shape[1]} cells)"
        )
    return shape


def _method_from_esmf(attrs: dict[str, Any], path: Path) -> str:
    text = str(attrs.get("map_method", attrs.get("regrid_method", ""))).lower()
    if "conserv" in text:
        return "conservative"
    if "neare" in text:
        return "nearest"
    if "bilinear" in text or not text:
        # xesmf files carry no method attribute; bilinear is the usual case.
        return "bilinear"
    raise DataError(f"Weight file {path}: unknown map_method {attrs.get('map_method')!r}")


def _read_weight_variables(nc: Any, path: Path) -> tuple[Any, ...]:
    """The arrays and attributes of an open weight file (called under :func:`netcdf_lock`)."""
    missing = [v for v in ("row", "col", "S") if v not in nc.variables]
    if missing:
        raise DataError(
            f"Weight file {path} lacks variable(s) {missing}; an ESMF/xesmf weight file "
            "holds 1-based 'row' (destination), 'col' (source) and 'S' (weight)"
        )
    row = np.asarray(nc.variables["row"][:], dtype=np.int64) - 1
    col = np.asarray(nc.variables["col"][:], dtype=np.int64) - 1
    s = np.asarray(nc.variables["S"][:], dtype=np.float64)
    n_a = len(nc.dimensions["n_a"]) if "n_a" in nc.dimensions else None
    n_b = len(nc.dimensions["n_b"]) if "n_b" in nc.dimensions else None
    file_src = _grid_dims(nc, "src_grid_dims")
    file_dst = _grid_dims(nc, "dst_grid_dims")
    attrs: dict[str, Any] = {k: nc.getncattr(k) for k in nc.ncattrs()}
    return row, col, s, n_a, n_b, file_src, file_dst, attrs


def netcdf_lock() -> Any:
    """The lock that serialises netCDF/HDF5 library calls (neither library is thread-safe).

    xarray's own lock is reused where xarray is installed, so our direct netCDF4 calls and
    xarray's reads in other threads (dask) never run inside the C libraries at the same time.
    """
    try:
        from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK
    except ImportError:  # pragma: no cover - xarray is a dependency
        return _FALLBACK_LOCK
    return NETCDF4_PYTHON_LOCK


_FALLBACK_LOCK = threading.Lock()
