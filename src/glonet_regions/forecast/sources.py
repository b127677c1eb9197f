"""Where truth comes from: a daily file (``--truth``) or a store (``--store``/``--sample``).

Both give daily fields in physical units, canonical names and NaN on land, as an
:class:`xarray.Dataset` with dims ``(time, [depth,] latitude, longitude)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, StoreError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import DateSplits
from glonet_regions.core.variables import GLONET_VARIABLES
from glonet_regions.forecast.align import depth_indices, open_daily

__all__ = ["DailySource", "FileSource", "StoreSource"]


class DailySource(Protocol):
    """Daily truth fields."""

    name: str

    @property
    def grid(self) -> Grid: ...

    @property
    def dates(self) -> list[dt.date]: ...

    def daily(
        self, days: Sequence[dt.date], *, depths: Sequence[float] | None = None
    ) -> xr.Dataset: ...

    def train_days(self) -> list[dt.date]: ...


def _np_days(days: Sequence[dt.date]) -> np.ndarray:
    return np.array([np.datetime64(d.isoformat(), "D") for d in days]).astype("datetime64[ns]")


class FileSource:
    """A daily file (netCDF or zarr) in CMEMS-like names (aliases and CF names recognised).

    Args:
        path: The file.
        splits: The region's date splits; the climatology uses the file's days in the
            training split (none: no climatology from this file).

    Attributes:
        missing: GLONET variables the file lacks (their scores will be missing).
    """

    def __init__(self, path: str | Path, *, splits: DateSplits | None = None) -> None:
        from glonet_regions.data.truth_checks import check_truth

        self.path = Path(path)
        self.name = str(self.path)
        self.ds, self.missing = check_truth(open_daily(self.path), source=self.name)
        self._splits = splits

    @property
    def grid(self) -> Grid:
        return Grid.from_dataset(self.ds, source=self.name)

    @property
    def dates(self) -> list[dt.date]:
        return [dt.date.fromisoformat(str(d)[:10]) for d in self.ds["time"].values]

    def daily(
        self, days: Sequence[dt.date], *, depths: Sequence[float] | None = None
    ) -> xr.Dataset:
        out = self.ds.reindex(time=_np_days(days))
        if depths is not None and "depth" in out.dims:
            idx = depth_indices(out["depth"].values, depths)
            out = out.isel(depth=sorted(set(idx.values())))
        return out

    def train_days(self) -> list[dt.date]:
        if self._splits is None:
            return []
        return [d for d in self.dates if self._splits.train.contains(d)]


class StoreSource:
    """The training store written by ``glonet-regions data prepare`` (or the sample's)."""

    def __init__(self, path: str | Path) -> None:
        from glonet_regions.data.store import StoreReader

        self.path = Path(path)
        self.name = str(self.path)
        try:
            self.reader = StoreReader(self.path)
        except (FileNotFoundError, KeyError) as exc:
            raise StoreError(f"{self.path} is not a glonet-regions store: {exc}") from exc
        self._levels = self._level_table()

    def _level_table(self) -> dict[int, float]:
        table: dict[int, float] = {}
        for g in self.reader.group_names:
            info = self.reader.group_info(g)
            for li, d in zip(info.get("level_indices", []), info.get("levels_m", [])):
                table[int(li)] = float(d)
        return table

    @property
    def grid(self) -> Grid:
        return self.reader.grid

    @property
    def dates(self) -> list[dt.date]:
        return self.reader.dates

    @property
    def splits(self) -> DateSplits:
        return self.reader.splits

    def train_days(self) -> list[dt.date]:
        split = self.reader.splits.train
        return [d for d in self.dates if split.contains(d)]

    @property
    def group_names(self) -> list[str]:
        """The store's depth groups."""
        return list(self.reader.group_names)

    @property
    def levels(self) -> dict[int, float]:
        """Level index -> depth (m) of every level in the store."""
        return dict(self._levels)

    def channels(self, group: str) -> list[tuple[str, int | None]]:
        """``(variable, level index or None)`` of each channel of ``group``."""
        return self._channel_variables(group)

    def _channel_variables(self, group: str) -> list[tuple[str, int | None]]:
        info = self.reader.group_info(group)
        return [(str(v), None if li is None else int(li)) for v, li in info["channel_variables"]]

    def group_days(
        self, group: str, days: Sequence[dt.date], *, boundary: bool = False
    ) -> np.ndarray:
        """``(T, C, H, W)`` physical data (or boundary data) of a group, NaN for missing days."""
        have = {d: i for i, d in enumerate(self.dates)}
        read = self.reader.read_boundary if boundary else self.reader.read
        n_channels = int(self.reader.group_info(group)["n_channels"])
        out = np.full((len(days), n_channels, *self.grid.shape), np.nan, dtype=np.float32)
        for k, d in enumerate(days):
            if d in have:
                out[k] = read(group, have[d], have[d] + 1)[0]
        return out

    def daily(
        self, days: Sequence[dt.date], *, depths: Sequence[float] | None = None
    ) -> xr.Dataset:
        all_levels = sorted(self._levels)
        if depths is not None:
            idx = depth_indices([self._levels[i] for i in all_levels], depths)
            keep = sorted({all_levels[i] for i in idx.values()})
        else:
            keep = all_levels
        pos = {li: k for k, li in enumerate(keep)}
        grid = self.grid
        fields: dict[str, np.ndarray] = {}
        for group in self.reader.group_names:
            chans = self._channel_variables(group)
            wanted = [(c, v, li) for c, (v, li) in enumerate(chans) if li is None or li in pos]
            if not wanted:
                continue
            data = self.group_days(group, days)
            for c, var, li in wanted:
                if li is None:
                    fields[var] = data[:, c]
                    continue
                if var not in fields:
                    fields[var] = np.full(
                        (len(days), len(keep), *grid.shape), np.nan, dtype=np.float32
                    )
                fields[var][:, pos[li]] = data[:, c]
        if not fields:
            raise DataError(f"Store {self.path} holds none of the depths {depths}")
        data_vars: dict[str, Any] = {}
        for var, arr in fields.items():
            dims = (
                ("time", "latitude", "longitude")
                if arr.ndim == 3
                else ("time", "depth", "latitude", "longitude")
            )
            data_vars[var] = (dims, arr)
        ds = xr.Dataset(
            data_vars,
            coords={
                "time": _np_days(days),
                "depth": np.array([self._levels[i] for i in keep]),
                "latitude": grid.lat,
                "longitude": grid.lon,
            },
        )
        from glonet_regions.forecast.cube import add_cf_attributes

        return add_cf_attributes(ds, GLONET_VARIABLES)
