"""Applying weights NaN-aware, without ESMF, on numpy arrays (``(..., nlat, nlon)``).

For each destination cell the weights are renormalised over the valid source cells (finite and,
when a source mask is given, ocean): ``out = W @ (x * valid) / W @ valid``. A destination cell
whose valid weight sum is at most ``threshold`` becomes NaN (weights are fractions of the
destination cell, so for conservative weights this is the ocean-covered fraction). Land values
therefore never reach an ocean cell, and a destination mask keeps land NaN. With
``fill="nearest"`` the remaining NaN ocean cells take the value of the nearest valid source
cell (great-circle distance), optionally within ``fill_max_distance`` degrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glonet_regions.core.errors import GridMismatchError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.matrix import RegridWeights

#: A destination cell needs more valid weight than this (a fraction of itself) to get a value.
DEFAULT_THRESHOLD = 1e-3
FILLS = (None, "none", "nearest")
_CHUNK_BYTES = 256 * 2**20


def _as_mask(mask: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    """A boolean ocean mask broadcast to ``shape`` (``(..., nlat, nlon)``)."""
    if mask is None:
        return None
    arr = getattr(mask, "ocean", mask)  # a LandSeaMask
    arr = np.asarray(getattr(arr, "values", arr))
    if arr.dtype != np.bool_:
        arr = np.isfinite(arr) & (arr != 0) if arr.dtype.kind == "f" else arr.astype(bool)
    if arr.shape[-2:] != shape[-2:]:
        raise GridMismatchError(
            f"The {what} mask has shape {arr.shape}; its last two axes must be {shape[-2:]}"
        )
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        if arr.ndim > 2:  # e.g. a (levels, lat, lon) mask for a surface field: use the top level
            return np.broadcast_to(arr.reshape(-1, *arr.shape[-2:])[0], shape)
        raise GridMismatchError(
            f"The {what} mask of shape {arr.shape} does not broadcast to the data {shape}"
        ) from None


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return np.stack(
        [np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1
    ).reshape(-1, 3)


def apply_weights(
    weights: RegridWeights,
    data: Any,
    *,
    src_mask: Any = None,
    dst_mask: Any = None,
    fill: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    fill_max_distance: float | None = None,
) -> np.ndarray:
    """Regrid ``data`` (``(..., nlat, nlon)`` on the source grid) with ``weights``.

    Args:
        weights: The weights (with grids attached for ``fill="nearest"``).
        data: Array whose last two axes are the source ``(nlat, nlon)``; NaN marks land/missing.
        src_mask: Boolean source ocean mask (True = ocean) broadcastable to ``data``, or a
            :class:`~glonet_regions.core.mask.LandSeaMask`; masked cells are ignored.
        dst_mask: Boolean destination ocean mask; destination land is NaN.
        fill: None (default) or ``"nearest"``: fill NaN destination ocean cells from the
            nearest valid source cell.
        threshold: Minimum valid weight sum (exclusive) for a destination value.
        fill_max_distance: Maximum great-circle distance (degrees) for ``fill="nearest"``;
            default: unlimited with a ``dst_mask``, else two source cells.

    Returns:
        Array of shape ``(..., dst_nlat, dst_nlon)``, float32 for float32 input, else float64.
    """
    if fill not in FILLS:
        raise ValidationError(f"Unknown fill {fill!r}; expected None or 'nearest'")
    arr = np.asarray(data)
    if arr.ndim < 2 or arr.shape[-2:] != weights.src_shape:
        raise GridMismatchError(
            f"Data of shape {arr.shape} do not end in the source grid shape {weights.src_shape}"
        )
    out_dtype = np.float32 if arr.dtype == np.float32 else np.float64
    lead = arr.shape[:-2]
    n_src, n_dst = weights.n_src, weights.n_dst
    flat = arr.reshape(-1, n_src)
    k = flat.shape[0]
    smask = _as_mask(src_mask, arr.shape, "source")
    smask_flat = None if smask is None else smask.reshape(k, n_src)
    dmask = _as_mask(dst_mask, (*lead, *weights.dst_shape), "destination")
    dmask_flat = None if dmask is None else dmask.reshape(k, n_dst)
    matrix = weights.matrix
    out = np.empty((k, n_dst), dtype=out_dtype)
    step = max(1, _CHUNK_BYTES // (8 * 3 * (n_src + n_dst)))
    for start in range(0, k, step):
        block = flat[start : start + step].astype(np.float64, copy=False)
        valid = np.isfinite(block)
        if smask_flat is not None:
            valid &= smask_flat[start : start + step]
        x = np.where(valid, block, 0.0)
        num = (matrix @ x.T).T
        if valid.all() or (valid == valid[:1]).all():
            den = np.broadcast_to(matrix @ valid[0].astype(np.float64), num.shape)
        else:
            den = (matrix @ valid.T.astype(np.float64)).T
        with np.errstate(invalid="ignore", divide="ignore"):
            res = np.where(den > threshold, num / den, np.nan)
        if dmask_flat is not None:
            res = np.where(dmask_flat[start : start + step], res, np.nan)
        out[start : start + step] = res
    if fill == "nearest":
        _fill_nearest(weights, flat, smask_flat, dmask_flat, out, fill_max_distance)
    return out.reshape(*lead, *weights.dst_shape)


def _fill_nearest(
    weights: RegridWeights,
    flat: np.ndarray,
    smask: np.ndarray | None,
    dmask: np.ndarray | None,
    out: np.ndarray,
    max_distance: float | None,
) -> None:
    from scipy.spatial import cKDTree

    src, dst = weights.src_grid, weights.dst_grid
    if src is None or dst is None:
        raise ValidationError("fill='nearest' needs weights that know their grids")
    if max_distance is None and dmask is None:
        max_distance = 2.0 * max(src.dlat, src.dlon)
    chord = np.inf if max_distance is None else 2 * np.sin(np.deg2rad(min(max_distance, 180)) / 2)
    xyz_src, xyz_dst = _xyz(src.lat, src.lon), _xyz(dst.lat, dst.lon)
    groups: dict[bytes, list[int]] = {}
    valid_all = np.isfinite(flat)
    if smask is not None:
        valid_all &= smask
    for col in range(flat.shape[0]):
        groups.setdefault(np.packbits(valid_all[col]).tobytes(), []).append(col)
    for cols in groups.values():
        valid = valid_all[cols[0]]
        if not valid.any():
            continue
        need = np.isnan(out[cols])
        if dmask is not None:
            need &= dmask[cols]
        points = np.flatnonzero(need.any(axis=0))
        if points.size == 0:
            continue
        src_idx = np.flatnonzero(valid)
        dist, nearest = cKDTree(xyz_src[src_idx]).query(
            xyz_dst[points], distance_upper_bound=chord * (1 + 1e-12)
        )
        found = np.isfinite(dist)
        points, source = points[found], src_idx[nearest[found]]
        for row, col in enumerate(cols):
            sel = need[row, points]
            out[col, points[sel]] = flat[col, source[sel]]


class BaseRegridder:
    """Common behaviour of every regridder: weights plus NaN-aware application.

    Args:
        weights: The weights (with source and target grids attached).
        threshold: See :func:`apply_weights`.
        fill: Default fill (None or ``"nearest"``).
        fill_max_distance: See :func:`apply_weights`.
    """

    def __init__(
        self,
        weights: RegridWeights,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        fill: str | None = None,
        fill_max_distance: float | None = None,
    ) -> None:
        if fill not in FILLS:
            raise ValidationError(f"Unknown fill {fill!r}; expected None or 'nearest'")
        if weights.src_grid is None or weights.dst_grid is None:
            raise ValidationError("A regridder needs weights attached to both grids")
        self.weights = weights
        self.threshold = float(threshold)
        self.fill = fill
        self.fill_max_distance = fill_max_distance

    @property
    def source_grid(self) -> Grid:
        assert self.weights.src_grid is not None
        return self.weights.src_grid

    @property
    def target_grid(self) -> Grid:
        assert self.weights.dst_grid is not None
        return self.weights.dst_grid

    @property
    def method(self) -> str:
        return self.weights.method

    def regrid(
        self,
        obj: Any,
        *,
        src_mask: Any = None,
        dst_mask: Any = None,
        fill: str | None = None,
    ) -> Any:
        """Regrid a numpy array ``(..., nlat, nlon)`` or an xarray DataArray/Dataset.

        xarray objects keep their variables, attributes, non-spatial dimensions and NaN land;
        their lat/lon coordinates become the target grid's. Their grid must be the source grid.
        """
        fill = self.fill if fill is None else fill
        if _is_xarray(obj):
            from glonet_regions.data.regrid.xarray_apply import regrid_xarray

            return regrid_xarray(self, obj, src_mask=src_mask, dst_mask=dst_mask, fill=fill)
        return self.apply_array(obj, src_mask=src_mask, dst_mask=dst_mask, fill=fill)

    __call__ = regrid

    def apply_array(
        self, array: Any, *, src_mask: Any = None, dst_mask: Any = None, fill: str | None = None
    ) -> np.ndarray:
        """:func:`apply_weights` with this regridder's settings."""
        return apply_weights(
            self.weights,
            array,
            src_mask=src_mask,
            dst_mask=dst_mask,
            fill=fill,
            threshold=self.threshold,
            fill_max_distance=self.fill_max_distance,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, source={self.source_grid}, "
            f"target={self.target_grid}, nnz={self.weights.nnz})"
        )


def _is_xarray(obj: Any) -> bool:
    module = type(obj).__module__
    return module.startswith("xarray.") and type(obj).__name__ in ("DataArray", "Dataset")
