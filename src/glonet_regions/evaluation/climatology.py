"""Day-of-year climatology of daily fields (for ACC and the climatology baseline).

The climatology is the mean over the years of each day of the year (1..366), smoothed with a
circular running window of ``window`` days (a few years of training data leave single days
noisy). It is computed in blocks of days so a long training period never has to fit in memory
at once. Compute it from the training split only, so the test period never leaks into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.evaluation.writer import FIRST_DAY, LEAD, cube_dates

__all__ = ["DOY", "climatology_cube", "doy_climatology", "doy_of"]

DOY = "dayofyear"


def doy_of(days: np.ndarray) -> np.ndarray:
    """Day of year (1..366) of ``datetime64`` values."""
    d = np.asarray(days).astype("datetime64[D]")
    years = d.astype("datetime64[Y]")
    return np.asarray((d - years).astype(np.int64) + 1)


def _circular_smooth(sums: np.ndarray, counts: np.ndarray, window: int) -> np.ndarray:
    """Running box mean along axis 0 (366 days, circular), weighted by counts."""
    if window <= 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    half = window // 2
    n = sums.shape[0]
    cs = np.concatenate([sums[-half:], sums, sums[:half]], axis=0)
    cc = np.concatenate([counts[-half:], counts, counts[:half]], axis=0)
    ks = np.cumsum(cs, axis=0, dtype=np.float64)
    kc = np.cumsum(cc, axis=0, dtype=np.float64)
    ks = np.concatenate([np.zeros_like(ks[:1]), ks], axis=0)
    kc = np.concatenate([np.zeros_like(kc[:1]), kc], axis=0)
    w = 2 * half + 1
    s = ks[w : w + n] - ks[:n]
    c = kc[w : w + n] - kc[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1e-300), np.nan)


def doy_climatology(
    daily: xr.Dataset,
    *,
    window: int = 31,
    variables: Sequence[str] | None = None,
    block_days: int = 64,
) -> xr.Dataset:
    """Day-of-year climatology of a daily dataset.

    Args:
        daily: Daily fields with a ``time`` dimension (already restricted to the training
            period). May be dask-backed; it is read ``block_days`` days at a time.
        window: Width in days of the circular running mean (odd; 1 disables smoothing).
        variables: Variables to include (default: all).
        block_days: Days read per block.

    Returns:
        A dataset with a ``dayofyear`` dimension (1..366) in place of ``time``. Days of the year
        not covered even after smoothing are NaN; a cell that is NaN on every day stays NaN.
    """
    if "time" not in daily.dims or daily.sizes["time"] == 0:
        raise DataError("A climatology needs daily data with a non-empty 'time' dimension")
    if window < 1:
        raise ValidationError(f"Climatology window must be >= 1 day, got {window}")
    names = list(variables) if variables is not None else [str(v) for v in daily.data_vars]
    doys = doy_of(daily["time"].values) - 1
    out: dict[str, Any] = {}
    for name in names:
        da = daily[name].transpose("time", ...)
        shape = (366, *da.shape[1:])
        sums = np.zeros(shape, dtype=np.float64)
        counts = np.zeros(shape, dtype=np.float64)
        for b in range(0, da.shape[0], block_days):
            block = np.asarray(da[b : b + block_days].values, dtype=np.float64)
            ok = np.isfinite(block)
            np.add.at(sums, doys[b : b + block_days], np.where(ok, block, 0.0))
            np.add.at(counts, doys[b : b + block_days], ok)
        clim = _circular_smooth(sums, counts, window).astype(np.float32)
        out[name] = ((DOY, *da.dims[1:]), clim, dict(da.attrs))
    coords: dict[str, Any] = {
        str(c): daily[c] for c in daily.coords if c != "time" and "time" not in daily[c].dims
    }
    coords[DOY] = np.arange(1, 367)
    ds = xr.Dataset(out, coords=coords)
    ds.attrs.update(
        climatology_window_days=window,
        climatology_period=f"{str(daily['time'].values.min())[:10]} to "
        f"{str(daily['time'].values.max())[:10]}",
        climatology_n_days=int(daily.sizes["time"]),
    )
    return ds


def climatology_cube(clim: xr.Dataset, first_days: Sequence[Any], n_lead: int) -> xr.Dataset:
    """The climatology laid out as a forecast cube (value of each valid date's day of year)."""
    starts = cube_dates(first_days).astype("datetime64[D]")
    valid = starts[:, None] + np.arange(n_lead)[None, :]
    doys = doy_of(valid.ravel())
    picked = clim.sel({DOY: doys})
    data_vars: dict[str, Any] = {}
    for name, da in picked.data_vars.items():
        da = da.transpose(DOY, ...)
        arr = np.asarray(da.values).reshape(starts.size, n_lead, *da.shape[1:])
        data_vars[str(name)] = ((FIRST_DAY, LEAD, *da.dims[1:]), arr, da.attrs)
    coords: dict[str, Any] = {
        FIRST_DAY: starts.astype("datetime64[ns]"),
        LEAD: np.arange(n_lead, dtype=np.int64),
    }
    for c in ("depth", "latitude", "longitude"):
        if c in clim.coords:
            coords[c] = clim[c].values
    return xr.Dataset(data_vars, coords=coords, attrs=dict(clim.attrs))
