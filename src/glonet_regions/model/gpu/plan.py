"""Which path a forecast takes on the GPU, and why (torch-free).

``auto`` must never make a user wait longer than eager would. With usable compiled packages
(:mod:`glonet_regions.model.gpu.packages`) the optimised forward loads in seconds, so it is
taken. Without them the optimised path first compiles and measures (a one-off cost per process,
smaller with warm caches), then runs each start date several times faster than eager; it is
taken only when the campaign is long enough to repay the compilation:
``compile + starts * fast < starts * eager``.

The costs come from the last forecast on this machine for the same network shape (recorded by
:func:`record_costs` in a JSON file beside the compile caches), else from
:data:`REFERENCE_COSTS` scaled by the grid size.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "REFERENCE_COSTS",
    "REFERENCE_PIXELS",
    "ForecastPlan",
    "PathCosts",
    "costs_file",
    "plan_forecast",
    "recorded_costs",
    "record_costs",
]

Path_ = Literal["eager", "fast", "package"]


@dataclass(frozen=True)
class PathCosts:
    """Wall-clock seconds of one depth group's forecast.

    Attributes:
        eager_s: One start date, eager.
        fast_s: One start date on the optimised path, once compiled.
        compile_s: The optimised path's first start date minus ``fast_s`` (compilation,
            convolution measurements, graph capture) in a fresh process.
    """

    eager_s: float
    fast_s: float
    compile_s: float

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0:
                raise ValueError(f"PathCosts.{name} must be >= 0 seconds, got {value!r}")

    def scaled(self, factor: float) -> PathCosts:
        """Step costs scaled by ``factor`` (the compilation cost does not grow with the grid)."""
        return PathCosts(self.eager_s * factor, self.fast_s * factor, self.compile_s)


REFERENCE_PIXELS = 1088 * 880
"""The padded full ibi36 grid the reference costs were measured on."""

REFERENCE_COSTS = PathCosts(eager_s=6.1, fast_s=0.55, compile_s=31.0)
"""One full-size depth group on the full ibi36 grid, 10-day forecast, one H100: eager 18.2 s and
optimised 1.62 s for three groups, a first capture of 92 s for three groups with empty caches
(see docs/performance.md)."""


@dataclass(frozen=True)
class ForecastPlan:
    """The path chosen for a forecast and the reason, for the run's log."""

    path: Path_
    reason: str

    @property
    def exec_mode(self) -> Literal["eager", "fast"]:
        """The ``optimise_model`` mode of the chosen path (packages run the optimised forward)."""
        return "eager" if self.path == "eager" else "fast"


def plan_forecast(
    exec_mode: str,
    device_type: str,
    n_starts: int,
    n_groups: int,
    *,
    costs: PathCosts | None = None,
    package: str | None = None,
) -> ForecastPlan:
    """Choose how a forecast of ``n_starts`` start dates of ``n_groups`` networks runs.

    Args:
        exec_mode: ``auto``, ``fast`` or ``eager`` (``GpuOptions.exec_mode``).
        device_type: ``cuda``, ``cpu``, ...
        n_starts: Start dates forecast in this process.
        n_groups: Depth-group networks run per start date.
        costs: Per-group costs (default: :data:`REFERENCE_COSTS`).
        package: ``None`` when usable compiled packages are loaded, else why there are none
            (for the log); pass ``"usable"`` when they are.
    """
    if exec_mode not in ("auto", "eager", "fast"):
        raise ValueError(f"exec_mode must be auto, fast or eager, got {exec_mode!r}")
    if n_starts < 0 or n_groups < 0:
        raise ValueError(f"n_starts and n_groups must be >= 0, got {n_starts}, {n_groups}")
    if exec_mode == "eager":
        return ForecastPlan("eager", "exec_mode eager")
    if device_type != "cuda":
        if exec_mode == "fast":
            return ForecastPlan("fast", f"exec_mode fast on {device_type} (no compilation)")
        return ForecastPlan("eager", f"exec_mode auto on {device_type}: eager")
    if package == "usable":
        return ForecastPlan("package", "compiled packages match this machine: loading them")
    why_not = f" ({package})" if package else ""
    if exec_mode == "fast":
        return ForecastPlan("fast", f"exec_mode fast: compiling in this process{why_not}")
    c = REFERENCE_COSTS if costs is None else costs
    eager_total = n_starts * n_groups * c.eager_s
    fast_total = n_groups * (c.compile_s + n_starts * c.fast_s)
    numbers = (
        f"{n_starts} start date(s) x {n_groups} group(s): eager ~{eager_total:.0f} s, "
        f"compiling ~{fast_total:.0f} s"
    )
    if fast_total < eager_total:
        return ForecastPlan("fast", f"exec_mode auto, no compiled package{why_not}; {numbers}")
    return ForecastPlan(
        "eager",
        f"exec_mode auto, no compiled package{why_not}; {numbers}: eager is sooner "
        "(`glonet-regions model compile` makes the optimised path load in seconds)",
    )


def costs_file(cache_dir: Path, device_name: str, torch_version: str) -> Path:
    """The JSON file the costs of this card and torch are recorded in, under ``cache_dir``."""
    tag = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{device_name}-torch{torch_version}")
    return cache_dir / f"glonet-regions-forecast-costs-{tag}.json"


def _shape_key(channels: int, height: int, width: int) -> str:
    return f"{channels}x{height}x{width}"


def recorded_costs(path: Path, channels: int, height: int, width: int) -> PathCosts:
    """The costs recorded in ``path`` for this network shape; missing parts from
    :data:`REFERENCE_COSTS` scaled by the grid size."""
    scale = (height * width) / REFERENCE_PIXELS
    base = REFERENCE_COSTS.scaled(scale)
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        rec = data.get(_shape_key(channels, height, width), {})
        return PathCosts(
            eager_s=float(rec.get("eager_s", base.eager_s)),
            fast_s=float(rec.get("fast_s", base.fast_s)),
            compile_s=float(rec.get("compile_s", base.compile_s)),
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return base  # an unreadable record only costs the reference estimate


def record_costs(path: Path, channels: int, height: int, width: int, **seconds: float) -> None:
    """Record measured ``eager_s``, ``fast_s`` or ``compile_s`` for this network shape
    (atomically; a read-only cache is silently skipped)."""
    unknown = set(seconds) - {"eager_s", "fast_s", "compile_s"}
    if unknown:
        raise ValueError(f"record_costs: unknown cost(s) {sorted(unknown)}")
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    key = _shape_key(channels, height, width)
    data[key] = {**data.get(key, {}), **{k: round(float(v), 4) for k, v in seconds.items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
