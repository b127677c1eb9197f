"""What glonet-regions refuses, at the command line: exit status 1 and one clear line.

The classes of bad input are those of :mod:`glonet_regions.testing.refusals` (also run as
subprocesses by ``benchmarks/bad_inputs.py``); docs/reference/refuses.md lists every check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.registry import facade
from glonet_regions.registry.manager import make_plugin_manager
from glonet_regions.testing.dummy import DummyPlugin, make_dummy_region
from glonet_regions.testing.refusals import CASES, REAL_IBI, Case
from glonet_regions.testing.synthetic import synthetic_daily


def _has_ibi36() -> bool:
    try:
        facade.get_region("ibi36")
    except Exception:
        return False
    return True


@pytest.fixture
def fresh_registry() -> Any:
    """The process-wide registry rebuilt for the test (environment read again), then dropped."""
    facade.reset_registry()
    yield
    facade.reset_registry()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_refused_in_one_line(case: Case, tmp_path: Path, fresh_registry: Any) -> None:
    if case.needs_real_ibi and not REAL_IBI.is_file():
        pytest.skip(f"real data file {REAL_IBI} is missing")
    if not _has_ibi36():
        pytest.skip("the ibi36 plugin is not installed")
    bad = case.make(tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in bad.env.items():
            mp.setenv(key, value)
        facade.reset_registry()
        result = CliRunner().invoke(main, bad.args)
    assert result.exit_code == bad.exit_code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert bad.expect in lines[0], lines[0]
    assert "weights_only" not in result.output
    for path in bad.must_not_exist:
        assert not path.exists(), path


def test_unreadable_regions_path_is_one_line(
    tmp_path: Path, fresh_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GLONET_REGIONS_PATH folder that cannot be listed (tests run as root, so simulated)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    real_iterdir = Path.iterdir

    def iterdir(self: Path) -> Any:
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setenv("GLONET_REGIONS_PATH", str(folder))
    result = CliRunner().invoke(main, ["regions", "list"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be read" in lines[0] and str(folder) in lines[0]


def test_bad_region_file_fails_only_when_asked_for(tmp_path: Path, fresh_registry: Any) -> None:
    folder = tmp_path / "regions"
    folder.mkdir()
    (folder / "broken.yaml").write_text("schema_version: 1\nname: [oops\n")
    reg = facade.Registry(
        make_plugin_manager(entry_points=[], plugins=[("dummy", DummyPlugin())]),
        environ={"GLONET_REGIONS_PATH": str(folder)},
    )
    with pytest.warns(facade.RegionFileWarning, match="broken.yaml"):
        names = reg.region_names()
    assert make_dummy_region().name in names
    assert list(reg.broken_region_files) == [folder / "broken.yaml"]
    with pytest.raises(Exception, match=r"'broken'.*broken\.yaml"):
        reg.get_region("broken")


@pytest.fixture
def dummy_registry(monkeypatch: pytest.MonkeyPatch) -> facade.Registry:
    reg = facade.Registry(make_plugin_manager(entry_points=[], plugins=[("dummy", DummyPlugin())]))
    monkeypatch.setattr(facade, "_REGISTRY", reg)
    return reg


def test_truth_without_a_variable_is_named(dummy_registry: Any, tmp_path: Path) -> None:
    """evaluate --truth without thetao: a loud warning naming it, not silently missing rows."""
    region = make_dummy_region()
    truth = tmp_path / "truth.nc"
    synthetic_daily(region.grid).to_netcdf(truth)
    runner = CliRunner()
    cube = tmp_path / "pers.nc"
    args = ["forecast", region.name, "--persistence", "--truth", str(truth), "--start",
            "2020-02-10", "--days", "2", "--out", str(cube)]  # fmt: skip
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    partial = tmp_path / "no_thetao.nc"
    synthetic_daily(region.grid).drop_vars("thetao").to_netcdf(partial)
    res = runner.invoke(main, ["evaluate", region.name, "--forecast", str(cube), "--truth",
                               str(partial), "--out", str(tmp_path / "rep"), "--no-plots",
                               "--lagrangian-particles", "0"])  # fmt: skip
    assert "WARNING" in res.stderr and "no thetao" in res.stderr, res.output


def test_stop_after_epochs_is_not_carried_into_a_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run folder's config.yaml holding stop_after_epochs (as older versions saved it)."""
    import glonet_regions.engine.run as run_module

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(
        yaml.safe_dump({"schema_version": 1, "region": "x", "stop_after_epochs": 1})
    )
    seen: list[Any] = []

    def fake_run(cfg: Any, **_kw: Any) -> Any:
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(run_module, "run_finetune", fake_run)
    CliRunner().invoke(main, ["finetune", "x", "--resume", "--run-dir", str(run)])
    assert seen and seen[0].stop_after_epochs is None
    CliRunner().invoke(main, ["finetune", "x", "--resume", "--run-dir", str(run),
                              "--stop-after-epochs", "2"])  # fmt: skip
    assert seen[1].stop_after_epochs == 2
