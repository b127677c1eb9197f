"""Scoring aligned forecast cubes against a truth cube, per region zone and convention.

Every model (the forecast and each baseline) is scored the same way: per variable, depth and
lead day, with each metric in its convention, over the evaluation box and over each sub-region.
Where a score is computed depends on its convention (the ``area`` column):

- ``box``: rows of the ``oceanbench`` convention cover the whole box, the open-boundary zone
  included, as OceanBench scores its IBI box;
- ``interior``: every other row covers the interior only (the open-boundary zone excluded,
  where a forecast is forced by its boundary data).

One row per score::

    model, variable, depth, lead_day, metric, convention, subregion, area, value,
    missing_fraction, n_forecasts

``lead_day`` is 1-based (``lead_day_index + 1``), as OceanBench reports it. ``missing_fraction``
is OceanBench's: the cos(latitude)-weighted share of the cells of the area where the truth has
a value and the model has none (at that lead day, averaged over start dates); those cells are
left out of the score itself.
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
    "AREAS",
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
#: The ``area`` of a row: what part of its zone it covers.
AREAS: dict[str, str] = {
    "box": "the whole box, open-boundary zone included (as OceanBench scores)",
    "interior": "the interior, open-boundary zone excluded",
}
SCORE_COLUMNS = [
    "model",
    "variable",
    "depth",
    "lead_day",
    "metric",
    "convention",
    "subregion",
    "area",
    "value",
    "missing_fraction",
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
    def area(self) -> str:
        """``box`` (open-boundary zone included) for OceanBench's convention, else ``interior``."""
        return "box" if self.convention == "oceanbench" else "interior"


BUILTIN_METRICS: dict[str, MetricSpec] = {
    "rmsd": MetricSpec("rmsd", m.rmsd_oceanbench, "oceanbench"),
    "rmse": MetricSpec("rmse", m.rmse, "weatherbench2"),
    "bias": MetricSpec("bias", m.bias, "weatherbench2"),
    "acc": MetricSpec("acc", m.acc, "weatherbench2", needs_climatology=True),
}


