"""Climatology of daily fields by day of year (for ACC and the climatology baseline).

Two methods, both laid out on a ``dayofyear`` dimension (1..366):

- **day-of-year mean** (:data:`DOY_METHOD`): the mean over the years of each day of the year,
  smoothed with a circular running window of ``window`` days (a few years of training data
  leave single days noisy);
- **harmonic fit** (:data:`HARMONIC_METHOD`): per cell and channel, the least-squares fit of
  ``a0 + a1 cos(p) + b1 sin(p) + a2 cos(2p) + b2 sin(2p)`` with ``p = 2 pi doy / 365.25`` to
  the training days. It gives a value for every day of the year from less than a year of data.
  A harmonic is kept only while the design matrix of the training days stays well conditioned
  (condition number <= :data:`MAX_CONDITION`): from ~150 days on both are fitted, from ~60
  days the annual one only, below that the mean only; the label says which.

:func:`doy_climatology` picks (``method="auto"``, the default): the harmonic fit when the
training split spans less than a full year (fewer than 365 days from its first to its last
day: its day-of-year mean would leave the other days NaN, and be one year's weather rather than
a climatology); otherwise the day-of-year mean, with any day of the year left without data
after smoothing (a gap longer than the window in every year) filled from the harmonic fit.
The method is written to the ``climatology_method`` attribute, which the climatology cube, the
climatology baseline and the scores (``DataFrame.attrs``) carry on.

Both are computed in blocks of days so a long training period never has to fit in memory at
once. Compute them from the training split only, so the test period never leaks into them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.forecast.cube import FIRST_DAY, LEAD, cube_dates

__all__ = [
    "DOY",
    "DOY_METHOD",
    "HARMONIC_METHOD",
    "MAX_CONDITION",
    "METHODS",
    "climatology_cube",
    "doy_climatology",
    "doy_of",
    "harmonic_basis",
    "harmonic_climatology",
    "harmonic_label",
]

DOY = "dayofyear"
#: Label of the day-of-year mean (``{window}``: the smoothing window in days).
DOY_METHOD = "day-of-year mean ({window}-day window)"
#: Label of the harmonic fit with both harmonics.
HARMONIC_METHOD = "harmonic fit (annual + semi-annual) of the training split"
#: Methods of :func:`doy_climatology`.
METHODS = ("auto", "doy", "harmonic")
#: Largest condition number of the harmonic design matrix before a harmonic is dropped.
MAX_CONDITION = 100.0
_YEAR_DAYS = 365.25
_HARMONIC_NAMES = {0: "mean only", 1: "annual", 2: "annual + semi-annual"}


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


def harmonic_basis(doy: np.ndarray, n_harmonics: int = 2) -> np.ndarray:
    """Design matrix ``(len(doy), 1 + 2 n_harmonics)``: 1, cos(k p), sin(k p), k = 1..n.

    ``p = 2 pi doy / 365.25``.
    """
    phase = 2.0 * np.pi * np.asarray(doy, dtype=np.float64) / _YEAR_DAYS
    cols = [np.ones_like(phase)]
    for k in range(1, n_harmonics + 1):
        cols += [np.cos(k * phase), np.sin(k * phase)]
    return np.stack(cols, axis=1)


def _n_harmonics(doys: np.ndarray, max_harmonics: int) -> int:
    """Most harmonics (<= max) whose design matrix on ``doys`` has condition <= the limit.

    A harmonic needs two more distinct days than coefficients before it: with fewer rows than
    columns the matrix is rank-deficient whatever its (non-square) condition number says.
    """
    n_days = int(np.unique(np.asarray(doys)).size)
    for n in range(max_harmonics, 0, -1):
        if n_days < 1 + 2 * n:
            continue
        if np.linalg.cond(harmonic_basis(doys, n)) <= MAX_CONDITION:
            return n
    return 0


def harmonic_label(n_harmonics: int) -> str:
    """The method label of a harmonic fit with ``n_harmonics`` harmonics."""
    return (
        f"harmonic fit ({_HARMONIC_NAMES.get(n_harmonics, str(n_harmonics))}) of the training split"
    )


def _time_blocks(da: xr.DataArray, block_days: int) -> Any:
    """``(start, float64 block (days, cells))`` over the time axis of ``da``."""
    n_cells = int(np.prod(da.shape[1:], dtype=np.int64))
    for b in range(0, da.shape[0], block_days):
        block = np.asarray(da[b : b + block_days].values, dtype=np.float64)
        yield b, block.reshape(block.shape[0], n_cells)


def _doy_mean(da: xr.DataArray, doys: np.ndarray, window: int, block_days: int) -> np.ndarray:
    """Smoothed day-of-year mean ``(366, cells)`` of ``da`` (time first), float64."""
    n_cells = int(np.prod(da.shape[1:], dtype=np.int64))
    sums = np.zeros((366, n_cells), dtype=np.float64)
    counts = np.zeros((366, n_cells), dtype=np.float64)
    for b, block in _time_blocks(da, block_days):
        ok = np.isfinite(block)
        np.add.at(sums, doys[b : b + block.shape[0]], np.where(ok, block, 0.0))
        np.add.at(counts, doys[b : b + block.shape[0]], ok)
    return _circular_smooth(sums, counts, window)


def _harmonic_fit(
    da: xr.DataArray, doy1: np.ndarray, n_harmonics: int, block_days: int
) -> np.ndarray:
    """Harmonic fit of ``da`` (time first) evaluated at days 1..366: ``(366, cells)`` float32.

    Per cell, the normal equations ``(X' W X) c = X' W y`` (``W``: the cell's valid days) are
    accumulated block by block; cells valid on every training day share one matrix. A cell
    with data on fewer days than coefficients gets the mean of its values; a cell without data
    stays NaN.
    """
    x = harmonic_basis(doy1, n_harmonics)  # (T, p)
    p = x.shape[1]
    iu = np.triu_indices(p)
    prods = x[:, iu[0]] * x[:, iu[1]]  # (T, p(p+1)/2): the entries of x x'
    n_cells = int(np.prod(da.shape[1:], dtype=np.int64))
    xty = np.zeros((p, n_cells), dtype=np.float64)
    gram = np.zeros((prods.shape[1], n_cells), dtype=np.float64)
    count = np.zeros(n_cells, dtype=np.int64)
    for b, block in _time_blocks(da, block_days):
        nb = block.shape[0]
        ok = np.isfinite(block)
        xty += x[b : b + nb].T @ np.where(ok, block, 0.0)
        gram += prods[b : b + nb].T @ ok.astype(np.float64)
        count += ok.sum(axis=0)
    coef = np.full((p, n_cells), np.nan)
    full = count == x.shape[0]
    if full.any():
        coef[:, full] = np.linalg.solve(x.T @ x, xty[:, full])
    partial = np.flatnonzero(~full & (count >= p))
    if partial.size:
        g = np.zeros((partial.size, p, p))
        g[:, iu[0], iu[1]] = gram[:, partial].T
        g[:, iu[1], iu[0]] = gram[:, partial].T
        inv = np.linalg.pinv(g, rcond=1e-10, hermitian=True)
        coef[:, partial] = np.einsum("kij,jk->ik", inv, xty[:, partial])
    few = np.flatnonzero((count > 0) & (count < p))
    if few.size:
        coef[:, few] = 0.0
        coef[0, few] = xty[0, few] / count[few]  # column 0 of x is 1: the sum of the values
    basis = harmonic_basis(np.arange(1, 367), n_harmonics)
    out = np.empty((366, n_cells), dtype=np.float32)  # the climatology is stored as float32
    for c0 in range(0, n_cells, 1 << 15):
        out[:, c0 : c0 + (1 << 15)] = basis @ coef[:, c0 : c0 + (1 << 15)]
    return out


def _daily_names(daily: xr.Dataset, variables: Sequence[str] | None) -> list[str]:
    if "time" not in daily.dims or daily.sizes["time"] == 0:
        raise DataError("A climatology needs daily data with a non-empty 'time' dimension")
    return list(variables) if variables is not None else [str(v) for v in daily.data_vars]


def _as_dataset(
    daily: xr.Dataset, arrays: dict[str, np.ndarray], attrs: dict[str, Any]
) -> xr.Dataset:
    out: dict[str, Any] = {}
    for name, arr in arrays.items():
        da = daily[name].transpose("time", ...)
        values = arr.reshape(366, *da.shape[1:]).astype(np.float32, copy=False)
        out[name] = ((DOY, *da.dims[1:]), values, dict(da.attrs))
    coords: dict[str, Any] = {
        str(c): daily[c] for c in daily.coords if c != "time" and "time" not in daily[c].dims
    }
    coords[DOY] = np.arange(1, 367)
    ds = xr.Dataset(out, coords=coords)
    times = daily["time"].values
    ds.attrs.update(
        climatology_period=f"{str(times.min())[:10]} to {str(times.max())[:10]}",
        climatology_n_days=int(daily.sizes["time"]),
        **attrs,
    )
    return ds


def harmonic_climatology(
    daily: xr.Dataset,
    *,
    variables: Sequence[str] | None = None,
    n_harmonics: int = 2,
    block_days: int = 64,
) -> xr.Dataset:
    """Harmonic climatology: per cell, mean + annual + semi-annual harmonics fitted to ``daily``.

    Args:
        daily: Daily fields with a ``time`` dimension (the training period). May be
            dask-backed; it is read ``block_days`` days at a time.
        variables: Variables to include (default: all).
        n_harmonics: Most harmonics to fit (2: annual + semi-annual). Fewer are fitted when
            the training days cannot constrain them (see :data:`MAX_CONDITION`).
        block_days: Days read per block.

    Returns:
        A dataset with a ``dayofyear`` dimension (1..366), like :func:`doy_climatology`, with
        attributes ``climatology_method`` and ``climatology_harmonics``.
    """
    names = _daily_names(daily, variables)
    doy1 = doy_of(daily["time"].values)
    n_h = _n_harmonics(np.unique(doy1), n_harmonics)
    arrays = {
        name: _harmonic_fit(daily[name].transpose("time", ...), doy1, n_h, block_days)
        for name in names
    }
    attrs = {"climatology_method": harmonic_label(n_h), "climatology_harmonics": n_h}
    return _as_dataset(daily, arrays, attrs)


def doy_climatology(
    daily: xr.Dataset,
    *,
    window: int = 31,
    variables: Sequence[str] | None = None,
    block_days: int = 64,
    method: str = "auto",
) -> xr.Dataset:
    """Day-of-year climatology of a daily dataset.

    Args:
        daily: Daily fields with a ``time`` dimension (already restricted to the training
            period). May be dask-backed; it is read ``block_days`` days at a time.
        window: Width in days of the circular running mean (odd; 1 disables smoothing).
        variables: Variables to include (default: all).
        block_days: Days read per block.
        method: ``"doy"``: the smoothed day-of-year mean only; days of the year not covered
            even after smoothing are NaN. ``"harmonic"``: :func:`harmonic_climatology`.
            ``"auto"`` (default): the harmonic fit when the training days span less than a
            year (365 days from first to last), else the day-of-year mean with the days of the
            year it leaves without data filled from the harmonic fit.

    Returns:
        A dataset with a ``dayofyear`` dimension (1..366) in place of ``time``, and the
        attribute ``climatology_method`` naming the method. A cell that is NaN on every day
        stays NaN.
    """
    if method not in METHODS:
        raise ValidationError(f"Unknown climatology method {method!r}; expected one of {METHODS}")
    names = _daily_names(daily, variables)
    if window < 1:
        raise ValidationError(f"Climatology window must be >= 1 day, got {window}")
    times = daily["time"].values.astype("datetime64[D]")
    doy1 = doy_of(times)
    n_doy = int(np.unique(doy1).size)
    span = int((times.max() - times.min()).astype(np.int64)) + 1
    if method == "harmonic" or (method == "auto" and span < 365):
        ds = harmonic_climatology(daily, variables=names, block_days=block_days)
        ds.attrs.update(climatology_days_of_year_covered=n_doy, climatology_span_days=span)
        return ds
    arrays: dict[str, np.ndarray] = {}
    filled = False
    n_h = _n_harmonics(np.unique(doy1), 2)
    for name in names:
        da = daily[name].transpose("time", ...)
        clim = _doy_mean(da, doy1 - 1, window, block_days)
        if method == "auto":
            gaps = np.isnan(clim) & ~np.isnan(clim).all(axis=0)
            if gaps.any():
                fit = _harmonic_fit(da, doy1, n_h, block_days)
                clim = np.where(gaps, fit, clim)
                filled = True
        arrays[name] = clim
    label = DOY_METHOD.format(window=window)
    if filled:
        label += f"; days of year without data: {harmonic_label(n_h)}"
    attrs = {
        "climatology_method": label,
        "climatology_window_days": window,
        "climatology_days_of_year_covered": n_doy,
        "climatology_span_days": span,
    }
    return _as_dataset(daily, arrays, attrs)


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
