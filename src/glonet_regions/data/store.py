"""The zarr (v3) training store: layout, constants and the read-only :class:`StoreReader`.

Layout of a store (one zarr v3 hierarchy; every array has ``dimension_names``)::

    STORE/
      zarr.json            root attributes, key "glonet_store" (see below)
      time                 (T,) int64, days since 1970-01-01 (gaps allowed, strictly increasing)
      latitude             (H,) float64, cell centres, ascending
      longitude            (W,) float64, cell centres, ascending
      boundary_index       (N,) int64, flat (row-major) indices of the N open-boundary zone
                           cells of the (H, W) grid; absent when the store has no boundary
      <group>/data         (T, C, H, W) storage dtype (see below), NaN / fill on land
      <group>/boundary     (T, C, N) storage dtype, global source regridded (builtin bilinear)
                           onto the store grid, the zone's cells only; absent when the store
                           has no boundary source
      <group>/mask         (L, H, W) bool, ocean mask of each of the group's L levels
      _progress/done       (n_work_chunks,) uint8, 1 once a time chunk is durable
      _progress/<group>_stats  (n_work_chunks, 6, C) float64, per-chunk moments
                           (count, mean, M2 of values; count, mean, M2 of day-to-day differences)

``<group>`` is a depth group name (surface, intermediate, deep). The storage dtype
(``layout.storage_dtype``: float32, float16, bfloat16 or int16) and each group's per-channel
offsets and scales (attribute ``storage``) are described in :mod:`glonet_regions.data.storage`;
:class:`StoreReader` always returns float32 physical values on the full grid (boundary NaN
outside the zone). ``data`` and ``boundary`` are chunked one day per chunk (``(1, C, H, W)``,
``(1, C, N)``) and the days are grouped into shards of ``shard_days`` (zarr v3 sharding
codec), compressed with Blosc (lz4 for float32, zstd for 16-bit dtypes) + byte shuffle (see
:class:`Codec`). A training sample reads ``n_input + n_target`` consecutive days of one
group: one contiguous range of inner chunks, usually inside one shard file.

Root attribute ``glonet_store`` holds: ``format_version``, ``complete`` (written True last, in
the same atomic write as ``stats`` and ``provenance``), ``plan_id``, ``region``, ``grid``
(``Grid.to_dict()``), ``groups`` (channels, level indices and depths), ``splits``, ``time``,
``layout`` (chunking, sharding, codec, storage dtype, work chunks), ``storage`` (per group
codec offsets and scales), ``source`` (what the data came from),
``has_boundary``, then at completion ``stats`` (per group :class:`GroupStats`) and
``provenance`` (sources, code version, creation time, command).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.depth import DepthGroup, DepthLevels
from glonet_regions.core.errors import StoreError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import DateRange, DateSplits
from glonet_regions.data.stats import GroupStats
from glonet_regions.data.storage import ChannelCodec, check_storage_dtype, unpack_zone

#: Version of the store layout; bump on any incompatible change. Version 1 (full-grid float32
#: boundary arrays) is still read.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: Root attribute holding the store description.
ROOT_ATTR = "glonet_store"
#: Group holding the resumability records.
PROGRESS = "_progress"
EPOCH = dt.date(1970, 1, 1)
RERUN_HINT = "re-run `glonet-regions data prepare` with the same options to finish it"


@dataclass(frozen=True)
class Codec:
    """The Blosc codec used for the data and boundary arrays.

    Default lz4 level 5 with byte shuffle: on 40-channel float32 days it compressed better
    (x3.4) and decoded 4x faster (2.1 GB/s) than zstd-3 + bitshuffle (x2.8, 0.56 GB/s) and
    encoded 9x faster (benchmarks/bench_loader.py, 2-core CPU; re-measure on real data).
    """

    cname: str = "lz4"
    clevel: int = 5
    shuffle: str = "shuffle"

    def build(self) -> Any:
        from zarr.codecs import BloscCodec

        return BloscCodec(cname=self.cname, clevel=self.clevel, shuffle=self.shuffle)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": "blosc",
            "cname": self.cname,
            "clevel": self.clevel,
            "shuffle": self.shuffle,
        }


@dataclass(frozen=True)
class Layout:
    """Chunking of a store: one day per chunk, ``shard_days`` days per shard file, and the
    number of days handled by one unit of (resumable, parallel) work."""

    chunk_days: int = 8
    shard_days: int = 8
    #: Blosc codec; default lz4 level 5 for float32 (fast) and zstd level 5 for the 16-bit
    #: dtypes (about 1.7x smaller on 16-bit values; decoding as fast).
    codec: Codec | None = None
    #: float32, float16, bfloat16 or int16 (see :mod:`glonet_regions.data.storage`).
    storage_dtype: str = "float32"

    def __post_init__(self) -> None:
        check_storage_dtype(self.storage_dtype, what="--storage-dtype")

    @property
    def effective_codec(self) -> Codec:
        if self.codec is not None:
            return self.codec
        return Codec() if self.storage_dtype == "float32" else Codec("zstd", 5, "shuffle")

    def to_dict(self) -> dict[str, Any]:
        return {
            "inner_chunk_days": 1,
            "shard_days": self.shard_days,
            "work_chunk_days": self.chunk_days,
            "codec": self.effective_codec.to_dict(),
            "storage_dtype": self.storage_dtype,
            "boundary": "zone",
        }


def to_epoch_days(days: Sequence[dt.date]) -> np.ndarray:
    """Dates as int64 days since 1970-01-01."""
    return np.asarray([(d - EPOCH).days for d in days], dtype=np.int64)


def from_epoch_days(values: Sequence[int] | np.ndarray) -> list[dt.date]:
    return [EPOCH + dt.timedelta(days=int(v)) for v in values]


def channel_label(variable: str, level_index: int | None, levels: DepthLevels) -> str:
    """``zos`` or ``thetao@47.37m``."""
    return variable if level_index is None else f"{variable}@{levels[level_index]:g}m"


def group_description(group: DepthGroup, levels: DepthLevels) -> dict[str, Any]:
    """The JSON description of a depth group kept in the store attributes."""
    return {
        "channels": [channel_label(v, li, levels) for v, li in group.channels()],
        "channel_variables": [[v, li] for v, li in group.channels()],
        "level_indices": list(group.level_indices),
        "levels_m": [levels[i] for i in group.level_indices],
        "n_channels": group.n_channels,
    }


def channel_level_positions(group: DepthGroup) -> list[int]:
    """For every channel, the position of its level within the group's levels (0 for 2-D)."""
    pos = {li: k for k, li in enumerate(group.level_indices)}
    return [0 if li is None else pos[li] for _, li in group.channels()]


