"""The data source protocol and helpers shared by sources (dataset ids, sub-setting)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import BBox, find_lat_lon_names
from glonet_regions.core.region import SourceDataset

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "Source",
    "dataset_id_of",
    "find_depth_name",
    "find_time_name",
    "rename_to_short_names",
    "source_variable_names",
    "subset_dataset",
]

_TIME_NAMES = ("time", "time_counter", "t", "TIME", "Time")
_DEPTH_NAMES = ("depth", "deptht", "depthu", "depthv", "lev", "z", "DEPTH", "Depth", "elevation")


@runtime_checkable
class Source(Protocol):
    """What a data source provides: an xarray view of a dataset, cut to a box and period.

    A source registered through the ``register_sources`` hook is a factory
    ``factory(**options) -> Source``.
    """

    name: str

    def open(
        self,
        dataset: SourceDataset | str,
        *,
        bbox: BBox | None = None,
        depth_range: tuple[float, float] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        variables: list[str] | None = None,
    ) -> xr.Dataset:
        """Open ``dataset`` (a declared dataset or the source's own id / path), sub-set.

        Args:
            dataset: A :class:`SourceDataset` or the source's identifier for it.
            bbox: Keep cell centres inside this box (inclusive).
            depth_range: Keep levels with ``min <= depth <= max`` (m, positive down).
            start: First day kept (inclusive).
            end: Last day kept (inclusive, the whole day).
            variables: Our short names (translated through ``SourceDataset.variables``).
        """
        ...


def dataset_id_of(dataset: SourceDataset | str) -> str:
    """The service's id (or path) of a dataset."""
    return dataset.dataset_id if isinstance(dataset, SourceDataset) else str(dataset)


def source_variable_names(
    dataset: SourceDataset | str, variables: Sequence[str] | None
) -> list[str] | None:
    """Our short names translated to the dataset's names (unmapped names pass through)."""
    if variables is None:
        return None
    mapping: Mapping[str, str] = dataset.variables if isinstance(dataset, SourceDataset) else {}
    return [mapping.get(v, v) for v in variables]


def rename_to_short_names(ds: xr.Dataset, dataset: SourceDataset | str) -> xr.Dataset:
    """Rename a dataset's variables back to our short names (``SourceDataset.variables``)."""
    if not isinstance(dataset, SourceDataset):
        return ds
    renames = {
        theirs: ours
        for ours, theirs in dataset.variables.items()
        if theirs in ds.data_vars and theirs != ours and ours not in ds.variables
    }
    return ds.rename(renames) if renames else ds


def _find_coord(
    ds: xr.Dataset, names: Sequence[str], standard_names: Sequence[str], axis: str
) -> str | None:
    for candidate in names:
        if candidate in ds.coords or candidate in ds.dims:
            return candidate
    for name, var in ds.variables.items():
        if var.ndim != 1:
            continue
        attrs = var.attrs
        if attrs.get("standard_name") in standard_names or attrs.get("axis") == axis:
            return str(name)
    return None


def find_time_name(ds: xr.Dataset) -> str | None:
    """The name of the time coordinate (by name, ``standard_name`` or ``axis: T``)."""
    name = _find_coord(ds, _TIME_NAMES, ("time",), "T")
    if name is not None:
        return name
    for cname, var in ds.coords.items():
        if var.ndim == 1 and np.issubdtype(var.dtype, np.datetime64):
            return str(cname)
    return None


def find_depth_name(ds: xr.Dataset) -> str | None:
    """The name of the vertical coordinate (by name, ``standard_name`` or ``axis: Z``)."""
    return _find_coord(ds, _DEPTH_NAMES, ("depth", "height", "altitude"), "Z")


def _select_range(
    ds: xr.Dataset, name: str, lo: Any, hi: Any, *, what: str, source: str
) -> xr.Dataset:
    values = ds[name].values
    keep = np.flatnonzero((values >= lo) & (values <= hi))
    if keep.size == 0:
        shown = f"{values.min()}..{values.max()}" if values.size else "(empty)"
        raise DataError(f"{source}: no {what} within [{lo}, {hi}] (the data span {name} {shown})")
    return ds.isel({name: keep})


def subset_dataset(
    ds: xr.Dataset,
    *,
    bbox: BBox | None = None,
    depth_range: tuple[float, float] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    variables: Sequence[str] | None = None,
    source: str = "dataset",
) -> xr.Dataset:
    """Cut an xarray dataset to a box, depth range, period and variables.

    Coordinates may be ascending or descending. Raises :class:`DataError` naming ``source``
    when a requested variable is absent or a selection is empty.
    """
    if variables is not None:
        missing = [v for v in variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"{source}: variable(s) {missing} not found; "
                f"it holds {sorted(map(str, ds.data_vars))}"
            )
        ds = ds[list(variables)]
    if bbox is not None:
        lat, lon = find_lat_lon_names(ds, source=source)
        ds = _select_range(ds, lat, bbox.lat_min, bbox.lat_max, what="latitude", source=source)
        ds = _select_range(ds, lon, bbox.lon_min, bbox.lon_max, what="longitude", source=source)
    if depth_range is not None:
        depth = find_depth_name(ds)
        if depth is None:
            raise DataError(f"{source}: a depth range was asked but the data have no depth axis")
        lo, hi = sorted(float(v) for v in depth_range)
        values = ds[depth]
        if depth == "elevation" or values.attrs.get("positive") == "up":
            lo, hi = -hi, -lo
        ds = _select_range(ds, depth, lo, hi, what="depth level", source=source)
    if start is not None or end is not None:
        time = find_time_name(ds)
        if time is None:
            raise DataError(f"{source}: a period was asked but the data have no time axis")
        lo_t = np.datetime64(start, "ns") if start is not None else ds[time].values.min()
        hi_t = (
            np.datetime64(end + dt.timedelta(days=1), "ns") - np.timedelta64(1, "ns")
            if end is not None
            else ds[time].values.max()
        )
        ds = _select_range(ds, time, lo_t, hi_t, what="time step", source=source)
    return ds
