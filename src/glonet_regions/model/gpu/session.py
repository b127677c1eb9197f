"""One forecast's GPU decisions, made once per run: options, path, packages, recorded costs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glonet_regions.model.gpu.options import GpuOptions
from glonet_regions.model.gpu.plan import (
    ForecastPlan,
    costs_file,
    plan_forecast,
    record_costs,
    recorded_costs,
)

__all__ = ["ForecastSession", "start_forecast"]


@dataclass
class ForecastSession:
    """What a forecast run decided about the GPU (see :func:`start_forecast`).

    Attributes:
        options: The GPU options (the bundle's, the command's ``exec_mode``, the environment).
        plan: The path taken and why.
        packages: Compiled forwards per group (the ``package`` path), else empty.
        device: Where the networks run.
        timings: Seconds of each group's forecasts in order, fed by :meth:`took`.
    """

    options: GpuOptions
    plan: ForecastPlan
    packages: dict[str, Callable[[Any], Any]]
    device: str
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)

    @property
    def exec_mode(self) -> str:
        return self.plan.exec_mode

    def took(self, group: str, seconds: float) -> None:
        """Keep the wall time of one start date of ``group``."""
        self.timings.setdefault(group, []).append(seconds)

    def record(self) -> None:
        """Record what this run measured (CUDA only) for the next run's ``auto`` choice."""
        if not self.device.startswith("cuda") or self.plan.path == "package":
            return
        for group, times in self.timings.items():
            shape = self.shapes.get(group)
            if shape is None or not times:
                continue
            path = _costs_path(self.device)
            if self.plan.path == "eager":
                record_costs(path, *shape, eager_s=sum(times) / len(times))
            elif len(times) >= 2:
                steady = min(times[1:])
                record_costs(path, *shape, fast_s=steady, compile_s=max(0.0, times[0] - steady))
            else:  # one start date: its time less the known step cost is the compilation
                steady = recorded_costs(path, *shape).fast_s
                record_costs(path, *shape, compile_s=max(0.0, times[0] - steady))


def _costs_path(device: str) -> Any:
    import torch

    from glonet_regions.model.gpu.kernels import compile_cache_dir

    return costs_file(compile_cache_dir(), torch.cuda.get_device_name(device), torch.__version__)


def start_forecast(
    bundle: Any,
    device: str,
    exec_mode: str,
    n_starts: int,
    groups: Iterable[str],
    *,
    say: Callable[[str], None] | None = None,
) -> ForecastSession:
    """Decide once how a forecast of ``n_starts`` start dates runs the bundle's ``groups``.

    The options are the bundle's saved ``gpu`` options with ``exec_mode`` and the environment's
    overrides. On CUDA, compiled packages beside the bundle are loaded where they match this
    machine (a mismatch is said once, then the forecast falls back); without them ``auto``
    compiles only when the campaign repays it (see
    :func:`~glonet_regions.model.gpu.plan.plan_forecast`).
    The choice and its reason are said once.
    """
    tell = say or (lambda _m: None)
    saved = dict(getattr(bundle, "config", None) or {}).get("gpu")
    options = GpuOptions.from_dict(saved if isinstance(saved, Mapping) else None)
    options = options.replace(exec_mode=exec_mode).with_env()
    names = list(groups)
    shapes = {g: tuple(int(v) for v in bundle.groups[g].ocean_mask.shape) for g in names}
    dev_type = device.split(":")[0]
    packages: dict[str, Callable[[Any], Any]] = {}
    why_not: str | None = None
    if dev_type == "cuda" and options.exec_mode != "eager" and names:
        from glonet_regions.model.gpu.packages import PackageMismatch, load_packages, package_dir

        if package_dir(bundle.path).exists():
            try:
                packages = load_packages(bundle.path, bundle.sha256, device, names)
            except PackageMismatch as exc:
                why_not = str(exc)
                tell(f"compiled packages not used: {exc}")
        else:
            why_not = "none compiled for this bundle"
    costs = None
    if dev_type == "cuda" and names:
        first = shapes[names[0]]
        costs = recorded_costs(_costs_path(device), *first)
    plan = plan_forecast(
        options.exec_mode, dev_type, n_starts, len(names), costs=costs,
        package="usable" if packages else why_not,
    )  # fmt: skip
    if plan.path != "package":
        packages = {}
    tell(f"{options.describe()}; path: {plan.path} ({plan.reason})")
    return ForecastSession(options, plan, packages, device, shapes)  # type: ignore[arg-type]
