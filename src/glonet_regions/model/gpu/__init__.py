"""The GPU path of the GLONET network, one room with one door.

Used from outside through these names only:

* :class:`GpuOptions` (torch-free): how a network runs on the GPU, saved with a run's
  configuration and bundle; the ``GLONET_REGIONS_*`` environment variables override it once;
* :func:`optimise_model`: prepare a network for training or inference on a device;
* :class:`ForecastRunner`, :class:`PreparedGroup`, :func:`forecast_groups`: graph-captured
  rollouts, one CUDA stream per depth group;
* :func:`start_forecast` / :func:`plan_forecast` (the latter torch-free): whether a forecast
  runs eager, compiles, or loads compiled packages, and why;
* :func:`compile_packages` / :func:`load_packages`: ahead-of-time compiled forwards stored
  next to a forecaster bundle.

Importing this package is cheap: submodules (and torch) load on first attribute access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glonet_regions.model._lazy import lazy_exports

if TYPE_CHECKING:
    from glonet_regions.model.gpu.optimise import (
        CHECKPOINT_BRANCHES,
        DEFAULT_TRAIN_CHECKPOINT,
        optimise_model,
        resolve_mode,
        set_checkpoint_branches,
    )
    from glonet_regions.model.gpu.options import ExecMode, GpuOptions
    from glonet_regions.model.gpu.packages import (
        PackageMismatch,
        compile_packages,
        load_packages,
        machine_key,
    )
    from glonet_regions.model.gpu.plan import ForecastPlan, PathCosts, plan_forecast
    from glonet_regions.model.gpu.runner import ForecastRunner, PreparedGroup, forecast_groups
    from glonet_regions.model.gpu.session import ForecastSession, start_forecast

_LAZY: dict[str, str] = {
    "ExecMode": "options",
    "GpuOptions": "options",
    "CHECKPOINT_BRANCHES": "optimise",
    "DEFAULT_TRAIN_CHECKPOINT": "optimise",
    "optimise_model": "optimise",
    "resolve_mode": "optimise",
    "set_checkpoint_branches": "optimise",
    "PackageMismatch": "packages",
    "compile_packages": "packages",
    "load_packages": "packages",
    "machine_key": "packages",
    "ForecastPlan": "plan",
    "PathCosts": "plan",
    "plan_forecast": "plan",
    "ForecastRunner": "runner",
    "PreparedGroup": "runner",
    "forecast_groups": "runner",
    "ForecastSession": "session",
    "start_forecast": "session",
}

__all__ = [
    "CHECKPOINT_BRANCHES",
    "DEFAULT_TRAIN_CHECKPOINT",
    "ExecMode",
    "ForecastPlan",
    "ForecastRunner",
    "ForecastSession",
    "GpuOptions",
    "PackageMismatch",
    "PathCosts",
    "PreparedGroup",
    "compile_packages",
    "forecast_groups",
    "load_packages",
    "machine_key",
    "optimise_model",
    "plan_forecast",
    "resolve_mode",
    "set_checkpoint_branches",
    "start_forecast",
]


__getattr__, __dir__ = lazy_exports("glonet_regions.model.gpu", _LAZY, __all__)
