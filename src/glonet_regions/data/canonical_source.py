"""A :class:`PrepareSource` over CMEMS-like inputs: files (the sample, local data) or datasets
opened through registered sources (Copernicus Marine).

Regional inputs are read with :func:`glonet_regions.data.reader.open_canonical` (so every
reader check applies and errors name the file), recognised on the region's grids, and
interpolated from their native levels to GLONET's 21 (NaN below the bottom). The global input,
if any, is interpolated likewise and regridded (bilinear, NaN-aware, with the regridder the
region names in ``open_boundaries.regridder``, looked up in the plugin registry) onto the store
grid: it becomes the store's boundary data. Files are opened lazily, once per process.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import Region
from glonet_regions.data.prepare_source import STATE_VARIABLES


@dataclass(frozen=True)
class InputRef:
    """One input: a file path, or a region dataset served by a registered source."""

    path: str | None = None
    service: str | None = None
    dataset_key: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def label(self) -> str:
        return self.path or f"{self.service}:{self.dataset_key}"

    def open(self, region: Region) -> Any:
        """The canonical dataset (whatever state variables this input holds)."""
        from glonet_regions.data.reader import open_canonical

        if self.path is not None:
            return open_canonical(
                self.path, variables=STATE_VARIABLES, source=self.path, require=False,
                allow_gaps=True,
            )  # fmt: skip
        from glonet_regions.registry.facade import get_registry

        assert self.service is not None and self.dataset_key is not None
        dataset = region.dataset(self.dataset_key)
        src = get_registry().get_source(self.service)()
        margin = 1.0 if dataset.kind == "global" else 0.0
        b = region.bbox
        from glonet_regions.core.grid import BBox

        bbox = BBox(b.lon_min - margin, b.lon_max + margin,
                    max(b.lat_min - margin, -90), min(b.lat_max + margin, 90))  # fmt: skip
        raw = src.open(dataset, bbox=bbox, start=self.start, end=self.end)
        return open_canonical(
            raw, variables=STATE_VARIABLES, source=self.label, require=False, allow_gaps=True
        )


def _merge_by_variable(parts: list[tuple[str, Any]], what: str) -> dict[str, Any]:
    """Per variable, the inputs concatenated along time (sorted, no duplicate days)."""
    import xarray as xr

    by_var: dict[str, list[tuple[str, Any]]] = {}
    for label, ds in parts:
        for name in ds.data_vars:
            by_var.setdefault(str(name), []).append((label, ds[name]))
    missing = [v for v in STATE_VARIABLES if v not in by_var]
    if missing:
        raise DataError(f"The {what} inputs {[lbl for lbl, _ in parts]} lack variable(s) {missing}")
    out = {}
    for var, items in by_var.items():
        seen: dict[np.datetime64, str] = {}
        for label, da in items:
            for t in da["time"].values:
                if t in seen:
                    raise DataError(
                        f"Day {str(t)[:10]} of {var} appears in both {seen[t]} and {label}"
                    )
                seen[t] = label
        das = sorted((da for _, da in items), key=lambda d: d["time"].values[0])
        out[var] = das[0] if len(das) == 1 else xr.concat(das, dim="time")
    return out


def _days_of(da: Any) -> list[dt.date]:
    return [dt.date.fromisoformat(str(t)[:10]) for t in da["time"].values]


@dataclass
class CanonicalSource:
    """Regional (interior) and optional global (boundary) inputs, see the module docstring.

    Args:
        region: The region the data must lie on.
        regional: Regional inputs (CMEMS-like, native levels).
        global_: Global inputs for the boundary data (may be empty).
        description: Extra provenance (e.g. the sample manifest).
    """

    region: Region
    regional: tuple[InputRef, ...]
    global_: tuple[InputRef, ...] = ()
    description: dict[str, Any] = field(default_factory=dict)
    _state: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_state"] = {}
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @classmethod
    def from_files(
        cls, region: Region, regional: Sequence[str | Path], global_: Sequence[str | Path] = (),
        description: dict[str, Any] | None = None,
    ) -> CanonicalSource:  # fmt: skip
        return cls(
            region,
            tuple(InputRef(path=str(p)) for p in regional),
            tuple(InputRef(path=str(p)) for p in global_),
            dict(description or {}),
        )

    # -- lazy opening ---------------------------------------------------------------------
    def _open(self) -> dict[str, Any]:
        with self._lock:
            if self._state:
                return self._state
            if not self.regional:
                raise DataError("No regional input given")
            from glonet_regions.data.reader import check_on_region

            parts = []
            grid: Grid | None = None
            for ref in self.regional:
                ds = ref.open(self.region)
                check_on_region(ds, self.region, source=ref.label)
                g = Grid.from_dataset(ds, source=ref.label)
                if grid is None:
                    grid = g
                elif not g.same_as(grid):
                    raise DataError(
                        f"{ref.label} is on grid {g}, but {self.regional[0].label} is on {grid}: "
                        "all regional inputs must share one grid"
                    )
                parts.append((ref.label, ds))
            assert grid is not None
            state: dict[str, Any] = {
                "grid": grid,
                "interior": _merge_by_variable(parts, "regional"),
            }
            days = set(_days_of(state["interior"][STATE_VARIABLES[0]]))
            for da in state["interior"].values():
                days &= set(_days_of(da))
            if self.global_:
                gparts = [(r.label, r.open(self.region)) for r in self.global_]
                gvars = _merge_by_variable(gparts, "global")
                ggrid = Grid.from_dataset(gparts[0][1], source=gparts[0][0])
                if not ggrid.bbox.contains(grid.bbox, tol=1e-6):
                    raise DataError(
                        f"The global inputs {[lbl for lbl, _ in gparts]} cover "
                        f"{ggrid.bbox.as_list()}, not the whole store grid {grid.bbox.as_list()}"
                    )
                for da in gvars.values():
                    days &= set(_days_of(da))
                state["global"] = gvars
                state["global_grid"] = ggrid
            state["days"] = sorted(days)
            self._state = state
            return state

    # -- PrepareSource --------------------------------------------------------------------
    def grid(self) -> Grid:
        return self._open()["grid"]

    def available_days(self) -> list[dt.date]:
        return list(self._open()["days"])

    def has_boundary(self) -> bool:
        return bool(self.global_)

    def ocean_mask(self) -> np.ndarray | None:
        return None

    def _read(self, arrays: dict[str, Any], days: Sequence[dt.date]) -> dict[str, np.ndarray]:
        from glonet_regions.core.depth import GLONET_LEVELS
        from glonet_regions.data.vertical import interpolate_levels

        when = np.asarray([np.datetime64(d, "ns") for d in days])
        out = {}
        for var, da in arrays.items():
            if var not in STATE_VARIABLES:
                continue
            try:
                sel = da.sel(time=when)
            except KeyError:
                raise DataError(
                    f"{var}: some of the days {days[0]}..{days[-1]} are missing"
                ) from None
            values = np.asarray(sel.values, dtype=np.float32)
            if "depth" in da.dims:
                values = interpolate_levels(
                    values, da["depth"].values, GLONET_LEVELS.as_array(), axis=1
                ).astype(np.float32)
            out[var] = values
        return out

    def interior(self, days: Sequence[dt.date]) -> dict[str, np.ndarray]:
        return self._read(self._open()["interior"], days)

    def boundary(self, days: Sequence[dt.date]) -> dict[str, np.ndarray]:
        state = self._open()
        if "global" not in state:
            raise DataError("No global input was given for the boundary data")
        if "regridder" not in state:
            from glonet_regions.data.regrid import make_regridder

            state["regridder"] = make_regridder(
                state["global_grid"], state["grid"], "bilinear",
                self.region.open_boundaries.regridder,
            )  # fmt: skip
        fields = self._read(state["global"], days)
        rg = state["regridder"]
        return {k: np.asarray(rg.regrid(v), dtype=np.float32) for k, v in fields.items()}

    def describe(self) -> dict[str, Any]:
        def info(ref: InputRef) -> dict[str, Any]:
            d: dict[str, Any] = {"input": ref.label}
            if ref.path is not None and Path(ref.path).is_file():
                d["bytes"] = Path(ref.path).stat().st_size
            if ref.dataset_key is not None:
                ds = self.region.dataset(ref.dataset_key)
                d.update(dataset_id=ds.dataset_id, version=ds.version, product_id=ds.product_id)
            return d

        return {
            "kind": "canonical-inputs",
            "name": self.regional[0].label if self.regional else "none",
            "region": self.region.name,
            "regional": [info(r) for r in self.regional],
            "global": [info(r) for r in self.global_],
            "vertical": "linear to GLONET's 21 levels (data.vertical), NaN below the bottom",
            "boundary_regridding": (
                f"{self.region.open_boundaries.regridder} bilinear (NaN-aware)"
                if self.global_
                else None
            ),
            **self.description,
        }
