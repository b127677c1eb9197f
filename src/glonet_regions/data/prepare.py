"""Build a training store from a :class:`PrepareSource`: resumable, idempotent, parallel.

The time axis is cut into work chunks of ``layout.chunk_days`` days (a whole number of shards,
so no two workers ever write the same shard file). Each chunk writes its days of every depth
group (data and boundary), then its partial statistics, then sets its ``_progress/done`` flag:
a flag is only ever set once the chunk's data are written. A run that dies (SIGKILL, an
exception, a lost worker) leaves a store marked incomplete; running the same command again
skips the flagged chunks, finishes the others, merges the statistics and, last, writes
``complete: true`` together with the statistics and provenance in one atomic metadata write.
Running it on a complete store does nothing.

Failure policy for bad input: when the run that *created* the store fails with one of our
errors (a :class:`DataError` from the reader, NaN in the ocean, ...), the store is removed,
so nothing half-written remains. Any other interruption (kill, crash, a failure in a resumed
run) leaves the clearly marked incomplete store, which ``data inspect`` reports and the loader
refuses, and which the next ``prepare`` resumes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import sys
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.depth import DepthGroup, DepthScheme
from glonet_regions.core.errors import DataError, GlonetRegionsError, StoreError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.core.mask import LandSeaMask
from glonet_regions.core.region import DateSplits, OpenBoundaries, Region
from glonet_regions.data.prepare_source import PrepareSource
from glonet_regions.data.schedule import execute_chunks
from glonet_regions.data.stats import GroupStats, RunningMoments
from glonet_regions.data.storage import ChannelCodec, make_codec, pack_zone, zone_index
from glonet_regions.data.store import (
    FORMAT_VERSION,
    PROGRESS,
    ROOT_ATTR,
    Layout,
    channel_level_positions,
    from_epoch_days,
    group_description,
    is_store,
    read_attrs,
    to_epoch_days,
)

ChunkHook = Callable[[int], None]


@dataclass(frozen=True)
class PrepareResult:
    """What a :func:`prepare_store` call did."""

    path: Path
    n_days: int
    n_chunks: int
    chunks_written: int
    chunks_skipped: int
    already_complete: bool
    seconds: float


# -- planning -----------------------------------------------------------------------------


def select_days(
    available: Sequence[dt.date], start: dt.date | None, end: dt.date | None
) -> list[dt.date]:
    """The available days in ``[start, end]``; a clear error naming the option otherwise."""
    if not available:
        raise DataError("The source holds no day of data")
    first, last = available[0], available[-1]
    if start is not None and end is not None and end < start:
        raise ValidationError(f"--end {end} is before --start {start}")
    if start is not None and not first <= start <= last:
        raise DataError(
            f"--start {start} is outside the available data ({first}..{last}); "
            "pick a start date inside it"
        )
    if end is not None and not first <= end <= last:
        raise DataError(
            f"--end {end} is outside the available data ({first}..{last}); "
            "pick an end date inside it"
        )
    lo, hi = start or first, end or last
    return [d for d in available if lo <= d <= hi]


def _effective_layout(layout: Layout) -> Layout:
    if layout.chunk_days < 1 or layout.shard_days < 1:
        raise ValidationError("--chunk-days and the shard size must be >= 1")
    if layout.chunk_days % layout.shard_days == 0:
        return layout
    # Work chunks must hold whole shards (one writer per shard file): use the largest
    # divisor of chunk_days not above the requested shard size.
    shard = max(d for d in range(1, layout.shard_days + 1) if layout.chunk_days % d == 0)
    return Layout(layout.chunk_days, shard, layout.codec, layout.storage_dtype)


def build_plan(
    *,
    region: Region,
    grid: Grid,
    splits: DateSplits,
    days: Sequence[dt.date],
    layout: Layout,
    source_description: dict[str, Any],
    has_boundary: bool,
) -> dict[str, Any]:
    """The store description written at creation (before any data)."""
    scheme = region.depth
    n_chunks = math.ceil(len(days) / layout.chunk_days)
    plan: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "region": region.name,
        "grid": grid.to_dict(),
        "grid_fingerprint": grid.fingerprint(),
        "groups": {g.name: group_description(g, scheme.levels) for g in scheme.groups},
        "depth_levels_m": list(scheme.levels.values),
        "splits": splits.to_dict(),
        "time": {
            "units": "days since 1970-01-01",
            "start": days[0].isoformat(),
            "end": days[-1].isoformat(),
            "n_days": len(days),
        },
        "layout": {**layout.to_dict(), "n_work_chunks": n_chunks},
        # The forecast source does not change what a store holds: left out of the plan.
        "open_boundaries": {
            k: v for k, v in region.open_boundaries.to_dict().items() if k != "forecast_source"
        },
        "has_boundary": has_boundary,
        "source": source_description,
    }
    text = json.dumps({**plan, "days": to_epoch_days(days).tolist()}, sort_keys=True, default=str)
    plan["plan_id"] = hashlib.sha256(text.encode()).hexdigest()[:20]
    plan["complete"] = False
    return plan


# -- packing ------------------------------------------------------------------------------


def pack_group(fields: Any, group: DepthGroup, n_days: int, shape: tuple[int, int]) -> np.ndarray:
    """Stack canonical fields into the group's channels, ``(T, C, H, W)`` float32."""
    out = np.empty((n_days, group.n_channels, *shape), dtype=np.float32)
    for c, (var, li) in enumerate(group.channels()):
        if var not in fields:
            raise DataError(f"The source gave no variable {var!r} (depth group {group.name!r})")
        arr = np.asarray(fields[var])
        want = (n_days, *shape) if li is None else (n_days, None, *shape)
        if arr.ndim != len(want) or arr.shape[0] != n_days or arr.shape[-2:] != shape:
            raise DataError(
                f"Variable {var!r} from the source has shape {arr.shape}, expected "
                f"{tuple('L' if s is None else s for s in want)}"
            )
        out[:, c] = arr if li is None else arr[:, li]
    return out


