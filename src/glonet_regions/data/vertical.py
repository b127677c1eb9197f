"""Vertical interpolation from a model's native depth levels to target levels.

The rule at the sea floor, applied per water column:

    A target level is wet only if it lies at or above the deepest wet native level.

The deepest wet native level is the last level holding a finite value going down the column.
A target level deeper than it (including one between it and the next, dry, native level, and
any target deeper than the last native level) is NaN: no value is ever invented below the
bottom. A target shallower than the first native level takes the first native value (no
extrapolation towards the surface). A target that equals a native level (within ``atol``
metres, so GLONET's rounded 47.37 m matches IBI's 47.37369 m) takes that level's value exactly.
Elsewhere values are linear in depth between the two bracketing native levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glonet_regions.core.errors import ValidationError

#: Two depths closer than this (m) are treated as the same level.
DEFAULT_MATCH_ATOL = 0.05


def _as_levels(values: Sequence[float] | np.ndarray, what: str, *, increasing: bool) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValidationError(
            f"{what} must be a non-empty 1-D list of depths, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{what} contains NaN or infinite depths: {arr.tolist()}")
    if increasing and arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValidationError(
            f"{what} must be strictly increasing (positive down), got {arr.tolist()}"
        )
    return arr


@dataclass(frozen=True, eq=False)
class VerticalInterpolator:
    """Precomputed bracketing indices and weights from native to target levels.

    Build it once with :meth:`build` and apply it to any number of arrays on the same native
    levels. For target ``i`` the value is ``(1 - weight[i]) * v[lower[i]] + weight[i] *
    v[upper[i]]`` where ``weight[i] > 0``, exactly ``v[lower[i]]`` where ``weight[i] == 0``, and
    NaN where ``below_all[i]`` (deeper than every native level).

    Attributes:
        native_depths: The native levels (m, strictly increasing).
        target_depths: The target levels (m, any order).
        lower: Index of the native level at or above each target.
        upper: Index of the native level below each target (``== lower`` when exact).
        weight: Linear weight of ``upper``.
        below_all: Targets deeper than the last native level (always NaN).
    """

    native_depths: np.ndarray
    target_depths: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray
    below_all: np.ndarray

    @classmethod
    def build(
        cls,
        native_depths: Sequence[float] | np.ndarray,
        target_depths: Sequence[float] | np.ndarray,
        *,
        atol: float = DEFAULT_MATCH_ATOL,
    ) -> VerticalInterpolator:
        """Indices and weights for interpolating ``native_depths`` to ``target_depths``.

        Raises:
            ValidationError: If a list is empty, not finite or (native) not strictly increasing.
        """
        native = _as_levels(native_depths, "native_depths", increasing=True)
        target = _as_levels(target_depths, "target_depths", increasing=False)
        n = native.size
        lower = np.zeros(target.size, dtype=np.int64)
        upper = np.zeros(target.size, dtype=np.int64)
        weight = np.zeros(target.size, dtype=np.float64)
        below_all = np.zeros(target.size, dtype=bool)
        for i, t in enumerate(target):
            close = np.flatnonzero(np.abs(native - t) <= atol)
            if close.size:
                j = int(close[np.argmin(np.abs(native[close] - t))])
                lower[i] = upper[i] = j
            elif t < native[0]:
                lower[i] = upper[i] = 0
            elif t > native[-1]:
                lower[i] = upper[i] = n - 1
                below_all[i] = True
            else:
                hi = int(np.searchsorted(native, t, side="right"))
                lower[i], upper[i] = hi - 1, hi
                weight[i] = (t - native[hi - 1]) / (native[hi] - native[hi - 1])
        for arr in (native, target, lower, upper, weight, below_all):
            arr.flags.writeable = False
        return cls(native, target, lower, upper, weight, below_all)

    def __call__(self, values: np.ndarray, *, axis: int = -3) -> np.ndarray:
        """Interpolate ``values`` (native levels along ``axis``) to the target levels.

        The result has the same shape except along ``axis`` (the number of targets) and a
        floating dtype (float32 stays float32). NaN marks land and below-bottom cells.
        """
        arr = np.asarray(values)
        if arr.ndim == 0:
            raise ValidationError("values must have a depth axis, got a scalar")
        ax = axis % arr.ndim if -arr.ndim <= axis < arr.ndim else None
        if ax is None:
            raise ValidationError(f"axis {axis} is out of range for an array of shape {arr.shape}")
        if arr.shape[ax] != self.native_depths.size:
            raise ValidationError(
                f"values have {arr.shape[ax]} levels along axis {axis}, but "
                f"{self.native_depths.size} native depths were given"
            )
        dtype = np.result_type(arr.dtype, np.float32)
        arr = np.moveaxis(arr.astype(dtype, copy=False), ax, 0)
        lo = arr[self.lower]
        hi = arr[self.upper]
        w = self.weight.astype(dtype).reshape((-1,) + (1,) * (arr.ndim - 1))
        interp = lo * (1 - w) + hi * w  # NaN when either bracket is dry
        out = np.where(w > 0, interp, lo)
        if self.below_all.any():
            out[self.below_all] = np.nan
        return np.moveaxis(out, 0, ax)


def interpolate_levels(
    values: np.ndarray,
    native_depths: Sequence[float] | np.ndarray,
    target_depths: Sequence[float] | np.ndarray,
    *,
    axis: int = -3,
    atol: float = DEFAULT_MATCH_ATOL,
) -> np.ndarray:
    """Interpolate a field linearly in depth from native levels to target levels.

    A target level is wet only if it lies at or above the deepest wet native level (the last
    finite value going down the column); deeper targets are NaN, so nothing is invented below
    the sea floor, and a target between the last wet native level and the next (dry) native
    level is NaN as well. A target shallower than the first native level takes the first native
    value; a target within ``atol`` metres of a native level takes that level's value exactly.

    Args:
        values: Array with the native levels along ``axis`` (e.g. ``(time, depth, lat, lon)``),
            NaN on land and below the bottom.
        native_depths: Native level depths (m, positive down, strictly increasing).
        target_depths: Target level depths (m).
        axis: The depth axis of ``values`` (default ``-3``, as in ``(..., depth, lat, lon)``).
        atol: Depths closer than this (m) count as the same level.

    Returns:
        The interpolated array, target levels along ``axis``, float32 or wider.

    Raises:
        ValidationError: If the levels are invalid or do not match ``values``.
    """
    return VerticalInterpolator.build(native_depths, target_depths, atol=atol)(values, axis=axis)


def interpolate_dataset(
    ds: Any,
    target_depths: Sequence[float] | np.ndarray,
    *,
    depth_dim: str = "depth",
    atol: float = DEFAULT_MATCH_ATOL,
) -> Any:
    """Interpolate every variable of an xarray Dataset with a ``depth`` dimension.

    Variables without the depth dimension (``zos``) pass through unchanged; the ``depth``
    coordinate becomes ``target_depths`` (its attributes are kept). Works lazily on dask-backed
    datasets (depth must then be a single chunk).

    Args:
        ds: An ``xarray.Dataset`` with a 1-D coordinate ``depth_dim``.
        target_depths: Target level depths (m).
        depth_dim: Name of the depth dimension.
        atol: Depths closer than this (m) count as the same level.

    Returns:
        A new Dataset on the target levels.
    """
    import xarray as xr

    if depth_dim not in ds.dims:
        raise ValidationError(f"Dataset has no {depth_dim!r} dimension (dims: {list(ds.dims)})")
    if depth_dim not in ds.coords:
        raise ValidationError(f"Dataset has a {depth_dim!r} dimension but no coordinate for it")
    interp = VerticalInterpolator.build(
        np.asarray(ds[depth_dim].values, dtype=np.float64), target_depths, atol=atol
    )
    targets = np.asarray(interp.target_depths)
    out_vars = {}
    for name, da in ds.data_vars.items():
        if depth_dim not in da.dims:
            out_vars[name] = da
            continue
        new = xr.apply_ufunc(
            interp,
            da,
            input_core_dims=[[depth_dim]],
            output_core_dims=[[depth_dim]],
            exclude_dims={depth_dim},
            kwargs={"axis": -1},
            dask="parallelized",
            output_dtypes=[np.result_type(da.dtype, np.float32)],
            dask_gufunc_kwargs={"output_sizes": {depth_dim: targets.size}},
            keep_attrs=True,
        )
        out_vars[name] = new.transpose(*da.dims)
    depth_coord = xr.DataArray(
        targets.astype(ds[depth_dim].dtype if ds[depth_dim].dtype.kind == "f" else np.float64),
        dims=(depth_dim,),
        attrs=dict(ds[depth_dim].attrs),
    )
    for key in ("valid_min", "valid_max", "_ChunkSizes"):
        depth_coord.attrs.pop(key, None)
    coords = {k: v for k, v in ds.coords.items() if depth_dim not in v.dims}
    coords[depth_dim] = depth_coord
    result = xr.Dataset(out_vars, coords=coords, attrs=dict(ds.attrs))
    return result
