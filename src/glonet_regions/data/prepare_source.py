"""What the store writer reads from: the :class:`PrepareSource` protocol and a synthetic source.

A source hands the writer, for a list of days, the canonical fields on GLONET's 21 levels and
on the store grid (numpy arrays, NaN on land), and optionally the global boundary source
regridded onto the same grid. Sources are pickled to dask workers, so they keep only paths
and small settings, and open files lazily in each process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from glonet_regions.core.depth import GLONET_LEVELS, DepthLevels
from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import Grid

#: Canonical variables of the state vector (2-D first).
STATE_VARIABLES = ("zos", "thetao", "so", "uo", "vo")


@runtime_checkable
class PrepareSource(Protocol):
    """The interface :func:`glonet_regions.data.prepare.prepare_store` reads data through."""

    def grid(self) -> Grid:
        """The store grid (every array returned is on it)."""

    def available_days(self) -> list[dt.date]:
        """Every day with data, ascending."""

    def has_boundary(self) -> bool:
        """Whether :meth:`boundary` returns data."""

    def ocean_mask(self) -> np.ndarray | None:
        """``(21, H, W)`` bool ocean mask on GLONET's levels, or None to derive it from data."""

    def interior(self, days: Sequence[dt.date]) -> Mapping[str, np.ndarray]:
        """Fields of the given days: ``zos`` ``(T, H, W)``, 3-D variables ``(T, 21, H, W)``."""

    def boundary(self, days: Sequence[dt.date]) -> Mapping[str, np.ndarray]:
        """The global source on the store grid, same shapes as :meth:`interior`."""

    def describe(self) -> dict[str, Any]:
        """JSON-friendly provenance (source ids, versions, files, sample manifest)."""


@dataclass
class SyntheticSource:
    """Deterministic analytic ocean fields on any grid, for tests and benchmarks only.

    Not a stand-in for real data (the embedded sample, :mod:`glonet_regions.sample.generate`, is
    the realistic synthetic dataset): it only exercises the writer and loader at any size.
    Bathymetry deepens westwards and southwards; a block in the north-east corner is land.
    The boundary source is the same field with a small bias (a "global model" that differs).

    Args:
        grid_: The store grid.
        start: First day.
        n_days: Number of days (before removing ``missing``).
        missing: Days left out, to make gaps in the time axis.
        nan_day: A day whose first ocean cell is NaN (to test the "NaN in the ocean" check).
        with_boundary: Whether :meth:`boundary` has data.
    """

    grid_: Grid
    start: dt.date
    n_days: int
    missing: tuple[dt.date, ...] = ()
    nan_day: dt.date | None = None
    with_boundary: bool = True
    levels: DepthLevels = GLONET_LEVELS
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def grid(self) -> Grid:
        return self.grid_

    def available_days(self) -> list[dt.date]:
        days = [self.start + dt.timedelta(days=i) for i in range(self.n_days)]
        return [d for d in days if d not in set(self.missing)]

    def has_boundary(self) -> bool:
        return self.with_boundary

    def _geometry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if "geo" not in self._cache:
            h, w = self.grid_.shape
            y = np.linspace(0.0, 1.0, h)[:, None]
            x = np.linspace(0.0, 1.0, w)[None, :]
            depth = 6000.0 * (1.0 - x) * (0.3 + 0.7 * (1.0 - y)) + 5.0
            depth = np.where((x > 0.75) & (y > 0.7), 0.0, depth)
            z = self.levels.as_array()[:, None, None]
            # "ocean" first: another thread may read it as soon as "geo" exists.
            self._cache["ocean"] = z < depth[None]
            self._cache["geo"] = (np.broadcast_to(x, (h, w)), np.broadcast_to(y, (h, w)), depth)
        return self._cache["geo"]

    def ocean_mask(self) -> np.ndarray:
        self._geometry()
        return self._cache["ocean"]

    def _fields(self, days: Sequence[dt.date], bias: float) -> dict[str, np.ndarray]:
        x, y, _ = self._geometry()
        ocean = self.ocean_mask()
        avail = set(self.available_days())
        z = self.levels.as_array()[None, :, None, None]
        t = np.asarray([(d - dt.date(2000, 1, 1)).days for d in days], dtype=np.float64)
        for d in days:
            if d not in avail:
                raise DataError(f"Synthetic source has no data for {d}")
        tt = t[:, None, None, None]
        season = np.sin(2 * np.pi * tt / 365.25)
        phase = 2 * np.pi * (3 * x[None, None] - tt / 20.0)
        eddy = np.sin(phase) * np.cos(2 * np.pi * 2 * y[None, None])
        decay = np.exp(-z / 300.0)
        out: dict[str, np.ndarray] = {
            "thetao": 4 + 14 * decay + 3 * season * decay + eddy * decay + 5 * y[None, None] + bias,
            "so": 35.0 + 0.4 * decay * eddy - 0.3 * y[None, None] + 0.01 * bias,
            "uo": 0.3 * decay * np.cos(phase) + 0.01 * bias,
            "vo": 0.2 * decay * np.sin(phase) * np.sin(2 * np.pi * y[None, None]),
        }
        for k in out:
            out[k] = np.where(ocean[None], out[k], np.nan).astype(np.float32)
        out["zos"] = np.where(
            ocean[0][None], 0.2 * eddy[:, 0] + 0.05 * season[:, 0] + 0.01 * bias, np.nan
        ).astype(np.float32)
        if self.nan_day is not None and self.nan_day in days:
            i = list(days).index(self.nan_day)
            iy, ix = np.argwhere(ocean[0])[0]
            out["thetao"][i, 0, iy, ix] = np.nan
        return out

    def interior(self, days: Sequence[dt.date]) -> dict[str, np.ndarray]:
        return self._fields(days, 0.0)

    def boundary(self, days: Sequence[dt.date]) -> dict[str, np.ndarray]:
        if not self.with_boundary:
            raise DataError("This synthetic source has no boundary data")
        return self._fields(days, 0.5)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "synthetic-analytic",
            "note": "analytic fields for tests and benchmarks, not ocean data",
            "start": self.start.isoformat(),
            "n_days": self.n_days,
            "missing": [d.isoformat() for d in self.missing],
            "grid": self.grid_.to_dict(),
        }