def derive_ocean_mask(fields: Any, scheme: DepthScheme) -> np.ndarray:
    """``(n_levels, H, W)`` ocean mask from the first day of canonical fields."""
    wet: np.ndarray | None = None
    for var in ("thetao", "so", "uo", "vo"):
        if var in fields:
            w = np.isfinite(np.asarray(fields[var])[0])
            wet = w if wet is None else wet & w
    if wet is None:
        raise DataError("Cannot derive an ocean mask: the source gave no 3-D variable")
    if wet.shape[0] != len(scheme.levels):
        raise DataError(f"3-D fields have {wet.shape[0]} levels, expected {len(scheme.levels)}")
    if "zos" in fields:
        wet[0] &= np.isfinite(np.asarray(fields["zos"])[0])
    return LandSeaMask.from_data(np.where(wet, 0.0, np.nan)).ocean


# -- skeleton -----------------------------------------------------------------------------


def _create_skeleton(
    path: Path, plan: dict[str, Any], days: Sequence[dt.date], grid: Grid,
    scheme: DepthScheme, layout: Layout, ocean: np.ndarray,
    codecs: dict[str, ChannelCodec], zone: np.ndarray,
) -> None:  # fmt: skip
    """Write the empty store into a temporary folder and rename it into place."""
    import zarr

    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    root: Any = zarr.open_group(str(tmp), mode="w")
    t = len(days)
    h, w = grid.shape
    codec = layout.effective_codec.build()
    times = root.create_array("time", shape=(t,), dtype="int64", chunks=(max(t, 1),),
                              dimension_names=("time",))  # fmt: skip
    times[:] = to_epoch_days(days)
    times.attrs["units"] = "days since 1970-01-01"
    for name, values in (("latitude", grid.lat), ("longitude", grid.lon)):
        arr = root.create_array(name, shape=values.shape, dtype="float64",
                                dimension_names=(name,))  # fmt: skip
        arr[:] = values
    n_zone = int(zone.size)
    if plan["has_boundary"]:
        bidx = root.create_array("boundary_index", shape=(max(n_zone, 1),), dtype="int64",
                                 dimension_names=("zone_cell",))  # fmt: skip
        if n_zone:
            bidx[:] = zone
        else:
            raise DataError("The region's open-boundary zone holds no cell of the store grid")
    n_chunks = plan["layout"]["n_work_chunks"]
    prog = root.create_group(PROGRESS)
    prog.create_array("done", shape=(n_chunks,), dtype="uint8", chunks=(1,), fill_value=0)
    for g in scheme.groups:
        grp = root.create_group(g.name)
        c = g.n_channels
        gc = codecs[g.name]
        grp.create_array(
            "data", shape=(t, c, h, w), dtype=gc.disk_dtype, chunks=(1, c, h, w),
            shards=(min(layout.shard_days, t), c, h, w), compressors=codec,
            fill_value=gc.fill_value,
            dimension_names=("time", "channel", "latitude", "longitude"),
        )  # fmt: skip
        if plan["has_boundary"]:
            grp.create_array(
                "boundary", shape=(t, c, n_zone), dtype=gc.disk_dtype, chunks=(1, c, n_zone),
                shards=(min(layout.shard_days, t), c, n_zone), compressors=codec,
                fill_value=gc.fill_value, dimension_names=("time", "channel", "zone_cell"),
            )  # fmt: skip
        mask = grp.create_array(
            "mask", shape=(g.n_levels, h, w), dtype="bool", chunks=(1, h, w),
            compressors=codec, fill_value=False,
            dimension_names=("level", "latitude", "longitude"),
        )  # fmt: skip
        mask[:] = ocean[list(g.level_indices)]
        prog.create_array(f"{g.name}_stats", shape=(n_chunks, 6, c), dtype="float64",
                          chunks=(1, 6, c), fill_value=np.nan)  # fmt: skip
    root.attrs[ROOT_ATTR] = {**plan, "storage": {k: v.to_dict() for k, v in codecs.items()}}
    prog.attrs["skeleton_complete"] = True
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


