"""Forecast scores as plain functions on xarray, in two named conventions.

``oceanbench``: :func:`rmsd_oceanbench`, the root-mean-square deviation of OceanBench 0.4-0.6
(``oceanbench/core/rmsd.py``). The squared error is averaged over the valid latitude/longitude
cells with cos(latitude) weights, square-rooted for each forecast (start date) and only then
averaged over start dates. :func:`missing_fraction` is OceanBench's "Missing fraction": the
cos(latitude)-weighted share of the cells where the reference has a value and the forecast has
none (such cells are left out of the RMSD, and counted here).

``weatherbench2``: :func:`rmse`, :func:`bias` and :func:`acc`, WeatherBench-2 style scores
with area weights (cell areas, i.e. cos-latitude on a regular grid). RMSE takes the square
root *after* averaging the squared error over space and start dates; ACC is the
area-weighted anomaly correlation against a climatology, computed per start date and then
averaged over start dates.

Every function reduces the spatial dimensions (``latitude``, ``longitude``) and the start-date
dimension (``first_day_datetime``) when present, and keeps every other dimension
(``lead_day_index``, ``depth``...). Cells where the forecast or the reference is NaN are left out
(land, masked boundary zone, outside a sub-region): set a cell to NaN to exclude it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import ValidationError

__all__ = [
    "CONVENTIONS",
    "SPATIAL_DIMS",
    "TIME_DIM",
    "acc",
    "bias",
    "coslat_weights",
    "missing_fraction",
    "mse_map",
    "rmsd_oceanbench",
    "rmse",
]

#: The dimensions averaged over in space.
SPATIAL_DIMS: tuple[str, str] = ("latitude", "longitude")
#: The start-date dimension of a forecast cube.
TIME_DIM = "first_day_datetime"
#: Convention of each built-in metric.
CONVENTIONS: dict[str, str] = {
    "rmsd": "oceanbench",
    "rmse": "weatherbench2",
    "bias": "weatherbench2",
    "acc": "weatherbench2",
}


def _as_array(x: Any, name: str) -> xr.DataArray:
    if isinstance(x, xr.DataArray):
        return x
    raise ValidationError(f"{name} must be an xarray.DataArray, got {type(x).__name__}")


def _check_dims(forecast: xr.DataArray, spatial_dims: Sequence[str]) -> None:
    missing = [d for d in spatial_dims if d not in forecast.dims]
    if missing:
        raise ValidationError(
            f"Forecast {forecast.name or ''} lacks spatial dimension(s) {missing}; "
            f"dims are {list(forecast.dims)}"
        )


def _weights(weights: Any, like: xr.DataArray, spatial_dims: Sequence[str]) -> xr.DataArray | None:
    """Weights as a DataArray over ``spatial_dims`` (None stays None)."""
    if weights is None:
        return None
    if isinstance(weights, xr.DataArray):
        w = weights
    else:
        arr = np.asarray(weights, dtype=np.float64)
        shape = tuple(like.sizes[d] for d in spatial_dims)
        if arr.shape != shape:
            raise ValidationError(
                f"Weights of shape {arr.shape} do not match the spatial shape {shape} "
                f"of {list(spatial_dims)}"
            )
        w = xr.DataArray(arr, dims=tuple(spatial_dims))
    if np.any(np.asarray(w) < 0) or not np.all(np.isfinite(np.asarray(w))):
        raise ValidationError("Weights must be finite and >= 0")
    return w


def _weighted_mean(
    values: xr.DataArray, weights: xr.DataArray | None, dims: Sequence[str]
) -> xr.DataArray:
    """Mean of ``values`` over ``dims``, skipping NaN, with optional weights.

    Weights are renormalised over the valid cells of each slice, so a mask never biases the
    mean. A slice with no valid cell gives NaN.
    """
    dims = [d for d in dims if d in values.dims]
    valid = values.notnull()
    if weights is None:
        w: xr.DataArray = valid.astype(np.float64)
    else:
        w = weights.where(valid, 0.0)
    total = (values.fillna(0.0) * w).sum(dims)
    norm = w.sum(dims)
    return total / norm.where(norm > 0)


def _error(forecast: Any, reference: Any) -> xr.DataArray:
    f = _as_array(forecast, "forecast")
    r = _as_array(reference, "reference")
    f, r = xr.align(f, r, join="exact")
    return f - r


def mse_map(forecast: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Mean squared error per cell over start dates (for error maps)."""
    err2 = _error(forecast, reference) ** 2
    if TIME_DIM in err2.dims:
        return err2.mean(TIME_DIM, skipna=True)
    return err2


def coslat_weights(like: xr.DataArray) -> xr.DataArray:
    """cos(latitude) of ``like``'s ``latitude`` coordinate: OceanBench's spatial weights."""
    if "latitude" not in like.coords:
        raise ValidationError(
            f"{like.name or 'forecast'} has no latitude coordinate for cos(latitude) weights"
        )
    lat = like["latitude"]
    return xr.DataArray(np.cos(np.deg2rad(np.asarray(lat.values, np.float64))), dims=lat.dims)


