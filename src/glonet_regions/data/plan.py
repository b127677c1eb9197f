"""What a training store will cost, before any download: ``glonet-regions data plan``.

:func:`plan_store` works from the region declaration alone: the days, the channels of each
depth group, the source volume per declared dataset (daily float32 values over the dataset's
box and the contiguous depth range the toolbox downloads), the store's raw size and its size on
disk from a measured codec ratio, the preparation time per worker and the memory of one unit of
work. The ratio, the speed and the memory come from :func:`calibrate`, which prepares a small
store here (the region's resolution and boundary zone, a cut of its grid, the analytic
:class:`~glonet_regions.data.prepare_source.SyntheticSource`) with one worker and scales by grid
points. What calibration cannot see (reading and regridding the source files, the network) is
said in the printed notes.

Optional region facts read from ``Region.extra``: ``dataset_coverage`` (``{dataset key:
[first day, last day or null]}``) to refuse dates a dataset does not hold, and
``source_resolution_deg`` (``{dataset key: degrees}``) for datasets on another grid than the
region's (the global boundary source).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import GridVersion, Region
from glonet_regions.data.storage import DISK_DTYPE, check_storage_dtype

__all__ = ["Calibration", "StorePlan", "calibrate", "format_plan", "plan_store"]

_BYTES = {"float32": 4, "float16": 2, "uint16": 2, "int16": 2}


@dataclass(frozen=True)
class Calibration:
    """A short measured preparation on this machine (one worker, one work chunk).

    ``seconds`` is the CPU time (all threads of this process) of writing the work chunk, so
    other load on a shared machine does not inflate it.
    """

    grid_shape: tuple[int, int]
    n_days: int
    seconds: float
    data_ratio: float
    boundary_ratio: float
    peak_bytes: int
    storage_dtype: str
    machine: str

    @property
    def seconds_per_point_day(self) -> float:
        return self.seconds / (self.n_days * self.grid_shape[0] * self.grid_shape[1])

    @property
    def peak_bytes_per_point(self) -> float:
        return self.peak_bytes / (self.grid_shape[0] * self.grid_shape[1])

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["grid_shape"] = list(self.grid_shape)
        return d


@dataclass(frozen=True)
class StorePlan:
    """The figures of ``data plan`` (see :func:`plan_store`)."""

    region: str
    start: dt.date
    end: dt.date
    n_days: int
    grid_shape: tuple[int, int]
    zone_cells: int
    storage_dtype: str
    groups: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    store: dict[str, float]
    preparation: dict[str, float]
    memory_bytes: float
    calibration: Calibration
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_days": self.n_days,
            "grid_shape": list(self.grid_shape),
            "zone_cells": self.zone_cells,
            "storage_dtype": self.storage_dtype,
            "groups": self.groups,
            "datasets": self.datasets,
            "store_bytes": self.store,
            "preparation_seconds": self.preparation,
            "memory_per_work_unit_bytes": self.memory_bytes,
            "calibration": self.calibration.to_dict(),
            "notes": self.notes,
        }


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def calibrate(
    region: Region,
    *,
    storage_dtype: str = "float32",
    shape: tuple[int, int] = (96, 128),
    n_days: int = 8,
) -> Calibration:
    """Prepare a ``shape`` cut of the region's grid for ``n_days`` (one chunk, one worker)
    and measure the time, the codec ratios of the data and boundary arrays, and the peak
    memory (numpy allocations, tracemalloc)."""
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource
    from glonet_regions.data.store import Layout

    full = region.grid
    h, w = min(shape[0], full.shape[0]), min(shape[1], full.shape[1])
    grid = full.isel(slice(0, h), slice(0, w))
    small = dataclasses.replace(
        region, bbox=grid.bbox, grid_versions=(GridVersion("calibration", grid),),
        evaluation_box=None, subregions=(),
    )  # fmt: skip
    start = small.splits.train.start
    source = SyntheticSource(grid, start, n_days, levels=region.depth.levels)
    tmp = Path(tempfile.mkdtemp(prefix="glonet-plan-"))
    try:
        layout = Layout(n_days, n_days, storage_dtype=storage_dtype)
        marks: dict[str, float] = {}

        def log(msg: str) -> None:
            if "time chunks to write" in msg:
                marks["start"] = time.process_time()

        def done(_k: int) -> None:
            marks["end"] = time.process_time()

        tracemalloc.start()
        prepare_store(tmp / "c.zarr", source, region=small, layout=layout, workers=1,
                      log=log, on_chunk_done=done)  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        seconds = marks["end"] - marks["start"]
        raw_d = raw_b = disk_d = disk_b = 0
        item = _BYTES[DISK_DTYPE[storage_dtype]]
        zone = int(small.open_boundaries.zone_mask(grid.shape).sum())
        for g in region.depth.groups:
            raw_d += n_days * g.n_channels * h * w * item
            raw_b += n_days * g.n_channels * zone * item
            disk_d += _disk_bytes(tmp / "c.zarr" / g.name / "data")
            disk_b += _disk_bytes(tmp / "c.zarr" / g.name / "boundary")
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return Calibration(
        grid_shape=(h, w), n_days=n_days, seconds=seconds,
        data_ratio=raw_d / max(disk_d, 1), boundary_ratio=raw_b / max(disk_b, 1),
        peak_bytes=int(peak), storage_dtype=storage_dtype, machine=_machine(),
    )  # fmt: skip


def _check_dates(region: Region, start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValidationError(f"--end {end} is before --start {start}")
    s = region.splits
    lo, hi = (
        min(s.train.start, s.validation.start, s.test.start),
        max(s.train.end, s.validation.end, s.test.end),
    )
    if start < lo or end > hi:
        raise DataError(
            f"{start}..{end} reaches outside region {region.name}'s splits (train "
            f"{s.train.start}..{s.train.end}, validation {s.validation.start}..{s.validation.end}"
            f", test {s.test.start}..{s.test.end}); pick days inside {lo}..{hi}"
        )
    if not (start <= s.train.end and end >= s.train.start):
        raise DataError(
            f"{start}..{end} holds no day of region {region.name}'s training split "
            f"{s.train.start}..{s.train.end}: a store needs training days for its statistics"
        )
    coverage = region.extra.get("dataset_coverage", {}) or {}
    for key, span in coverage.items():
        first = dt.date.fromisoformat(str(span[0]))
        last = dt.date.fromisoformat(str(span[1])) if span[1] else None
        if start < first or (last is not None and end > last):
            raise DataError(
                f"{start}..{end} reaches outside dataset {key} of region {region.name} "
                f"({first}..{last or 'today'})"
            )


def plan_store(
    region: Region,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    groups: Sequence[str] | None = None,
    storage_dtype: str = "float32",
    shard_days: int = 8,
    calibration: Calibration | None = None,
) -> StorePlan:
    """The figures of a store of ``region`` over ``start..end`` (default: all its splits).

    Raises:
        DataError: The dates reach outside the region's splits or a dataset's coverage.
        ValidationError: An unknown depth group or storage dtype.
    """
    check_storage_dtype(storage_dtype, what="--storage-dtype")
    s = region.splits
    start = start or min(s.train.start, s.validation.start, s.test.start)
    end = end or max(s.train.end, s.validation.end, s.test.end)
    _check_dates(region, start, end)
    known = [g.name for g in region.depth.groups]
    names = list(groups) if groups else known
    bad = [g for g in names if g not in known]
    if bad:
        raise ValidationError(f"Unknown depth group(s) {bad}; region {region.name} has {known}")
    chosen = [region.depth.group(g) for g in names]
    n_days = (end - start).days + 1
    grid: Grid = region.grid
    h, w = grid.shape
    points = h * w
    zone = int(region.open_boundaries.zone_mask(grid.shape).sum())
    cal = calibration or calibrate(region, storage_dtype=storage_dtype)
    item = _BYTES[DISK_DTYPE[storage_dtype]]
    levels = region.depth.levels
    used = sorted({li for g in chosen for li in g.level_indices})
    group_rows = []
    raw_data = raw_bnd = 0.0
    for g in chosen:
        d = float(n_days) * g.n_channels * points * item
        b = float(n_days) * g.n_channels * zone * item
        raw_data, raw_bnd = raw_data + d, raw_bnd + b
        group_rows.append({
            "name": g.name, "n_channels": g.n_channels,
            "variables": [*g.variables_2d, *g.variables_3d],
            "levels_m": [levels[i] for i in g.level_indices],
            "data_bytes": d, "boundary_bytes": b,
        })  # fmt: skip
    need_vars = {v for g in chosen for v in (*g.variables_2d, *g.variables_3d)}
    deepest = levels[used[-1]] if used else 0.0
    native = list(region.native_levels.values) if region.native_levels else list(levels.values)
    n_native = sum(1 for z in native if z <= deepest + 0.01) or len(used)
    res = region.extra.get("source_resolution_deg", {}) or {}
    datasets = []
    for ds in region.datasets:
        if ds.kind not in ("reanalysis", "global"):
            continue
        vars_ = [v for v in ds.variables if v in need_vars]
        if not vars_:
            continue
        step = float(res.get(ds.key, region.resolution_deg))
        bb = region.bbox
        margin = 2 * step if ds.kind == "global" else 0.0
        ny = round((bb.lat_max - bb.lat_min + 2 * margin) / step) + 1
        nx = round((bb.lon_max - bb.lon_min + 2 * margin) / step) + 1
        per_day = sum((1 if v == "zos" else n_native) * ny * nx * 4 for v in vars_)
        datasets.append({
            "key": ds.key, "dataset_id": ds.dataset_id, "kind": ds.kind,
            "variables": vars_, "levels": 1 if vars_ == ["zos"] else n_native,
            "grid": [ny, nx], "step_deg": step,
            "bytes": float(per_day) * n_days,
        })  # fmt: skip
    disk = raw_data / cal.data_ratio + raw_bnd / cal.boundary_ratio
    all_groups = sum(g.n_channels for g in chosen) / max(
        sum(g.n_channels for g in region.depth.groups), 1
    )
    per_worker = cal.seconds_per_point_day * points * n_days * all_groups
    mem = cal.peak_bytes_per_point * points * shard_days / cal.n_days
    notes = [
        f"codec ratio and speed measured on {cal.grid_shape[0]}x{cal.grid_shape[1]} cells of "
        f"analytic fields ({cal.machine}); real fields compress less: re-measure with a month "
        "of real data",
        "preparation time covers writing the store (pack, checks, encode, compress, "
        "statistics); reading and regridding the source files and the download add to it",
        f"source volumes: float32 values, the contiguous depth range 0..{deepest:g} m "
        f"({n_native} levels), before netCDF compression",
    ]
    return StorePlan(
        region=region.name, start=start, end=end, n_days=n_days, grid_shape=(h, w),
        zone_cells=zone, storage_dtype=storage_dtype, groups=group_rows, datasets=datasets,
        store={"data_raw": raw_data, "boundary_raw": raw_bnd, "raw": raw_data + raw_bnd,
               "boundary_full_grid_raw": raw_data, "disk": disk},
        preparation={"one_worker": per_worker, "per_day": per_worker / n_days},
        memory_bytes=mem, calibration=cal, notes=notes,
    )  # fmt: skip


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return f"{n:.3g} PB"


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def format_plan(plan: StorePlan, workers: Sequence[int] = (1, 16, 64)) -> str:
    """The plan as the text ``data plan`` prints."""
    lines = [
        f"Store plan for {plan.region}: {plan.start} .. {plan.end} ({plan.n_days} days), grid "
        f"{plan.grid_shape[0]} x {plan.grid_shape[1]}, boundary zone {plan.zone_cells} cells, "
        f"storage dtype {plan.storage_dtype}",
        "Depth groups:",
    ]
    for g in plan.groups:
        lv = g["levels_m"]
        lines.append(
            f"  {g['name']}: {g['n_channels']} channels ({', '.join(g['variables'])} at "
            f"{len(lv)} levels {lv[0]:g}..{lv[-1]:g} m)"
        )
    lines.append("Source volume to download (float32, before netCDF compression):")
    total = 0.0
    for d in plan.datasets:
        total += d["bytes"]
        lines.append(
            f"  {d['key']} ({d['dataset_id']}): {', '.join(d['variables'])}, {d['levels']} "
            f"levels, {d['grid'][0]} x {d['grid'][1]} at {d['step_deg']:.4g} deg: "
            f"{human_bytes(d['bytes'])}"
        )
    lines.append(f"  total: {human_bytes(total)}")
    st, cal = plan.store, plan.calibration
    lines += [
        "Store:",
        f"  raw: {human_bytes(st['raw'])} (data {human_bytes(st['data_raw'])}, boundary zone "
        f"{human_bytes(st['boundary_raw'])}; a full-grid boundary would be "
        f"{human_bytes(st['boundary_full_grid_raw'])})",
        f"  on disk: {human_bytes(st['disk'])} (measured codec ratio data x{cal.data_ratio:.2f}, "
        f"boundary x{cal.boundary_ratio:.2f})",
        "Preparation (measured calibration: "
        f"{cal.grid_shape[0]} x {cal.grid_shape[1]} cells, {cal.n_days} days in "
        f"{cal.seconds:.2f} CPU s, {cal.machine}):",
    ]
    one = plan.preparation["one_worker"]
    lines.append(
        "  "
        + ", ".join(f"{n} worker{'s' if n > 1 else ''}: {human_seconds(one / n)}" for n in workers)
        + " (ideal scaling)"
    )
    lines.append(
        f"Memory of one unit of work (one shard of days, all groups): "
        f"{human_bytes(plan.memory_bytes)} per worker"
    )
    lines += ["Notes:", *(f"  - {n}" for n in plan.notes)]
    return "\n".join(lines)