def group_codecs(
    layout: Layout, scheme: DepthScheme, ocean: np.ndarray, first_day: Any | None,
    shape: tuple[int, int],
) -> dict[str, ChannelCodec]:  # fmt: skip
    """The storage codec of every depth group (float16/bfloat16 scales from ``first_day``)."""
    out = {}
    for g in scheme.groups:
        chans = list(g.channels())
        if layout.storage_dtype in ("float16", "bfloat16"):
            x0 = pack_group(first_day, g, 1, shape)[0]
            cm = ocean[list(g.level_indices)][channel_level_positions(g)]
            out[g.name] = make_codec(layout.storage_dtype, chans, x0, cm)
        else:
            out[g.name] = make_codec(layout.storage_dtype, chans)
    return out


# -- one work chunk -----------------------------------------------------------------------


def _group_from_attrs(name: str, info: dict[str, Any]) -> DepthGroup:
    vars2 = tuple(v for v, li in info["channel_variables"] if li is None)
    vars3 = tuple(dict.fromkeys(v for v, li in info["channel_variables"] if li is not None))
    return DepthGroup(name, tuple(info["level_indices"]), vars2, vars3)


def run_chunk(path: str, source: PrepareSource, k: int, hook: ChunkHook | None = None) -> int:
    """Write work chunk ``k`` (all groups, data, boundary, partial stats), then flag it done."""
    import zarr

    root: Any = zarr.open_group(path, mode="r+")
    attrs = root.attrs[ROOT_ATTR]
    times = np.asarray(root["time"][:], dtype=np.int64)
    lay = attrs["layout"]
    cd, sd = lay["work_chunk_days"], lay["shard_days"]
    i0, i1 = k * cd, min((k + 1) * cd, times.size)
    grid = Grid.from_dict(attrs["grid"])
    shape = grid.shape
    train = [
        (dt.date.fromisoformat(s) - dt.date(1970, 1, 1)).days for s in attrs["splits"]["train"]
    ]
    is_train = (times >= train[0]) & (times <= train[1])
    zone = OpenBoundaries(
        **{**attrs["open_boundaries"], "edges": tuple(attrs["open_boundaries"]["edges"])}
    ).zone_mask(shape)
    has_boundary = bool(attrs["has_boundary"])
    zidx = zone_index(zone)
    codecs = {k: ChannelCodec.from_dict(v) for k, v in attrs["storage"].items()}
    groups = []
    for name, info in attrs["groups"].items():
        g = _group_from_attrs(name, info)
        cmask = np.asarray(root[f"{name}/mask"][:], dtype=bool)[channel_level_positions(g)]
        groups.append((g, cmask, RunningMoments.zeros(g.n_channels),
                       RunningMoments.zeros(g.n_channels)))  # fmt: skip
    prev: dict[str, np.ndarray] = {}
    for s0 in range(i0, i1, sd):
        s1 = min(s0 + sd, i1)
        days = from_epoch_days(times[s0:s1])
        fields = source.interior(days)
        bfields = source.boundary(days) if has_boundary else None
        for g, cmask, vm, dm in groups:
            x = pack_group(fields, g, len(days), shape)
            bad = np.isnan(x) & cmask[None]
            if bad.any():
                t, c, iy, ix = (int(v) for v in np.argwhere(bad)[0])
                raise DataError(
                    f"NaN in the ocean: {g.channels()[c][0]} (group {g.name}, channel {c}) on "
                    f"{days[t]} at lat index {iy}, lon index {ix} "
                    f"(source {_source_name(source)}); the ocean mask comes from the first day"
                )
            x = np.where(cmask[None], x, np.float32(np.nan))
            root[f"{g.name}/data"][s0:s1] = codecs[g.name].encode(x, land=~cmask)
            vm.update(x[is_train[s0:s1]], cmask)
            full = np.concatenate([prev[g.name], x]) if g.name in prev else x
            tt = times[s0 - (1 if g.name in prev else 0) : s1]
            tr = is_train[s0 - (1 if g.name in prev else 0) : s1]
            pair = (np.diff(tt) == 1) & tr[1:] & tr[:-1]
            if pair.any():
                dm.update((full[1:] - full[:-1])[pair], cmask)
            prev[g.name] = x[-1:]
            if bfields is not None:
                b = pack_group(bfields, g, len(days), shape)
                b = np.where((zone[None] & cmask)[None], b, np.float32(np.nan))
                root[f"{g.name}/boundary"][s0:s1] = codecs[g.name].encode(pack_zone(b, zidx))
    for g, _, vm, dm in groups:
        root[f"{PROGRESS}/{g.name}_stats"][k] = np.concatenate([vm.to_array(), dm.to_array()])
    root[f"{PROGRESS}/done"][k] = 1
    if hook is not None:
        hook(k)
    return k


