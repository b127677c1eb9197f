"""Where a forecast's open-boundary data come from: a global forecast, persistence or reanalysis.

Three boundary modes (``forecast --boundary``):

- ``forecast``: lead day ``L`` of a forecast issued on ``D`` is forced with the global forecast
  run issued on or before ``D`` (the latest such run ``R``), at its lead ``L + (D - R)``. The
  global forecast is a cube in OceanBench's challenger shape (``first_day_datetime``,
  ``lead_day_index``, ``depth``, ``latitude``, ``longitude``) or daily fields taken as one run
  issued on their first day (what a Copernicus Marine analysis-forecast dataset serves from its
  run date on). It is interpolated to the model's levels (:mod:`glonet_regions.data.vertical`)
  and regridded bilinearly (NaN-aware) onto the model grid; only the open-boundary zone is kept,
  and zone cells it leaves empty (its coarser coastline) hold the day before the start.
- ``persistence``: the boundary zone held at the initial state of the day before the start.
- ``reanalysis``: the store's boundary arrays on the forecast's own valid days (the global
  reanalysis of the future): idealised, perfect boundaries, not a forecast.

Every check that can fail (run dates, lead days, variables, coverage) runs in
:meth:`BoundaryData.check` before any model call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.forecast.cube import FIRST_DAY, LEAD

__all__ = [
    "BOUNDARY_MODES",
    "PERSISTENCE_DESCRIPTION",
    "REANALYSIS_DESCRIPTION",
    "BoundaryData",
    "GlobalForecastBoundary",
    "PersistenceBoundary",
    "StoreBoundary",
    "daily_as_run",
    "open_global_forecast",
]

BOUNDARY_MODES: tuple[str, ...] = ("forecast", "reanalysis", "persistence")
REANALYSIS_DESCRIPTION = (
    "idealised: perfect boundaries (the global reanalysis on the forecast's own valid days, "
    "unknown at the start date)"
)
PERSISTENCE_DESCRIPTION = "boundary held at its state on the day before the start"

Channels = Sequence[tuple[str, int | None]]


class BoundaryData(Protocol):
    """Boundary data of one mode, for a forecast's depth groups."""

    mode: str
    source: str

    def description(self) -> str:
        """Human text for the cube's ``boundary_mode_description``."""

    def check(
        self,
        starts: Sequence[dt.date],
        n_days: int,
        variables: Sequence[str],
        zone: np.ndarray,
    ) -> None:
        """Raise :class:`DataError` if some start, lead day or variable cannot be served.

        ``zone`` is the ``(H, W)`` open-boundary zone of the provider that will use the data.
        """

    def fetch(
        self, group: str, channels: Channels, start: dt.date, n_days: int, initial: np.ndarray
    ) -> np.ndarray:
        """``(n_days, C, H, W)`` physical boundary data (NaN outside the zone is allowed).

        ``group`` is the depth group, ``channels`` its ``(variable, level index)`` layout and
        ``initial`` its ``(2, C, H, W)`` initial state (the two days before the start).
        """


def _days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range(n)]


class StoreBoundary:
    """``reanalysis``: the store's boundary arrays of the valid days (idealised)."""

    mode = "reanalysis"

    def __init__(self, store: Any) -> None:
        if not store.reader.has_boundary:
            raise DataError(
                f"--boundary reanalysis: store {store.path} has no boundary arrays (it was "
                "prepared without a global source); use --boundary forecast or persistence"
            )
        self.store = store
        self.source = f"{store.path} boundary arrays (global reanalysis)"

    def description(self) -> str:
        return REANALYSIS_DESCRIPTION

    def check(
        self, starts: Sequence[dt.date], n_days: int, variables: Sequence[str], zone: np.ndarray
    ) -> None:
        have = set(self.store.dates)
        for s in starts:
            missing = [d for d in _days(s, n_days) if d not in have]
            if missing:
                raise DataError(
                    f"Store {self.store.path} has no boundary data for {missing[0]} (start {s} "
                    f"needs {s}..{s + dt.timedelta(days=n_days - 1)})"
                )

    def fetch(
        self, group: str, channels: Channels, start: dt.date, n_days: int, initial: np.ndarray
    ) -> np.ndarray:
        bdays = _days(start, n_days)
        bnd = self.store.group_days(group, bdays, boundary=True)
        if not np.isfinite(bnd).any(axis=(1, 2, 3)).all():
            raise DataError(
                f"Store {self.store.path} lacks boundary data for some of {bdays[0]}.."
                f"{bdays[-1]} (needed to force a {n_days}-day forecast)"
            )
        return bnd


