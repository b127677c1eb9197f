"""The forecast cube: OceanBench's challenger layout, CF metadata and atomic writing.

A forecast cube has dimensions ``(first_day_datetime, lead_day_index, depth, latitude,
longitude)``; ``zos`` has no depth. ``lead_day_index`` 0 is the first forecast day, which is the
start date (``first_day_datetime``); the two days before it were the initial conditions.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions import __version__
from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.core.variables import GLONET_VARIABLES, VariableSet

__all__ = [
    "CUBE_DIMS",
    "FIRST_DAY",
    "LEAD",
    "REFERENCES",
    "add_cf_attributes",
    "build_cube",
    "cube_dates",
    "open_cube",
    "provenance_attrs",
    "validate_cube",
    "write_cube",
]

FIRST_DAY = "first_day_datetime"
LEAD = "lead_day_index"
CUBE_DIMS: tuple[str, ...] = (FIRST_DAY, LEAD, "depth", "latitude", "longitude")

_COORD_ATTRS: dict[str, dict[str, str]] = {
    "latitude": {
        "standard_name": "latitude",
        "long_name": "Latitude",
        "units": "degrees_north",
        "axis": "Y",
    },
    "longitude": {
        "standard_name": "longitude",
        "long_name": "Longitude",
        "units": "degrees_east",
        "axis": "X",
    },
    "depth": {
        "standard_name": "depth",
        "long_name": "Depth",
        "units": "m",
        "positive": "down",
        "axis": "Z",
    },
    FIRST_DAY: {
        "long_name": "First day of the forecast (valid date of lead_day_index 0)",
        "axis": "T",
        "comment": "In CF terms the forecast_reference_time: the forecast starts from the two "
        "days before it. Valid time = first_day_datetime + lead_day_index days.",
    },
    LEAD: {
        "long_name": "Lead day index (0 = first forecast day)",
        "units": "1",
        "comment": "In CF terms the forecast_period, in days: lead_day_index (daily means of "
        "day first_day_datetime + lead_day_index).",
    },
}
#: Reference of the model and the layout, for the CF ``references`` attribute.
REFERENCES = (
    "GLONET: Mercator's end-to-end neural global ocean forecasting system, "
    "https://arxiv.org/abs/2412.05454; OceanBench challenger layout, "
    "https://github.com/mercator-ocean/oceanbench"
)


def cube_dates(first_days: Iterable[Any]) -> np.ndarray:
    """Start dates as ``datetime64[ns]`` at midnight (day precision)."""
    out = np.array([np.datetime64(str(_as_date(d)), "D") for d in first_days])
    return out.astype("datetime64[ns]")


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationError(f"Expected a date YYYY-MM-DD, got {value!r}") from None


def add_cf_attributes(ds: xr.Dataset, variables: VariableSet = GLONET_VARIABLES) -> xr.Dataset:
    """Set CF ``standard_name``, ``long_name`` and ``units`` on variables and coordinates."""
    ds = ds.copy()
    for name in ds.data_vars:
        if name in variables:
            var = variables[str(name)]
            ds[name].attrs.update(
                standard_name=var.standard_name,
                long_name=var.long_name or var.name,
                units=var.units,
            )
    for coord, attrs in _COORD_ATTRS.items():
        if coord in ds.coords:
            ds[coord].attrs.update(attrs)
    return ds


def build_cube(
    fields: Mapping[str, np.ndarray],
    *,
    first_days: Sequence[Any],
    grid: Grid,
    depths: Sequence[float] | None,
    variables: VariableSet = GLONET_VARIABLES,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble a forecast cube from arrays.

    Args:
        fields: Variable name to an array ``(n_starts, n_lead, [n_depth,] nlat, nlon)``;
            3-D variables carry the depth axis, 2-D ones do not.
        first_days: Start dates (``lead_day_index`` 0).
        grid: The horizontal grid.
        depths: Depth levels (m) of the 3-D variables.
        variables: Variable metadata for the CF attributes.
        attrs: Global attributes.
    """
    times = cube_dates(first_days)
    data_vars: dict[str, Any] = {}
    n_lead: int | None = None
    for name, arr in fields.items():
        a = np.asarray(arr)
        is_3d = variables[name].is_3d if name in variables else a.ndim == 5
        dims = CUBE_DIMS if is_3d else (FIRST_DAY, LEAD, "latitude", "longitude")
        if a.ndim != len(dims):
            raise ValidationError(
                f"Field {name!r} must have {len(dims)} dims {dims}, got shape {a.shape}"
            )
        if a.shape[0] != times.size or a.shape[-2:] != grid.shape:
            raise ValidationError(
                f"Field {name!r} of shape {a.shape} does not match {times.size} start date(s) "
                f"and grid {grid.shape}"
            )
        if n_lead is None:
            n_lead = a.shape[1]
        elif a.shape[1] != n_lead:
            raise ValidationError(f"Field {name!r} has {a.shape[1]} lead days, others {n_lead}")
        if is_3d and (depths is None or a.shape[2] != len(depths)):
            raise ValidationError(
                f"Field {name!r} has {a.shape[2]} levels but {0 if depths is None else len(depths)}"
                " depths were given"
            )
        data_vars[name] = (dims, a.astype(np.float32, copy=False))
    coords: dict[str, Any] = {
        FIRST_DAY: times,
        LEAD: np.arange(n_lead or 0, dtype=np.int64),
        "latitude": grid.lat.astype(np.float64),
        "longitude": grid.lon.astype(np.float64),
    }
    if depths is not None:
        coords["depth"] = np.asarray(depths, dtype=np.float64)
    ds = xr.Dataset(data_vars, coords=coords, attrs=dict(attrs or {}))
    return add_cf_attributes(ds, variables)