def _source_name(source: PrepareSource) -> str:
    try:
        desc = source.describe()
    except Exception:  # describing must never hide the real error
        return type(source).__name__
    return str(desc.get("name") or desc.get("kind") or type(source).__name__)


# -- finalisation -------------------------------------------------------------------------


def finalise(path: Path, source_description: dict[str, Any], command: str | None) -> None:
    """Merge the partial statistics and mark the store complete (one atomic metadata write)."""
    import zarr

    from glonet_regions import __version__

    root: Any = zarr.open_group(str(path), mode="r+")
    attrs = dict(root.attrs[ROOT_ATTR])
    done = np.asarray(root[f"{PROGRESS}/done"][:], dtype=bool)
    if not done.all():
        missing = np.flatnonzero(~done).tolist()
        raise StoreError(f"Store {path}: time chunks {missing} are not written yet")
    times = np.asarray(root["time"][:], dtype=np.int64)
    train = [
        (dt.date.fromisoformat(s) - dt.date(1970, 1, 1)).days for s in attrs["splits"]["train"]
    ]
    is_train = (times >= train[0]) & (times <= train[1])
    if not is_train.any():
        raise DataError(
            f"No day of the training split {attrs['splits']['train']} lies in the store's days "
            f"({attrs['time']['start']}..{attrs['time']['end']}): normalisation statistics "
            "need training days; widen --start/--end"
        )
    cd = attrs["layout"]["work_chunk_days"]
    stats = {}
    for name, info in attrs["groups"].items():
        g = _group_from_attrs(name, info)
        c = g.n_channels
        parts = np.asarray(root[f"{PROGRESS}/{name}_stats"][:], dtype=np.float64)
        vm, dm = RunningMoments.zeros(c), RunningMoments.zeros(c)
        for k in range(parts.shape[0]):
            vm.merge(RunningMoments.from_array(parts[k, :3]))
            dm.merge(RunningMoments.from_array(parts[k, 3:]))
        # Day pairs straddling two work chunks.
        cmask = np.asarray(root[f"{name}/mask"][:], dtype=bool)[channel_level_positions(g)]
        gcodec = ChannelCodec.from_dict(attrs["storage"][name])
        for j in range(cd, times.size, cd):
            if times[j] - times[j - 1] == 1 and is_train[j] and is_train[j - 1]:
                x = gcodec.decode(root[f"{name}/data"][j - 1 : j + 1], land=~cmask)
                dm.update(x[1:] - x[:1], cmask)
        stats[name] = GroupStats.from_moments(info["channels"], vm, dm).to_dict()
    attrs["stats"] = stats
    attrs["provenance"] = {
        "source": source_description,
        "grid": attrs["grid"],
        "code_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
        "python": sys.version.split()[0],
        "zarr": zarr.__version__,
        "statistics": "per channel, ocean cells, training split only; Chan-merged float64",
    }
    attrs["complete"] = True
    root.attrs[ROOT_ATTR] = attrs  # one atomic write of zarr.json: complete comes with stats


