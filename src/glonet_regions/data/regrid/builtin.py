"""Built-in weights for regular lat/lon grids: bilinear, first-order conservative, nearest.

Every method is separable on a regular grid, so the 2-D matrix is the Kronecker product of two
1-D operators, one along latitude and one along longitude (flattened index
``ilat * nlon + ilon`` on both sides). Nothing loops over cells.

- ``bilinear``: tensor-product linear interpolation between the four surrounding source cell
  centres; exact for ``a + b*lon + c*lat + d*lon*lat``. Destination centres outside the
  source centres' hull get no weight (NaN).
- ``conservative``: overlap area of lat/lon cells on the sphere, separable in longitude
  (length overlap) and in ``sin(lat)`` (band overlap); weight = overlap area / destination
  area. The area integral is preserved exactly where the destination lies inside the source.
- ``nearest``: the source cell whose centre is nearest in latitude and in longitude (the
  great-circle nearest except at near-ties); destination centres outside the source grid's
  cells get no weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from glonet_regions.core.errors import GridMismatchError
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.apply import BaseRegridder
from glonet_regions.data.regrid.cache import load_or_build
from glonet_regions.data.regrid.matrix import RegridWeights, normalise_method

#: Bumped whenever the weights an algorithm produces change (part of the cache key).
ALGORITHM_VERSION = "1"


def _lon_shift(src: Grid, dst: Grid) -> float:
    """A multiple of 360 that moves the destination longitudes onto the source's."""
    s_mid = 0.5 * (src.lon_bounds[0] + src.lon_bounds[-1])
    d_mid = 0.5 * (dst.lon_bounds[0] + dst.lon_bounds[-1])
    return float(360.0 * np.round((s_mid - d_mid) / 360.0))


def overlap_1d(src_edges: np.ndarray, dst_edges: np.ndarray) -> sp.csr_matrix:
    """Length of the overlap of every destination interval with every source interval.

    Args:
        src_edges: Increasing edges of the source intervals (``n_src + 1``).
        dst_edges: Increasing edges of the destination intervals (``n_dst + 1``).

    Returns:
        CSR matrix ``(n_dst, n_src)`` of overlap lengths (in the edges' units).
    """
    a = np.asarray(src_edges, dtype=np.float64)
    b = np.asarray(dst_edges, dtype=np.float64)
    n_src, n_dst = a.size - 1, b.size - 1
    lo = np.clip(np.searchsorted(a, b[:-1], side="right") - 1, 0, n_src - 1)
    hi = np.clip(np.searchsorted(a, b[1:], side="left") - 1, 0, n_src - 1)
    count = np.maximum(hi - lo + 1, 0)
    rows = np.repeat(np.arange(n_dst), count)
    starts = np.repeat(lo - np.cumsum(count) + count, count)
    cols = starts + np.arange(rows.size)
    length = np.minimum(b[1:][rows], a[cols + 1]) - np.maximum(b[:-1][rows], a[cols])
    keep = length > 0
    return sp.csr_matrix(
        (length[keep], (rows[keep], cols[keep])), shape=(n_dst, n_src), dtype=np.float64
    )


