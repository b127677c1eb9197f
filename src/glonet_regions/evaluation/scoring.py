"""Scoring aligned forecast cubes against a truth cube, per region zone and convention.

Every model (the forecast and each baseline) is scored the same way: per variable, depth and
lead day, with each metric in its convention, over the interior of the evaluation box (the
open-boundary zone excluded) and over each sub-region. One row per score::

    model, variable, depth, lead_day, metric, convention, subregion, value, n_forecasts

``lead_day`` is 1-based (``lead_day_index + 1``), as OceanBench reports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from glonet_regions.core.errors import DataError, GridMismatchError, ValidationError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.evaluation import fast_scores as fs
from glonet_regions.evaluation import metrics as m
from glonet_regions.forecast.align import depth_indices
from glonet_regions.forecast.cube import FIRST_DAY, LEAD

__all__ = [
    "BUILTIN_METRICS",
    "ENGINES",
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
    """True away from the open-boundary zone, on ``grid`` (see :meth:`Region.boundary_zone`).

    When ``grid`` lies on one of the region's grid versions (possibly a thinned or cut part
    of it), the zone is computed on that full grid and cut out, so a small window in the
    middle of the domain keeps all its cells. Otherwise the zone is taken on ``grid`` itself.
    """
    return ~region.boundary_zone(grid)


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


def _levels(da: xr.DataArray, idx: Sequence[int]) -> xr.DataArray:
    """``da`` at depth indices ``idx``: a view when they are consecutive, else a copy."""
    if idx and all(b == a + 1 for a, b in itertools.pairwise(idx)):
        return da.isel(depth=slice(idx[0], idx[-1] + 1))
    return da.isel(depth=list(idx))


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
    f_sel = _levels(f, [fi[d] for d in common])
    t_sel = _levels(t, [ti[d] for d in common])
    # Rows are labelled with the truth's levels, so every model scored at a level shares one
    # depth value (a reference stored in float32, 0.49402, and a forecast at 0.494 alike).
    level = t_sel["depth"].values.astype(np.float64)
    return f_sel.assign_coords(depth=level), t_sel.assign_coords(depth=level)


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


_FAST_FUNCTIONS: dict[Callable[..., xr.DataArray], str] = {
    m.rmsd_oceanbench: "rmsd",
    m.rmse: "rmse",
    m.bias: "bias",
    m.acc: "acc",
}
#: Scoring engines of :func:`score_models`.
ENGINES = ("numpy", "xarray")


def _climatology_for(
    climatology: xr.Dataset | None, var: str, lead_sel: slice | np.ndarray, f_all: xr.DataArray
) -> xr.DataArray | None:
    """The climatology of ``var`` at the forecast's leads and depths (None if missing)."""
    if climatology is None or var not in climatology:
        return None
    c_src: xr.DataArray | None = climatology[var].isel({LEAD: lead_sel})
    if "depth" in f_all.dims and c_src is not None:
        ci = depth_indices(c_src["depth"].values, f_all["depth"].values)
        if len(ci) == f_all.sizes["depth"]:
            c_src = _levels(c_src, list(ci.values())).assign_coords(depth=f_all["depth"].values)
        else:
            c_src = None
    return None if c_src is None else c_src.load()


def _zone_index(zones: Sequence[Zone], grid: Grid, area: np.ndarray) -> fs.ZoneIndex:
    masks = []
    for zone in zones:
        full = np.zeros(grid.shape, dtype=bool)
        full[zone.lat, zone.lon] = zone.mask
        masks.append(full)
    return fs.build_zone_index([z.name for z in zones], masks, area)


def _standard(da: xr.DataArray) -> np.ndarray | None:
    """``da`` as ``(date, lead, depth, lat, lon)`` numpy (None if it has other dimensions)."""
    known = {FIRST_DAY, LEAD, "depth", "latitude", "longitude"}
    if not set(da.dims) <= known or not {LEAD, "latitude", "longitude"} <= set(da.dims):
        return None
    for d in (FIRST_DAY, "depth"):
        if d not in da.dims:
            da = da.expand_dims(d)
    return np.asarray(da.transpose(FIRST_DAY, LEAD, "depth", "latitude", "longitude").values)


def _fast_scores(
    f_all: xr.DataArray,
    t_all: xr.DataArray,
    c_all: xr.DataArray | None,
    zi: fs.ZoneIndex,
    specs: Sequence[MetricSpec],
) -> dict[tuple[str, str], np.ndarray] | None:
    """Every fast metric of every zone: ``(zone, metric) -> (lead, depth)`` (None: can't)."""
    xr.align(f_all, t_all, join="exact", copy=False)  # same coordinates, as the metrics require
    f = _standard(f_all)
    t = _standard(t_all)
    if f is None or t is None or f.shape != t.shape:
        return None
    c = None
    if c_all is not None and any(s.needs_climatology for s in specs):
        xr.align(f_all, t_all, c_all, join="exact", copy=False)
        c = _standard(c_all)
        if c is None or c.shape != f.shape:
            return None
    n_date, n_lead, n_depth = f.shape[:3]
    plane = f.shape[3:]
    c_stack = None if c is None else c.reshape(-1, *plane)
    e_sums, a_sums = fs.block_sums(f.reshape(-1, *plane), t.reshape(-1, *plane), zi, c_stack)
    err = e_sums.reshape(n_date, n_lead, n_depth, zi.n_zones, -1)
    acc = None if a_sums is None else a_sums.reshape(n_date, n_lead, n_depth, zi.n_zones, -1)
    out: dict[tuple[str, str], np.ndarray] = {}
    for spec in specs:
        if spec.needs_climatology and acc is None:
            continue
        kind = _FAST_FUNCTIONS[spec.function]
        score = fs.finalize(kind, spec.weighted, err, acc)  # (lead, depth, zone)
        for z, name in enumerate(zi.names):
            out[(name, spec.name)] = score[:, :, z]
    return out


