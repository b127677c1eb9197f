"""Bringing truth, references and forecasts onto one grid, one set of depths and one time axis.

Daily data (a ``time`` dimension of daily means) become forecast-shaped cubes by valid date:
``cube[s, l] = daily(first_day[s] + l days)``. Grids are snapped explicitly: the forecast's
nodes must be nodes of the other grid (within float32 rounding), never interpolated silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, GridMismatchError
from glonet_regions.core.grid import Grid, find_lat_lon_names
from glonet_regions.core.variables import GLONET_VARIABLES, VariableSet
from glonet_regions.forecast.cube import FIRST_DAY, LEAD, add_cf_attributes, cube_dates

__all__ = [
    "canonical_daily",
    "daily_to_cube",
    "depth_indices",
    "open_daily",
    "select_depths",
    "snap_to_grid",
]

_TIME_NAMES = ("time", "time_counter", "t", "date")
_DEPTH_NAMES = ("depth", "deptht", "lev", "z", "nav_lev")


def canonical_daily(
    ds: xr.Dataset, *, variables: VariableSet = GLONET_VARIABLES, source: str = "dataset"
) -> xr.Dataset:
    """Rename a daily dataset to our names (variables, time, depth, latitude, longitude).

    Times are floored to the day (daily means stamped at noon become that day).
    Variables not among ``variables`` are dropped.
    """
    lat, lon = find_lat_lon_names(ds, source=source)
    rename: dict[str, str] = {}
    if lat != "latitude":
        rename[lat] = "latitude"
    if lon != "longitude":
        rename[lon] = "longitude"
    for tname in _TIME_NAMES:
        if tname in ds.dims and tname != "time":
            rename[tname] = "time"
            break
    for dname in _DEPTH_NAMES:
        if dname in ds.dims and dname != "depth":
            rename[dname] = "depth"
            break
    keep: list[str] = []
    for name, da in ds.data_vars.items():
        for var in variables:
            if var.matches(str(name), da.attrs):
                if str(name) != var.name:
                    rename[str(name)] = var.name
                keep.append(str(name))
                break
    if not keep:
        raise DataError(
            f"{source}: none of the variables {list(variables.names)} (or their aliases) found; "
            f"it holds {list(ds.data_vars)}"
        )
    out = ds[keep].rename(rename)
    if "time" not in out.dims:
        raise DataError(f"{source}: no time dimension (looked for {_TIME_NAMES})")
    days = out["time"].values.astype("datetime64[D]")
    if np.unique(days).size != days.size:
        raise DataError(f"{source}: more than one time step per day; daily means are expected")
    out = out.assign_coords(time=days.astype("datetime64[ns]")).sortby("time")
    for c in ("latitude", "longitude", "depth"):
        if c in out.coords:
            out = out.assign_coords({c: out[c].values.astype(np.float64)})
    if (
        "latitude" in out.dims
        and out["latitude"].size > 1
        and out["latitude"][0] > out["latitude"][-1]
    ):
        out = out.sortby("latitude")
    return add_cf_attributes(out, variables)


def open_daily(path: Any, *, variables: VariableSet = GLONET_VARIABLES) -> xr.Dataset:
    """Open a daily file (truth, reference or global model) in canonical names."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise DataError(f"File {p} does not exist")
    from glonet_regions.data.reader import open_checked

    ds = open_checked(p)
    return canonical_daily(ds, variables=variables, source=str(p))


def depth_indices(
    available: Sequence[float] | np.ndarray,
    wanted: Sequence[float] | np.ndarray,
    *,
    rtol: float = 0.02,
    atol: float = 0.6,
) -> dict[float, int]:
    """Map each wanted depth to the index of the matching available level (missing ones dropped)."""
    arr = np.asarray(available, dtype=np.float64)
    out: dict[float, int] = {}
    for d in wanted:
        if arr.size == 0:
            break
        i = int(np.argmin(np.abs(arr - d)))
        if abs(arr[i] - d) <= atol + rtol * abs(d):
            out[float(d)] = i
    return out


def select_depths(
    ds: xr.Dataset, wanted: Sequence[float], *, source: str = "dataset"
) -> xr.Dataset:
    """The levels of ``ds`` matching ``wanted`` (OceanBench's 0.49, 47, 92... style tolerance)."""
    if "depth" not in ds.dims:
        return ds
    idx = depth_indices(ds["depth"].values, wanted)
    if not idx:
        raise DataError(
            f"{source}: none of the depths {list(wanted)} m is among its levels "
            f"{[round(float(v), 2) for v in ds['depth'].values]}"
        )
    return ds.isel(depth=sorted(set(idx.values())))


