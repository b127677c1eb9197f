"""Read real CMEMS files (or datasets) into the canonical form used everywhere downstream.

Canonical form:

- variables named by our short names (``zos``, ``thetao``, ``so``, ``uo``, ``vo``), found by
  name, alias or ``standard_name`` attribute;
- dims ``(time, depth, latitude, longitude)`` for 3-D and ``(time, latitude, longitude)`` for
  2-D variables; latitude, longitude and depth ascending (depth positive down, m);
- float32 values in the variable's canonical units (known alternatives converted and noted in
  the variable's ``history``), packing decoded, fill values NaN (land stays NaN);
- one time step per day, stamped at 00:00 of its day, without gaps or duplicates.

Every problem raises :class:`~glonet_regions.core.errors.DataError` naming the file, the
variable and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import find_lat_lon_names
from glonet_regions.core.mask import LandSeaMask
from glonet_regions.core.region import GridMatch, Region
from glonet_regions.core.variables import GLONET_VARIABLES, Variable, VariableSet
from glonet_regions.data.sources.base import find_depth_name, find_time_name
from glonet_regions.data.sources.local import open_paths
from glonet_regions.data.timeaxis import normalise_daily_times
from glonet_regions.data.units import convert_units

__all__ = [
    "DEFAULT_MAX_OUT_OF_RANGE",
    "FILL_THRESHOLD",
    "check_no_nan_in_ocean",
    "check_on_region",
    "check_values",
    "find_variable",
    "load_checked",
    "open_canonical",
    "open_checked",
]

DEFAULT_MAX_OUT_OF_RANGE = 1e-3
"""Largest fraction of finite values allowed outside a variable's ``valid_range``."""

FILL_THRESHOLD = 1e20
"""Absolute values above this are undeclared fill values (e.g. netCDF's 9.97e36) -> NaN."""