def place_prediction(
    fields: dict[str, np.ndarray],
    channels: Sequence[tuple[str, int | None]],
    pred: np.ndarray,
    start_index: int,
    *,
    n_starts: int,
    n_depths: int,
    shape: tuple[int, int],
    depth_of: Mapping[int, int] | None = None,
) -> None:
    """Put one start's prediction ``(days, C, H, W)`` into the per-variable cube arrays.

    ``channels`` are ``(variable, level)`` (level None for 2-D variables); a 3-D variable's
    level goes to depth position ``depth_of[level]`` (the level itself when None). Arrays are
    created NaN-filled on first use: ``(n_starts, days, H, W)`` or ``(n_starts, days,
    n_depths, H, W)``.
    """
    days = pred.shape[0]
    for c, (var, level) in enumerate(channels):
        if level is None:
            arr = fields.setdefault(var, np.full((n_starts, days, *shape), np.nan, np.float32))
            arr[start_index] = pred[:, c]
        else:
            arr = fields.setdefault(
                var, np.full((n_starts, days, n_depths, *shape), np.nan, np.float32)
            )
            arr[start_index, :, level if depth_of is None else depth_of[level]] = pred[:, c]


def provenance_attrs(**items: Any) -> dict[str, str]:
    """Global attributes: the items given plus code version, creation time and conventions.

    CF's ``title``, ``source``, ``references`` and ``history`` are always set (items override
    ``title`` and ``source``).
    """
    out = {"Conventions": "CF-1.8", "code_version": f"glonet-regions {__version__}"}
    out["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["title"] = "glonet-regions forecast"
    out["source"] = "glonet-regions"
    out["references"] = REFERENCES
    out["history"] = f"{out['created']} written by glonet-regions {__version__}"
    for key, value in items.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, str) else str(value)
    return out


def validate_cube(ds: xr.Dataset, *, source: str = "forecast") -> xr.Dataset:
    """Check a dataset is a forecast cube; returns it with dims in the canonical order.

    Raises:
        DataError: naming ``source`` and what is missing.
    """
    for dim in (FIRST_DAY, LEAD, "latitude", "longitude"):
        if dim not in ds.dims:
            raise DataError(
                f"{source}: not a forecast cube, dimension {dim!r} is missing "
                f"(dims: {list(ds.dims)}); expected {list(CUBE_DIMS)}"
            )
    if not ds.data_vars:
        raise DataError(f"{source}: the forecast cube holds no variable")
    order = [d for d in CUBE_DIMS if d in ds.dims]
    out = ds.transpose(*order, ...)
    first = out[FIRST_DAY].values
    if not np.issubdtype(first.dtype, np.datetime64):
        raise DataError(f"{source}: {FIRST_DAY} must hold dates, got dtype {first.dtype}")
    return out.assign_coords({FIRST_DAY: first.astype("datetime64[D]").astype("datetime64[ns]")})


def _encoding(ds: xr.Dataset, fmt: str) -> dict[str, dict[str, Any]]:
    enc: dict[str, dict[str, Any]] = {}
    for name in ds.data_vars:
        if fmt == "netcdf":
            enc[str(name)] = {"zlib": True, "complevel": 1, "_FillValue": np.float32(np.nan)}
        else:
            enc[str(name)] = {"_FillValue": np.float32(np.nan)}
    enc[FIRST_DAY] = {
        "units": "days since 1950-01-01",
        "calendar": "proleptic_gregorian",
        "_FillValue": None,
    }
    for coord in ds.coords:
        if coord != FIRST_DAY:
            enc[str(coord)] = {"_FillValue": None}  # CF: no fill value on coordinates
    return enc


def write_cube(ds: xr.Dataset, path: str | os.PathLike[str], *, fmt: str | None = None) -> Path:
    """Write a cube atomically as netCDF (``.nc``) or zarr (``.zarr`` or ``fmt='zarr'``).

    The data go to a temporary path in the same folder first, then replace ``path`` in one
    rename, so a crash never leaves a half-written file where the cube should be.
    """
    target = Path(path)
    fmt = fmt or ("zarr" if target.suffix == ".zarr" else "netcdf")
    if fmt not in ("netcdf", "zarr"):
        raise ValidationError(f"--format must be netcdf or zarr, got {fmt!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, encoding=_encoding(ds, fmt), engine="netcdf4")
        else:
            ds.to_zarr(tmp, encoding=_encoding(ds, fmt), mode="w", consolidated=False)
        _replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    return target


def _replace(tmp: Path, target: Path) -> None:
    """Move ``tmp`` onto ``target`` (files: one atomic rename; folders: swap then delete)."""
    if target.is_dir():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def open_cube(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a forecast cube (netCDF file or zarr folder) and validate it."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"Forecast file {p} does not exist")
    from glonet_regions.data.reader import open_checked

    ds = open_checked(p)
    return validate_cube(ds, source=str(p))
