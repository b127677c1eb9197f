"""netCDF writing for the embedded sample: CMEMS-like daily files, written level by level.

Files are written to a temporary name in the target folder and renamed when complete, so a
failed run leaves no half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.grid import Grid
from glonet_regions.core.variables import GLONET_VARIABLES

TIME_UNITS = "hours since 1950-01-01 00:00:00"
_EPOCH = dt.datetime(1950, 1, 1)
#: Absolute precision kept per variable (decimal digits after the point; netCDF4 quantisation).
SIGNIFICANT = {"zos": 4, "thetao": 3, "so": 3, "uo": 4, "vo": 4}
_LONG_NAMES = {
    "zos": "Sea surface height",
    "thetao": "Temperature",
    "so": "Salinity",
    "uo": "Eastward velocity",
    "vo": "Northward velocity",
}


def hours_since_epoch(day: dt.date, hour: int = 12) -> float:
    """CMEMS time value (hours since 1950-01-01) of ``day`` at ``hour``:00."""
    return (dt.datetime(day.year, day.month, day.day, hour) - _EPOCH).total_seconds() / 3600.0


@contextlib.contextmanager
def atomic_dataset(path: Path, attrs: dict[str, Any]) -> Iterator[Any]:
    """Open a new netCDF4 file at a temporary name; rename it to ``path`` on success."""
    import netCDF4

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    ds = netCDF4.Dataset(tmp, "w", format="NETCDF4")
    try:
        ds.setncatts(attrs)
        yield ds
        ds.close()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            ds.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def define_space(ds: Any, grid: Grid, depths: Sequence[float] | np.ndarray) -> None:
    """Create ``depth``, ``latitude`` and ``longitude`` dimensions and coordinates."""
    ds.createDimension("depth", len(depths))
    ds.createDimension("latitude", grid.shape[0])
    ds.createDimension("longitude", grid.shape[1])
    d = ds.createVariable("depth", "f4", ("depth",))
    d.setncatts(
        {"standard_name": "depth", "long_name": "Depth", "units": "m", "positive": "down",
         "axis": "Z"}
    )  # fmt: skip
    d[:] = np.asarray(depths, dtype=np.float32)
    la = ds.createVariable("latitude", "f4", ("latitude",))
    la.setncatts(
        {"standard_name": "latitude", "long_name": "Latitude", "units": "degrees_north",
         "axis": "Y"}
    )  # fmt: skip
    la[:] = grid.lat.astype(np.float32)
    lo = ds.createVariable("longitude", "f4", ("longitude",))
    lo.setncatts(
        {"standard_name": "longitude", "long_name": "Longitude", "units": "degrees_east",
         "axis": "X"}
    )  # fmt: skip
    lo[:] = grid.lon.astype(np.float32)


def define_time(ds: Any, name: str, days: Sequence[dt.date], *, long_name: str = "time") -> None:
    """A time-like dimension and coordinate (hours since 1950, 12:00 of each day)."""
    ds.createDimension(name, len(days))
    t = ds.createVariable(name, "f8", (name,))
    t.setncatts(
        {"standard_name": "time", "long_name": long_name, "units": TIME_UNITS,
         "calendar": "gregorian", "axis": "T"}
    )  # fmt: skip
    t[:] = np.asarray([hours_since_epoch(d) for d in days])


def define_variables(
    ds: Any, leading: tuple[str, ...], grid: Grid, *, coarse: bool = False
) -> dict[str, Any]:
    """The five variables with CF attributes, float32, zlib level 1, chunked per 2-D slice.

    Values are quantised to :data:`SIGNIFICANT` decimal digits (one fewer if ``coarse``).
    """
    out = {}
    nlat, nlon = grid.shape
    for var in GLONET_VARIABLES:
        dims = (*leading, "latitude", "longitude") if not var.is_3d else (
            *leading, "depth", "latitude", "longitude")  # fmt: skip
        chunks = (1,) * (len(dims) - 2) + (nlat, nlon)
        v = ds.createVariable(
            var.name, "f4", dims, zlib=True, complevel=1, shuffle=True, chunksizes=chunks,
            fill_value=np.float32(np.nan),
            least_significant_digit=SIGNIFICANT[var.name] - int(coarse),
        )  # fmt: skip
        v.setncatts(
            {"standard_name": var.standard_name, "long_name": _LONG_NAMES[var.name],
             "units": var.units}
        )  # fmt: skip
        out[var.name] = v
    return out