_COORD_ATTRS = {
    "time": {"standard_name": "time", "axis": "T"},
    "depth": {"standard_name": "depth", "units": "m", "positive": "down", "axis": "Z"},
    "latitude": {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
    "longitude": {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
}


def _as_variables(variables: VariableSet | Iterable[str | Variable]) -> list[Variable]:
    if isinstance(variables, VariableSet):
        return list(variables)
    out = []
    for v in variables:
        out.append(v if isinstance(v, Variable) else GLONET_VARIABLES[str(v)])
    if not out:
        raise DataError("No variable asked for")
    return out


def find_variable(ds: xr.Dataset, var: Variable) -> str | None:
    """The name of ``var`` in ``ds``: its short name, an alias, then its ``standard_name``."""
    for candidate in (var.name, *var.aliases):
        if candidate in ds.data_vars:
            return candidate
    for name, da in ds.data_vars.items():
        if da.attrs.get("standard_name") == var.standard_name:
            return str(name)
    return None


def _describe_found(ds: xr.Dataset) -> str:
    items = []
    for name, da in ds.data_vars.items():
        std = da.attrs.get("standard_name")
        items.append(f"{name}" + (f" ({std})" if std else ""))
    return ", ".join(items) or "(no data variable)"


def _canonical_coords(ds: xr.Dataset, *, source: str, need_depth: bool) -> xr.Dataset:
    """Rename time/depth/lat/lon to canonical names, sort ascending, depth positive down."""
    lat, lon = find_lat_lon_names(ds, source=source)
    time = find_time_name(ds)
    if time is None:
        raise DataError(
            f"{source}: no time axis found (looked for a 'time' coordinate, standard_name "
            "'time' or axis 'T')"
        )
    depth = find_depth_name(ds)
    renames = {time: "time", lat: "latitude", lon: "longitude"}
    if depth is not None:
        renames[depth] = "depth"
    renames = {k: v for k, v in renames.items() if k != v}
    try:
        ds = ds.rename(renames)
    except ValueError as exc:
        raise DataError(f"{source}: cannot rename coordinates to canonical names: {exc}") from None
    if depth is not None:
        dvals = ds["depth"]
        if depth == "elevation" or dvals.attrs.get("positive") == "up":
            ds = ds.assign_coords(depth=-dvals)
        if need_depth and np.any(ds["depth"].values < -1e-3):
            raise DataError(
                f"{source}: depth values must be positive down (m); found "
                f"{float(ds['depth'].min())} .. {float(ds['depth'].max())}"
            )
    for name in ("latitude", "longitude", "depth"):
        if name in ds.dims and ds.sizes[name] > 1:
            values = ds[name].values
            if np.all(np.diff(values) < 0):
                ds = ds.isel({name: slice(None, None, -1)})
            elif not np.all(np.diff(values) > 0):
                ds = ds.sortby(name)
                if not np.all(np.diff(ds[name].values) > 0):
                    raise DataError(f"{source}: coordinate {name} holds repeated values")
    if ds.sizes.get("time", 0) > 1 and not np.all(np.diff(ds["time"].values) >= np.timedelta64(0)):
        ds = ds.sortby("time")
    return ds


def _to_canonical_array(
    da: xr.DataArray, var: Variable, *, source: str, source_name: str
) -> xr.DataArray:
    shown = var.name if source_name == var.name else f"{var.name} ({source_name})"
    if var.is_3d:
        if "depth" not in da.dims:
            raise DataError(
                f"{source}: variable {shown} is 3-D but has no depth axis (dims {da.dims})"
            )
        wanted: tuple[str, ...] = ("time", "depth", "latitude", "longitude")
    else:
        if "depth" in da.dims:
            if da.sizes["depth"] != 1:
                raise DataError(
                    f"{source}: variable {shown} is a surface field but has "
                    f"{da.sizes['depth']} depth levels"
                )
            da = da.isel(depth=0, drop=True)
        elif "depth" in da.coords:
            da = da.drop_vars("depth")
        wanted = ("time", "latitude", "longitude")
    extra = [d for d in da.dims if d not in wanted]
    if extra:
        raise DataError(
            f"{source}: variable {shown} has unexpected dimensions {extra}; expected {wanted}"
        )
    if "time" not in da.dims:
        raise DataError(f"{source}: variable {shown} has no time dimension (dims {da.dims})")
    da = da.transpose(*wanted)
    da = convert_units(da, var, source=source, source_name=source_name)
    attrs = dict(da.attrs)
    da = da.astype(np.float32)
    da = da.where(np.abs(da) < FILL_THRESHOLD)
    for key in ("scale_factor", "add_offset", "_FillValue", "missing_value", "valid_min",
                "valid_max", "valid_range", "_ChunkSizes"):  # fmt: skip
        attrs.pop(key, None)
    attrs.update(standard_name=var.standard_name, units=var.units)
    attrs.setdefault("long_name", var.long_name)
    if source_name != var.name:
        attrs["source_name"] = source_name
    da.attrs = attrs
    da.encoding = {}
    return da


def check_values(
    da: xr.DataArray | np.ndarray,
    var: Variable,
    *,
    source: str,
    max_fraction: float = DEFAULT_MAX_OUT_OF_RANGE,
) -> None:
    """Physical plausibility of a field in canonical units (see docs/reference/refuses.md).

    Refuses a field that holds no finite value, one whose values fall outside
    ``var.valid_range`` (more than ``max_fraction`` of them) and one whose median lies
    outside ``var.median_range`` (wrong units that still fit the valid range, such as
    salinity as a fraction).

    Raises:
        DataError: Naming ``source``, the variable and what was found.
    """
    arr = da if isinstance(da, xr.DataArray) else xr.DataArray(np.asarray(da))
    n_finite = int(np.isfinite(arr).sum())  # reduced chunk by chunk for dask-backed data
    if n_finite == 0:
        raise DataError(
            f"{source}: variable {var.name} holds no finite value (NaN or fill everywhere); "
            "a broken download or a wrong fill value?"
        )
    lo, hi = var.valid_range
    outside = int(((arr < lo) | (arr > hi)).sum())
    if outside / n_finite > max_fraction:
        raise DataError(
            f"{source}: variable {var.name} has {outside} of {n_finite} values "
            f"({100 * outside / n_finite:.3g}%) outside its plausible range [{lo:g}, {hi:g}] "
            f"{var.units} (found {float(arr.min()):g} .. {float(arr.max()):g}); wrong "
            "units or a bad file?"
        )
    if var.median_range is not None:
        sample = _subsample(arr)
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:  # the thinned sample missed the few finite cells
            sample = np.asarray(arr.values).ravel()
            sample = sample[np.isfinite(sample)]
        median = float(np.median(sample))
        mlo, mhi = var.median_range
        if not mlo <= median <= mhi:
            raise DataError(
                f"{source}: variable {var.name} has a median of {median:g} {var.units}, outside "
                f"the range [{mlo:g}, {mhi:g}] of real ocean fields; wrong units (salinity as a "
                "fraction, a temperature in Kelvin labelled degC) or a bad file?"
            )


def _subsample(da: xr.DataArray, target: int = 2_000_000) -> np.ndarray:
    """About ``target`` values of ``da`` taken on a regular lattice (bounded memory)."""
    if da.size <= target or da.ndim == 0:
        return np.asarray(da.values).ravel()
    step = int(np.ceil((da.size / target) ** (1 / da.ndim)))
    return np.asarray(da.isel({d: slice(None, None, step) for d in da.dims}).values).ravel()


def open_checked(
    path: str | os.PathLike[str], *, engine: str | None = None, chunks: Any = None
) -> xr.Dataset:
    """Open one netCDF file or zarr store with the integrity checks every command relies on.

    A classic netCDF file shorter than its header says (which the netCDF-C library would read
    as fill values without complaint), a truncated HDF5 file and an unreadable store raise
    :class:`DataError` naming the file. Every command that reads a data file (``data
    prepare``, ``data regrid``, ``data inspect``, ``forecast``, ``evaluate``) opens it
    through this function or :func:`open_canonical`.
    """
    ds, _ = open_paths(path, engine=engine, chunks=chunks)
    return ds


def load_checked(ds: xr.Dataset, *, source: str) -> xr.Dataset:
    """``ds.load()``, with a read error (a truncated chunk) raised as :class:`DataError`."""
    try:
        return ds.load()
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise DataError(
            f"{source}: reading the data failed ({type(exc).__name__}: {exc}); the file may be "
            "truncated or corrupt"
        ) from None


def open_canonical(
    obj: xr.Dataset | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    variables: VariableSet | Iterable[str | Variable] = GLONET_VARIABLES,
    source: str | None = None,
    require: bool = True,
    check_time: bool = True,
    allow_gaps: bool = False,
    check_range: bool = True,
    max_out_of_range: float = DEFAULT_MAX_OUT_OF_RANGE,
    engine: str | None = None,
    chunks: Any = None,
) -> xr.Dataset:
    """Open files (path, list, glob) or take a dataset, and bring it to the canonical form.

    Args:
        obj: A netCDF file or zarr store, a glob pattern, a list of them, or a dataset.
        variables: The variables wanted (a VariableSet, short names or Variables).
        source: Name used in error messages (default: the file name(s)).
        require: Raise when a variable is missing (else it is left out).
        check_time: Check the time axis is daily (normalised to the day), without duplicates
            or gaps.
        allow_gaps: Accept missing days.
        check_range: Check values against each variable's plausible range (reads the data).
        max_out_of_range: Largest fraction of finite values allowed outside that range.
        engine: xarray engine for netCDF files.
        chunks: Dask chunks (default: none; data are read lazily then on use).

    Returns:
        The canonical dataset; ``attrs["glonet_source"]`` names the input.

    Raises:
        DataError: Unreadable/truncated file, missing variable, unknown units, bad time axis,
            implausible values; the message names the file and the variable.
        GridMismatchError: No 1-D latitude/longitude coordinates.
    """
    wanted = _as_variables(variables)
    if isinstance(obj, xr.Dataset):
        ds = obj
        label = source or str(obj.attrs.get("glonet_source", "dataset"))
    else:
        ds, opened_label = open_paths(obj, engine=engine, chunks=chunks)
        label = source or opened_label

    found: dict[str, str] = {}
    missing = []
    for var in wanted:
        name = find_variable(ds, var)
        if name is None:
            missing.append(var)
        else:
            found[var.name] = name
    if missing and require:
        names = ", ".join(f"{v.name} ({v.standard_name})" for v in missing)
        raise DataError(
            f"{label}: variable(s) {names} not found (looked for their names, aliases and "
            f"standard_name); the file holds: {_describe_found(ds)}"
        )
    if not found:
        raise DataError(
            f"{label}: none of the variables {[v.name for v in wanted]} was found; the file "
            f"holds: {_describe_found(ds)}"
        )
    selected = ds[list(found.values())]
    need_depth = any(v.is_3d for v in wanted if v.name in found)
    selected = _canonical_coords(selected, source=label, need_depth=need_depth)

    arrays: dict[str, xr.DataArray] = {}
    for var in wanted:
        if var.name not in found:
            continue
        try:
            da = _to_canonical_array(
                selected[found[var.name]], var, source=label, source_name=found[var.name]
            )
            if check_range:
                check_values(da, var, source=label, max_fraction=max_out_of_range)
        except DataError:
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            raise DataError(
                f"{label}: reading variable {var.name} failed ({type(exc).__name__}: {exc}); "
                "the file may be truncated or corrupt"
            ) from None
        arrays[var.name] = da

    out = xr.Dataset(arrays, attrs=dict(ds.attrs))
    out = out.transpose("time", "depth", "latitude", "longitude", missing_dims="ignore")
    if check_time:
        days = normalise_daily_times(out["time"].values, source=label, allow_gaps=allow_gaps)
        out = out.assign_coords(time=days)
        out["time"].attrs["comment"] = "daily means, stamped at 00:00 of their day"
    for name, attrs in _COORD_ATTRS.items():
        if name in out.coords:
            keep = {k: v for k, v in out[name].attrs.items() if k in ("long_name", "comment")}
            out[name].attrs = {**keep, **attrs}
            if name != "time":
                out = out.assign_coords({name: out[name].astype(np.float64)})
                out[name].attrs = {**keep, **attrs}
            out[name].encoding = {}
    extra = [str(c) for c in out.coords if c not in _COORD_ATTRS]
    if extra:
        out = out.drop_vars(extra)
    out.attrs["glonet_source"] = label
    return out


def check_on_region(ds: xr.Dataset, region: Region, *, source: str | None = None) -> GridMatch:
    """Which of the region's grid versions the dataset lies on (possibly thinned or cut).

    Raises:
        GridMismatchError: The coordinates lie on none of the region's grids (an offset, a
            wrong step, out of the box); the message names ``source``.
    """
    label = source or str(ds.attrs.get("glonet_source", "dataset"))
    return region.match_dataset_grid(ds, source=label)


def check_no_nan_in_ocean(
    ds: xr.Dataset,
    mask: LandSeaMask | np.ndarray,
    source: str | None = None,
    *,
    limit: int = 10,
) -> None:
    """Raise :class:`DataError` where a variable holds NaN inside the ocean mask.

    ``mask`` is ``(levels, lat, lon)`` (True = ocean) on the dataset's grid; its levels are
    the dataset's depth levels, or a single (surface) level, which then checks level 0 of
    3-D variables. The message names the variable, the dates and the count of NaN cells.
    """
    label = source or str(ds.attrs.get("glonet_source", "dataset"))
    ocean = mask.ocean if isinstance(mask, LandSeaMask) else np.asarray(mask, dtype=bool)
    if ocean.ndim == 2:
        ocean = ocean[None]
    problems: list[str] = []
    total = 0
    for name, da in ds.data_vars.items():
        if "time" not in da.dims or da.dims[-2:] != ("latitude", "longitude"):
            raise DataError(f"{label}: variable {name} is not in canonical form (dims {da.dims})")
        if da.shape[-2:] != ocean.shape[-2:]:
            raise DataError(
                f"{label}: variable {name} has a {da.shape[-2:]} grid but the ocean mask is "
                f"{ocean.shape[-2:]}"
            )
        values = da.values
        if "depth" in da.dims:
            nd = da.sizes["depth"]
            if ocean.shape[0] == nd:
                wet = ocean[None]
            elif ocean.shape[0] == 1:
                values = values[:, :1]
                wet = ocean[None]
            else:
                raise DataError(
                    f"{label}: the ocean mask has {ocean.shape[0]} levels but variable {name} "
                    f"has {nd}"
                )
        else:
            values = values[:, None]
            wet = ocean[None, :1]
        bad = np.isnan(values) & wet
        per_time = bad.reshape(bad.shape[0], -1).sum(axis=1)
        for t in np.flatnonzero(per_time):
            total += int(per_time[t])
            day = np.datetime_as_string(da["time"].values[t], unit="D")
            k, j, i = (int(a[0]) for a in np.nonzero(bad[t]))
            where = f"lat {float(da['latitude'][j]):.4f}, lon {float(da['longitude'][i]):.4f}"
            if "depth" in da.dims:
                where = f"depth {float(da['depth'][k]):g} m, " + where
            problems.append(f"  {name} on {day}: {int(per_time[t])} NaN cells (first at {where})")
    if problems:
        shown = problems[:limit]
        more = f"\n  ... ({len(problems)} variable-days in all)" if len(problems) > limit else ""
        raise DataError(
            f"{label}: {total} NaN values inside the ocean mask:\n" + "\n".join(shown) + more
        )
