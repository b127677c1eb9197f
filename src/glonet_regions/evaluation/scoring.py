"""Scoring aligned forecast cubes against a truth cube, per region zone and convention.

Every model (the forecast and each baseline) is scored the same way: per variable, depth and
lead day, with each metric in its convention, over the interior of the evaluation box (the
open-boundary zone excluded) and over each sub-region. One row per score::

    model, variable, depth, lead_day, metric, convention, subregion, value, n_forecasts

``lead_day`` is 1-based (``lead_day_index + 1``), as OceanBench reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from glonet_regions.core.errors import DataError, GridMismatchError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.evaluation import metrics as m
from glonet_regions.evaluation.align import depth_indices
from glonet_regions.evaluation.writer import FIRST_DAY, LEAD

__all__ = [
    "BUILTIN_METRICS",
    "OCEANBENCH_DEPTHS",
    "SCORE_COLUMNS",
    "WHOLE_REGION",
    "MetricSpec",
    "Zone",
    "interior_mask",
    "region_zones",
    "score_models",
]

#: OceanBench's scoring depths (m); matched to the nearest level within tolerance.
OCEANBENCH_DEPTHS: tuple[float, ...] = (0.494, 47.37, 92.33, 222.48, 318.13, 541.09)
WHOLE_REGION = "region"
SCORE_COLUMNS = [
    "model",
    "variable",
    "depth",
    "lead_day",
    "metric",
    "convention",
    "subregion",
    "value",
    "n_forecasts",
]


@dataclass(frozen=True)
class MetricSpec:
    """A metric: ``function(forecast, reference, weights)`` (plus ``climatology`` for ACC)."""

    name: str
    function: Callable[..., xr.DataArray]
    convention: str
    needs_climatology: bool = False

    @property
    def weighted(self) -> bool:
        """Area weights are passed in every convention but OceanBench's."""
        return self.convention != "oceanbench"


BUILTIN_METRICS: dict[str, MetricSpec] = {
    "rmsd": MetricSpec("rmsd", m.rmsd_oceanbench, "oceanbench"),
    "rmse": MetricSpec("rmse", m.rmse, "weatherbench2"),
    "bias": MetricSpec("bias", m.bias, "weatherbench2"),
    "acc": MetricSpec("acc", m.acc, "weatherbench2", needs_climatology=True),
}


@dataclass(frozen=True)
class Zone:
    """Where a score is computed: a lat/lon window of the grid and the cells scored in it."""

    name: str
    lat: slice
    lon: slice
    mask: np.ndarray = field(repr=False)  # bool (nlat, nlon) of the window, True = scored

    @property
    def n_cells(self) -> int:
        return int(self.mask.sum())


def interior_mask(region: Region, grid: Grid) -> np.ndarray:
    """True away from the open-boundary zone, on ``grid``.

    When ``grid`` lies on one of the region's grid versions (possibly a thinned or cut part
    of it), the zone is computed on that full grid and cut out, so a small window in the
    middle of the domain keeps all its cells. Otherwise the zone is taken on ``grid`` itself.
    """
    ob = region.open_boundaries
    if not ob.edges or ob.width == 0:
        return np.ones(grid.shape, dtype=bool)
    try:
        match = region.match_grid(grid.lat, grid.lon)
    except GridMismatchError:
        return ~ob.zone_mask(grid.shape)
    full = ob.zone_mask(match.version.grid.shape)
    zone = full[np.ix_(match.index.lat, match.index.lon)]
    return ~zone


def _window(grid: Grid, bbox: BBox) -> tuple[slice, slice] | None:
    try:
        return grid.index_box(bbox)
    except GridMismatchError:
        return None


def region_zones(region: Region, grid: Grid, subregions: Sequence[SubRegion] = ()) -> list[Zone]:
    """The whole evaluation box plus each sub-region, each restricted to the interior.

    Sub-regions that hold no cell of ``grid`` are left out.
    """
    interior = interior_mask(region, grid)
    zones: list[Zone] = []
    box = region.evaluation_box or region.bbox
    items: list[tuple[str, BBox]] = [(WHOLE_REGION, box)]
    items += [(s.name, s.bbox) for s in subregions]
    for name, bbox in items:
        win = _window(grid, bbox)
        if win is None:
            continue
        mask = interior[win]
        if mask.any():
            zones.append(Zone(name, win[0], win[1], mask))
    if not zones or zones[0].name != WHOLE_REGION:
        raise DataError(
            f"The forecast grid {grid} holds no interior cell of region {region.name!r}'s "
            f"evaluation box {box.as_list()}"
        )
    return zones


