"""Baseline forecasts, built as forecast cubes so they are scored exactly like the model.

- persistence: the last initial-condition day (the day before the start) held for every lead;
- climatology: the climatology of the training split (harmonic fit or day-of-year mean) at
  each valid date's day of year;
- global model: a global (coarser) model's FORECAST of the same start date and lead day (the run
  issued on or before the start), regridded to the region grid;
- reference: a forecast given as a file, either already a cube or daily fields by valid date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import Grid
from glonet_regions.evaluation.climatology import climatology_cube
from glonet_regions.forecast.align import daily_to_cube, snap_to_grid
from glonet_regions.forecast.cube import FIRST_DAY, LEAD, add_cf_attributes, validate_cube
from glonet_regions.forecast.persistence import persistence_forecast

__all__ = [
    "climatology_forecast",
    "global_forecast_baseline",
    "persistence_forecast",
    "reference_forecast",
    "regrid_to_grid",
]


def climatology_forecast(clim: xr.Dataset, first_days: Sequence[Any], n_lead: int) -> xr.Dataset:
    """The climatology (any method of :func:`doy_climatology`) as a forecast."""
    out = climatology_cube(clim, first_days, n_lead)
    out.attrs = {"model": "climatology", **clim.attrs}
    return add_cf_attributes(out)


def regrid_to_grid(ds: xr.Dataset, grid: Grid, *, method: str = "bilinear") -> xr.Dataset:
    """Regrid a dataset to ``grid`` with the built-in regridder (NaN-aware bilinear).

    If the data are already on nodes of ``grid`` they are only snapped (no interpolation).
    """
    try:
        return snap_to_grid(ds, grid, source="global model")
    except Exception:
        pass
    from glonet_regions.data.regrid import regrid

    out = regrid(ds, grid, method, crop=False)
    return out.assign_coords(latitude=grid.lat, longitude=grid.lon)


def global_forecast_baseline(
    ds: xr.Dataset, grid: Grid, first_days: Sequence[Any], n_lead: int
) -> xr.Dataset:
    """The global model's forecast for each start date, regridded to ``grid``.

    For a start ``D`` the run used is the latest one issued on or before ``D`` (``R``); lead day
    ``L`` is its lead ``L + (D - R)``, so the baseline knows exactly what a forecaster knew on
    ``D``.

    Raises:
        DataError: when no run is issued on or before a start, or a run is too short.
    """
    cube = validate_cube(ds, source="global model")
    runs = cube[FIRST_DAY].values.astype("datetime64[D]")
    parts = []
    for first in first_days:
        day = np.datetime64(str(first)[:10], "D")
        ok = runs[runs <= day]
        if not ok.size:
            raise DataError(
                f"Global model forecast: no run issued on or before {day} (its first run is "
                f"{runs.min()})"
            )
        run = ok.max()
        offset = int((day - run).astype(int))
        if offset + n_lead > cube.sizes[LEAD]:
            raise DataError(
                f"Global model forecast: run {run} has {cube.sizes[LEAD]} lead days; start {day} "
                f"needs leads {offset}..{offset + n_lead - 1}"
            )
        part = cube.sel({FIRST_DAY: run.astype("datetime64[ns]")}).isel(
            {LEAD: slice(offset, offset + n_lead)}
        )
        part = part.assign_coords({LEAD: np.arange(n_lead, dtype=np.int64)})
        parts.append(part.expand_dims({FIRST_DAY: [day.astype("datetime64[ns]")]}))
    out = xr.concat(parts, dim=FIRST_DAY)
    lat, lon = out["latitude"].values, out["longitude"].values
    dlat = float(np.abs(np.diff(lat)).max()) if lat.size > 1 else 1.0
    dlon = float(np.abs(np.diff(lon)).max()) if lon.size > 1 else 1.0
    b = grid.bbox
    keep_lat = (lat >= b.lat_min - 2 * dlat) & (lat <= b.lat_max + 2 * dlat)
    keep_lon = (lon >= b.lon_min - 2 * dlon) & (lon <= b.lon_max + 2 * dlon)
    out = out.isel(latitude=np.flatnonzero(keep_lat), longitude=np.flatnonzero(keep_lon))
    out = regrid_to_grid(out.load(), grid)
    order = [d for d in (FIRST_DAY, LEAD, "depth", "latitude", "longitude") if d in out.dims]
    out = out.transpose(*order, ...)
    out.attrs = {
        **ds.attrs,
        "model": "global model",
        "description": "global model forecast of the same start date and lead day (run issued "
        "on or before the start), regridded to the region",
    }
    return add_cf_attributes(out)


def reference_forecast(
    ds: xr.Dataset,
    grid: Grid,
    first_days: Sequence[Any],
    n_lead: int,
    *,
    name: str = "reference",
    regrid: bool = False,
) -> xr.Dataset:
    """A reference forecast on ``grid`` for the given start dates and leads.

    ``ds`` is either a forecast cube (its start dates must include ``first_days``) or daily
    fields with a ``time`` dimension, used by valid date (an analysis-forecast best estimate).
    """
    if FIRST_DAY in ds.dims:
        cube = validate_cube(ds, source=name)
        want = np.asarray(first_days, dtype="datetime64[ns]")
        have = cube[FIRST_DAY].values
        missing = [str(d)[:10] for d in want if d not in have]
        if missing:
            raise DataError(
                f"Reference {name!r} has no forecast starting on {', '.join(missing)} "
                f"(it has {[str(d)[:10] for d in have]})"
            )
        if cube.sizes[LEAD] < n_lead:
            raise DataError(f"Reference {name!r} has {cube.sizes[LEAD]} lead days, need {n_lead}")
        cube = cube.sel({FIRST_DAY: want}).isel({LEAD: slice(0, n_lead)})
    else:
        cube = daily_to_cube(ds, first_days, n_lead, source=name, allow_missing=True)
    cube = regrid_to_grid(cube, grid) if regrid else snap_to_grid(cube, grid, source=name)
    cube.attrs = {**ds.attrs, "model": name}
    return cube