# -- driver -------------------------------------------------------------------------------


def prepare_store(
    out: str | Path,
    source: PrepareSource,
    *,
    region: Region,
    start: dt.date | None = None,
    end: dt.date | None = None,
    splits: DateSplits | None = None,
    layout: Layout | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    command: str | None = None,
    on_chunk_done: ChunkHook | None = None,
    log: Callable[[str], None] | None = None,
) -> PrepareResult:
    """Build (or finish) the training store ``out`` from ``source``.

    Args:
        out: Store folder (created; an existing complete store with the same plan is left as
            it is, an incomplete one is resumed, a different one is refused).
        source: Where the data come from (store grid, days, fields).
        region: The region (depth groups, open boundaries, default splits, name).
        start, end: Day range (inclusive); default all available days.
        splits: Train/validation/test periods; default ``region.splits``.
        layout: Chunking, sharding and codec (see :class:`Layout`).
        workers: Threads of the default dask scheduler (default: CPU count).
        scheduler: A dask.distributed scheduler address or ``Client`` (default: threads).
        command: The command line, for provenance.
        on_chunk_done: Called with the chunk number after each chunk is flagged (tests).
        log: Progress messages.
    """
    t0 = _time.perf_counter()
    say = log or (lambda _msg: None)
    path = Path(out)
    layout = _effective_layout(layout or Layout())
    days = select_days(source.available_days(), start, end)
    grid = source.grid()
    desc = source.describe()
    plan = build_plan(
        region=region, grid=grid, splits=splits or region.splits, days=days, layout=layout,
        source_description=desc, has_boundary=source.has_boundary(),
    )  # fmt: skip
    n_chunks = plan["layout"]["n_work_chunks"]
    train = (splits or region.splits).train
    if not any(train.contains(d) for d in days):
        raise DataError(
            f"No day of the training split {train.to_list()} lies in {days[0]}..{days[-1]}: "
            "normalisation statistics need training days; widen --start/--end"
        )
    created = False
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        if not is_store(path):
            raise StoreError(
                f"{path} exists and is not a glonet-regions store; choose another --out"
            )
        attrs = read_attrs(path)
        had = str(attrs.get("layout", {}).get("storage_dtype", "float32"))
        if had != layout.storage_dtype:
            raise StoreError(
                f"Store {path} was prepared with storage dtype {had}; this run asks for "
                f"{layout.storage_dtype}: use --storage-dtype {had} to resume it, or another --out"
            )
        if attrs.get("plan_id") != plan["plan_id"]:
            diff = sorted(k for k in plan if k not in ("plan_id", "complete")
                          and attrs.get(k) != plan[k])  # fmt: skip
            raise StoreError(
                f"Store {path} was prepared with other options or data (differs in: "
                f"{', '.join(diff) or 'the list of days'}); use another --out or delete it"
            )
        if attrs.get("complete"):
            say(f"Store {path} is already complete: nothing to do")
            return PrepareResult(path, len(days), n_chunks, 0, n_chunks, True,
                                 _time.perf_counter() - t0)  # fmt: skip
        say(f"Resuming incomplete store {path}")
    else:
        created = True
    try:
        if created:
            if path.exists():
                path.rmdir()
            first = source.ocean_mask()
            day0 = None
            if first is None or layout.storage_dtype in ("float16", "bfloat16"):
                day0 = source.interior(days[:1])
            if first is None:
                first = derive_ocean_mask(day0, region.depth)
            ocean = np.asarray(first)
            codecs = group_codecs(layout, region.depth, ocean, day0, grid.shape)
            zone = zone_index(region.open_boundaries.zone_mask(grid.shape))
            _create_skeleton(path, plan, days, grid, region.depth, layout, ocean, codecs, zone)
            say(f"Created store {path}: {len(days)} days in {n_chunks} chunks")
        import zarr

        grp: Any = zarr.open_group(str(path), mode="r")
        done = np.asarray(grp[f"{PROGRESS}/done"][:], dtype=bool)
        pending = [k for k in range(n_chunks) if not done[k]]
        say(f"{len(pending)} of {n_chunks} time chunks to write")
        execute_chunks(
            run_chunk, path, source, pending, workers=workers, scheduler=scheduler,
            hook=on_chunk_done,
        )  # fmt: skip
        finalise(path, desc, command)
    except GlonetRegionsError:
        if created and path.exists():
            shutil.rmtree(path, ignore_errors=True)
            say(f"Removed {path}: it was created by this failed run")
        raise
    say(f"Store {path} complete")
    return PrepareResult(path, len(days), n_chunks, len(pending), n_chunks - len(pending), False,
                         _time.perf_counter() - t0)  # fmt: skip