def linear_1d(src: np.ndarray, dst: np.ndarray, *, tol: float) -> sp.csr_matrix:
    """Linear interpolation weights from points ``src`` (increasing) to points ``dst``.

    Destination points outside ``[src[0] - tol, src[-1] + tol]`` get an empty row.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n_src, n_dst = src.size, dst.size
    inside = (dst >= src[0] - tol) & (dst <= src[-1] + tol)
    rows = np.flatnonzero(inside)
    if n_src == 1:
        return sp.csr_matrix(
            (np.ones(rows.size), (rows, np.zeros(rows.size, dtype=np.int64))),
            shape=(n_dst, n_src),
        )
    x = np.clip(dst[rows], src[0], src[-1])
    k = np.clip(np.searchsorted(src, x, side="right") - 1, 0, n_src - 2)
    t = (x - src[k]) / (src[k + 1] - src[k])
    data = np.concatenate([1.0 - t, t])
    r = np.concatenate([rows, rows])
    c = np.concatenate([k, k + 1])
    keep = data != 0
    return sp.csr_matrix((data[keep], (r[keep], c[keep])), shape=(n_dst, n_src))


def nearest_1d(src_edges: np.ndarray, dst: np.ndarray, *, tol: float) -> sp.csr_matrix:
    """Index of the source cell (given by its edges) holding each destination point."""
    edges = np.asarray(src_edges, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n_src = edges.size - 1
    rows = np.flatnonzero((dst >= edges[0] - tol) & (dst <= edges[-1] + tol))
    cols = np.clip(np.searchsorted(edges, dst[rows], side="right") - 1, 0, n_src - 1)
    return sp.csr_matrix(
        (np.ones(rows.size), (rows, cols)), shape=(dst.size, n_src), dtype=np.float64
    )


def _axis_operators(src: Grid, dst: Grid, method: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    shift = _lon_shift(src, dst)
    dst_lon = dst.lon + shift
    dst_lon_b = dst.lon_bounds + shift
    if method == "bilinear":
        lat_op = linear_1d(src.lat, dst.lat, tol=1e-9 * src.dlat)
        lon_op = linear_1d(src.lon, dst_lon, tol=1e-9 * src.dlon)
    elif method == "nearest":
        lat_op = nearest_1d(src.lat_bounds, dst.lat, tol=1e-9 * src.dlat)
        lon_op = nearest_1d(src.lon_bounds, dst_lon, tol=1e-9 * src.dlon)
    else:  # conservative
        s_sin = np.sin(np.deg2rad(src.lat_bounds))
        d_sin = np.sin(np.deg2rad(dst.lat_bounds))
        lat_op = sp.diags(1.0 / np.diff(d_sin)) @ overlap_1d(s_sin, d_sin)
        lon_op = sp.diags(1.0 / np.diff(dst_lon_b)) @ overlap_1d(src.lon_bounds, dst_lon_b)
    return sp.csr_matrix(lat_op), sp.csr_matrix(lon_op)


def compute_weights(src: Grid, dst: Grid, method: str) -> RegridWeights:
    """Weights from ``src`` to ``dst`` by the built-in algorithms (no cache).

    Raises:
        ValidationError: unknown method.
        GridMismatchError: the grids do not overlap at all.
    """
    method = normalise_method(method)
    shift = _lon_shift(src, dst)
    dst_box = dst.bbox
    from glonet_regions.core.grid import BBox

    shifted = BBox(dst_box.lon_min + shift, dst_box.lon_max + shift, dst_box.lat_min,
                   dst_box.lat_max)  # fmt: skip
    if src.bbox.intersection(shifted) is None:
        raise GridMismatchError(f"Source grid {src} and target grid {dst} do not overlap")
    lat_op, lon_op = _axis_operators(src, dst, method)
    matrix = sp.kron(lat_op, lon_op, format="csr")
    matrix.eliminate_zeros()
    return RegridWeights(matrix, src.shape, dst.shape, method, src, dst)


class BuiltinRegridder(BaseRegridder):
    """Regrid between regular lat/lon grids with weights computed here (cached on disk).

    Args:
        source_grid: Grid of the data to regrid.
        target_grid: Grid to regrid onto.
        method: ``bilinear``, ``conservative`` or ``nearest`` (``nearest_s2d`` accepted).
        cache: Keep weights in the cache folder (``$GLONET_REGIONS_CACHE/regrid``).
        **options: Passed to :class:`BaseRegridder` (``threshold``, ``fill``,
            ``fill_max_distance``).
    """

    def __init__(
        self,
        source_grid: Grid,
        target_grid: Grid,
        method: str = "bilinear",
        *,
        cache: bool = True,
        **options: Any,
    ) -> None:
        method = normalise_method(method)
        if cache:
            weights = load_or_build(
                source_grid,
                target_grid,
                method,
                backend=f"builtin-v{ALGORITHM_VERSION}",
                build=lambda: compute_weights(source_grid, target_grid, method),
            )
        else:
            weights = compute_weights(source_grid, target_grid, method)
        super().__init__(weights.with_grids(source_grid, target_grid), **options)