class PersistenceBoundary:
    """``persistence``: the zone held at the initial state of the day before the start."""

    mode = "persistence"

    def __init__(self, source: str) -> None:
        self.source = f"initial conditions of the day before the start ({source})"

    def description(self) -> str:
        return PERSISTENCE_DESCRIPTION

    def check(
        self, starts: Sequence[dt.date], n_days: int, variables: Sequence[str], zone: np.ndarray
    ) -> None:
        return None

    def fetch(
        self, group: str, channels: Channels, start: dt.date, n_days: int, initial: np.ndarray
    ) -> np.ndarray:
        return np.repeat(np.asarray(initial[-1:], dtype=np.float32), n_days, axis=0)


def daily_as_run(ds: xr.Dataset, *, source: str) -> xr.Dataset:
    """Daily fields ``(time, ...)`` as a one-run cube issued on their first day.

    Raises:
        DataError: when the days are not consecutive (names the first missing day).
    """
    days = ds["time"].values.astype("datetime64[D]")
    if days.size == 0:
        raise DataError(f"{source}: no day in the boundary source")
    expect = days[0] + np.arange(days.size)
    if not np.array_equal(days, expect):
        gap = next(str(e) for d, e in zip(days, expect) if d != e)
        raise DataError(f"{source}: the boundary source misses day {gap} (its days must follow)")
    out = ds.rename(time=LEAD).assign_coords({LEAD: np.arange(days.size, dtype=np.int64)})
    out = out.expand_dims({FIRST_DAY: days[:1].astype("datetime64[ns]")})
    out.attrs = dict(ds.attrs)
    return out


def open_global_forecast(obj: Any, *, source: str) -> xr.Dataset:
    """A global forecast (path or dataset, cube or daily fields) as a canonical cube.

    Variables get our short names (aliases and CF names recognised), coordinates are named
    ``depth``, ``latitude``, ``longitude``; daily fields become one run (:func:`daily_as_run`).
    """
    from pathlib import Path

    from glonet_regions.forecast.align import canonical_daily

    if isinstance(obj, xr.Dataset):
        ds = obj
    else:
        p = Path(obj)
        if not p.exists():
            raise DataError(f"Boundary source {p} does not exist")
        try:
            ds = xr.open_zarr(p, consolidated=False) if p.is_dir() else xr.open_dataset(p)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot open boundary source {p}: {exc}") from exc
    if FIRST_DAY in ds.dims:
        if LEAD not in ds.dims:
            raise DataError(f"{source}: a cube with {FIRST_DAY} needs a {LEAD} dimension too")
        # The run dates take the place of the time axis while names are made canonical.
        runs = canonical_daily(ds.rename({FIRST_DAY: "time"}), source=source)
        return runs.rename(time=FIRST_DAY)
    if not any(t in ds.dims for t in ("time", "time_counter", "t", "date")):
        raise DataError(
            f"{source}: neither a forecast cube ({FIRST_DAY}, {LEAD}) nor daily fields (time); "
            f"dims {list(ds.dims)}"
        )
    return daily_as_run(canonical_daily(ds, source=source), source=source)


