"""Representativeness and quality of a training store: what ``data report`` computes.

Everything is computed from daily spatial means over each sub-region (and the whole store
grid) of the chosen channels, read once:

- distributions: quantiles of the daily means of the train, validation and test splits side
  by side, with two-sample distances against the training split (Wasserstein-1 and the
  Kolmogorov-Smirnov statistic, :mod:`scipy.stats`);
- seasonal cycle: the calendar months each split covers and its monthly means;
- extremes: marine heat waves on the sea-surface temperature after Hobday et al. (2016):
  a day is hot when it exceeds the 90th percentile of the training days of the same day of
  the year (11-day window), and a heat wave is a run of at least 5 hot days; coastal upwelling
  in the sub-regions a region flags (``Region.extra["upwelling_subregions"]``), by a generic
  SST index: the offshore band (75-150 km from land) warmer than the coastal band (0-25 km)
  by more than 1 degree C;
- quality: gaps of the time axis, NaN inside the ocean mask, values outside each variable's
  plausible range (``Variable.valid_range``);
- warnings where the test (or validation) split holds conditions the training split barely
  covers: more than 10% of its days outside the training 1-99% range, months it covers that
  training does not, extremes several times more frequent than in training.

A store must be complete; an incomplete one is refused naming its missing work chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.core.errors import StoreError, ValidationError
from glonet_regions.core.region import SubRegion
from glonet_regions.core.variables import GLONET_VARIABLES
from glonet_regions.data.store import StoreReader, from_epoch_days, progress_done, read_attrs

__all__ = ["ReportData", "compute_report", "open_complete"]

SPLITS = ("train", "validation", "test")
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MHW_PERCENTILE = 90.0
MHW_MIN_DAYS = 5
MHW_WINDOW = 11
UPWELLING_DELTA_C = 1.0
COAST_KM = 25.0
OFFSHORE_KM = (75.0, 150.0)
UNCOVERED_SHARE = 0.10
WHOLE = "whole_grid"


@dataclass
class ReportData:
    """The report's numbers (:meth:`summary` is the JSON) and the series the plots draw."""

    store: str
    region: str
    channels: list[str]
    zones: list[str]
    days: np.ndarray  # (T,) int64 days since 1970-01-01
    split_of_day: np.ndarray  # (T,) int: 0 train, 1 validation, 2 test, -1 none
    series: dict[str, dict[str, np.ndarray]]  # channel -> zone -> (T,) daily mean
    summary: dict[str, Any] = field(default_factory=dict)


def open_complete(path: str | Path) -> StoreReader:
    """The store's reader, or a StoreError naming the missing work chunks."""
    attrs = read_attrs(path)
    if not attrs.get("complete", False):
        done = progress_done(path)
        lay = attrs["layout"]
        n, cd = int(lay["n_work_chunks"]), int(lay["work_chunk_days"])
        missing = [k for k in range(n) if k >= done.size or not done[k]]
        t = attrs["time"]
        first = dt.date.fromisoformat(t["start"])
        names = ", ".join(str(k) for k in missing[:20]) + (" ..." if len(missing) > 20 else "")
        written = "(all written; statistics not merged)" if not missing else ""
        raise StoreError(
            f"Store {path} is incomplete: work chunks {names or written} of {n} are missing "
            f"(chunk k holds days k*{cd}.. from {first}); re-run `glonet-regions data prepare` "
            "with the same options to finish it"
        )
    return StoreReader(path)


def _zone_masks(reader: StoreReader, subregions: Sequence[SubRegion]) -> dict[str, np.ndarray]:
    grid = reader.grid
    lat, lon = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    out = {WHOLE: np.ones(grid.shape, dtype=bool)}
    for s in subregions:
        b = s.bbox
        m = (lat >= b.lat_min) & (lat <= b.lat_max) & (lon >= b.lon_min) & (lon <= b.lon_max)
        if m.any():
            out[s.name] = m
    return out


