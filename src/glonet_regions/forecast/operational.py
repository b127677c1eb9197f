"""Forecasting without a store: initial days from files or the region's analysis-forecast.

:class:`InitialSource` reads the two days before the start through the same checked reader
(:func:`glonet_regions.data.reader.open_canonical`), grid recognition and vertical
interpolation to the model's levels as the training store
(:class:`glonet_regions.data.canonical_source.CanonicalSource`), and lays them out by depth
group. :func:`boundary_data` builds the boundary data of a boundary mode from a store, a
file or the region's declared global forecast datasets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.errors import DataError, GridMismatchError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import Region

__all__ = ["InitialSource", "boundary_data", "default_boundary_mode", "service_forecast_cube"]


class InitialSource:
    """The initial days of an operational forecast, laid out like a store's depth groups.

    Args:
        region: The region (its depth groups and levels give the channel layout).
        files: Daily files holding the two days before each start (``--initial``); empty:
            the region's ``analysis-forecast`` datasets through their source plugin.
        grid: The model grid; data on a finer grid containing its nodes are subsampled.
        days: The days to read (the service path fetches only those).
    """

    def __init__(
        self,
        region: Region,
        files: Sequence[str | Path] = (),
        *,
        grid: Grid | None = None,
        days: Sequence[dt.date] = (),
    ) -> None:
        from glonet_regions.data.canonical_source import CanonicalSource, InputRef

        self.region = region
        self.path = None
        if files:
            refs = tuple(InputRef(path=str(p)) for p in files)
            self.name = ", ".join(str(p) for p in files)
        else:
            keys = [d.key for d in region.datasets if d.kind == "analysis-forecast"]
            if not keys:
                raise DataError(
                    f"Region {region.name!r} declares no analysis-forecast dataset: give the "
                    "initial days with --initial FILE"
                )
            lo, hi = (min(days), max(days)) if days else (None, None)
            refs = tuple(
                InputRef(service=region.dataset(k).service, dataset_key=k, start=lo, end=hi)
                for k in keys
            )
            self.name = ", ".join(f"{region.dataset(k).dataset_id}" for k in keys)
        self._canon = CanonicalSource(region, refs)
        self._grid = grid
        self._levels = {i: float(v) for i, v in enumerate(region.depth.levels.values)}

    @property
    def grid(self) -> Grid:
        return self._grid if self._grid is not None else self._canon.grid()

    @property
    def dates(self) -> list[dt.date]:
        return self._canon.available_days()

    @property
    def group_names(self) -> list[str]:
        return list(self.region.depth.group_names)

    @property
    def levels(self) -> dict[int, float]:
        return dict(self._levels)

    def channels(self, group: str) -> list[tuple[str, int | None]]:
        return self.region.depth.group(group).channels()

    def _subsample(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices of the model grid's nodes in the data grid."""
        from glonet_regions.forecast.align import _nodes

        own = self._canon.grid()
        if self._grid is None or own.same_as(self._grid):
            return np.arange(own.shape[0]), np.arange(own.shape[1])
        tol = own.default_tolerance()
        try:
            return (
                _nodes(own.lat, self._grid.lat, tol[0], "latitude", self.name),
                _nodes(own.lon, self._grid.lon, tol[1], "longitude", self.name),
            )
        except GridMismatchError as exc:
            raise GridMismatchError(
                f"The initial conditions {self.name} are on {own}, not on the checkpoint's grid "
                f"{self._grid} (nor a finer grid holding its nodes): {exc}"
            ) from None

    def group_days(self, group: str, days: Sequence[dt.date]) -> np.ndarray:
        """``(T, C, H, W)`` physical data of a group; a missing day or variable is an error."""
        have = set(self.dates)
        missing = [str(d) for d in days if d not in have]
        if missing:
            span = f"{min(have)}..{max(have)}" if have else "no day"
            raise DataError(
                f"The initial conditions {self.name} have no data for {', '.join(missing)} "
                f"(they hold {span}); a forecast needs the two days before its start"
            )
        fields = self._canon.interior(list(days))
        rows, cols = self._subsample()
        chans = self.channels(group)
        out = np.empty((len(days), len(chans), rows.size, cols.size), dtype=np.float32)
        for c, (var, li) in enumerate(chans):
            if var not in fields:
                raise DataError(f"The initial conditions {self.name} lack variable {var}")
            arr = fields[var] if li is None else fields[var][:, li]
            out[:, c] = arr[:, rows][:, :, cols]
        return out