class GlobalForecastBoundary:
    """``forecast``: a global forecast cube, regridded onto the model grid's boundary zone.

    Args:
        cube: Canonical cube (:func:`open_global_forecast`).
        source: What it came from (path or dataset id), for attributes and errors.
        grid: The model grid.
        levels: Model level index -> depth (m).
        note: Extra text for the description (e.g. how a service's run was selected).
    """

    mode = "forecast"

    def __init__(
        self,
        cube: xr.Dataset,
        *,
        source: str,
        grid: Grid,
        levels: dict[int, float],
        note: str = "",
    ) -> None:
        self.source = source
        self.grid = grid
        self.zone = np.ones(grid.shape, dtype=bool)  # set by check()
        self.levels = dict(levels)
        self.note = note
        self.runs = [dt.date.fromisoformat(str(t)[:10]) for t in cube[FIRST_DAY].values]
        self.n_lead = int(cube.sizes[LEAD])
        self._runs_used: set[dt.date] = set()
        self.cube = cube
        self._regridder: Any = None

    def description(self) -> str:
        runs = ", ".join(str(r) for r in sorted(self._runs_used)) or "none used"
        text = f"global forecast issued {runs} ({self.source})"
        return f"{text}; {self.note}" if self.note else text

    def run_for(self, start: dt.date) -> dt.date:
        """The latest run issued on or before ``start``.

        Raises:
            DataError: when every run is after ``start`` (names both dates).
        """
        ok = [r for r in self.runs if r <= start]
        if not ok:
            first = min(self.runs)
            raise DataError(
                f"Boundary source {self.source}: its global forecast run {first} is after the "
                f"start date {start} (it would force the forecast with the future); give a run "
                f"issued on or before {start}"
            )
        return max(ok)

    def check(
        self, starts: Sequence[dt.date], n_days: int, variables: Sequence[str], zone: np.ndarray
    ) -> None:
        self.zone = np.asarray(zone, dtype=bool)
        missing = [v for v in dict.fromkeys(variables) if v not in self.cube.data_vars]
        if missing:
            raise DataError(
                f"Boundary source {self.source} lacks variable(s) {', '.join(missing)} "
                f"(it has {', '.join(str(v) for v in self.cube.data_vars) or 'none'}); the "
                "open boundaries need every variable the model forecasts"
            )
        own, box = Grid.from_dataset(self.cube, source=self.source), self.grid.bbox
        if not own.bbox.contains(box, tol=1e-6):
            raise DataError(
                f"Boundary source {self.source} covers lon {own.bbox.lon_min:.3f}.."
                f"{own.bbox.lon_max:.3f} lat {own.bbox.lat_min:.3f}..{own.bbox.lat_max:.3f}, "
                f"not the open-boundary zone of the model grid (lon {box.lon_min:.3f}.."
                f"{box.lon_max:.3f}, lat {box.lat_min:.3f}..{box.lat_max:.3f})"
            )
        # Keep the source cells around the model grid (two cells of margin): a global cube is
        # not regridded whole.
        mlat, mlon = 2 * abs(own.dlat), 2 * abs(own.dlon)
        lat, lon = self.cube["latitude"].values, self.cube["longitude"].values
        ilat = np.flatnonzero((lat >= box.lat_min - mlat) & (lat <= box.lat_max + mlat))
        ilon = np.flatnonzero((lon >= box.lon_min - mlon) & (lon <= box.lon_max + mlon))
        self.cube = self.cube.isel(
            latitude=slice(int(ilat[0]), int(ilat[-1]) + 1),
            longitude=slice(int(ilon[0]), int(ilon[-1]) + 1),
        )
        for s in starts:
            run = self.run_for(s)
            offset = (s - run).days
            if offset + n_days > self.n_lead:
                last = s + dt.timedelta(days=n_days - 1)
                raise DataError(
                    f"Boundary source {self.source}: run {run} has {self.n_lead} lead day(s) "
                    f"(to {run + dt.timedelta(days=self.n_lead - 1)}); the forecast from {s} "
                    f"needs lead days {offset}..{offset + n_days - 1} (to {last})"
                )
            self._check_leads_hold_data(run, s, offset, n_days, variables)

    def _check_leads_hold_data(
        self, run: dt.date, start: dt.date, offset: int, n_days: int, variables: Sequence[str]
    ) -> None:
        """Every needed lead day of every variable holds data around the model grid."""
        leads = self.cube.sel({FIRST_DAY: np.datetime64(run.isoformat(), "ns")}).isel(
            {LEAD: slice(offset, offset + n_days)}
        )
        for var in dict.fromkeys(variables):
            da = leads[var].isel(depth=0) if "depth" in leads[var].dims else leads[var]
            ok = np.asarray(da.notnull().any(["latitude", "longitude"]).values)
            if not ok.all():
                k = int(np.argmin(ok))
                raise DataError(
                    f"Boundary source {self.source}: {var} of run {run} lead day {offset + k} "
                    f"(valid {start + dt.timedelta(days=k)}) holds no value around the model grid"
                )

    def _regrid(self, values: np.ndarray) -> np.ndarray:
        if self._regridder is None:
            from glonet_regions.data.regrid.builtin import BuiltinRegridder

            own = Grid.from_dataset(self.cube, source=self.source)
            self._regridder = BuiltinRegridder(own, self.grid, "bilinear", cache=False)
        return np.asarray(self._regridder.regrid(values), dtype=np.float32)

    def fetch(
        self, group: str, channels: Channels, start: dt.date, n_days: int, initial: np.ndarray
    ) -> np.ndarray:
        from glonet_regions.data.vertical import interpolate_levels

        run = self.run_for(start)
        self._runs_used.add(run)
        offset = (start - run).days
        run_ds = self.cube.sel({FIRST_DAY: np.datetime64(run.isoformat(), "ns")})
        run_ds = run_ds.isel({LEAD: slice(offset, offset + n_days)})
        h, w = self.grid.shape
        out = np.full((n_days, len(channels), h, w), np.nan, dtype=np.float32)
        by_var: dict[str, list[tuple[int, int | None]]] = {}
        for c, (var, li) in enumerate(channels):
            by_var.setdefault(var, []).append((c, li))
        for var, chans in by_var.items():
            da = run_ds[var]
            values = np.asarray(da.values, dtype=np.float32)
            if "depth" in da.dims:
                want = [self.levels[int(li)] for _, li in chans if li is not None]
                values = interpolate_levels(values, da["depth"].values, want, axis=1)
                fields = self._regrid(values)
                for k, (c, _) in enumerate(chans):
                    out[:, c] = fields[:, k]
            else:
                fields = self._regrid(values)
                for c, _ in chans:
                    out[:, c] = fields
            surface = fields if fields.ndim == 3 else fields[:, 0]
            zone_ok = np.isfinite(surface[:, self.zone]).any(axis=1)
            if not zone_ok.all():
                k = int(np.argmin(zone_ok))
                raise DataError(
                    f"Boundary source {self.source}: {var} of run {run} lead day {offset + k} "
                    f"(valid {start + dt.timedelta(days=k)}) has no value in the open-boundary "
                    "zone"
                )
        out[:, :, ~self.zone] = np.nan
        # Zone cells the global forecast leaves empty (its coarser coastline, levels below its
        # bottom) hold the day before the start rather than the normalisation mean.
        held = np.broadcast_to(np.asarray(initial[-1], dtype=np.float32), out.shape)
        gap = np.isnan(out) & self.zone[None, None]
        out[gap] = held[gap]
        return out


def check_mode(mode: str) -> str:
    if mode not in BOUNDARY_MODES:
        raise ValidationError(
            f"--boundary must be one of {', '.join(BOUNDARY_MODES)}, got {mode!r}"
        )
    return mode