def _split_index(reader: StoreReader) -> np.ndarray:
    sp = reader.splits
    out = np.full(reader.times.size, -1, dtype=np.int64)
    for k, name in enumerate(SPLITS):
        r = sp.get(name)
        for i, d in enumerate(reader.dates):
            if r.contains(d):
                out[i] = k
    return out


def _pick_channels(reader: StoreReader, groups: Sequence[str]) -> list[tuple[str, int, str, str]]:
    """``(group, channel index, label, variable)``: every channel of the surface-most group,
    the first level of each variable for the others."""
    out = []
    for g in groups:
        info = reader.group_info(g)
        seen: set[str] = set()
        for c, ((var, _li), label) in enumerate(zip(info["channel_variables"], info["channels"])):
            if var in seen:
                continue
            seen.add(var)
            out.append((g, c, str(label), str(var)))
    return out


def _coastal_bands(ocean: np.ndarray, km_per_cell: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.ndimage import distance_transform_edt

    dist = distance_transform_edt(ocean) * km_per_cell  # distance to the nearest land cell
    coast = ocean & (dist <= max(COAST_KM, 1.5 * km_per_cell))
    lo, hi = max(OFFSHORE_KM[0], 3 * km_per_cell), max(OFFSHORE_KM[1], 6 * km_per_cell)
    offshore = ocean & (dist >= lo) & (dist <= hi)
    return coast, offshore


def _mhw(sst: np.ndarray, days: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Boolean (T,) heat-wave days (Hobday et al. 2016) on a daily series."""
    doy = np.asarray([d.timetuple().tm_yday for d in from_epoch_days(days)])
    thresh = np.full(sst.size, np.nan)
    half = MHW_WINDOW // 2
    base = train & np.isfinite(sst)
    for k in np.unique(doy):
        near = np.abs(((doy - k + 183) % 366) - 183) <= half
        ref = sst[near & base]
        if ref.size >= 3:
            thresh[doy == k] = np.percentile(ref, MHW_PERCENTILE)
    hot = np.nan_to_num(sst - thresh, nan=-1.0) > 0
    out = np.zeros_like(hot)
    i, n = 0, hot.size
    while i < n:
        if not hot[i]:
            i += 1
            continue
        j = i + 1
        while j < n and hot[j] and days[j] - days[j - 1] == 1:
            j += 1
        if j - i >= MHW_MIN_DAYS:
            out[i:j] = True
        i = j
    return out


def compute_report(
    path: str | Path,
    *,
    subregions: Sequence[SubRegion] = (),
    upwelling: Sequence[str] = (),
    groups: Sequence[str] | None = None,
) -> ReportData:
    """Read the store once and compute the report (see the module docstring).

    Args:
        path: A complete store.
        subregions: The region's sub-regions (boxes); the whole grid is always added.
        upwelling: Names of the sub-regions where coastal upwelling is counted.
        groups: Depth groups to report on (default: the first, the surface group).
    """
    reader = open_complete(path)
    names = list(groups) if groups else [reader.group_names[0]]
    bad = [g for g in names if g not in reader.group_names]
    if bad:
        raise ValidationError(f"Store {path} has no depth group(s) {bad}: {reader.group_names}")
    zones = _zone_masks(reader, subregions)
    unknown = [u for u in upwelling if u not in zones]
    picks = _pick_channels(reader, names)
    days, split = reader.times, _split_index(reader)
    t = days.size
    series = {lab: {z: np.full(t, np.nan) for z in zones} for _, _, lab, _ in picks}
    nan_count = {lab: 0 for _, _, lab, _ in picks}
    range_count = {lab: 0 for _, _, lab, _ in picks}
    grid = reader.grid
    km_per_cell = abs(grid.dlat) * 111.2
    sst_pick = next((p for p in picks if p[3] == "thetao"), None)
    up_idx = {u: np.full(t, np.nan) for u in upwelling if u in zones}
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for g in names:
        cmask = reader.channel_mask(g)
        mine = [p for p in picks if p[0] == g]
        if sst_pick is not None and sst_pick[0] == g:
            ocean = cmask[sst_pick[1]]
            full_coast, full_off = _coastal_bands(ocean, km_per_cell)
            bands = {u: (full_coast & zones[u], full_off & zones[u]) for u in up_idx}
        for i0 in range(0, t, 8):
            block = reader.read(g, i0, min(i0 + 8, t))
            for i, x in enumerate(block, start=i0):
                _day_stats(x, i, mine, cmask, zones, series, nan_count, range_count)
                if sst_pick is not None and sst_pick[0] == g:
                    sst = x[sst_pick[1]]
                    for u, (coast, off) in bands.items():
                        if coast.any() and off.any():
                            up_idx[u][i] = float(np.nanmean(sst[off]) - np.nanmean(sst[coast]))
    data = ReportData(
        store=str(path), region=reader.region_name, channels=[p[2] for p in picks],
        zones=list(zones), days=days, split_of_day=split, series=series,
    )  # fmt: skip
    data.summary = _summarise(reader, data, nan_count, range_count, up_idx, sst_pick, unknown)
    return data


def _day_stats(
    x: np.ndarray, i: int, mine: list[tuple[str, int, str, str]], cmask: np.ndarray,
    zones: dict[str, np.ndarray], series: dict[str, dict[str, np.ndarray]],
    nan_count: dict[str, int], range_count: dict[str, int],
) -> None:  # fmt: skip
    for _, c, lab, var in mine:
        v, m = x[c], cmask[c]
        ocean_vals = v[m]
        nan_count[lab] += int(np.isnan(ocean_vals).sum())
        lo, hi = GLONET_VARIABLES[var].valid_range
        range_count[lab] += int(((ocean_vals < lo) | (ocean_vals > hi)).sum())
        for z, zm in zones.items():
            sel = v[zm & m]
            if sel.size:
                series[lab][z][i] = float(np.nanmean(sel))


def _distances(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    from scipy.stats import ks_2samp, wasserstein_distance

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return {"wasserstein": None, "ks": None, "ks_pvalue": None}
    ks = ks_2samp(a, b)
    return {
        "wasserstein": float(wasserstein_distance(a, b)),
        "ks": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
    }


def _summarise(
    reader: StoreReader, data: ReportData, nan_count: dict[str, int],
    range_count: dict[str, int], up_idx: dict[str, np.ndarray],
    sst_pick: tuple[str, int, str, str] | None, unknown_upwelling: list[str],
) -> dict[str, Any]:  # fmt: skip
    split = data.split_of_day
    months = np.asarray([d.month for d in from_epoch_days(data.days)])
    warnings: list[str] = []
    sp = reader.splits
    per_split_days = {s: int((split == k).sum()) for k, s in enumerate(SPLITS)}
    dist: dict[str, Any] = {}
    for lab in data.channels:
        dist[lab] = {}
        for z in data.zones:
            y = data.series[lab][z]
            row: dict[str, Any] = {"quantiles": {}, "vs_train": {}}
            for k, s in enumerate(SPLITS):
                v = y[(split == k) & np.isfinite(y)]
                row["quantiles"][s] = np.quantile(v, QUANTILES).tolist() if v.size else None
            tr = y[(split == 0) & np.isfinite(y)]
            for k, s in ((1, "validation"), (2, "test")):
                other = y[(split == k) & np.isfinite(y)]
                d = _distances(tr, other)
                if tr.size >= 2 and other.size:
                    q1, q99 = np.quantile(tr, [0.01, 0.99])
                    share = float(np.mean((other < q1) | (other > q99)))
                    d["share_outside_train_1_99"] = share
                    if share > UNCOVERED_SHARE:
                        warnings.append(
                            f"{lab} in {z}: {100 * share:.0f}% of the {s} days lie outside the "
                            f"training 1-99% range [{q1:.4g}, {q99:.4g}]"
                        )
                row["vs_train"][s] = d
            dist[lab][z] = row
    seasonal: dict[str, Any] = {}
    for k, s in enumerate(SPLITS):
        covered = sorted({int(m) for m in months[split == k]})
        seasonal[s] = {"months": covered, "n_days": per_split_days[s], "monthly_mean": {}}
        for lab in data.channels:
            y = data.series[lab][WHOLE]
            seasonal[s]["monthly_mean"][lab] = {
                int(m): float(np.nanmean(y[(split == k) & (months == m)])) for m in covered
            }
    train_months = set(seasonal["train"]["months"])
    for s in ("validation", "test"):
        extra = sorted(set(seasonal[s]["months"]) - train_months)
        if extra:
            warnings.append(f"the {s} split covers months {extra} that the training split lacks")
    extremes: dict[str, Any] = {"marine_heat_waves": {}, "coastal_upwelling": {}}
    if sst_pick is not None:
        train = split == 0
        for z in data.zones:
            hot = _mhw(data.series[sst_pick[2]][z], data.days, train)
            extremes["marine_heat_waves"][z] = {
                s: float(hot[split == k].mean()) if (split == k).any() else None
                for k, s in enumerate(SPLITS)
            }
    for u, idx in up_idx.items():
        up = np.nan_to_num(idx, nan=-np.inf) > UPWELLING_DELTA_C
        shares = {
            s: float(up[split == k].mean()) if (split == k).any() else None
            for k, s in enumerate(SPLITS)
        }
        extremes["coastal_upwelling"][u] = shares
        tr, te = shares["train"], shares["test"]
        if tr is not None and te is not None and te > max(2 * tr, tr + 0.05):
            warnings.append(
                f"coastal upwelling in {u}: {100 * te:.0f}% of test days against "
                f"{100 * tr:.0f}% of training days"
            )
    for z, shares in extremes["marine_heat_waves"].items():
        tr, te = shares["train"], shares["test"]
        if tr is not None and te is not None and te > max(2 * tr, tr + 0.05):
            warnings.append(
                f"marine heat waves in {z}: {100 * te:.0f}% of test days against "
                f"{100 * tr:.0f}% of training days (threshold from the training split)"
            )
    gaps = [(a.isoformat(), b.isoformat()) for a, b in reader.gaps()]
    for s in SPLITS:
        if per_split_days[s] == 0:
            warnings.append(f"the store holds no day of the {s} split")
    notes = [f"upwelling sub-region {u!r} is not on the store grid" for u in unknown_upwelling]
    return {
        "store": data.store,
        "region": data.region,
        "splits": {s: sp.get(s).to_list() for s in SPLITS},
        "days_per_split": per_split_days,
        "channels": data.channels,
        "zones": data.zones,
        "quantile_levels": list(QUANTILES),
        "distributions": dist,
        "seasonal_cycle": seasonal,
        "extremes": extremes,
        "quality": {
            "n_days": int(data.days.size),
            "gaps": gaps,
            "nan_in_ocean": nan_count,
            "outside_valid_range": range_count,
        },
        "definitions": {
            "series": "daily spatial mean over the ocean cells of each zone",
            "marine_heat_wave": f"Hobday et al. 2016: >= {MHW_MIN_DAYS} consecutive days above "
            f"the {MHW_PERCENTILE:g}th percentile of the training days within "
            f"+-{MHW_WINDOW // 2} days of the day of year",
            "coastal_upwelling": f"SST offshore ({OFFSHORE_KM[0]:g}-{OFFSHORE_KM[1]:g} km from "
            f"land) minus coastal (0-{COAST_KM:g} km) > {UPWELLING_DELTA_C:g} degC",
            "uncovered": f"more than {100 * UNCOVERED_SHARE:g}% of a split's days outside the "
            "training 1-99% range",
        },
        "warnings": warnings,
        "notes": notes,
    }
