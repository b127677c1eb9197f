"""Running forecasts: a trained bundle over a store, or persistence from any daily source.

For each start date the two days before it are the initial conditions. Each depth group runs
``ceil(days / 2)`` autoregressive calls in normalised space (land = 0, multiplied by the ocean
mask before every call), with boundary data blended into the open-boundary zone by
the bundle's boundary provider after every call. The output is de-normalised and only then
set to NaN on land (a land cell at 0 in normalised space would otherwise become a spurious
value). The boundary data come from a global forecast, persistence or the store's reanalysis
(:mod:`glonet_regions.forecast.boundary_sources`); the cube's attributes name the mode. Depth
groups missing from the bundle are filled by persistence, and the cube's attributes say so.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.errors import CheckpointIncompatibleError, DataError, ValidationError
from glonet_regions.core.region import Region
from glonet_regions.forecast.align import snap_to_grid
from glonet_regions.forecast.boundary_sources import BoundaryData
from glonet_regions.forecast.cube import build_cube, place_prediction, provenance_attrs
from glonet_regions.forecast.persistence import persistence_forecast
from glonet_regions.forecast.sources import DailySource, StoreSource

__all__ = [
    "boundary_attrs",
    "default_start_dates",
    "persistence_cube",
    "run_bundle_forecast",
    "run_group",
]


def default_start_dates(
    source: DailySource, days: int, *, split: str = "test", every: int = 7
) -> list[dt.date]:
    """Start dates of ``split`` (or of the data) every ``every`` days.

    A start qualifies when the source holds its 2 initial days and the ``days`` following days
    (the truth of every lead day), so scores average over several forecasts instead of one.
    """
    have = set(source.dates)
    splits = getattr(source, "splits", None)
    candidates = sorted(have)
    if splits is not None:
        rng = splits.get(split)
        in_split = [d for d in candidates if rng.contains(d)]
        candidates = in_split or candidates
    starts: list[dt.date] = []
    for d in candidates:
        if starts and (d - starts[-1]).days < every:
            continue
        need = [d + dt.timedelta(days=k) for k in range(-2, days)]
        if all(n in have for n in need):
            starts.append(d)
    if not starts:
        raise DataError(
            f"{source.name}: no start date has the 2 initial days and {days} following days"
        )
    return starts


def persistence_cube(
    source: DailySource,
    starts: Sequence[dt.date],
    days: int,
    *,
    region: Region | None = None,
) -> xr.Dataset:
    """A persistence forecast (the day before each start held) as a forecast cube."""
    need = sorted({s - dt.timedelta(days=1) for s in starts})
    daily = source.daily(need)
    first = daily[next(iter(daily.data_vars))]
    ok = first.notnull().any([d for d in first.dims if d != "time"]).values
    missing = [str(d) for d, good in zip(need, ok) if not good]
    if missing:
        raise DataError(f"{source.name}: no data for initial day(s) {', '.join(missing)}")
    cube = persistence_forecast(daily, starts, days)
    cube.attrs = provenance_attrs(
        title="Persistence forecast" + (f" of {region.name}" if region is not None else ""),
        source="persistence (the day before each start date held)",
        model="persistence",
        description="Persistence: the day before each start date held for every lead day",
        region=region.name if region is not None else None,
        grid=str(source.grid.to_dict()),
        initial_conditions=source.name,
        **boundary_attrs(None),
    )
    return cube


def run_group(
    model: Any,
    x_phys: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    ocean_mask: np.ndarray,
    n_calls: int,
    *,
    provider: Any = None,
    boundary_phys: np.ndarray | None = None,
    device: str = "cpu",
    exec_mode: str = "auto",
    cache: dict[int, Any] | None = None,
    options: Any = None,
    package: Callable[[Any], Any] | None = None,
) -> np.ndarray:
    """Roll one depth-group network forward from two physical days.

    Args:
        model: The network, ``(B, 2, C, H, W) -> (B, 2, C, H, W)`` in normalised space.
        x_phys: Initial days ``(2, C, H, W)`` in physical units, NaN on land.
        mean, std: Normalisation per channel ``(C,)``.
        ocean_mask: ``(C, H, W)`` bool.
        n_calls: Model calls (2 days each).
        provider: Boundary provider with ``apply(pred, boundary)`` (None: no forcing).
        boundary_phys: ``(2 * n_calls, C, H, W)`` physical boundary data (needed with a provider).
        device: Torch device.
        exec_mode: ``auto`` (the optimised path of :mod:`glonet_regions.model.gpu` on CUDA:
            fused blocks, channels-last, bf16, the rollout replayed as a CUDA graph), ``fast``
            or ``eager`` (the plain network).
        cache: Reused between calls for the same model (a
            :class:`~glonet_regions.model.gpu.PreparedGroup` per model), so a CUDA graph is
            captured once and replayed for every start date.
        options: :class:`~glonet_regions.model.gpu.GpuOptions` (default: the environment's).
        package: A compiled forward of this network (``glonet_regions.model.gpu.load_packages``)
            run instead of preparing ``model``.

    Returns:
        ``(2 * n_calls, C, H, W)`` float32 in physical units, NaN on land.
    """
    import torch

    from glonet_regions.model.gpu import ForecastRunner, PreparedGroup, optimise_model

    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    mask = np.asarray(ocean_mask, dtype=bool)
    norm = np.nan_to_num((x_phys.astype(np.float32) - m) / s, nan=0.0)
    x0 = torch.from_numpy(norm[None])
    forced = provider is not None and boundary_phys is not None
    key = id(model)
    prepared = None if cache is None else cache.get(key)
    if prepared is None or not prepared.fits(n_calls, forced):
        net: Any = package
        if net is None:
            net = optimise_model(
                model,
                device=device,
                mode=exec_mode,  # type: ignore[arg-type]
                training=False,
                options=options,
            )
        mask_t = torch.from_numpy(mask).to(device)
        static_bnd: Any = None
        boundary_fn: Callable[[Any, int], Any] | None = None
        if forced:
            # A static buffer refilled for every start date: the function reads from it, so a
            # captured CUDA graph sees each start's boundary data.
            static_bnd = torch.zeros(
                (2 * n_calls, *norm.shape[1:]), dtype=torch.float32, device=device
            )

            def boundary_fn(pred: Any, call: int) -> Any:
                return provider.apply(
                    pred, static_bnd[None, 2 * call : 2 * call + 2].to(pred.dtype)
                )

        runner = ForecastRunner(
            net, n_calls=n_calls, ocean_mask=mask_t, boundary=boundary_fn, device=device
        )
        path = "package" if package is not None else exec_mode
        prepared = PreparedGroup(runner, static_bnd, n_calls, forced, path)
        if cache is not None:
            cache[key] = prepared
    runner, static_bnd = prepared.runner, prepared.boundary
    if forced:
        bnorm = np.nan_to_num((boundary_phys.astype(np.float32) - m) / s, nan=0.0)  # type: ignore[union-attr]
        assert static_bnd is not None
        static_bnd.copy_(torch.from_numpy(bnorm))
    out = runner(x0)
    phys = out[0].float().cpu().numpy() * s + m  # de-normalise first ...
    phys[:, ~mask] = np.nan  # ... then put land back (broadcast over time)
    wet = np.broadcast_to(mask, phys.shape)
    n_bad = int((~np.isfinite(phys) & wet).sum())
    if n_bad:
        raise DataError(
            f"the network produced {n_bad} NaN or infinite values in the ocean (of "
            f"{int(wet.sum())}); its weights or its initial conditions are broken, nothing "
            "was written"
        )
    return phys.astype(np.float32)


def run_bundle_forecast(
    bundle: Any,
    store: Any,
    region: Region,
    starts: Sequence[dt.date],
    days: int,
    *,
    boundary: BoundaryData | None = None,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    exec_mode: str = "auto",
) -> xr.Dataset:
    """Forecast every depth group of the region with a trained bundle.

    Args:
        bundle: The forecaster bundle.
        store: Initial conditions: a :class:`StoreSource` or any source with ``grid``,
            ``name``, ``group_names``, ``channels(group)``, ``levels`` and
            ``group_days(group, days)`` (the operational
            :class:`~glonet_regions.forecast.operational.InitialSource`).
        region: The region.
        starts: Start dates (lead day index 0).
        days: Lead days.
        boundary: Where the open-boundary data come from
            (:mod:`glonet_regions.forecast.boundary_sources`); None: no forcing.
        device, progress: See :func:`run_group`.
        exec_mode: The execution path (see :func:`run_group`); ``auto`` is the plain network
            on CPU and on CUDA the optimised path when compiled packages beside the bundle
            match this machine or when enough start dates repay compiling it
            (:func:`glonet_regions.model.gpu.start_forecast` decides once and says why).
    """
    say = progress or (lambda _m: None)
    if days < 1:
        raise ValidationError(f"--days must be >= 1, got {days}")
    grid = store.grid
    if not bundle.grid.same_as(grid):
        raise CheckpointIncompatibleError(
            f"Checkpoint {bundle.path} was trained on {bundle.grid} but {store.name} is on {grid}"
        )
    n_calls = math.ceil(days / 2)
    level_table = dict(store.levels)
    levels = sorted(level_table)
    depth_of = {li: k for k, li in enumerate(levels)}
    depths = [level_table[li] for li in levels]
    n_s = len(starts)
    fields: dict[str, np.ndarray] = {}
    filled: list[str] = []
    trained: list[str] = []
    bcfg = dict(bundle.boundary or {})
    provider = None
    if boundary is not None and bcfg.get("edges") and int(bcfg.get("width", 0)) > 0:
        from glonet_regions.boundary.providers import make_boundary_provider

        provider = make_boundary_provider(
            str(bcfg.get("provider", region.open_boundaries.provider)),
            bcfg["edges"],
            int(bcfg["width"]),
        )
        # Every check that can fail runs before the first model call.
        variables = [
            v for g in store.group_names if g in bundle.groups for v, _ in store.channels(g)
        ]
        boundary.check(starts, 2 * n_calls, variables, provider.zone_mask(grid.shape))
    from glonet_regions.model.gpu import start_forecast

    session = start_forecast(
        bundle, device, exec_mode, len(starts),
        [g for g in store.group_names if g in bundle.groups], say=say,
    )  # fmt: skip
    runners: dict[int, Any] = {}
    for group in store.group_names:
        chans = store.channels(group)
        state = bundle.groups.get(group)
        if state is not None and [tuple(c) for c in state.channels] != chans:
            raise CheckpointIncompatibleError(
                f"Checkpoint group {group!r} has channels {state.channels[:3]}... but "
                f"{store.name} has {chans[:3]}..."
            )
        model = bundle.build_model(group, device) if state is not None else None
        (trained if state is not None else filled).append(group)
        for si, start in enumerate(starts):
            inputs = [start - dt.timedelta(days=2), start - dt.timedelta(days=1)]
            x = store.group_days(group, inputs)
            if model is not None and not np.isfinite(x).any(axis=(1, 2, 3)).all():
                raise DataError(
                    f"{store.name} has no data of depth group {group!r} on initial day(s) "
                    f"{inputs[0]} / {inputs[1]} for start {start}"
                )
            if model is None:
                pred = np.repeat(x[-1:], days, axis=0)
            else:
                say(f"{group}: start {start}, {n_calls} call(s)")
                bnd = None
                if provider is not None and boundary is not None:
                    bnd = boundary.fetch(group, chans, start, 2 * n_calls, x)
                began = time.perf_counter()
                pred = run_group(
                    model,
                    x,
                    state.mean,
                    state.std,
                    state.ocean_mask,
                    n_calls,
                    provider=provider,
                    boundary_phys=bnd,
                    device=device,
                    exec_mode=session.exec_mode,
                    cache=runners,
                    options=session.options,
                    package=session.packages.get(group),
                )[:days]
                session.took(group, time.perf_counter() - began)
            place_prediction(
                fields, chans, pred, si, n_starts=n_s, n_depths=len(depths),
                shape=grid.shape, depth_of=depth_of,
            )  # fmt: skip
    session.record()
    mode_attrs = boundary_attrs(
        boundary if provider is not None else None,
        f"via {bcfg.get('provider')} (width {bcfg.get('width')})",
    )
    attrs = provenance_attrs(
        title=f"glonet-regions forecast of {region.name} ({mode_attrs['boundary_mode']} "
        "boundaries)",
        source=f"GLONET fine-tuned on {bundle.region_name} by glonet-regions (checkpoint "
        f"{Path(str(bundle.path)).name})",
        model="glonet-regions",
        model_description=f"GLONET fine-tuned on {bundle.region_name} by glonet-regions",
        checkpoint=str(bundle.path),
        checkpoint_sha256=bundle.sha256,
        region=region.name,
        grid=str(grid.to_dict()),
        **mode_attrs,
        initial_conditions=str(store.name),
        source_store=str(store.path) if isinstance(store, StoreSource) else None,
        depth_groups_model=",".join(trained) or "none",
        depth_groups_persistence=",".join(filled) or "none",
    )
    if filled:
        attrs["comment"] = (
            f"Depth group(s) {', '.join(filled)} are not in the checkpoint: their variables and "
            "levels are PERSISTENCE (the day before the start held), not model output."
        )
    return build_cube(fields, first_days=starts, grid=grid, depths=depths, attrs=attrs)


def boundary_attrs(boundary: BoundaryData | None, how: str = "") -> dict[str, str]:
    """The cube attributes ``boundary_mode``, ``boundary_mode_description``, ``boundary_source``."""
    if boundary is None:
        return {
            "boundary_mode": "none",
            "boundary_mode_description": "no boundary forcing",
            "boundary_source": "none",
        }
    return {
        "boundary_mode": boundary.mode,
        "boundary_mode_description": boundary.description(),
        "boundary_source": f"{boundary.source} {how}".strip(),
    }


def snap_cube(cube: xr.Dataset, region: Region) -> xr.Dataset:
    """Give a cube the exact coordinates of the region grid it lies on (float32 noise removed)."""
    match = region.match_dataset_grid(cube, source="forecast")
    sub = match.version.grid.isel(
        slice(int(match.index.lat[0]), int(match.index.lat[-1]) + 1, match.stride[0] or 1),
        slice(int(match.index.lon[0]), int(match.index.lon[-1]) + 1, match.stride[1] or 1),
    )
    return snap_to_grid(cube, sub, source="forecast")