def default_boundary_mode(
    region: Region, *, boundary_source: Any = None, sample_forecast: Any = None
) -> str:
    """``forecast`` where a global forecast source exists, else a clear error.

    Raises:
        ValidationError: naming what is missing and the options that would do.
    """
    if boundary_source or sample_forecast or region.open_boundaries.forecast_source:
        return "forecast"
    raise ValidationError(
        f"No global forecast for the open boundaries: region {region.name!r} declares no "
        "open_boundaries.forecast_source and no --boundary-source was given. Give "
        "--boundary-source PATH_OR_DATASET_ID, or choose --boundary persistence, or "
        "--boundary reanalysis (idealised: perfect boundaries)"
    )


def service_forecast_cube(
    region: Region, datasets: Sequence[Any], start: dt.date, n_days: int
) -> tuple[Any, str, str]:
    """Global analysis-forecast datasets from ``start`` on, as a one-run cube.

    Each dataset (a :class:`~glonet_regions.core.region.SourceDataset`, e.g. the region's
    ``open_boundaries.forecast_source``) is opened through its source plugin (Copernicus
    Marine) for ``start``..``start + n_days - 1`` over the region's box plus one degree, read
    by the checked reader, and the whole is taken as the run issued on ``start``: a forecast
    only when fetched on the start date (later, the service serves analyses for those days,
    and the description says so).

    Returns:
        ``(cube, source label, note)``.
    """
    import xarray as xr

    from glonet_regions.core.grid import BBox
    from glonet_regions.data.prepare_source import STATE_VARIABLES
    from glonet_regions.data.reader import open_canonical
    from glonet_regions.forecast.boundary_sources import daily_as_run
    from glonet_regions.registry.facade import get_registry

    end = start + dt.timedelta(days=n_days - 1)
    b = region.bbox
    bbox = BBox(b.lon_min - 1.0, b.lon_max + 1.0, max(b.lat_min - 1.0, -90.0),
                min(b.lat_max + 1.0, 90.0))  # fmt: skip
    parts = []
    for dataset in datasets:
        src = get_registry().get_source(dataset.service)()
        raw = src.open(dataset, bbox=bbox, start=start, end=end)
        ds = open_canonical(
            raw, variables=STATE_VARIABLES, source=dataset.dataset_id, require=False,
            allow_gaps=True,
        )  # fmt: skip
        parts.append(ds[[v for v in ds.data_vars if v in STATE_VARIABLES]])
    merged = xr.merge(parts, join="inner", compat="override")
    label = ", ".join(d.dataset_id for d in datasets)
    today = dt.datetime.now(dt.UTC).date()
    note = (
        f"run taken as issued on {start} (fetched {today})"
        if today <= start
        else f"fetched {today}, after the start date {start}: the service's days before "
        f"{today} are analyses, not a forecast issued on {start}"
    )
    return daily_as_run(merged, source=label), label, note


def boundary_data(
    mode: str,
    *,
    region: Region,
    source: Any,
    boundary_source: str | Path | None,
    start: dt.date,
    n_days: int,
) -> Any:
    """The :class:`~glonet_regions.forecast.boundary_sources.BoundaryData` of ``mode``.

    Args:
        mode: ``forecast``, ``reanalysis`` or ``persistence``.
        region: The region.
        source: The initial-condition source (a store for ``reanalysis``).
        boundary_source: A global forecast file or zarr, or a Copernicus Marine dataset id
            (``forecast``); None: the region's ``open_boundaries.forecast_source`` datasets.
        start, n_days: First start date and forecast length (for the service path).
    """
    from glonet_regions.forecast.boundary_sources import (
        GlobalForecastBoundary,
        PersistenceBoundary,
        StoreBoundary,
        check_mode,
        open_global_forecast,
    )
    from glonet_regions.forecast.sources import StoreSource

    check_mode(mode)
    if mode == "persistence":
        return PersistenceBoundary(str(source.name))
    if mode == "reanalysis":
        if not isinstance(source, StoreSource):
            raise ValidationError(
                "--boundary reanalysis reads a store's boundary arrays: give --store or --sample"
            )
        return StoreBoundary(source)
    note = ""
    if boundary_source is not None and Path(str(boundary_source)).exists():
        label = str(boundary_source)
        cube = open_global_forecast(Path(label), source=label)
    elif boundary_source is not None:
        label = str(boundary_source)
        if Path(label).suffix in (".nc", ".zarr", ".nc4") or "/" in label:
            raise DataError(f"--boundary-source {label} does not exist")
        from glonet_regions.core.region import SourceDataset

        dataset = SourceDataset("boundary-source", "global", "copernicusmarine", label)
        cube, label, note = service_forecast_cube(region, [dataset], start, n_days)
    elif region.open_boundaries.forecast_source:
        datasets = [region.dataset(k) for k in region.open_boundaries.forecast_source]
        cube, label, note = service_forecast_cube(region, datasets, start, n_days)
    else:
        default_boundary_mode(region)
        raise AssertionError("unreachable")
    return GlobalForecastBoundary(
        cube, source=label, grid=source.grid, levels=source.levels, note=note
    )