def _depth_pairs(
    f: xr.DataArray, t: xr.DataArray, depths: Sequence[float] | None
) -> tuple[xr.DataArray, xr.DataArray] | None:
    """Select the same wanted depths in forecast and truth (by nearest level)."""
    if "depth" not in f.dims:
        return f, t
    wanted = list(depths) if depths is not None else [float(d) for d in f["depth"].values]
    fi = depth_indices(f["depth"].values, wanted)
    ti = depth_indices(t["depth"].values, wanted)
    common = [d for d in wanted if d in fi and d in ti]
    if not common:
        return None
    fs = f.isel(depth=[fi[d] for d in common])
    ts = t.isel(depth=[ti[d] for d in common])
    level = fs["depth"].values
    return fs.assign_coords(depth=level), ts.assign_coords(depth=level)


def _rows(
    score: xr.DataArray, base: dict[str, Any], lead_numbers: np.ndarray
) -> list[dict[str, Any]]:
    out = []
    s = score
    if "depth" not in s.dims:
        s = s.expand_dims(depth=[np.nan])
    s = s.transpose(LEAD, "depth")
    vals = s.values
    depths = s["depth"].values
    for i, lead in enumerate(lead_numbers):
        for j, d in enumerate(depths):
            out.append(
                {
                    **base,
                    "depth": float(d),
                    "lead_day": int(lead),
                    "value": float(vals[i, j]),
                }
            )
    return out


def score_models(
    models: Mapping[str, xr.Dataset],
    truth: xr.Dataset,
    *,
    grid: Grid,
    zones: Sequence[Zone],
    climatology: xr.Dataset | None = None,
    lead_days: Sequence[int] | None = None,
    depths: Sequence[float] | None = OCEANBENCH_DEPTHS,
    metrics: Mapping[str, MetricSpec] | None = None,
    variables: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score each model cube against the truth cube.

    Args:
        models: Model name to a forecast cube already on ``grid`` with the truth's start dates
            and lead days (see :mod:`glonet_regions.evaluation.align`).
        truth: The truth cube (same layout).
        grid: The common grid.
        zones: Where to score (:func:`region_zones`).
        climatology: The climatology as a cube, for ACC (ACC is skipped without it).
        lead_days: 1-based lead days to keep (default: all).
        depths: Depths to score (nearest level within tolerance); None: every level.
        metrics: Metric table (default :data:`BUILTIN_METRICS`).
        variables: Variables to score (default: those in both the model and the truth).

    Returns:
        A DataFrame with :data:`SCORE_COLUMNS`.
    """
    table = dict(BUILTIN_METRICS if metrics is None else metrics)
    n_lead = truth.sizes[LEAD]
    if lead_days is None:
        lead_idx = np.arange(n_lead)
    else:
        bad = [d for d in lead_days if not 1 <= d <= n_lead]
        if bad:
            raise DataError(f"--lead-days {bad} outside 1..{n_lead} of the forecast")
        lead_idx = np.asarray(sorted(set(int(d) - 1 for d in lead_days)))
    area = grid.area_weights()
    rows: list[dict[str, Any]] = []
    for model_name, cube in models.items():
        names = [str(v) for v in cube.data_vars if v in truth.data_vars]
        if variables is not None:
            names = [v for v in names if v in variables]
        for var in names:
            f_all = cube[var].isel({LEAD: lead_idx})
            t_all = truth[var].isel({LEAD: lead_idx})
            pair = _depth_pairs(f_all, t_all, depths)
            if pair is None:
                continue
            f_all, t_all = pair
            f_all = f_all.load()
            t_all = t_all.load()
            c_all = None
            if climatology is not None and var in climatology:
                c_src: xr.DataArray | None = climatology[var].isel({LEAD: lead_idx})
                if "depth" in f_all.dims and c_src is not None:
                    ci = depth_indices(c_src["depth"].values, f_all["depth"].values)
                    if len(ci) == f_all.sizes["depth"]:
                        c_src = c_src.isel(depth=list(ci.values())).assign_coords(
                            depth=f_all["depth"].values
                        )
                    else:
                        c_src = None
                c_all = None if c_src is None else c_src.load()
            n_fc = int(f_all.sizes.get(FIRST_DAY, 1))
            for zone in zones:
                sl = {"latitude": zone.lat, "longitude": zone.lon}
                mask = xr.DataArray(zone.mask, dims=("latitude", "longitude"))
                f = f_all.isel(sl).where(mask)
                t = t_all.isel(sl).where(mask)
                w = xr.DataArray(area[zone.lat, zone.lon], dims=("latitude", "longitude"))
                c = None if c_all is None else c_all.isel(sl).where(mask)
                for spec in table.values():
                    if spec.needs_climatology and c is None:
                        continue
                    weights = w if spec.weighted else None
                    if spec.needs_climatology:
                        score = spec.function(f, t, c, weights)
                    else:
                        score = spec.function(f, t, weights)
                    base = {
                        "model": model_name,
                        "variable": var,
                        "metric": spec.name,
                        "convention": spec.convention,
                        "subregion": zone.name,
                        "n_forecasts": n_fc,
                    }
                    rows.extend(_rows(score, base, lead_idx + 1))
    df = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return df