def snap_to_grid(ds: xr.Dataset, grid: Grid, *, source: str = "dataset") -> xr.Dataset:
    """Select the cells of ``ds`` on ``grid``'s nodes and give them ``grid``'s exact coordinates.

    Raises:
        GridMismatchError: when a node of ``grid`` is not a node of ``ds`` (offset grids or a
            domain that does not cover ``grid``).
    """
    own = Grid.from_dataset(ds, source=source)
    if own.same_as(grid):
        return ds.assign_coords(latitude=grid.lat, longitude=grid.lon)
    lat_t = own.default_tolerance()[0]
    lon_t = own.default_tolerance()[1]
    lat_idx = _nodes(own.lat, grid.lat, lat_t, "latitude", source)
    lon_idx = _nodes(own.lon, grid.lon, lon_t, "longitude", source)
    out = ds.isel(latitude=lat_idx, longitude=lon_idx)
    return out.assign_coords(latitude=grid.lat, longitude=grid.lon)


def _nodes(have: np.ndarray, want: np.ndarray, tol: float, axis: str, source: str) -> np.ndarray:
    idx = np.searchsorted(have, want)
    idx = np.clip(idx, 1, have.size - 1) if have.size > 1 else np.zeros_like(idx)
    left = have[idx - 1] if have.size > 1 else have[idx]
    right = have[idx]
    pick = np.where(np.abs(want - left) <= np.abs(want - right), idx - 1, idx)
    if have.size == 1:
        pick = np.zeros_like(idx)
    off = np.abs(have[pick] - want)
    bad = int(np.argmax(off))
    if off[bad] > tol:
        raise GridMismatchError(
            f"{source}: {axis} {want[bad]:.5f} of the forecast grid is not a node of its grid "
            f"(nearest {have[pick[bad]]:.5f}); regrid it first"
        )
    return np.asarray(pick)


def daily_to_cube(
    daily: xr.Dataset,
    first_days: Sequence[Any],
    n_lead: int,
    *,
    offset_days: int = 0,
    source: str = "dataset",
    allow_missing: bool = False,
) -> xr.Dataset:
    """Lay daily fields out as a forecast cube by valid date.

    ``cube[s, l] = daily(first_days[s] + l + offset_days)``. With ``allow_missing`` a day not
    in ``daily`` becomes NaN, otherwise it raises :class:`DataError` naming the day.
    """
    starts = cube_dates(first_days).astype("datetime64[D]")
    valid = starts[:, None] + np.arange(n_lead)[None, :] + offset_days
    have = daily["time"].values.astype("datetime64[D]")
    missing = np.setdiff1d(valid.ravel(), have)
    if missing.size and not allow_missing:
        shown = ", ".join(str(d) for d in missing[:5])
        raise DataError(
            f"{source}: no data for day(s) {shown}{' ...' if missing.size > 5 else ''} "
            f"(it covers {have.min() if have.size else '-'} to {have.max() if have.size else '-'})"
        )
    sel = daily.reindex(time=valid.ravel().astype("datetime64[ns]"))
    coords: dict[str, Any] = {
        FIRST_DAY: starts.astype("datetime64[ns]"),
        LEAD: np.arange(n_lead, dtype=np.int64),
    }
    for c in ("depth", "latitude", "longitude"):
        if c in sel.coords:
            coords[c] = sel[c].values
    data_vars: dict[str, Any] = {}
    for name, da in sel.data_vars.items():
        da = da.transpose("time", ...)
        arr = np.asarray(da.values).reshape(starts.size, n_lead, *da.shape[1:])
        data_vars[str(name)] = ((FIRST_DAY, LEAD, *da.dims[1:]), arr, da.attrs)
    out = xr.Dataset(data_vars, coords=coords, attrs=dict(daily.attrs))
    order = [d for d in (FIRST_DAY, LEAD, "depth", "latitude", "longitude") if d in out.dims]
    return out.transpose(*order, ...)


def add_days(day: Any, n: int) -> dt.date:
    """``day + n`` days as a date."""
    d = np.datetime64(str(day)[:10], "D") + n
    return dt.date.fromisoformat(str(d))
