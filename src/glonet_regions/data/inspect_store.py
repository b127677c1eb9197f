"""Describe and check a training store (``glonet-regions data inspect``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.errors import StoreError
from glonet_regions.data.store import (
    PROGRESS,
    RERUN_HINT,
    StoreReader,
    find_gaps,
    from_epoch_days,
    progress_done,
    read_attrs,
)


@dataclass
class Inspection:
    """Lines to print and the problems found (an empty list means the store is consistent)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _codec_text(arr: Any) -> str:
    try:
        comps = arr.compressors
        return (
            ", ".join(
                f"{type(c).__name__}({getattr(c, 'cname', '')}"
                f"{', clevel=' + str(c.clevel) if hasattr(c, 'clevel') else ''}"
                f"{', ' + str(getattr(c, 'shuffle', '')) if hasattr(c, 'shuffle') else ''})"
                for c in comps
            )
            or "none"
        )
    except Exception:  # older zarr objects without .compressors
        return "?"


def inspect_store(path: str | Path, *, check_values: bool = True, max_days: int = 64) -> Inspection:
    """Describe ``path`` and check it: completeness, chunks, stats, NaN in the ocean.

    Args:
        path: The store.
        check_values: Read days to check there is no NaN in the ocean (up to ``max_days``
            days per group, spread over the time axis).
        max_days: Bound on the days read per group.
    """
    import zarr

    out = Inspection()
    say, bad = out.lines.append, out.problems.append
    attrs = read_attrs(path)
    root: Any = zarr.open_group(str(path), mode="r")
    complete = bool(attrs.get("complete"))
    done = progress_done(path)
    n_chunks = attrs["layout"]["n_work_chunks"]
    say(f"Store {path} (format version {attrs['format_version']}, region {attrs['region']})")
    say(
        f"  complete: {'yes' if complete else 'NO'}; "
        f"time chunks written {int(done.sum())}/{n_chunks}"
    )
    if not complete:
        missing = np.flatnonzero(~done).tolist() if done.size else list(range(n_chunks))
        bad(f"store is incomplete: time chunks {missing[:20]}{' ...' if len(missing) > 20 else ''}"
            f" not written, statistics missing; {RERUN_HINT}")  # fmt: skip
    g = attrs["grid"]
    say(f"  grid: {g['nlat']} x {g['nlon']}, lat0 {g['lat0']:.4f} step {g['dlat']:.6g}, "
        f"lon0 {g['lon0']:.4f} step {g['dlon']:.6g}")  # fmt: skip
    times = np.asarray(root["time"][:], dtype=np.int64)
    days = from_epoch_days(times)
    say(f"  days: {len(days)}, {days[0]} .. {days[-1]}" if days else "  days: none")
    gaps = find_gaps(times)
    say(f"  gaps: {len(gaps)}" + "".join(f"\n    {a} -> {b}" for a, b in gaps[:10]))
    if times.size > 1 and np.any(np.diff(times) <= 0):
        bad("time axis is not strictly increasing")
    splits = attrs["splits"]
    for name in ("train", "validation", "test"):
        lo, hi = splits[name]
        n = sum(1 for d in days if lo <= d.isoformat() <= hi)
        say(f"  split {name}: {lo} .. {hi} ({n} days in the store)")
    lay = attrs["layout"]
    say(f"  layout: {lay['inner_chunk_days']} day per chunk, {lay['shard_days']} days per shard, "
        f"{lay['work_chunk_days']} days per work chunk; boundary data: "
        f"{'yes' if attrs.get('has_boundary') else 'no'}")  # fmt: skip
    stats = attrs.get("stats", {})
    for gname, info in attrs["groups"].items():
        names = ["data", "boundary", "mask"] if attrs.get("has_boundary") else ["data", "mask"]
        for name in names:
            try:
                arr = root[f"{gname}/{name}"]
            except KeyError:
                bad(f"array {gname}/{name} is missing")
                continue
            say(f"  {gname}/{name}: shape {arr.shape} {arr.dtype}, chunks {arr.chunks}, "
                f"shards {arr.shards}, codec {_codec_text(arr)}")  # fmt: skip
            if name == "data" and arr.shape[:2] != (times.size, info["n_channels"]):
                bad(f"{gname}/data has shape {arr.shape}, expected ({times.size}, "
                    f"{info['n_channels']}, H, W)")  # fmt: skip
        say(f"    channels ({info['n_channels']}): {', '.join(info['channels'][:6])}"
            f"{' ...' if info['n_channels'] > 6 else ''}")  # fmt: skip
        if complete:
            st = stats.get(gname)
            if st is None:
                bad(f"statistics of group {gname} are missing")
            else:
                mean, std = np.asarray(st["mean"]), np.asarray(st["std"])
                if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
                    bad(f"statistics of group {gname} hold non-finite or non-positive values")
                _check_plausible(root, gname, info, mean, np.asarray(st["count"]), bad)
                empty = [c for c, n in zip(info["channels"], st["count"]) if n == 0]
                say(f"    stats: mean {_short(mean)}, std {_short(std)}, diff std "
                    f"{_short(np.asarray(st['diff_std']))}"
                    + (f"; no ocean cell in {len(empty)} channel(s)" if empty else ""))  # fmt: skip
        if check_values and times.size and done.size:
            _check_nan(
                root,
                Path(path),
                gname,
                info,
                times.size,
                done,
                lay["work_chunk_days"],
                max_days,
                bad,
            )
    prov = attrs.get("provenance")
    if prov:
        say(f"  provenance: code {prov.get('code_version')}, created {prov.get('created')}")
        say(f"    command: {prov.get('command')}")
        src = prov.get("source", {})
        say(f"    source: {src.get('kind')} {src.get('name', '')}".rstrip())
    elif complete:
        bad("provenance is missing")
    try:
        root[PROGRESS]
    except KeyError:
        bad("progress records are missing")
    return out