@dataclass(frozen=True)
class Zone:
    """Where a score is computed: a lat/lon window of the grid and the cells scored in it.

    ``mask`` is the interior (open-boundary zone excluded), ``box`` the whole window (None:
    every cell of the window); :meth:`area_mask` picks one by :data:`AREAS` name.
    """

    name: str
    lat: slice
    lon: slice
    mask: np.ndarray = field(repr=False)  # bool (nlat, nlon) of the window, True = scored
    box: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_cells(self) -> int:
        return int(self.mask.sum())

    def area_mask(self, area: str) -> np.ndarray:
        """The window's mask of ``area`` (``interior`` or ``box``)."""
        if area == "interior":
            return self.mask
        if area == "box":
            return np.ones_like(self.mask) if self.box is None else self.box
        raise ValidationError(f"Unknown score area {area!r}; expected one of {list(AREAS)}")


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
    """The whole evaluation box plus each sub-region (interior mask and whole box).

    Sub-regions that hold no interior cell of ``grid`` are left out.
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
            zones.append(Zone(name, win[0], win[1], mask, np.ones_like(mask)))
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


def _zone_index(zones: Sequence[Zone], areas: Sequence[str], grid: Grid, area: np.ndarray) -> Any:
    """One fast-scoring zone per ``(zone, area)``, named ``(zone name, area)``."""
    masks = []
    names = []
    for zone in zones:
        for kind in areas:
            full = np.zeros(grid.shape, dtype=bool)
            full[zone.lat, zone.lon] = zone.area_mask(kind)
            masks.append(full)
            names.append((zone.name, kind))
    return names, fs.build_zone_index([f"{z}|{k}" for z, k in names], masks, area)


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
    zones: tuple[list[tuple[str, str]], fs.ZoneIndex],
    specs: Sequence[MetricSpec],
) -> dict[tuple[str, str, str], np.ndarray] | None:
    """Every fast metric of every zone and area: ``(zone, area, metric) -> (lead, depth)``.

    The metric ``"missing"`` of each ``(zone, area)`` is OceanBench's missing fraction. None
    when the cubes cannot go through the fast path.
    """
    names, zi = zones
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
    out: dict[tuple[str, str, str], np.ndarray] = {}
    missing = fs.finalize("missing", True, err, None)
    for z, (name, kind) in enumerate(names):
        out[(name, kind, "missing")] = missing[:, :, z]
    for spec in specs:
        if spec.needs_climatology and acc is None:
            continue
        kind_of_metric = _FAST_FUNCTIONS[spec.function]
        score = fs.finalize(kind_of_metric, True, err, acc)  # (lead, depth, zone)
        for z, (name, kind) in enumerate(names):
            if kind == spec.area:
                out[(name, kind, spec.name)] = score[:, :, z]
    return out


def _value_rows(
    values: np.ndarray,
    missing: np.ndarray,
    depths: np.ndarray,
    base: dict[str, Any],
    lead_numbers: np.ndarray,
) -> list[dict[str, Any]]:
    out = []
    for i, lead in enumerate(lead_numbers):
        for j, d in enumerate(depths):
            out.append(
                {
                    **base,
                    "depth": float(d),
                    "lead_day": int(lead),
                    "value": float(values[i, j]),
                    "missing_fraction": float(missing[i, j]),
                }
            )
    return out


def _as_lead_depth(score: xr.DataArray) -> np.ndarray:
    """A score over ``(lead_day_index[, depth])`` as a ``(lead, depth)`` array."""
    s = score
    if "depth" not in s.dims:
        s = s.expand_dims(depth=[np.nan])
    return np.asarray(s.transpose(LEAD, "depth").values, dtype=np.float64)


class _ZoneCut:
    """One zone's forecast, truth and climatology cut to an area, made on first use."""

    def __init__(
        self,
        zone: Zone,
        f_all: xr.DataArray,
        t_all: xr.DataArray,
        c_all: xr.DataArray | None,
        weights: xr.DataArray,
        fast: dict[tuple[str, str, str], np.ndarray] | None,
    ) -> None:
        self.zone = zone
        self.arrays = (f_all, t_all, c_all)
        self.weights = weights
        self.fast = fast or {}
        self._cut: dict[str, tuple[xr.DataArray, xr.DataArray, xr.DataArray | None]] = {}
        self._missing: dict[str, np.ndarray] = {}

    def data(self, area: str) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray | None]:
        """``(forecast, truth, climatology)`` of the zone's window, NaN outside ``area``."""
        if area not in self._cut:
            z = self.zone
            sl = {"latitude": z.lat, "longitude": z.lon}
            mask = xr.DataArray(z.area_mask(area), dims=("latitude", "longitude"))
            f, t, c = self.arrays
            self._cut[area] = (
                f.isel(sl).where(mask),
                t.isel(sl).where(mask),
                None if c is None else c.isel(sl).where(mask),
            )
        return self._cut[area]

    def missing(self, area: str) -> np.ndarray:
        """OceanBench's missing fraction over ``area``, ``(lead, depth)``."""
        key = (self.zone.name, area, "missing")
        if key in self.fast:
            return self.fast[key]
        if area not in self._missing:
            f, t, _ = self.data(area)
            self._missing[area] = _as_lead_depth(m.missing_fraction(f, t, self.weights))
        return self._missing[area]


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
    area = grid.area_weights()  # proportional to cos(latitude) on a regular grid
    areas = sorted({s.area for s in table.values()}) or ["interior"]
    fast_specs = [s for s in table.values() if engine == "numpy" and s.function in _FAST_FUNCTIONS]
    zi = _zone_index(zones, areas, grid, area) if engine == "numpy" else None
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
                w = xr.DataArray(area[zone.lat, zone.lon], dims=("latitude", "longitude"))
                cut = _ZoneCut(zone, f_all, t_all, c_all, w, fast)
                for spec in table.values():
                    if spec.needs_climatology and c_all is None:
                        continue
                    base = {
                        "model": model_name,
                        "variable": var,
                        "metric": spec.name,
                        "convention": spec.convention,
                        "subregion": zone.name,
                        "area": spec.area,
                        "n_forecasts": n_fc,
                    }
                    key = (zone.name, spec.area, spec.name)
                    if fast is not None and key in fast:
                        values = fast[key]
                    else:
                        f, t, c = cut.data(spec.area)
                        if spec.needs_climatology:
                            score = spec.function(f, t, c, w)
                        else:
                            score = spec.function(f, t, w)
                        values = _as_lead_depth(score)
                    rows.extend(
                        _value_rows(values, cut.missing(spec.area), level, base, lead_idx + 1)
                    )
    df = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    if climatology is not None and "climatology_method" in climatology.attrs:
        df.attrs["climatology_method"] = str(climatology.attrs["climatology_method"])
    return df