def rmsd_oceanbench(
    forecast: xr.DataArray,
    reference: xr.DataArray,
    weights: Any = None,
    *,
    spatial_dims: Sequence[str] = SPATIAL_DIMS,
    time_dim: str = TIME_DIM,
) -> xr.DataArray:
    """OceanBench RMSD: sqrt of the cos(latitude)-weighted mean per forecast, then a date mean.

    ``sqrt(sum(w e^2) / sum(w))`` over the cells where both are valid, per start date, then
    the plain mean over start dates, as ``oceanbench.core.rmsd._rmsd``.

    Args:
        forecast: Forecast values; NaN cells are left out (see :func:`missing_fraction`).
        reference: Reference (truth) values on the same coordinates.
        weights: Spatial weights; None (default) means cos(latitude), OceanBench's. Any weights
            proportional to cos(latitude) (cell areas of a regular grid) give the same value.
        spatial_dims: Dimensions averaged in space.
        time_dim: Start-date dimension averaged after the square root (if present).

    Returns:
        The RMSD with the remaining dimensions (lead day, depth...).
    """
    err = _error(forecast, reference)
    _check_dims(err, spatial_dims)
    w = _weights(coslat_weights(err) if weights is None else weights, err, spatial_dims)
    per_forecast = _weighted_mean(err**2, w, spatial_dims) ** 0.5
    if time_dim in per_forecast.dims:
        per_forecast = per_forecast.mean(time_dim, skipna=True)
    return per_forecast.rename("rmsd")


def missing_fraction(
    forecast: xr.DataArray,
    reference: xr.DataArray,
    weights: Any = None,
    *,
    spatial_dims: Sequence[str] = SPATIAL_DIMS,
    time_dim: str = TIME_DIM,
) -> xr.DataArray:
    """OceanBench's missing fraction: weighted share of scorable cells the forecast leaves NaN.

    A cell is scorable where the reference has a value (NaN cells of ``reference`` are land or
    outside the area scored); it is missing where, in addition, the forecast is NaN. Per start
    date (and lead day...) ``sum(w missing) / sum(w scorable)``, then the mean over start dates.
    OceanBench reports one number per variable and depth: the mean of this over lead days.

    Args:
        forecast: Forecast values.
        reference: Reference values on the same coordinates.
        weights: Spatial weights; None (default) means cos(latitude), as OceanBench.
        spatial_dims: Dimensions averaged in space.
        time_dim: Start-date dimension averaged last (if present).
    """
    f = _as_array(forecast, "forecast")
    r = _as_array(reference, "reference")
    f, r = xr.align(f, r, join="exact")
    _check_dims(f, spatial_dims)
    w = _weights(coslat_weights(f) if weights is None else weights, f, spatial_dims)
    scorable = r.notnull()
    missing = (scorable & f.isnull()).astype(np.float64).where(scorable)
    out = _weighted_mean(missing, w, spatial_dims)
    if time_dim in out.dims:
        out = out.mean(time_dim, skipna=True)
    return out.rename("missing_fraction")


def rmse(
    forecast: xr.DataArray,
    reference: xr.DataArray,
    weights: Any = None,
    *,
    spatial_dims: Sequence[str] = SPATIAL_DIMS,
    time_dim: str = TIME_DIM,
) -> xr.DataArray:
    """WeatherBench-2 RMSE: area-weighted mean square error over space and dates, then sqrt.

    Args:
        forecast: Forecast values; NaN cells are left out.
        reference: Reference values.
        weights: Spatial weights (cell areas or cos-latitude); None means equal weights.
        spatial_dims: Dimensions averaged in space.
        time_dim: Start-date dimension, averaged before the square root.
    """
    err = _error(forecast, reference)
    _check_dims(err, spatial_dims)
    w = _weights(weights, err, spatial_dims)
    mse = _weighted_mean(err**2, w, spatial_dims)
    if time_dim in mse.dims:
        mse = mse.mean(time_dim, skipna=True)
    return (mse**0.5).rename("rmse")


def bias(
    forecast: xr.DataArray,
    reference: xr.DataArray,
    weights: Any = None,
    *,
    spatial_dims: Sequence[str] = SPATIAL_DIMS,
    time_dim: str = TIME_DIM,
) -> xr.DataArray:
    """WeatherBench-2 bias: area-weighted mean of ``forecast - reference`` over space and dates."""
    err = _error(forecast, reference)
    _check_dims(err, spatial_dims)
    w = _weights(weights, err, spatial_dims)
    out = _weighted_mean(err, w, spatial_dims)
    if time_dim in out.dims:
        out = out.mean(time_dim, skipna=True)
    return out.rename("bias")


def acc(
    forecast: xr.DataArray,
    reference: xr.DataArray,
    climatology: xr.DataArray,
    weights: Any = None,
    *,
    spatial_dims: Sequence[str] = SPATIAL_DIMS,
    time_dim: str = TIME_DIM,
) -> xr.DataArray:
    """WeatherBench-2 anomaly correlation coefficient.

    Anomalies are taken against ``climatology`` (same coordinates as the forecast, e.g. a
    climatology of the training split laid out as a forecast cube). For each start date
    ``ACC = sum(w f' o') / sqrt(sum(w f'^2) sum(w o'^2))`` over the valid cells (uncentred, as
    WeatherBench-2), then averaged over start dates.
    """
    f = _as_array(forecast, "forecast")
    r = _as_array(reference, "reference")
    c = _as_array(climatology, "climatology")
    f, r, c = xr.align(f, r, c, join="exact")
    _check_dims(f, spatial_dims)
    fa = f - c
    oa = r - c
    valid = fa.notnull() & oa.notnull()
    fa = fa.where(valid)
    oa = oa.where(valid)
    w = _weights(weights, f, spatial_dims)
    dims = [d for d in spatial_dims if d in fa.dims]
    ww: xr.DataArray | float = 1.0 if w is None else w
    num = (ww * fa * oa).sum(dims, skipna=True)
    den = ((ww * fa**2).sum(dims, skipna=True) * (ww * oa**2).sum(dims, skipna=True)) ** 0.5
    per_date = num / den.where(den > 0)
    if time_dim in per_date.dims:
        per_date = per_date.mean(time_dim, skipna=True)
    return per_date.rename("acc")