def find_gaps(times: np.ndarray) -> list[tuple[dt.date, dt.date]]:
    """(last day before, first day after) for every jump of more than one day."""
    jumps = np.flatnonzero(np.diff(times) > 1)
    return [(from_epoch_days([times[j]])[0], from_epoch_days([times[j + 1]])[0]) for j in jumps]


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a glonet-regions store (complete or not)."""
    p = Path(path) / "zarr.json"
    if not p.is_file():
        return False
    try:
        meta = json.loads(p.read_text())
    except (OSError, ValueError):
        return False
    return ROOT_ATTR in (meta.get("attributes") or {})


def read_attrs(path: str | Path) -> dict[str, Any]:
    """The ``glonet_store`` root attributes, or a StoreError saying what is wrong."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"Store {p} does not exist; build it with `glonet-regions data prepare`")
    meta_path = p / "zarr.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{p} is not a zarr store (no zarr.json)") from None
    except ValueError as exc:
        raise StoreError(f"{meta_path} is not valid JSON ({exc}): the store is corrupt") from None
    attrs = (meta.get("attributes") or {}).get(ROOT_ATTR)
    if not isinstance(attrs, dict):
        raise StoreError(f"{p} is a zarr store but not a glonet-regions training store")
    version = attrs.get("format_version")
    if version not in READABLE_VERSIONS:
        raise StoreError(
            f"Store {p} has format version {version}; this code reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    return attrs


def progress_done(path: str | Path) -> np.ndarray:
    """The per-work-chunk completion flags (bool array); empty if the skeleton is unfinished."""
    import zarr

    try:
        root: Any = zarr.open_group(str(path), mode="r")
        if not root[PROGRESS].attrs.get("skeleton_complete", False):
            return np.zeros(0, dtype=bool)
        return np.asarray(root[f"{PROGRESS}/done"][:], dtype=bool)
    except (KeyError, FileNotFoundError):
        return np.zeros(0, dtype=bool)


class StoreReader:
    """Read-only access to a complete store: days in physical units, masks, grid, stats.

    Args:
        path: The store folder.
        require_complete: Refuse (StoreError) a store whose ``complete`` flag is not set.
    """

    def __init__(self, path: str | Path, *, require_complete: bool = True) -> None:
        self.path = Path(path)
        self.attrs = read_attrs(self.path)
        if require_complete and not self.attrs.get("complete", False):
            done = progress_done(self.path)
            raise StoreError(
                f"Store {self.path} is incomplete ({int(done.sum())}/{done.size or '?'} time "
                f"chunks written, statistics not computed): {RERUN_HINT}"
            )
        import zarr

        root: Any = zarr.open_group(str(self.path), mode="r")
        self._root = root
        self.times: np.ndarray = np.asarray(root["time"][:], dtype=np.int64)
        self._masks: dict[str, np.ndarray] = {}
        self._codecs: dict[str, ChannelCodec] = {}
        self._land: dict[str, np.ndarray] = {}
        self._zone: np.ndarray | None = None

    # -- description ----------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete", False))

    @property
    def region_name(self) -> str:
        return str(self.attrs["region"])

    @property
    def grid(self) -> Grid:
        return Grid.from_dict(self.attrs["grid"])

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(self.attrs["groups"])

    def group_info(self, group: str) -> Mapping[str, Any]:
        try:
            return self.attrs["groups"][group]
        except KeyError:
            raise StoreError(
                f"Store {self.path} has no depth group {group!r}; it has "
                f"{', '.join(self.group_names)}"
            ) from None

    def channels(self, group: str) -> list[str]:
        return list(self.group_info(group)["channels"])

    @property
    def dates(self) -> list[dt.date]:
        return from_epoch_days(self.times)

    @property
    def splits(self) -> DateSplits:
        s = self.attrs["splits"]
        return DateSplits(*(DateRange(*s[k]) for k in ("train", "validation", "test")))

    @property
    def has_boundary(self) -> bool:
        return bool(self.attrs.get("has_boundary", False))

    @property
    def provenance(self) -> Mapping[str, Any]:
        return self.attrs.get("provenance", {})

    @property
    def layout(self) -> Mapping[str, Any]:
        return self.attrs["layout"]

    def gaps(self) -> list[tuple[dt.date, dt.date]]:
        return find_gaps(self.times)

    def stats(self, group: str) -> GroupStats:
        stats = self.attrs.get("stats", {})
        if group not in stats:
            raise StoreError(f"Store {self.path} holds no statistics for group {group!r}")
        return GroupStats.from_dict(stats[group])

    # -- arrays ---------------------------------------------------------------------------
    def array(self, group: str, name: str = "data") -> Any:
        """The zarr array ``<group>/<name>`` (data, boundary or mask)."""
        self.group_info(group)
        try:
            return self._root[f"{group}/{name}"]
        except KeyError:
            raise StoreError(f"Store {self.path} has no array {group}/{name}") from None

    def mask(self, group: str) -> np.ndarray:
        """Ocean mask of the group's levels, ``(L, H, W)`` bool."""
        if group not in self._masks:
            self._masks[group] = np.asarray(self.array(group, "mask")[:], dtype=bool)
        return self._masks[group]

    def channel_mask(self, group: str) -> np.ndarray:
        """Ocean mask per channel, ``(C, H, W)`` bool."""
        info = self.group_info(group)
        levels = info["level_indices"]
        pos = [0 if li is None else levels.index(li) for _, li in info["channel_variables"]]
        return self.mask(group)[pos]

    def day_index(self, day: dt.date | str) -> int:
        d = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        hits = np.flatnonzero(self.times == (d - EPOCH).days)
        if hits.size == 0:
            raise StoreError(
                f"Day {d} is not in store {self.path} ({self.dates[0]}..{self.dates[-1]})"
            )
        return int(hits[0])

    @property
    def storage_dtype(self) -> str:
        return str(self.layout.get("storage_dtype", "float32"))

    def codec(self, group: str) -> ChannelCodec:
        """The per-channel storage codec of a group (identity for float32 stores)."""
        if group not in self._codecs:
            info = self.group_info(group)
            stored = (self.attrs.get("storage") or {}).get(group)
            if stored is None:
                n = int(info["n_channels"])
                self._codecs[group] = ChannelCodec("float32", np.zeros(n), np.ones(n))
            else:
                self._codecs[group] = ChannelCodec.from_dict(stored)
        return self._codecs[group]

    def boundary_zone_index(self) -> np.ndarray:
        """Flat indices of the open-boundary zone cells the boundary arrays hold."""
        if self._zone is None:
            self._zone = np.asarray(self._root["boundary_index"][:], dtype=np.int64)
        return self._zone

    def read(self, group: str, start: int, stop: int) -> np.ndarray:
        """Days ``start:stop`` (time indices) of a group, ``(T, C, H, W)`` float32, NaN land."""
        return self._decode_data(group, self.array(group, "data")[start:stop])

    def _decode_data(self, group: str, stored: np.ndarray) -> np.ndarray:
        codec = self.codec(group)
        if not codec.spatial_delta:
            return codec.decode(stored)
        if group not in self._land:
            self._land[group] = ~self.channel_mask(group)
        return codec.decode(stored, land=self._land[group])

    def read_days(self, group: str, days: Sequence[dt.date | str]) -> np.ndarray:
        """The given days of a group (physical units), ``(T, C, H, W)``."""
        idx = [self.day_index(d) for d in days]
        arr = self.array(group, "data")
        if not idx:
            return np.zeros((0,))
        return self._decode_data(group, np.stack([np.asarray(arr[i]) for i in idx]))

    def read_boundary(self, group: str, start: int, stop: int) -> np.ndarray:
        """Boundary data of days ``start:stop``, ``(T, C, H, W)`` float32, NaN outside the
        zone (whatever the on-disk layout)."""
        if not self.has_boundary:
            raise StoreError(f"Store {self.path} holds no boundary data")
        arr = self.array(group, "boundary")
        values = self.codec(group).decode(arr[start:stop])
        if len(arr.shape) == 4:  # format version 1: the whole grid
            return values
        return unpack_zone(values, self.boundary_zone_index(), self.grid.shape)