def _check_plausible(
    root: Any, gname: str, info: dict[str, Any], mean: np.ndarray, count: np.ndarray, bad: Any
) -> None:
    """Ocean cells exist, every channel with ocean cells has values, means are plausible."""
    from glonet_regions.core.variables import GLONET_VARIABLES

    mask = np.asarray(root[f"{gname}/mask"][:], dtype=bool)
    if not mask.any():
        bad(f"group {gname} has no ocean cell (its mask is all land): was a variable NaN "
            "everywhere in the input?")  # fmt: skip
        return
    levels = info["level_indices"]
    for c, (var, li) in enumerate(info["channel_variables"]):
        name = info["channels"][c]
        wet = int(mask[0 if li is None else levels.index(li)].sum())
        if wet and int(count[c]) == 0:
            bad(f"channel {name} of group {gname}: {wet} ocean cells but no value counted in "
                "the statistics (the variable is NaN everywhere?)")  # fmt: skip
            continue
        if var not in GLONET_VARIABLES or not count[c]:
            continue
        v = GLONET_VARIABLES[var]
        if v.median_range is not None and not v.median_range[0] <= mean[c] <= v.median_range[1]:
            bad(f"channel {name} of group {gname}: mean {mean[c]:.4g} {v.units} outside the "
                f"range {list(v.median_range)} of real ocean fields (wrong units, e.g. salinity "
                "as a fraction?)")  # fmt: skip


def _short(values: np.ndarray) -> str:
    if values.size <= 5:
        return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"
    return f"[{values[0]:.4g} .. {values[-1]:.4g}] ({values.size})"


def _check_nan(
    root: Any, path: Path, gname: str, info: dict[str, Any], n_days: int, done: np.ndarray,
    chunk_days: int, max_days: int, bad: Any,
) -> None:  # fmt: skip
    mask = np.asarray(root[f"{gname}/mask"][:], dtype=bool)
    levels = info["level_indices"]
    pos = [0 if li is None else levels.index(li) for _, li in info["channel_variables"]]
    cmask = mask[pos]
    written = [i for i in range(n_days) if done[min(i // chunk_days, done.size - 1)]]
    if not written:
        return
    pick = np.unique(np.linspace(0, len(written) - 1, min(max_days, len(written))).astype(int))
    # Decoded as the loader sees it (float32, NaN on land), whatever the storage dtype.
    reader = StoreReader(path, require_complete=False)
    for i in (written[j] for j in pick):
        x = reader.read(gname, i, i + 1)[0]
        nan = np.isnan(x) & cmask
        if nan.any():
            c = int(np.argwhere(nan)[0][0])
            bad(f"{gname}/data day index {i}: {int(nan.sum())} NaN in the ocean "
                f"(first in channel {info['channels'][c]})")  # fmt: skip
            return


def inspect_any(path: str | Path) -> Inspection:
    """:func:`inspect_store`, or a StoreError when ``path`` is not a store."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"{p} does not exist")
    return inspect_store(p)
