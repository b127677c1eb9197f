"""The embedded SYNTHETIC sample: CMEMS-like regional and global files and a reference forecast.

:func:`generate_sample` writes, for any region, a deterministic synthetic ocean on the
region's real grid geometry with the real coastline (see :mod:`.ocean` for the
physics and ``docs/sample.md`` for what it contains). Layout under ``out_dir``::

    regional/sample_regional_YYYYMMDD.nc    (time, depth, latitude, longitude) + zos
    global/sample_global_YYYYMMDD.nc        same, 1/4 degree, GLONET's 21 levels
    reference/sample_physical_forecast.nc   (first_day_datetime, lead_day_index, depth, lat, lon)
    global_forecast/sample_global_forecast.nc  same layout, 1/4 degree: the global FORECAST
    sample_manifest.json                    everything in :class:`SampleInfo`

Each regional/global file holds the consecutive days from the date in its name to the end of
that month (demo) or a single day (full). Nothing here is real ocean data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import DateRange, DateSplits, Region
from glonet_regions.sample import io
from glonet_regions.sample.ocean import (
    NOISE_RESOLUTION_DEG,
    Eddies,
    Geography,
    OceanOnGrid,
    Perturbation,
    RedNoise,
    SyntheticOcean,
    integrate_tracks,
    smoothstep,
)

Variant = Literal["demo", "full"]
MANIFEST_NAME = "sample_manifest.json"
#: Version of the generator's dynamics, recorded in the manifest (2: red, smooth noise;
#: 3: a global forecast cube).
GENERATOR_VERSION = 3
FORECAST_NAME = "sample_physical_forecast.nc"
GLOBAL_FORECAST_NAME = "sample_global_forecast.nc"
DEFAULT_STRIDE = {"demo": 12, "full": 1}
DEFAULT_N_DAYS = {"demo": 400, "full": 21}
GLOBAL_RESOLUTION = 0.25
GLOBAL_MARGIN_DEG = 3.0
FORECAST_LEADS = 10
FORECAST_EVERY_DAYS = 7
#: Model error of the synthetic global source.
GLOBAL_ERROR = Perturbation(lag_days=1.0, smooth_km=25.0, t_bias=0.2)
#: The global model is smoother than the regional truth: a quarter of its noise (independent).
GLOBAL_NOISE_FACTOR = 0.25
_STREAM_REGIONAL, _STREAM_GLOBAL, _STREAM_EDDIES, _STREAM_FORECAST = 1, 2, 3, 4
_STREAM_GLOBAL_FORECAST = 5
#: Warming drift of the synthetic global forecast (degC per lead day).
GLOBAL_FORECAST_T_DRIFT = 0.02
_VARS_3D = ("thetao", "so", "uo", "vo")
_MAX_BLOCK = 4_000_000  # values per level block (bounded memory on the full grid)


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`generate_sample` wrote (also stored as ``sample_manifest.json``).

    Attributes:
        regional_files: Regional truth files, in time order.
        global_files: Synthetic global-model files, in time order.
        reference_forecast_files: The synthetic physical forecast (one file).
        grid: The sample's grid (the region's default grid, every ``stride``-th node).
        native_depths: The depth levels (m) of the regional files.
        start: First day (daily means stamped 12:00).
        end: Last day (inclusive).
        splits: Train / validation / test periods of the sample's own days.
        variant: ``demo`` or ``full``.
        seed: The random seed.
        description: One paragraph saying what this is (SYNTHETIC).
        region: The region's name.
        stride: Thinning of the region's grid.
        global_grid: The 1/4 degree grid of the global files.
        global_depths: The depth levels of the global and forecast files (GLONET's 21).
        global_forecast_files: The synthetic global FORECAST cube (1/4 degree, one run per
            forecast start date, error growing with lead day); empty in older samples.
        forecast_first_days: ``first_day_datetime`` values of the reference forecast.
        root: The folder the sample lies in.
    """

    regional_files: list[Path]
    global_files: list[Path]
    reference_forecast_files: list[Path]
    grid: Grid
    native_depths: tuple[float, ...]
    start: dt.date
    end: dt.date
    splits: DateSplits
    variant: str
    seed: int
    description: str
    region: str = ""
    stride: int = 1
    global_grid: Grid | None = None
    global_depths: tuple[float, ...] = GLONET_LEVELS.values
    forecast_first_days: tuple[dt.date, ...] = ()
    global_forecast_files: list[Path] = field(default_factory=list)
    root: Path | None = None

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, file paths relative to ``root``."""
        root = self.root

        def rel(p: Path) -> str:
            return str(p.relative_to(root)) if root is not None else str(p)

        return {
            "schema_version": 1,
            "synthetic": True,
            "regional_files": [rel(p) for p in self.regional_files],
            "global_files": [rel(p) for p in self.global_files],
            "reference_forecast_files": [rel(p) for p in self.reference_forecast_files],
            "grid": self.grid.to_dict(),
            "native_depths": list(self.native_depths),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "splits": self.splits.to_dict(),
            "variant": self.variant,
            "seed": self.seed,
            "description": self.description,
            "region": self.region,
            "stride": self.stride,
            "global_grid": self.global_grid.to_dict() if self.global_grid else None,
            "global_depths": list(self.global_depths),
            "forecast_first_days": [d.isoformat() for d in self.forecast_first_days],
            "global_forecast_files": [rel(p) for p in self.global_forecast_files],
        }

    @classmethod
    def load(cls, out_dir: str | Path) -> SampleInfo:
        """Read ``out_dir/sample_manifest.json``.

        Raises:
            DataError: If the manifest is missing, malformed or names missing files.
        """
        root = Path(out_dir)
        path = root / MANIFEST_NAME
        if not path.is_file():
            raise DataError(f"{path}: no sample manifest (run generate_sample / data sample first)")
        try:
            d = json.loads(path.read_text())
            files = {
                k: [root / p for p in d[k]]
                for k in ("regional_files", "global_files", "reference_forecast_files")
            }
            files["global_forecast_files"] = [root / p for p in d.get("global_forecast_files", [])]
            info = cls(
                **files,
                grid=Grid.from_dict(d["grid"]),
                native_depths=tuple(float(v) for v in d["native_depths"]),
                start=dt.date.fromisoformat(d["start"]),
                end=dt.date.fromisoformat(d["end"]),
                splits=DateSplits(
                    *(DateRange(*d["splits"][k]) for k in ("train", "validation", "test"))
                ),
                variant=str(d["variant"]),
                seed=int(d["seed"]),
                description=str(d["description"]),
                region=str(d.get("region", "")),
                stride=int(d.get("stride", 1)),
                global_grid=Grid.from_dict(d["global_grid"]) if d.get("global_grid") else None,
                global_depths=tuple(float(v) for v in d["global_depths"]),
                forecast_first_days=tuple(
                    dt.date.fromisoformat(v) for v in d["forecast_first_days"]
                ),
                root=root,
            )
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: malformed sample manifest ({exc})") from None
        missing = [p for k in files for p in files[k] if not p.is_file()]
        if missing:
            raise DataError(f"{path}: the manifest names missing files, e.g. {missing[0]}")
        return info


def generator_version(out_dir: str | Path) -> int:
    """The ``generator_version`` in ``out_dir``'s manifest (1 when absent or unreadable)."""
    try:
        data = json.loads((Path(out_dir) / MANIFEST_NAME).read_text())
        return int(data.get("generator_version", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def sample_splits(start: dt.date, n_days: int) -> DateSplits:
    """Contiguous train / validation / test of about 75 / 12 / 13 % of ``n_days`` days."""
    if n_days < 3:
        raise ValidationError(
            f"n_days must be >= 3 to hold train, validation and test, got {n_days}"
        )
    n_val = max(1, round(0.12 * n_days))
    n_test = max(1, round(0.13 * n_days))
    n_train = n_days - n_val - n_test
    if n_train < 1:
        n_train, n_val, n_test = 1, 1, n_days - 2
    day = dt.timedelta(days=1)
    t_end = start + (n_train - 1) * day
    v_end = t_end + n_val * day
    return DateSplits(
        DateRange(start, t_end),
        DateRange(t_end + day, v_end),
        DateRange(v_end + day, v_end + n_test * day),
    )


def forecast_first_days(splits: DateSplits, end: dt.date) -> list[dt.date]:
    """Forecast start days: every 7 days from the test start while 10 days of truth follow.

    If the test period is too short for that, the test start alone (its later leads then have
    no truth in the sample).
    """
    days = []
    d = splits.test.start
    while d + dt.timedelta(days=FORECAST_LEADS - 1) <= end:
        days.append(d)
        d += dt.timedelta(days=FORECAST_EVERY_DAYS)
    return days or [splits.test.start]


def native_levels_for(region: Region, variant: str = "full") -> tuple[float, ...]:
    """The native levels written in the regional files.

    The region's native levels (``region.native_levels``; its target levels
    ``region.depth.levels`` when it declares none) down to the first one at or below the
    deepest target level (GLONET's 5274.78 m). ``full`` keeps all of them; ``demo`` keeps a
    subset that still allows interpolating every target level: the native levels equal to or
    bracketing each target, plus the native level nearest the middle of each pair of
    consecutive targets (32 of IBI's 50 levels for GLONET's 21).
    """
    native = region.native_levels if region.native_levels else region.depth.levels
    levels = np.asarray(native.values, dtype=np.float64)
    targets = np.asarray(region.depth.levels.values, dtype=np.float64)
    last = int(np.searchsorted(levels, targets.max() - 0.05))
    levels = levels[: min(last + 1, levels.size)]
    if variant == "full":
        return tuple(float(v) for v in levels)
    keep: set[int] = set()
    for t in targets:
        close = np.flatnonzero(np.abs(levels - t) <= 0.05)
        if close.size:
            keep.add(int(close[0]))
            continue
        hi = int(np.searchsorted(levels, t))
        keep.update(i for i in (hi - 1, hi) if 0 <= i < levels.size)
    for a, b in itertools.pairwise(targets):
        keep.add(int(np.argmin(np.abs(levels - (a + b) / 2))))
    return tuple(float(levels[i]) for i in sorted(keep))


def global_grid_for(grid: Grid) -> Grid:
    """A 1/4 degree grid on GLONET's global nodes covering ``grid`` plus a 3 degree margin.

    The grid stays within GLONET's global grid (lon -180..179.75, lat -78..89.75).
    """
    b = grid.bbox
    r = GLOBAL_RESOLUTION
    lon0 = max(np.floor((b.lon_min - GLOBAL_MARGIN_DEG) / r) * r, -180.0)
    lat0 = max(np.floor((b.lat_min - GLOBAL_MARGIN_DEG) / r) * r, -78.0)
    lon1 = min(np.ceil((b.lon_max + GLOBAL_MARGIN_DEG) / r) * r, 179.75)
    lat1 = min(np.ceil((b.lat_max + GLOBAL_MARGIN_DEG) / r) * r, 89.75)
    return Grid.regular(
        lon0=float(lon0), lat0=float(lat0), dlon=r, dlat=r,
        nlon=round((lon1 - lon0) / r) + 1, nlat=round((lat1 - lat0) / r) + 1,
    )  # fmt: skip


def _file_blocks(days: list[dt.date], variant: str) -> list[list[dt.date]]:
    """Days grouped per file: one day per file (full) or calendar months (demo)."""
    if variant == "full":
        return [[d] for d in days]
    blocks: list[list[dt.date]] = []
    for d in days:
        if blocks and (blocks[-1][0].year, blocks[-1][0].month) == (d.year, d.month):
            blocks[-1].append(d)
        else:
            blocks.append([d])
    return blocks


def _global_attrs(
    kind: str, region: Region, variant: str, seed: int, start: dt.date
) -> dict[str, Any]:
    return {
        "Conventions": "CF-1.8",
        "title": f"SYNTHETIC SAMPLE - {kind} - region {region.name} - not real ocean data",
        "source": "SYNTHETIC SAMPLE generated by glonet_regions.sample.generate",
        "institution": "glonet-regions (synthetic)",
        "synthetic": "yes",
        "generator": "glonet_regions.sample.generate.generate_sample",
        "sample_seed": np.int32(seed),
        "sample_variant": variant,
        "sample_region": region.name,
        "sample_start": start.isoformat(),
        "comment": (
            "SYNTHETIC SAMPLE: real coastline (global-land-mask), synthetic bathymetry, "
            "stratification, seasonal cycle, mean flow and advected mesoscale eddies. "
            "See docs/sample.md."
        ),
    }


def _level_blocks(n_levels: int, grid: Grid) -> list[tuple[int, int]]:
    per = max(1, _MAX_BLOCK // grid.size)
    return [(k, min(k + per, n_levels)) for k in range(0, n_levels, per)]


def _write_state(
    vars_: dict[str, Any],
    index: tuple[int, ...],
    state: Any,
    static: OceanOnGrid,
    *,
    noise: RedNoise | None,
    day_index: int,
) -> None:
    """Write one day's five variables at ``index`` (leading dims), level block by block."""
    zos = state.zos(static).astype(np.float32)
    if noise is not None:
        zos += noise.level_block("zos", day_index, static.grid)
    vars_["zos"][(*index, slice(None), slice(None))] = zos
    for var in _VARS_3D:
        base = noise.surface(var, day_index, static.grid) if noise is not None else None
        for k0, k1 in _level_blocks(static.depths.size, static.grid):
            block = state.level(static, var, k0, k1).astype(np.float32)
            if noise is not None and base is not None:
                scale = noise.profile(var, static.depths[k0:k1])
                block += (base[None] * scale[:, None, None]).astype(np.float32)
            vars_[var][(*index, slice(k0, k1), slice(None), slice(None))] = block


def _write_daily_files(
    folder: Path,
    prefix: str,
    ocean: SyntheticOcean,
    static: OceanOnGrid,
    days: list[dt.date],
    attrs: dict[str, Any],
    *,
    variant: str,
    noise: RedNoise,
    pert: Perturbation | None,
    coarse: bool = False,
) -> list[Path]:
    paths = []
    start = ocean.start
    for block in _file_blocks(days, variant):
        path = folder / f"{prefix}_{block[0]:%Y%m%d}.nc"
        with io.atomic_dataset(path, attrs) as ds:
            io.define_time(ds, "time", block)
            io.define_space(ds, static.grid, static.depths)
            vars_ = io.define_variables(ds, ("time",), static.grid, coarse=coarse)
            for i, day in enumerate(block):
                t = float((day - start).days)
                state = ocean.fields(static, t, pert=pert)
                _write_state(vars_, (i,), state, static, noise=noise, day_index=int(t))
        paths.append(path)
    return paths


def _forecast_ocean(
    ocean: SyntheticOcean, init: float, rng: np.random.Generator
) -> tuple[SyntheticOcean, float]:
    """A perturbed copy of the ocean started from the truth at day ``init``.

    Eddies alive at ``init`` keep their life cycle but move with a mean flow off by 10-20 %
    plus a random per-eddy velocity error (0.03 m/s), so their position error grows with
    lead time; eddies born after ``init`` are unknown to the forecast.
    """
    e = ocean.eddies
    flow_factor = 1.0 + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.1, 0.2))
    lat0, lon0, _ = e.centres(init)
    n = lat0.size
    days = np.arange(int(init), int(init) + FORECAST_LEADS + 2)
    lat, lon = integrate_tracks(
        ocean.geo, lat0, lon0, e.amp, np.full(n, -np.inf), days,
        flow_factor=flow_factor,
        extra_u=rng.normal(0.0, 0.03, n), extra_v=rng.normal(0.0, 0.03, n),
    )  # fmt: skip
    strength = smoothstep(ocean.geo.interp(ocean.geo.distance_km, lat, lon), 60.0, 200.0)
    known = np.where(e.birth <= init, e.amp, 0.0)
    eddies = Eddies(e.birth, e.life, known, e.radius_km, days, lat, lon, strength)
    return SyntheticOcean(ocean.geo, eddies, ocean.start), flow_factor


def _define_cube_axes(
    ds: Any, static: OceanOnGrid, first_days: list[dt.date], first_day_name: str
) -> None:
    """The axes of a forecast cube file: first_day_datetime, lead_day_index, depth, lat, lon."""
    io.define_time(ds, "first_day_datetime", first_days, long_name=first_day_name)
    ds.createDimension("lead_day_index", FORECAST_LEADS)
    lead = ds.createVariable("lead_day_index", "i4", ("lead_day_index",))
    lead.setncatts(
        {"long_name": "forecast lead (days); lead i is valid on first_day_datetime + i days",
         "units": "1"}
    )  # fmt: skip
    lead[:] = np.arange(FORECAST_LEADS, dtype=np.int32)
    io.define_space(ds, static.grid, static.depths)


def _write_forecast(
    path: Path,
    ocean: SyntheticOcean,
    static: OceanOnGrid,
    first_days: list[dt.date],
    attrs: dict[str, Any],
    *,
    seed: int,
) -> None:
    with io.atomic_dataset(path, attrs) as ds:
        _define_cube_axes(ds, static, first_days, "first forecast day")
        vars_ = io.define_variables(ds, ("first_day_datetime", "lead_day_index"), static.grid)
        factors = []
        for s, first in enumerate(first_days):
            init = float((first - ocean.start).days - 1)
            rng = np.random.default_rng([seed, _STREAM_FORECAST, s])
            fc, factor = _forecast_ocean(ocean, init, rng)
            factors.append(factor)
            for lead_i in range(FORECAST_LEADS):
                t = init + 1 + lead_i
                pert = Perturbation(t_bias_per_day=0.01, flow_factor=factor)
                state = fc.fields(static, t, pert=pert, lead_days=1 + lead_i)
                _write_state(vars_, (s, lead_i), state, static, noise=None, day_index=0)
        ds.setncattr("forecast_initialisation", "truth of the day before first_day_datetime")
        ds.setncattr("forecast_flow_factors", np.asarray(factors, dtype=np.float64))


def _write_global_forecast(
    path: Path,
    ocean: SyntheticOcean,
    static: OceanOnGrid,
    first_days: list[dt.date],
    attrs: dict[str, Any],
    *,
    seed: int,
    noise: RedNoise,
) -> None:
    """The synthetic GLOBAL forecast: one run issued on each start date, 1/4 degree.

    A run issued on ``R`` starts from the synthetic global model's state of ``R - 1`` (its
    initial error: eddies one day late and smoothed over 25 km, a 0.2 degC warm bias and the
    global model's own noise of that day), then diverges: eddies alive at ``R - 1`` drift with a
    mean flow off by 10-20 % and a random velocity error, eddies born later are unknown, and the
    warm bias grows by :data:`GLOBAL_FORECAST_T_DRIFT` per lead day.
    """
    with io.atomic_dataset(path, attrs) as ds:
        _define_cube_axes(ds, static, first_days, "run (issue) date")
        leading = ("first_day_datetime", "lead_day_index")
        vars_ = io.define_variables(ds, leading, static.grid, coarse=True)
        for s, first in enumerate(first_days):
            init = float((first - ocean.start).days - 1)
            rng = np.random.default_rng([seed, _STREAM_GLOBAL_FORECAST, s])
            fc, factor = _forecast_ocean(ocean, init, rng)
            for lead_i in range(FORECAST_LEADS):
                pert = Perturbation(
                    lag_days=GLOBAL_ERROR.lag_days, smooth_km=GLOBAL_ERROR.smooth_km,
                    t_bias=GLOBAL_ERROR.t_bias, t_bias_per_day=GLOBAL_FORECAST_T_DRIFT,
                    flow_factor=factor,
                )  # fmt: skip
                state = fc.fields(static, init + 1 + lead_i, pert=pert, lead_days=1 + lead_i)
                _write_state(
                    vars_, (s, lead_i), state, static, noise=noise, day_index=max(int(init), 0)
                )
        ds.setncattr("forecast_initialisation", "global model state of the day before the run")


def generate_sample(
    region: Region,
    out_dir: str | Path,
    *,
    variant: Variant = "demo",
    start: str | dt.date = "2021-01-01",
    n_days: int | None = None,
    seed: int = 0,
    stride: int | None = None,
) -> SampleInfo:
    """Write the deterministic SYNTHETIC sample of ``region`` under ``out_dir``.

    Args:
        region: The region; its default grid (``region.grid``) is used, thinned by ``stride``,
            its native levels (its target levels if it declares none) down to the deepest
            target level.
        out_dir: Output folder (created).
        variant: ``demo`` (every 12th node, 400 days, monthly files) or ``full`` (the whole
            grid, 21 days, one file per day, streamed level by level).
        start: First day.
        n_days: Number of days (default 400 for demo, 21 for full).
        seed: Random seed; the same seed gives identical data values.
        stride: Grid thinning (default 12 for demo, 1 for full).

    Returns:
        The :class:`SampleInfo`, also written to ``out_dir/sample_manifest.json``.

    Raises:
        ValidationError: On a bad variant, stride, start or ``n_days``.
    """
    if variant not in DEFAULT_STRIDE:
        raise ValidationError(f"variant must be 'demo' or 'full', got {variant!r}")
    stride = DEFAULT_STRIDE[variant] if stride is None else int(stride)
    if stride < 1:
        raise ValidationError(f"stride must be >= 1, got {stride}")
    n_days = DEFAULT_N_DAYS[variant] if n_days is None else int(n_days)
    try:
        start_day = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    except ValueError:
        raise ValidationError(f"start must be a date YYYY-MM-DD, got {start!r}") from None
    if isinstance(start_day, dt.datetime):
        start_day = start_day.date()
    splits = sample_splits(start_day, n_days)
    end = start_day + dt.timedelta(days=n_days - 1)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST_NAME).unlink(missing_ok=True)
    t0 = time.perf_counter()

    full = region.grid
    grid = full.isel(slice(None, None, stride), slice(None, None, stride))
    native = native_levels_for(region, variant)
    # A region on the global model's own grid (or coarser, e.g. glo4) is its own global
    # source: its global files lie on the (thinned) sample grid instead of the full globe.
    on_global_grid = min(full.dlon, full.dlat) >= GLOBAL_RESOLUTION * (1 - 1e-6)
    gl_grid = grid if on_global_grid else global_grid_for(full)
    gl_depths = tuple(region.depth.levels.values)
    geo = Geography.build(_union(full.bbox, gl_grid.bbox))
    eddies = Eddies.spawn(geo, -2, n_days + 1, np.random.default_rng([seed, _STREAM_EDDIES]))
    ocean = SyntheticOcean(geo, eddies, start_day)
    days = [start_day + dt.timedelta(days=i) for i in range(n_days)]

    reg_static = OceanOnGrid.build(geo, grid, native)
    # Noise on a grid no finer than half the sample's spacing (a thinned global grid would
    # otherwise need gigabytes of noise the sample never resolves).
    noise_res = max(NOISE_RESOLUTION_DEG, 0.5 * max(grid.dlat, grid.dlon))
    reg_noise = RedNoise.build(full.bbox, n_days, seed, _STREAM_REGIONAL, resolution=noise_res)
    regional = _write_daily_files(
        root / "regional", "sample_regional", ocean, reg_static, days,
        _global_attrs("regional daily means", region, variant, seed, start_day),
        variant=variant, noise=reg_noise, pert=None,
    )  # fmt: skip
    gl_static = OceanOnGrid.build(geo, gl_grid, gl_depths)
    gl_noise = RedNoise.build(
        gl_grid.bbox,
        n_days,
        seed,
        _STREAM_GLOBAL,
        factor=GLOBAL_NOISE_FACTOR,
        resolution=max(NOISE_RESOLUTION_DEG, 0.5 * max(gl_grid.dlat, gl_grid.dlon)),
    )
    global_files = _write_daily_files(
        root / "global", "sample_global", ocean, gl_static, days,
        _global_attrs("global model daily means (1/4 degree)", region, variant, seed, start_day),
        variant=variant, noise=gl_noise, pert=GLOBAL_ERROR, coarse=True,
    )  # fmt: skip
    first_days = forecast_first_days(splits, end)
    fc_static = OceanOnGrid.build(geo, grid, gl_depths)
    fc_path = root / "reference" / FORECAST_NAME
    _write_forecast(
        fc_path, ocean, fc_static, first_days,
        _global_attrs("physical regional forecast", region, variant, seed, start_day),
        seed=seed,
    )  # fmt: skip

    gf_path = root / "global_forecast" / GLOBAL_FORECAST_NAME
    _write_global_forecast(
        gf_path, ocean, gl_static, first_days,
        _global_attrs("global model FORECAST (1/4 degree)", region, variant, seed, start_day),
        seed=seed, noise=gl_noise,
    )  # fmt: skip

    description = (
        f"SYNTHETIC SAMPLE for region {region.name!r} ({variant}, seed {seed}): {n_days} daily "
        f"means from {start_day} on the region's grid {full.shape} thinned by {stride} to "
        f"{grid.shape}, {len(native)} native levels; real coastline (global-land-mask), "
        "synthetic bathymetry, stratified T/S with a seasonal cycle, a slope current, a "
        "south-westward drift and advected mesoscale eddies with geostrophic currents. "
        "Not real ocean data."
    )
    info = SampleInfo(
        regional_files=regional,
        global_files=global_files,
        reference_forecast_files=[fc_path],
        grid=grid,
        native_depths=native,
        start=start_day,
        end=end,
        splits=splits,
        variant=variant,
        seed=seed,
        description=description,
        region=region.name,
        stride=stride,
        global_grid=gl_grid,
        global_depths=gl_depths,
        forecast_first_days=tuple(first_days),
        global_forecast_files=[gf_path],
        root=root,
    )
    manifest = info.to_dict()
    manifest["generator_version"] = GENERATOR_VERSION
    manifest["generation_seconds"] = round(time.perf_counter() - t0, 2)
    manifest["bytes"] = {
        k: sum(p.stat().st_size for p in getattr(info, k))
        for k in ("regional_files", "global_files", "reference_forecast_files",
                  "global_forecast_files")
    }  # fmt: skip
    tmp = root / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(root / MANIFEST_NAME)
    return info


def _union(a: BBox, b: BBox) -> BBox:
    return BBox(
        min(a.lon_min, b.lon_min), max(a.lon_max, b.lon_max),
        min(a.lat_min, b.lat_min), max(a.lat_max, b.lat_max),
    )  # fmt: skip