def _value_rows(
    values: np.ndarray, depths: np.ndarray, base: dict[str, Any], lead_numbers: np.ndarray
) -> list[dict[str, Any]]:
    out = []
    for i, lead in enumerate(lead_numbers):
        for j, d in enumerate(depths):
            out.append(
                {**base, "depth": float(d), "lead_day": int(lead), "value": float(values[i, j])}
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
    engine: str = "numpy",
) -> pd.DataFrame:
    """Score each model cube against the truth cube.

    The built-in metrics (:data:`BUILTIN_METRICS`' functions) are computed by
    :mod:`glonet_regions.evaluation.fast_scores` in one numpy pass per variable, depth and lead
    day, for every zone at once; other metrics (plugins) are called on xarray per zone.
    ``engine="xarray"`` calls every metric function per zone (the reference path, slower).

    Args:
        models: Model name to a forecast cube already on ``grid`` with the truth's start dates
            and lead days (see :mod:`glonet_regions.forecast.align`).
        truth: The truth cube (same layout).
        grid: The common grid.
        zones: Where to score (:func:`region_zones`).
        climatology: The climatology as a cube, for ACC (ACC is skipped without it).
        lead_days: 1-based lead days to keep (default: all).
        depths: Depths to score (nearest level within tolerance); None: every level.
        metrics: Metric table (default :data:`BUILTIN_METRICS`).
        variables: Variables to score (default: those in both the model and the truth).
        engine: ``"numpy"`` (default) or ``"xarray"``.

    Returns:
        A DataFrame with :data:`SCORE_COLUMNS`. When the climatology cube carries a
        ``climatology_method`` attribute, it is copied to ``DataFrame.attrs``.
    """
    if engine not in ENGINES:  # "xarray" is the former path, kept as the reference
        raise ValidationError(f"Unknown scoring engine {engine!r}; expected one of {ENGINES}")
    table = dict(BUILTIN_METRICS if metrics is None else metrics)
    n_lead = truth.sizes[LEAD]
    if lead_days is None:
        lead_idx = np.arange(n_lead)
    else:
        bad = [d for d in lead_days if not 1 <= d <= n_lead]
        if bad:
            raise DataError(f"--lead-days {bad} outside 1..{n_lead} of the forecast")
        lead_idx = np.asarray(sorted(set(int(d) - 1 for d in lead_days)))
    # Contiguous lead days as a slice: a view, where an index array would copy every cube.
    contiguous = lead_idx.size > 0 and bool(np.all(np.diff(lead_idx) == 1))
    lead_sel: slice | np.ndarray = (
        slice(int(lead_idx[0]), int(lead_idx[-1]) + 1) if contiguous else lead_idx
    )
    area = grid.area_weights()
    fast_specs = [s for s in table.values() if engine == "numpy" and s.function in _FAST_FUNCTIONS]
    zi = _zone_index(zones, grid, area) if fast_specs else None
    rows: list[dict[str, Any]] = []
    for model_name, cube in models.items():
        names = [str(v) for v in cube.data_vars if v in truth.data_vars]
        if variables is not None:
            names = [v for v in names if v in variables]
        for var in names:
            f_all = cube[var].isel({LEAD: lead_sel})
            t_all = truth[var].isel({LEAD: lead_sel})
            pair = _depth_pairs(f_all, t_all, depths)
            if pair is None:
                continue
            f_all, t_all = pair
            f_all = f_all.load()
            t_all = t_all.load()
            c_all = _climatology_for(climatology, var, lead_sel, f_all)
            n_fc = int(f_all.sizes.get(FIRST_DAY, 1))
            fast = None
            if zi is not None:
                fast = _fast_scores(f_all, t_all, c_all, zi, fast_specs)
            level = f_all["depth"].values if "depth" in f_all.dims else np.array([np.nan])
            for zone in zones:
                sl = {"latitude": zone.lat, "longitude": zone.lon}
                mask = xr.DataArray(zone.mask, dims=("latitude", "longitude"))
                w = xr.DataArray(area[zone.lat, zone.lon], dims=("latitude", "longitude"))
                zone_data: tuple[xr.DataArray, xr.DataArray, xr.DataArray | None] | None = None
                for spec in table.values():
                    if spec.needs_climatology and c_all is None:
                        continue
                    base = {
                        "model": model_name,
                        "variable": var,
                        "metric": spec.name,
                        "convention": spec.convention,
                        "subregion": zone.name,
                        "n_forecasts": n_fc,
                    }
                    if fast is not None and (zone.name, spec.name) in fast:
                        values = fast[(zone.name, spec.name)]
                        rows.extend(_value_rows(values, level, base, lead_idx + 1))
                        continue
                    if zone_data is None:
                        zone_data = (
                            f_all.isel(sl).where(mask),
                            t_all.isel(sl).where(mask),
                            None if c_all is None else c_all.isel(sl).where(mask),
                        )
                    f, t, c = zone_data
                    weights = w if spec.weighted else None
                    if spec.needs_climatology:
                        score = spec.function(f, t, c, weights)
                    else:
                        score = spec.function(f, t, weights)
                    rows.extend(_rows(score, base, lead_idx + 1))
    df = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    if climatology is not None and "climatology_method" in climatology.attrs:
        df.attrs["climatology_method"] = str(climatology.attrs["climatology_method"])
    return df
