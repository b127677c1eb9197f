"""``glonet-regions forecast`` and ``evaluate`` end to end (persistence; real and synthetic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.registry import facade
from glonet_regions.registry.manager import make_plugin_manager
from glonet_regions.testing.dummy import DummyPlugin, make_dummy_region
from glonet_regions.testing.real_data import real_data_dir
from glonet_regions.testing.synthetic import synthetic_daily

REAL = real_data_dir()  # the offline mirror, the asset cache or the files' origins
IBI = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"


@pytest.fixture
def dummy_registry(monkeypatch: pytest.MonkeyPatch) -> facade.Registry:
    """The process-wide registry replaced by one holding only the dummy plugin."""
    reg = facade.Registry(make_plugin_manager(entry_points=[], plugins=[("dummy", DummyPlugin())]))
    monkeypatch.setattr(facade, "_REGISTRY", reg)
    return reg


@pytest.fixture
def truth_file(tmp_path: Path) -> Path:
    path = tmp_path / "truth.nc"
    synthetic_daily(make_dummy_region().grid).to_netcdf(path)
    return path


@pytest.mark.skipif(not IBI.is_file(), reason=f"real data file {IBI} is missing")
def test_persistence_forecast_and_evaluate_real_ibi(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "pers.nc"
    res = runner.invoke(
        main,
        [
            "forecast",
            "ibi36",
            "--persistence",
            "--truth",
            str(IBI),
            "--start",
            "2022-02-07",
            "--days",
            "1",
            "--out",
            str(out),
        ],
    )
    if res.exit_code and "Unknown region" in res.output:
        pytest.skip("the ibi36 plugin is not installed")
    assert res.exit_code == 0, res.output
    cube = xr.open_dataset(out)
    assert list(cube["thetao"].dims) == [
        "first_day_datetime",
        "lead_day_index",
        "depth",
        "latitude",
        "longitude",
    ]
    assert cube["zos"].dims == ("first_day_datetime", "lead_day_index", "latitude", "longitude")
    assert cube["thetao"].attrs["standard_name"] == "sea_water_potential_temperature"
    assert cube["depth"].attrs["positive"] == "down"
    assert {"model", "created", "code_version", "region"} <= set(cube.attrs)
    assert not list(tmp_path.glob(".*tmp*"))
    rep = tmp_path / "rep"
    res = runner.invoke(
        main,
        [
            "evaluate",
            "ibi36",
            "--forecast",
            str(out),
            "--truth",
            str(IBI),
            "--out",
            str(rep),
            "--depths",
            "0.494,47.37",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads((rep / "scores.json").read_text())["rows"]
    assert rows and {r["convention"] for r in rows} == {"oceanbench", "weatherbench2"}
    assert (rep / "report.html").is_file() and (rep / "scores.csv").is_file()


def test_forecast_zarr_and_evaluate_synthetic(
    dummy_registry: object, truth_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "pers.zarr"
    res = runner.invoke(
        main,
        [
            "forecast",
            "dummy",
            "--persistence",
            "--truth",
            str(truth_file),
            "--start",
            "2020-01-28,2020-01-30",
            "--days",
            "4",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    cube = xr.open_zarr(out, consolidated=False)
    assert cube.sizes["first_day_datetime"] == 2 and cube.sizes["lead_day_index"] == 4
    rep = tmp_path / "rep"
    res = runner.invoke(
        main,
        [
            "evaluate",
            "dummy",
            "--forecast",
            str(out),
            "--truth",
            str(truth_file),
            "--out",
            str(rep),
            "--lead-days",
            "1,4",
            "--no-plots",
        ],
    )
    assert res.exit_code == 0, res.output
    import pandas as pd

    df = pd.read_csv(rep / "scores.csv")
    assert sorted(df.lead_day.unique()) == [1, 4]
    assert {"region", "west", "east"} <= set(df.subregion)  # "east" comes from the plugin hook
    assert any(m.startswith("climatology (harmonic fit of") for m in df.model)
    assert "boundary mode" in res.output and "Headline" in res.output
    assert np.isfinite(df.value).any()


def test_cli_errors_are_clean(dummy_registry: object, truth_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main, ["forecast", "dummy", "--truth", str(truth_file), "--out", str(tmp_path / "x.nc")]
    )
    assert res.exit_code == 1 and "--checkpoint" in res.output
    res = runner.invoke(
        main,
        [
            "evaluate",
            "dummy",
            "--forecast",
            str(tmp_path / "none.nc"),
            "--truth",
            str(truth_file),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 1 and "does not exist" in res.output
    res = runner.invoke(
        main,
        [
            "forecast",
            "dummy",
            "--persistence",
            "--truth",
            str(truth_file),
            "--start",
            "2019-01-01",
            "--days",
            "2",
            "--out",
            str(tmp_path / "y.nc"),
        ],
    )
    assert res.exit_code == 1 and "no data for" in res.output
    assert not (tmp_path / "y.nc").exists()


def test_compare_scores_must_be_a_scores_file(
    dummy_registry: object, truth_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    res = CliRunner().invoke(
        main,
        [
            "evaluate",
            "dummy",
            "--forecast",
            str(tmp_path / "none.nc"),
            "--truth",
            str(truth_file),
            "--out",
            str(tmp_path / "r"),
            "--compare-scores",
            str(bad),
        ],
    )
    assert res.exit_code == 1 and "not a scores.csv" in res.output
    assert not (tmp_path / "r").exists()
