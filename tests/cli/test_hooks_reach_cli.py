"""Every hook reaches its consumer: a plugin registers one component of every kind (source,
regridder, boundary provider, metric) and each is used through the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from glonet_regions import hookimpl
from glonet_regions.boundary.providers import StripBoundary
from glonet_regions.cli import main
from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import OpenBoundaries, SourceDataset
from glonet_regions.data.regrid.builtin import BuiltinRegridder
from glonet_regions.registry import facade
from glonet_regions.registry.manager import BUILTIN_ENTRY_POINTS, make_plugin_manager
from glonet_regions.testing import make_dummy_region
from glonet_regions.testing.synthetic import synthetic_daily

NAME = "hooked"
#: (kind, detail) of every use of the plugin's components.
USED: list[tuple[str, str]] = []
GLOBAL = Grid.regular(lon0=-24.0, lat0=26.0, dlon=1.0, dlat=1.0, nlon=31, nlat=27)


class HookedSource:
    """A source serving synthetic daily fields for the region's datasets."""

    def open(self, dataset: Any, **kw: Any) -> Any:
        USED.append(("source", dataset.key))
        grid = GLOBAL if dataset.kind == "global" else make_dummy_region().grid
        ds = synthetic_daily(grid, n_days=24, depths=GLONET_LEVELS.values, land_corner=0)
        # Plausible abyssal values (the synthetic profiles are linear in depth).
        np.maximum(ds["thetao"].values, 2.0, out=ds["thetao"].values)
        np.minimum(ds["so"].values, 39.0, out=ds["so"].values)
        return ds


class HookedRegridder(BuiltinRegridder):
    def __init__(self, source_grid: Grid, target_grid: Grid, method: str, **kw: Any) -> None:
        USED.append(("regridder", method))
        super().__init__(source_grid, target_grid, method, cache=False, **kw)


class HookedBoundary(StripBoundary):
    name = "hooked-boundary"

    def __init__(self, edges: Any, width: int) -> None:
        USED.append(("boundary provider", str(width)))
        super().__init__(edges, width)


def hooked_metric(forecast: Any, reference: Any, weights: Any) -> Any:
    USED.append(("metric", ""))
    dims = [d for d in ("latitude", "longitude", "first_day_datetime") if d in forecast.dims]
    return abs(forecast - reference).mean(dims)  # mean absolute error per lead day (and depth)


class HookedPlugin:
    @hookimpl
    def register_regions(self, register: Callable[..., None]) -> None:
        base = make_dummy_region(NAME)
        names = {v: v for v in ("zos", "thetao", "so", "uo", "vo")}
        register(
            replace(
                base,
                datasets=(
                    SourceDataset("regional", "reanalysis", "hooked-source", "r", variables=names),
                    SourceDataset("glob", "global", "hooked-source", "g", variables=names),
                ),
                open_boundaries=OpenBoundaries(
                    ("west", "south"), 2, "hooked-boundary", "glob", regridder="hooked-regridder"
                ),
            )
        )

    @hookimpl
    def register_sources(self, register: Callable[..., None]) -> None:
        register("hooked-source", HookedSource)

    @hookimpl
    def register_regridders(self, register: Callable[..., None]) -> None:
        register("hooked-regridder", HookedRegridder)

    @hookimpl
    def register_boundary_providers(self, register: Callable[..., None]) -> None:
        register("hooked-boundary", HookedBoundary)

    @hookimpl
    def register_metrics(self, register: Callable[..., None]) -> None:
        register("hooked-metric", hooked_metric, convention="custom")


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide registry: the built-ins and the hooked plugin, nothing installed."""
    eps = [EntryPoint(n, v, "glonet_regions") for n, v in BUILTIN_ENTRY_POINTS]
    pm = make_plugin_manager(eps, plugins=[("hooked", HookedPlugin())], block=())
    monkeypatch.setattr(facade, "_REGISTRY", facade.Registry(pm, environ={}))
    USED.clear()


def _run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_every_kind_of_component_is_reached_through_the_cli(hooked: None, tmp_path: Path) -> None:
    # regridder: data regrid --backend
    src = tmp_path / "global.nc"
    synthetic_daily(GLOBAL, n_days=2).to_netcdf(src)
    _run("data", "regrid", str(src), "--region", NAME, "--backend", "hooked-regridder",
         "--out", str(tmp_path / "regridded.nc"))  # fmt: skip
    assert USED == [("regridder", "bilinear")]
    # source (the region's datasets name it) and the region file's boundary regridder
    USED.clear()
    store = tmp_path / "store"
    _run("data", "prepare", NAME, "--out", str(store), "--start", "2020-01-01",
         "--end", "2020-01-24", "--workers", "1")  # fmt: skip
    assert {("source", "regional"), ("source", "glob"), ("regridder", "bilinear")} <= set(USED)
    # boundary provider: finetune --boundary-provider
    USED.clear()
    run = tmp_path / "run"
    _run("finetune", NAME, "--store", str(store), "--run-dir", str(run),
         "--boundary-provider", "hooked-boundary", "--boundary-width", "1", "--model-size",
         "tiny", "--init", "random", "--epochs", "1", "--max-steps", "1", "--batch-size", "2",
         "--groups", "surface", "--max-val-batches", "1", "--val-calls", "1",
         "--no-tensorboard", "--no-progress", "--device", "cpu")  # fmt: skip
    assert ("boundary provider", "1") in USED
    # metric: evaluate --metric
    USED.clear()
    cube = tmp_path / "persistence.nc"
    _run("forecast", NAME, "--persistence", "--store", str(store), "--start", "2020-01-21",
         "--days", "2", "--out", str(cube))  # fmt: skip
    _run("evaluate", NAME, "--store", str(store), "--forecast", str(cube), "--metric",
         "hooked-metric", "--lagrangian-particles", "0", "--no-plots", "--out",
         str(tmp_path / "report"))  # fmt: skip
    assert ("metric", "") in USED
    scores = json.loads((tmp_path / "report" / "scores.json").read_text())
    rows = scores["rows"]
    assert {r["metric"] for r in rows} == {"hooked-metric"}
    assert np.isfinite([r["value"] for r in rows if r["value"] is not None]).all()


def test_cli_choices_come_from_the_registry(hooked: None, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["evaluate", NAME, "--forecast", "x.nc", "--sample",
                                    "--metric", "nope", "--out", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 2
    assert "'nope' is not a registered metric" in res.output and "hooked-metric" in res.output
    res = CliRunner().invoke(main, ["data", "regrid", "f.nc", "--region", NAME, "--backend",
                                    "esmpy", "--out", str(tmp_path / "o.nc")])  # fmt: skip
    assert res.exit_code == 2 and "builtin, hooked-regridder, weights-file" in res.output
    res = CliRunner().invoke(main, ["finetune", NAME, "--boundary-provider", "sponge"])
    assert res.exit_code == 2 and "hooked-boundary, none, relaxation, strip" in res.output
