"""GLONET's published global forecast, run as its operational pipeline runs it.

The three published TorchScript files (``glonet_p1.pt`` surface, ``glonet_p2.pt``
intermediate, ``glonet_p3.pt`` deep) each hold ``Sequential(Glonet, SelectiveFilterLayer)``;
they run whole, so the filter layer is applied exactly as the published file applies it. For
each depth group and start date:

1. the input is the two days before the start (``start - 2``, ``start - 1``: the operational
   code's ``D - 1`` and ``D`` for a forecast of ``D + 1 .. D + 10``), channels variable-major
   (``zos``, then ``thetao`` at every level of the group, ``so``, ``uo``, ``vo``), latitude
   ascending;
2. the ocean mask is where the second input day is finite (per channel);
3. NaN -> 0, then each channel is normalised with GLONET's scalar ``(mean, std)``;
4. 5 calls of 2 days make 10 days (``ceil(days / 2)`` calls in general): before every call
   the input is multiplied by the ocean mask; a call's output is the next call's input and is
   not masked;
5. the outputs are de-normalised, then land is set to NaN.

On CUDA the calls run under fp16 autocast, as the operational code does (``autocast``).

Loaders that can be replaced (for tests, or another release layout):

* ``statistics`` (:data:`StatisticsLoader`): GLONET's released per-level statistics for one
  group, in channel order. The default, :func:`released_statistics`, reads the release with
  the configured pairing (published by default: exactly as the operational inference pairs
  them; ``depth`` pairs each channel with its own level).
* ``load_model`` (:data:`ModelLoader`): loads one published file; the default,
  :func:`checked_load`, runs only pinned files (or any file with ``trust_weights``), whole
  (network + filter layer). :func:`jit_load` loads without a hash check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.core.depth import GLONET_LEVELS, DepthGroup
from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.region import Region
from glonet_regions.forecast.cube import build_cube, place_prediction, provenance_attrs
from glonet_regions.forecast.sources import DailySource, FileSource
from glonet_regions.model.published import PUBLISHED_WEIGHTS

__all__ = [
    "PUBLISHED_FILES",
    "ModelLoader",
    "PublishedForecastConfig",
    "StatisticsLoader",
    "FilesSource",
    "checked_load",
    "operational_input_depths",
    "released_statistics",
    "group_input",
    "jit_load",
    "run_published_forecast",
    "run_published_group",
]

#: The published file of each depth group.
PUBLISHED_FILES: dict[str, str] = {str(g): name for g, name in PUBLISHED_WEIGHTS.items()}

#: ``(weights_dir, group, level depths in m) -> (mean (C,), std (C,))`` in channel order.
StatisticsLoader = Callable[[Path, DepthGroup, Sequence[float]], tuple[np.ndarray, np.ndarray]]
#: ``(path, device) -> callable model (B, 2, C, H, W) -> (B, 2, C, H, W)``.
ModelLoader = Callable[[Path, str], Any]


def jit_load(path: Path, device: str) -> Any:
    """Load a whole published TorchScript file (network + filter layer) in eval mode."""
    import torch

    from glonet_regions.model.weights import _quiet_jit_deprecation

    if not Path(path).is_file():
        raise DataError(f"Published weights: {path} is missing")
    try:
        with _quiet_jit_deprecation():
            model = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise DataError(f"Published weights: {path} is not a TorchScript archive: {exc}") from exc
    model.eval()
    return model


def released_statistics(pairing: str = "published") -> StatisticsLoader:
    """A statistics loader reading the release's files with ``pairing``
    (:func:`glonet_regions.model.published.load_published_stats`), in the group's channel order.
    """

    def load(
        weights_dir: Path, group: DepthGroup, levels: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        from glonet_regions.model.published import (
            load_published_stats,
            published_stats_for_channels,
        )

        if tuple(float(v) for v in levels) != tuple(GLONET_LEVELS.values):
            raise ValidationError(
                "GLONET's released statistics belong to its 21 levels; the region's levels "
                f"{list(levels)[:4]}... differ"
            )
        stats = load_published_stats(weights_dir, group.name, pairing)
        mean, std = published_stats_for_channels(stats, group.channels())
        return mean.astype(np.float64), std.astype(np.float64)

    return load


def checked_load(trust_weights: bool) -> ModelLoader:
    """A model loader that runs a file only if its sha256 is pinned or ``trust_weights``
    (:func:`glonet_regions.model.weights.load_torchscript`), whole (network + filter layer)."""

    def load(path: Path, device: str) -> Any:
        from glonet_regions.model.weights import load_torchscript

        if not Path(path).is_file():
            raise DataError(f"Published weights: {path} is missing")
        model = load_torchscript(path, trust_weights=trust_weights).to(device)
        model.eval()
        return model

    return load


def operational_input_depths(group: DepthGroup, levels_m: Sequence[float]) -> list[float]:
    """The depths the operational inference reads into each level of ``group``'s channels.

    GLONET's operational input of the deep group reads 4405 m twice and never 4833 m
    (:data:`glonet_regions.model.published.GROUP_INPUT_LEVEL_DIRS`); other groups read their
    own levels.
    """
    from glonet_regions.model.published import GROUP_INPUT_LEVEL_DIRS, GROUP_LEVEL_DIRS

    own = [levels_m[i] for i in group.level_indices]
    name = group.name
    if name not in GROUP_LEVEL_DIRS or len(GROUP_LEVEL_DIRS[name]) != len(own):
        return own
    dirs = GROUP_LEVEL_DIRS[name]
    return [own[dirs.index(d)] for d in GROUP_INPUT_LEVEL_DIRS[name]]


@dataclass(frozen=True)
class PublishedForecastConfig:
    """How the published models run (recorded in the cube's attributes).

    Attributes:
        weights_dir: Folder holding ``glonet_p1.pt``, ``glonet_p2.pt``, ``glonet_p3.pt`` and the
            statistics folders ``L0``, ``L50``, ... .
        days: Forecast length in days (GLONET's operational forecast: 10).
        device: Torch device.
        autocast: ``auto`` (fp16 autocast on CUDA, as operational; fp32 on CPU), ``on``, ``off``.
        groups: Depth groups to run (default all three).
        pairing: ``published`` (default): the statistics and the deep group's input levels
            exactly as GLONET's operational inference pairs them (statistics folders sorted
            as strings; 4405 m read twice, 4833 m never: see docs/reference/weights.md);
            ``depth``: every channel with its own level.
        trust_weights: Load weight files whose sha256 is not pinned (TorchScript runs code).
    """

    weights_dir: Path
    days: int = 10
    device: str = "cpu"
    autocast: str = "auto"
    groups: tuple[str, ...] = field(default=tuple(PUBLISHED_FILES))
    pairing: str = "published"
    trust_weights: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights_dir", Path(self.weights_dir))
        if self.days < 1:
            raise ValidationError(f"days must be >= 1, got {self.days}")
        if self.autocast not in ("auto", "on", "off"):
            raise ValidationError(f"autocast must be auto, on or off, got {self.autocast!r}")
        if self.pairing not in ("published", "depth"):
            raise ValidationError(f"pairing must be published or depth, got {self.pairing!r}")
        unknown = [g for g in self.groups if g not in PUBLISHED_FILES]
        if unknown:
            raise ValidationError(
                f"Unknown published group(s) {unknown}; known: {', '.join(PUBLISHED_FILES)}"
            )

    def use_autocast(self) -> bool:
        if self.autocast == "auto":
            return self.device.startswith("cuda")
        return self.autocast == "on"


def group_input(
    source: DailySource,
    group: DepthGroup,
    levels_m: Sequence[float],
    days: Sequence[dt.date],
    *,
    read_depths: Sequence[float] | None = None,
) -> np.ndarray:
    """``(len(days), C, H, W)`` physical input of a group from a daily source, NaN on land.

    ``read_depths`` (default: the group's own levels) are the depths read into the group's
    level channels, in order (see :func:`operational_input_depths`).

    Raises:
        DataError: When a variable or a day is missing from the source.
    """
    depths = (
        list(read_depths) if read_depths is not None else [levels_m[i] for i in group.level_indices]
    )
    ds = source.daily(days, depths=depths)
    chans: list[np.ndarray] = []
    for var in group.variables_2d:
        if var not in ds:
            raise DataError(f"{source.name}: variable {var!r} is missing (needed by {group.name})")
        da = ds[var]
        if "depth" in da.dims:
            da = da.isel(depth=0)
        chans.append(np.asarray(da.transpose("time", "latitude", "longitude").values)[:, None])
    for var in group.variables_3d:
        if var not in ds:
            raise DataError(f"{source.name}: variable {var!r} is missing (needed by {group.name})")
        da = ds[var]
        if "depth" not in da.dims:
            raise DataError(f"{source.name}: variable {var!r} has no depth axis")
        src_depths = np.asarray(da["depth"].values, dtype=np.float64)
        pick = []
        for d in depths:
            k = int(np.argmin(np.abs(src_depths - d)))
            if abs(src_depths[k] - d) > max(0.05, 1e-3 * d):
                raise DataError(f"{source.name}: {var} has no level at {d} m")
            pick.append(k)
        arr = da.transpose("time", "depth", "latitude", "longitude").values[:, pick]
        chans.append(np.asarray(arr))
    x = np.concatenate(chans, axis=1).astype(np.float32)
    lat = np.asarray(ds["latitude"].values)
    if lat.size > 1 and lat[0] > lat[-1]:
        x = x[..., ::-1, :].copy()
    ok_days = np.isfinite(x).reshape(len(days), -1).any(axis=1)
    missing = [str(days[int(i)]) for i in np.flatnonzero(~ok_days)]
    if missing:
        raise DataError(f"{source.name}: no data for day(s) {', '.join(missing)} ({group.name})")
    return x


def run_published_group(
    model: Any,
    x_phys: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    n_calls: int,
    *,
    device: str = "cpu",
    autocast: bool = False,
) -> np.ndarray:
    """Roll one published model forward as the operational code does.

    Args:
        model: The whole published module, ``(1, 2, C, H, W) -> (1, 2, C, H, W)`` normalised.
        x_phys: ``(2, C, H, W)`` the two initial days, physical units, NaN on land.
        mean, std: ``(C,)`` GLONET's statistics in channel order.
        n_calls: Calls of 2 days each.
        device: Torch device.
        autocast: Run the calls under fp16 autocast (operational on CUDA).

    Returns:
        ``(2 * n_calls, C, H, W)`` float32, physical units, NaN where the second input day is.
    """
    import torch

    if x_phys.ndim != 4 or x_phys.shape[0] != 2:
        raise ValidationError(f"Initial days must be (2, C, H, W), got {x_phys.shape}")
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    if m.shape[0] != x_phys.shape[1]:
        raise ValidationError(f"{m.shape[0]} statistics for {x_phys.shape[1]} channels")
    ocean = np.isfinite(x_phys[1])
    mask = torch.from_numpy(ocean.astype(np.float32))[None, None].to(device)
    vin = torch.from_numpy((np.nan_to_num(x_phys.astype(np.float32), nan=0.0) - m) / s)[None]
    vin = vin.to(device)
    outs: list[np.ndarray] = []
    dev_type = torch.device(device).type
    with torch.no_grad():
        for call in range(n_calls):
            vin = vin * mask
            try:
                with torch.autocast(dev_type, dtype=torch.float16, enabled=autocast):
                    out = model(vin)
            except RuntimeError as exc:
                if call:
                    raise
                raise DataError(
                    f"The published model refused an input of shape {tuple(vin.shape)} "
                    f"(B, T, C, H, W): {str(exc).splitlines()[0]}"
                ) from exc
            out = out.float()
            if tuple(out.shape) != tuple(vin.shape):
                raise DataError(
                    f"The published model returned shape {tuple(out.shape)} for an input of "
                    f"shape {tuple(vin.shape)}"
                )
            outs.append(out[0].cpu().numpy())
            vin = out
    phys = np.concatenate(outs, axis=0) * s + m  # de-normalise first ...
    phys[:, ~ocean] = np.nan  # ... then land back to NaN
    return phys.astype(np.float32)


def run_published_forecast(
    source: DailySource,
    region: Region,
    starts: Sequence[dt.date],
    config: PublishedForecastConfig,
    *,
    statistics: StatisticsLoader | None = None,
    load_model: ModelLoader | None = None,
    progress: Callable[[str], None] | None = None,
    extra_attrs: dict[str, str] | None = None,
) -> xr.Dataset:
    """GLONET's published forecast of every start date as an OceanBench-shaped cube.

    Args:
        source: Daily global analysis fields holding the two days before each start, on the
            grid the published models run on (GLONET's 672 x 1440).
        region: The region (its depth scheme gives the groups, levels and channel order).
        starts: Start dates (lead day index 0).
        config: Weights folder, days, device, autocast.
        statistics: Loads the statistics of one group (default: the released files with
            ``config.pairing``, :func:`released_statistics`).
        load_model: Loads one published file (default: :func:`checked_load` with
            ``config.trust_weights``).
        progress: Called with a line per group and start.
        extra_attrs: More global attributes (e.g. what the loaders checked).
    """
    say = progress or (lambda _m: None)
    statistics = statistics or released_statistics(config.pairing)
    load_model = load_model or checked_load(config.trust_weights)
    if not starts:
        raise ValidationError("Give at least one start date")
    days = config.days
    n_calls = math.ceil(days / 2)
    levels = tuple(region.depth.levels.values)
    grid = source.grid
    fields: dict[str, np.ndarray] = {}
    n_s = len(starts)
    ran: list[str] = []
    files: list[str] = []
    for gname in config.groups:
        group = region.depth.group(gname)
        path = config.weights_dir / PUBLISHED_FILES[gname]
        mean, std = statistics(config.weights_dir, group, levels)
        if mean.shape != (group.n_channels,) or std.shape != (group.n_channels,):
            raise DataError(
                f"Statistics for {gname}: expected {group.n_channels} channels, got "
                f"{mean.shape} / {std.shape}"
            )
        model = load_model(path, config.device)
        files.append(path.name)
        ran.append(gname)
        for si, start in enumerate(starts):
            inputs = [start - dt.timedelta(days=2), start - dt.timedelta(days=1)]
            read = (
                operational_input_depths(group, levels) if config.pairing == "published" else None
            )
            x = group_input(source, group, levels, inputs, read_depths=read)
            say(f"{gname}: start {start}, {n_calls} call(s) of {path.name}")
            pred = run_published_group(
                model,
                x,
                mean,
                std,
                n_calls,
                device=config.device,
                autocast=config.use_autocast(),
            )[:days]
            place_prediction(
                fields, group.channels(), pred, si, n_starts=n_s, n_depths=len(levels),
                shape=grid.shape,
            )  # fmt: skip
        del model
    attrs = provenance_attrs(
        model="GLONET (published)",
        model_description=(
            f"GLONET's published models ({', '.join(files)}) run whole (network and filter "
            f"layer) on {region.name}, {n_calls} call(s) of 2 days per group, as GLONET's "
            "operational pipeline runs them"
        ),
        weights_dir=str(config.weights_dir),
        normalisation=(
            f"published statistics (GLONET's per-level mean and std), {config.pairing} pairing"
        ),
        glonet_filter="applied (each published file runs whole: network and filter layer)",
        autocast="fp16" if config.use_autocast() else "off",
        region=region.name,
        grid=str(grid.to_dict()),
        initial_conditions=source.name,
        boundary_mode="none",
        boundary_mode_description="global domain: no open boundary",
        boundary_source="none",
        depth_groups_model=",".join(ran),
        depth_groups_persistence="none",
    )
    attrs.update(extra_attrs or {})
    return build_cube(fields, first_days=starts, grid=grid, depths=levels, attrs=attrs)


class FilesSource(FileSource):
    """Daily fields from one or more files (netCDF or zarr), joined along time.

    Args:
        paths: The files, e.g. the regridded global analysis of the days before a start.
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        from glonet_regions.forecast.align import open_daily

        if not paths:
            raise ValidationError("Give at least one initial file")
        self.paths = [Path(p) for p in paths]
        self.path = self.paths[0]
        self.name = ", ".join(str(p) for p in self.paths)
        self.missing: list[str] = []
        self._splits = None
        parts = [open_daily(p) for p in self.paths]
        ds = parts[0] if len(parts) == 1 else xr.concat(parts, dim="time", join="override")
        _, first = np.unique(ds["time"].values, return_index=True)
        self.ds = ds.isel(time=np.sort(first)).sortby("time")

    def daily(
        self, days: Sequence[dt.date], *, depths: Sequence[float] | None = None
    ) -> xr.Dataset:
        times = np.array([np.datetime64(d.isoformat(), "D") for d in days]).astype("datetime64[ns]")
        day_of = self.ds["time"].values.astype("datetime64[D]").astype("datetime64[ns]")
        return self.ds.assign_coords(time=day_of).reindex(time=times)

    def train_days(self) -> list[dt.date]:
        return []
