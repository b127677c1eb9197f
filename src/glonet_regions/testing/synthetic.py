"""Synthetic daily fields on a region's grid, for tests and benchmarks of the scorer.

Nothing here is ocean data: a seasonal-like signal and a travelling wave on plausible
background values, with a block of land in the north-east corner.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from glonet_regions.core.grid import Grid
from glonet_regions.forecast.cube import add_cf_attributes

__all__ = ["synthetic_daily"]


def synthetic_daily(
    grid: Grid,
    *,
    start: str = "2020-01-01",
    n_days: int = 45,
    depths: Sequence[float] = (0.494, 10.0, 47.37, 92.33),
    land_corner: int = 2,
) -> xr.Dataset:
    """Daily ``zos``, ``thetao``, ``so``, ``uo``, ``vo`` on ``grid`` (stamped at 12:00)."""
    days = np.arange(np.datetime64(start), np.datetime64(start) + n_days).astype("datetime64[ns]")
    t = np.arange(n_days, dtype=np.float32)[:, None, None]
    lat = grid.lat.astype(np.float32)[None, :, None]
    lon = grid.lon.astype(np.float32)[None, None, :]
    wave = np.sin(0.3 * t + 0.2 * lon) * np.cos(0.1 * lat)
    land = np.zeros(grid.shape, bool)
    if land_corner:
        land[-land_corner:, -(land_corner + 1) :] = True
    d = np.asarray(depths, dtype=np.float32)[None, :, None, None]
    w4 = wave[:, None]
    temp = (20 - 0.2 * (lat - 30) + 0.5 * wave)[:, None] - 0.04 * d
    fields = {
        "zos": (("time", "latitude", "longitude"), 0.1 * wave),
        "thetao": (("time", "depth", "latitude", "longitude"), temp),
        "so": (("time", "depth", "latitude", "longitude"), 35.5 + 0.05 * w4 + 0.002 * d),
        "uo": (("time", "depth", "latitude", "longitude"), 0.1 * np.cos(w4) + 0 * d),
        "vo": (("time", "depth", "latitude", "longitude"), 0.05 * w4 + 0 * d),
    }
    ds = xr.Dataset(
        {
            k: (dims, np.where(land, np.nan, v).astype(np.float32))
            for k, (dims, v) in fields.items()
        },
        coords={
            "time": days + np.timedelta64(12, "h"),
            "depth": np.asarray(depths, dtype=np.float64),
            "latitude": grid.lat,
            "longitude": grid.lon,
        },
    )
    return add_cf_attributes(ds)
