"""The evaluation run: align a forecast with truth, build baselines and diagnostics, score.

:func:`evaluate_forecast` is what ``glonet-regions evaluate`` calls; it returns the scores and
the error maps, and :mod:`glonet_regions.evaluation.report` writes them out.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.evaluation.baselines import (
    climatology_forecast,
    global_forecast_baseline,
    persistence_forecast,
    reference_forecast,
)
from glonet_regions.evaluation.climatology import doy_climatology
from glonet_regions.evaluation.diagnostics import BUILTIN_DIAGNOSTICS, DiagnosticFn
from glonet_regions.evaluation.labels import (
    PERSISTENCE_GROUP_LABEL,
    boundary_info,
    climatology_label,
    label_persistence_groups,
)
from glonet_regions.evaluation.lagrangian import surface_currents, zone_deviations
from glonet_regions.evaluation.metrics import mse_map
from glonet_regions.evaluation.scoring import (
    BUILTIN_METRICS,
    OCEANBENCH_DEPTHS,
    SCORE_COLUMNS,
    MetricSpec,
    Zone,
    region_zones,
    score_models,
)
from glonet_regions.forecast.align import daily_to_cube, depth_indices, snap_to_grid
from glonet_regions.forecast.cube import FIRST_DAY, LEAD, validate_cube
from glonet_regions.forecast.sources import DailySource

__all__ = [
    "LAGRANGIAN_AREA",
    "LAGRANGIAN_METRIC",
    "MIN_CLIMATOLOGY_DAYS",
    "EvaluationResult",
    "evaluate_forecast",
    "lagrangian_scores",
    "registry_extras",
    "registry_metrics",
]

#: Metric name of the Lagrangian trajectory deviation rows (variable "trajectory", km).
LAGRANGIAN_METRIC = "lagrangian_deviation_km"
#: Area of the Lagrangian rows (OceanBench's convention: the whole box).
LAGRANGIAN_AREA = "box"
#: Fewest training-split days from which a climatology baseline (and ACC) is computed.
MIN_CLIMATOLOGY_DAYS = 10


@dataclass
class EvaluationResult:
    """Scores plus what the report draws.

    Attributes:
        scores: One row per model, variable, depth, lead day, metric, convention, sub-region.
        maps: ``variable -> (lead_day, latitude, longitude)`` RMSE over start dates of the
            forecast at its shallowest scored level.
        forecast_name: Name of the model under evaluation.
        notes: What was skipped and why (no climatology, a diagnostic lacking inputs...).
        meta: Region, grid, start dates, truth source.
        comparison: ``(table, title)`` of :func:`glonet_regions.evaluation.compare.
            skill_difference` against another run's scores, shown by the report (or None).
    """

    scores: pd.DataFrame
    maps: dict[str, xr.DataArray]
    forecast_name: str
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    comparison: tuple[pd.DataFrame, str] | None = None


#: The row name of the global model baseline (a forecast of the same start date).
GLOBAL_MODEL = "global model"


def registry_metrics(names: Sequence[str] | None = None) -> dict[str, MetricSpec]:
    """Metrics registered through ``register_metrics``, looked up by name.

    Args:
        names: Which metrics (default: every registered one).

    Raises:
        UnknownNameError: A name is not registered (the message lists the known ones).
    """
    from glonet_regions.registry.facade import get_registry

    registry = get_registry()
    out: dict[str, MetricSpec] = {}
    for name in registry.names("metric") if names is None else names:
        comp = registry.component("metric", name)
        fn = comp.load()
        convention = str(comp.options.get("convention", "custom"))
        needs = "climatology" in inspect.signature(fn).parameters
        out[name] = MetricSpec(name, fn, convention, needs)
    return out or dict(BUILTIN_METRICS)


def registry_extras(region: Region) -> tuple[list[SubRegion], list[tuple[str, DiagnosticFn]]]:
    """Sub-regions and diagnostics added by ``register_evaluation`` plugins for ``region``."""
    from glonet_regions.registry.facade import get_registry

    return get_registry().evaluation_extras(region)


def _dates(cube: xr.Dataset) -> list[dt.date]:
    return [dt.date.fromisoformat(str(d)[:10]) for d in cube[FIRST_DAY].values]


def _restrict_levels(ds: xr.Dataset, depths: Sequence[float] | None) -> xr.Dataset:
    """Keep the levels down to the deepest scored depth (diagnostics need the ones between)."""
    if depths is None or "depth" not in ds.dims:
        return ds
    limit = max(depths) * 1.05 + 1.0
    return ds.sel(depth=ds["depth"].values[ds["depth"].values <= limit])


def _with_diagnostics(
    cube: xr.Dataset, diagnostics: Mapping[str, DiagnosticFn], n_levels: int | None
) -> xr.Dataset:
    out = cube
    for name, fn in diagnostics.items():
        if name == "mld" and (n_levels is None or cube.sizes.get("depth", 0) != n_levels):
            continue  # MLD only where the model has the truth's levels (same vertical sampling)
        derived = fn(cube)
        if not isinstance(derived, xr.Dataset):
            raise DataError(f"Diagnostic {name!r} returned {type(derived).__name__}, not a Dataset")
        for var in derived.data_vars:
            out = out.assign({str(var): derived[var]})
    return out


def evaluate_forecast(
    region: Region,
    forecast: xr.Dataset,
    truth: DailySource,
    *,
    references: Mapping[str, xr.Dataset] | None = None,
    global_model: xr.Dataset | None = None,
    lead_days: Sequence[int] | None = None,
    depths: Sequence[float] | None = OCEANBENCH_DEPTHS,
    subregions: Sequence[SubRegion] | None = None,
    diagnostics: Mapping[str, DiagnosticFn] | None = None,
    metrics: Mapping[str, MetricSpec] | None = None,
    climatology_window: int = 31,
    map_lead_days: Sequence[int] | None = None,
    lagrangian_particles: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Score a forecast cube and its baselines against truth.

    Args:
        region: The region (its evaluation box, open boundaries and sub-regions are used).
        forecast: The forecast cube (OceanBench challenger layout).
        truth: Daily truth; it must cover the day before each start and every valid day.
        references: Extra reference forecasts (cube or daily fields on the region grid).
        global_model: A global model's forecast cube (the run issued on or before each start is
            used at the same lead day) or daily fields (any regular grid; regridded).
        lead_days: 1-based lead days to score (default all).
        depths: Depths to score (default OceanBench's).
        subregions: Sub-regions to score over (default: the region's own).
        diagnostics: Diagnostics (default: mixed-layer depth and geostrophic currents).
        metrics: Metric table (default: every registered metric, :func:`registry_metrics`).
        climatology_window: Smoothing window of the day-of-year climatology (days).
        map_lead_days: Lead days of the error maps (default: first, middle, last scored).
        lagrangian_particles: Particles per zone and start date of the Lagrangian trajectory
            deviation (:mod:`glonet_regions.evaluation.lagrangian`); 0 disables it.
        progress: Called with a short message at each stage.
    """
    if lagrangian_particles < 0:
        raise ValidationError(
            f"lagrangian_particles must be >= 0 (0 disables), got {lagrangian_particles}"
        )
    say = progress or (lambda _msg: None)
    notes: list[str] = []
    fc = validate_cube(forecast, source="forecast")
    name = str(fc.attrs.get("model", "forecast"))
    binfo = boundary_info(fc.attrs)
    if not binfo["boundary_known"]:
        notes.append(
            "The forecast file has no boundary_mode attribute: its boundary mode is unknown "
            "(reanalysis boundaries, if any, would be perfect boundaries and flatter it)."
        )
    grid = _region_subgrid(region, Grid.from_dataset(fc, source="forecast"))
    fc = snap_to_grid(fc, grid, source="forecast")
    fc = _restrict_levels(fc, depths)
    starts = _dates(fc)
    n_lead = int(fc.sizes[LEAD])
    days = sorted({s + dt.timedelta(days=k) for s in starts for k in range(-1, n_lead)})
    fc_depths = [float(d) for d in fc["depth"].values] if "depth" in fc.dims else None
    say(f"reading truth for {len(days)} day(s) from {truth.name}")
    daily = snap_to_grid(truth.daily(days, depths=fc_depths), grid, source=truth.name)
    truth_cube = daily_to_cube(daily, starts, n_lead, source=truth.name, allow_missing=True)
    first_var = daily[next(iter(daily.data_vars))]
    finite = first_var.notnull().any([d for d in first_var.dims if d != "time"]).values
    missing_truth = [str(d) for d, ok in zip(days, finite) if not ok]
    if missing_truth:
        raise DataError(f"Truth {truth.name} has no data for day(s) {', '.join(missing_truth[:5])}")
    if fc_depths is not None and "depth" in truth_cube.dims:
        idx = depth_indices(truth_cube["depth"].values, fc_depths)
        truth_cube = truth_cube.isel(depth=[idx[d] for d in fc_depths if d in idx])
    models: dict[str, xr.Dataset] = {name: fc}
    if name != "persistence":
        say("persistence baseline")
        models["persistence"] = persistence_forecast(daily, starts, n_lead)
    clim_cube = None
    clim_method: str | None = None
    clim_name: str | None = None
    train = truth.train_days()
    if len(train) >= MIN_CLIMATOLOGY_DAYS:
        say(f"climatology from {len(train)} training day(s)")
        score_depths = list(depths) if depths is not None else fc_depths
        clim_daily = snap_to_grid(truth.daily(train, depths=score_depths), grid, source=truth.name)
        clim = doy_climatology(clim_daily, window=climatology_window)
        clim_method = str(clim.attrs.get("climatology_method", ""))
        clim_name = climatology_label(clim.attrs)
        notes.append(
            f"Climatology (ACC and the '{clim_name}' baseline): {clim_method}, "
            f"{len(train)} day(s) of the training split ({clim.attrs.get('climatology_period')})."
        )
        clim_cube = climatology_forecast(clim, starts, n_lead)
        clim_cube.attrs["model"] = clim_name
        models[clim_name] = clim_cube
        if not any(bool(clim_cube[v].notnull().any()) for v in clim_cube.data_vars):
            notes.append(
                "The training split covers none of the forecast's days of year (within the "
                f"{climatology_window}-day window): climatology and ACC are NaN."
            )
    elif train:
        notes.append(
            f"Climatology baseline and ACC skipped: the truth holds {len(train)} day(s) of the "
            f"training split, fewer than the {MIN_CLIMATOLOGY_DAYS} a climatology needs."
        )
    else:
        notes.append(
            "No training-split days in the truth source: no climatology baseline and no ACC."
        )
    if global_model is not None and FIRST_DAY in global_model.dims:
        say("global model forecast (run issued on or before each start) regridded to the region")
        try:
            models[GLOBAL_MODEL] = global_forecast_baseline(global_model, grid, starts, n_lead)
        except DataError as exc:
            notes.append(f"No global model baseline: {exc}")
    elif global_model is not None:
        say("global model regridded to the region")
        models[GLOBAL_MODEL] = reference_forecast(
            global_model, grid, starts, n_lead, name=GLOBAL_MODEL, regrid=True
        )
    for ref_name, ref in (references or {}).items():
        models[ref_name] = reference_forecast(ref, grid, starts, n_lead, name=ref_name)
    extra_sub: list[SubRegion] = []
    extra_diag: list[tuple[str, DiagnosticFn]] = []
    try:
        extra_sub, extra_diag = registry_extras(region)
    except Exception as exc:
        notes.append(f"Evaluation plugins could not be queried: {exc}")
    subs = list(region.subregions if subregions is None else subregions) + extra_sub
    diag = dict(BUILTIN_DIAGNOSTICS if diagnostics is None else diagnostics)
    diag.update(dict(extra_diag))
    zones = region_zones(region, grid, subs)
    n_levels = truth_cube.sizes.get("depth")
    say("diagnostics")
    truth_cube = _with_diagnostics(truth_cube, diag, n_levels)
    models = {k: _with_diagnostics(v, diag, n_levels) for k, v in models.items()}
    say(f"scoring {len(models)} model(s) over {len(zones)} zone(s)")
    table = registry_metrics() if metrics is None else dict(metrics)
    scores = score_models(
        models,
        truth_cube,
        grid=grid,
        zones=zones,
        climatology=clim_cube,
        lead_days=lead_days,
        depths=depths,
        metrics=table,
    )
    if lagrangian_particles > 0:
        say(f"Lagrangian trajectories ({lagrangian_particles} particles per zone and start date)")
        lag = lagrangian_scores(
            models,
            truth_cube,
            grid=grid,
            zones=zones,
            n_particles=lagrangian_particles,
            lead_days=lead_days,
            notes=notes,
        )
        if len(lag):
            attrs = dict(scores.attrs)
            scores = pd.concat([scores, lag], ignore_index=True) if len(scores) else lag
            scores.attrs = attrs
    scores = label_persistence_groups(
        scores, name, region, binfo["depth_groups_persistence"], notes
    )
    attrs = dict(scores.attrs)
    scores = scores.assign(
        boundary_mode=np.where(scores["model"] == name, binfo["boundary_mode"], "")
    )
    scores.attrs = attrs
    scored_leads = sorted(scores["lead_day"].unique()) if len(scores) else []
    if map_lead_days is None and scored_leads:
        picks = {scored_leads[0], scored_leads[len(scored_leads) // 2], scored_leads[-1]}
        map_lead_days = sorted(int(x) for x in picks)
    maps = _error_maps(fc, truth_cube, map_lead_days or [])
    return EvaluationResult(
        scores=scores,
        maps=maps,
        forecast_name=name,
        notes=notes,
        meta={
            "region": region.name,
            "grid": grid.to_dict(),
            "start_dates": [d.isoformat() for d in starts],
            "n_lead_days": n_lead,
            "truth": truth.name,
            "models": list(models),
            "zones": [z.name for z in zones],
            "climatology": clim_method,
            "lagrangian_particles": lagrangian_particles,
            "boundary_mode": binfo["boundary_mode"],
            "boundary_mode_description": binfo["boundary_mode_description"],
            "boundary_source": binfo["boundary_source"],
            "depth_groups_persistence": binfo["depth_groups_persistence"],
            "roles": {
                "forecast": name,
                "persistence groups": PERSISTENCE_GROUP_LABEL,
                "climatology": clim_name,
                "global": [GLOBAL_MODEL] if GLOBAL_MODEL in models else [],
                "references": list(references or {}),
            },
        },
    )


def lagrangian_scores(
    models: Mapping[str, xr.Dataset],
    truth_cube: xr.Dataset,
    *,
    grid: Grid,
    zones: Sequence[Zone],
    n_particles: int = 1000,
    lead_days: Sequence[int] | None = None,
    seed: int = 0,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Lagrangian trajectory deviation rows (:data:`SCORE_COLUMNS`) of every model and zone.

    The truth's trajectories are the reference. Per zone and lead day the value is the mean
    over start dates of the per-date mean separation (km) of the particles alive in both
    trajectories; ``n_forecasts`` counts the start dates with at least one such particle.
    Models without ``uo``/``vo`` (or whose surface level is not the truth's) are skipped with a
    note appended to ``notes``.
    """
    say = notes.append if notes is not None else (lambda _msg: None)
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    if "uo" not in truth_cube or "vo" not in truth_cube:
        say("Lagrangian trajectory deviation skipped: the truth has no uo/vo.")
        return empty
    truth_surface = surface_currents(truth_cube, source="truth")
    depth = float(truth_surface["depth"]) if "depth" in truth_surface.coords else float("nan")
    eligible: dict[str, xr.Dataset] = {}
    for name, cube in models.items():
        if "uo" not in cube or "vo" not in cube:
            say(f"Lagrangian trajectory deviation skipped for {name}: no uo/vo.")
            continue
        surface = surface_currents(cube, source=name)
        level = float(surface["depth"]) if "depth" in surface.coords else depth
        if not np.isnan(depth) and not depth_indices([level], [depth]):
            say(
                f"Lagrangian trajectory deviation skipped for {name}: its shallowest level "
                f"({level:g} m) is not the truth's ({depth:g} m)."
            )
            continue
        if surface.sizes != truth_surface.sizes:
            say(f"Lagrangian trajectory deviation skipped for {name}: not the truth's shape.")
            continue
        eligible[name] = surface.assign_coords(
            latitude=truth_surface["latitude"], longitude=truth_surface["longitude"]
        )
    if not eligible:
        return empty
    masks: dict[str, np.ndarray] = {}
    for zone in zones:  # OceanBench's convention: seeded over the whole box
        full = np.zeros(grid.shape, dtype=bool)
        full[zone.lat, zone.lon] = zone.area_mask(LAGRANGIAN_AREA)
        masks[zone.name] = full
    try:
        result = zone_deviations(eligible, truth_surface, masks, n_particles=n_particles, seed=seed)
    except (DataError, ValidationError) as exc:
        say(f"Lagrangian trajectory deviation skipped: {exc}")
        return empty
    n_lead = truth_surface.sizes[LEAD]
    # OceanBench's labels: lead day L is L - 1 days of drift, column L - 2; lead day 1 (no
    # drift yet) is not reported.
    leads = [d for d in (range(1, n_lead + 1) if lead_days is None else sorted(set(lead_days)))]
    leads = [d for d in leads if 2 <= d <= n_lead]
    rows: list[dict[str, Any]] = []
    for name, per_zone in result.items():
        for zone_name, dev in per_zone.items():
            for lead in leads:
                per_date = dev.mean_km[:, lead - 2]
                n_fc = int((dev.count[:, lead - 2] > 0).sum())
                value = float(np.nanmean(per_date)) if n_fc else float("nan")
                rows.append(
                    {
                        "model": name,
                        "variable": "trajectory",
                        "depth": depth,
                        "lead_day": int(lead),
                        "metric": LAGRANGIAN_METRIC,
                        "convention": "oceanbench",
                        "subregion": zone_name,
                        "area": LAGRANGIAN_AREA,
                        "value": value,
                        "missing_fraction": float("nan"),
                        "n_forecasts": n_fc,
                    }
                )
    first = next(iter(result.values()))
    seeded = ", ".join(f"{z} {int(d.seeded.max(initial=0))}" for z, d in first.items())
    say(
        f"Lagrangian trajectory deviation (oceanbench, km): particles per start date, at most "
        f"{n_particles} per zone drawn from its ocean cells with cos(latitude) weights: "
        f"{seeded}, over the whole box (open-boundary zone included). RK4 with a 1 h step on "
        f"the currents at {depth:g} m from the first forecast day; lead day L = L - 1 days of "
        "drift (OceanBench's labels, from lead day 2); the truth's trajectories are the "
        "reference; particles stop at the coast and grid edge."
    )
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def _region_subgrid(region: Region, grid: Grid) -> Grid:
    """``grid`` with the exact node values of the region grid it lies on (if any)."""
    from glonet_regions.core.errors import GridMismatchError

    try:
        match = region.match_grid(grid.lat, grid.lon)
    except GridMismatchError:
        return grid
    full = match.version.grid
    lat = full.lat[match.index.lat]
    lon = full.lon[match.index.lon]
    try:
        return Grid(lat=lat, lon=lon)
    except Exception:
        return grid


def _error_maps(
    fc: xr.Dataset, truth: xr.Dataset, lead_days: Sequence[int]
) -> dict[str, xr.DataArray]:
    out: dict[str, xr.DataArray] = {}
    idx = [d - 1 for d in lead_days if 1 <= d <= fc.sizes[LEAD]]
    if not idx:
        return out
    for var in fc.data_vars:
        if var not in truth:
            continue
        f = fc[var].isel({LEAD: idx})
        t = truth[var].isel({LEAD: idx})
        if "depth" in f.dims:
            f = f.isel(depth=0)
            t = t.isel(depth=0)
        rmse_map = mse_map(f.load(), t.load()) ** 0.5
        rmse_map = rmse_map.assign_coords({LEAD: np.asarray(idx) + 1}).rename({LEAD: "lead_day"})
        rmse_map.attrs = {"units": fc[var].attrs.get("units", ""), "variable": str(var)}
        out[str(var)] = rmse_map
    return out