def load_or_generate_sample(
    region: Region, folder: str | Path, *, variant: str = "demo", seed: int = 0
) -> Any:
    """The SYNTHETIC sample in ``folder`` if it matches ``region``, ``variant`` and ``seed``.

    Otherwise (missing, unreadable, another variant, seed or region, or written by an older
    version of the generator) it is generated there.

    Returns:
        The :class:`~glonet_regions.sample.generate.SampleInfo`.
    """
    from glonet_regions.sample import generate as sample_mod

    try:
        info = sample_mod.SampleInfo.load(folder)
        if (
            info.variant == variant
            and info.seed == seed
            and info.region in ("", region.name)
            and sample_mod.generator_version(folder) == sample_mod.GENERATOR_VERSION
        ):
            return info
    except (GlonetRegionsError, OSError):  # no usable sample there yet: generate one
        pass
    return sample_mod.generate_sample(region, folder, variant=variant, seed=seed)  # type: ignore[arg-type]


def prepare_sample_store(
    region: Region,
    store_path: str | Path,
    *,
    sample_dir: str | Path | None = None,
    variant: str = "demo",
    seed: int = 0,
    start: dt.date | None = None,
    end: dt.date | None = None,
    layout: Layout | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    command: str | None = None,
    on_chunk_done: ChunkHook | None = None,
    log: Callable[[str], None] | None = None,
) -> PrepareResult:
    """Generate (or reuse) the SYNTHETIC sample of ``region`` and build its training store.

    What ``data prepare --sample`` and ``finetune --sample`` do: the sample (see
    :mod:`glonet_regions.sample.generate`) is reused from ``sample_dir`` when it matches
    ``variant`` and ``seed``, else generated there; the store is then built (or resumed, or
    left alone when complete) with the sample's own train/validation/test splits.

    Args:
        region: The region.
        store_path: Store folder.
        sample_dir: Where the sample files are (or go); default ``<store>.sample`` beside it.
        variant: ``demo`` or ``full``.
        seed: Sample seed.
        start, end, layout, workers, scheduler, command, on_chunk_done, log: As for
            :func:`prepare_store`.

    Returns:
        The :class:`PrepareResult` of :func:`prepare_store`.
    """
    from glonet_regions.data.canonical_source import CanonicalSource

    store = Path(store_path)
    folder = Path(sample_dir) if sample_dir is not None else store.parent / f"{store.name}.sample"
    if log is not None:
        log(f"Sample in {folder}")
    info = load_or_generate_sample(region, folder, variant=variant, seed=seed)
    description = {
        "sample": {
            "variant": info.variant,
            "seed": info.seed,
            "start": str(info.start),
            "end": str(info.end),
            "description": info.description,
            "note": "synthetic embedded sample (see glonet_regions.sample.generate)",
        }
    }
    source = CanonicalSource.from_files(
        region, info.regional_files, info.global_files, description=description
    )
    return prepare_store(
        store, source, region=region, start=start, end=end, splits=info.splits, layout=layout,
        workers=workers, scheduler=scheduler, command=command, on_chunk_done=on_chunk_done,
        log=log,
    )  # fmt: skip
