"""``glonet-regions finetune`` end to end on a small real store (single process and torchrun)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from glonet_regions.cli import main


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 x 20 store of the analytic SyntheticSource (not the sample), with boundary data."""
    from glonet_regions.core.grid import Grid
    from glonet_regions.core.region import DateRange, DateSplits
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource
    from glonet_regions.registry.facade import get_region

    region = get_region("ibi36")
    grid = Grid.regular(lon0=-12.0, lat0=44.0, dlon=0.25, dlat=0.25, nlon=20, nlat=16)
    start = dt.date(2020, 1, 1)
    splits = DateSplits(
        DateRange(start, dt.date(2020, 1, 20)),
        DateRange(dt.date(2020, 1, 21), dt.date(2020, 1, 28)),
        DateRange(dt.date(2020, 1, 29), dt.date(2020, 1, 30)),
    )
    out = tmp_path_factory.mktemp("store") / "store"
    prepare_store(out, SyntheticSource(grid, start, 30), region=region, splits=splits, workers=1)
    return out


ARGS = [
    "--model-size",
    "tiny",
    "--init",
    "random",
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--groups",
    "surface",
    "--boundary-width",
    "2",
    "--no-tensorboard",
    "--no-progress",
    "--device",
    "cpu",
    "--seed",
    "1",
    "--log-every",
    "1",
]


def test_finetune_writes_checkpoints_logs_metrics_and_resumes(
    small_store: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "finetune",
            "ibi36",
            "--store",
            str(small_store),
            "--run-dir",
            str(run),
            *ARGS,
            "--stop-after-epochs",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "continue with --resume" in res.output
    assert (run / "checkpoints" / "last.pt").exists() and (run / "config.yaml").exists()
    # Without --resume an existing run is refused; with it, the saved config is reused.
    res = runner.invoke(
        main, ["finetune", "ibi36", "--store", str(small_store), "--run-dir", str(run)]
    )
    assert res.exit_code == 1 and "--resume" in res.output
    res = runner.invoke(
        main, ["finetune", "ibi36", "--run-dir", str(run), "--resume", "--stop-after-epochs", "0"]
    )
    assert res.exit_code == 1 and "stop_after_epochs must be > 0" in res.output
    res = runner.invoke(main, ["finetune", "ibi36", "--run-dir", str(run), "--resume"])
    assert res.exit_code == 0, res.output
    assert "Validation RMSE at lead day 1" in res.output and "persist" in res.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert {r["variable"] for r in metrics["rows"]} == {"zos", "thetao", "so", "uo", "vo"}
    assert metrics["lead_days"] == [1, 2]
    assert (run / "logs" / "train.csv").read_text().count("\n") > 2
    from glonet_regions.model.bundle import load_bundle

    best = load_bundle(run / "checkpoints" / "best.pt")
    assert best.region_name == "ibi36" and set(best.groups) == {"surface"}
    assert best.boundary["provider"] == "relaxation" and best.boundary["width"] == 2


def test_bad_options_are_clear_errors(small_store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nlearnig_rate: 1\n")
    res = runner.invoke(main, ["finetune", "ibi36", "--config", str(bad)])
    assert res.exit_code == 1 and "learnig_rate" in res.output and "bad.yaml" in res.output
    res = runner.invoke(
        main,
        [
            "finetune",
            "ibi36",
            "--store",
            str(small_store),
            "--run-dir",
            str(tmp_path / "r"),
            *ARGS,
            "--freeze",
            "nothing",
        ],
    )
    assert res.exit_code == 1 and "'nothing'" in res.output
    res = runner.invoke(
        main,
        [
            "finetune",
            "ibi36",
            "--store",
            str(small_store),
            "--run-dir",
            str(tmp_path / "r2"),
            "--groups",
            "surface",
            "--init",
            "published",
            "--model-size",
            "tiny",
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output


@pytest.mark.slow
def test_torchrun_two_cpu_processes(small_store: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "glonet_regions.cli",
        "finetune",
        "ibi36",
        "--store",
        str(small_store),
        "--run-dir",
        str(run),
        *ARGS,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "world size 2" in proc.stdout
    assert (run / "metrics.json").exists()
