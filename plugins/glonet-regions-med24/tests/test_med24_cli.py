"""med24 end to end through the CLI on a tiny sample of its own grid: finetune, forecast,
evaluate (what ``glonet-regions finetune med24 --sample`` does, on fewer days and nodes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from glonet_regions.cli import main

pytest.importorskip("glonet_regions_med24.plugin", reason="med24 plugin not installed")

# An 8 x 28 sample (every 48th node of the 380 x 1307 grid) of 30 days, two optimiser steps:
# seconds, not minutes.
STRIDE, N_DAYS = 48, 30
TRAIN = ["--model-size", "tiny", "--init", "random", "--epochs", "1", "--max-steps", "2",
         "--batch-size", "4", "--max-val-batches", "1", "--val-calls", "1", "--no-tensorboard",
         "--no-progress", "--device", "cpu", "--seed", "0"]  # fmt: skip


def test_finetune_forecast_evaluate_med24_sample(tmp_path: Path) -> None:
    from glonet_regions import get_region
    from glonet_regions.sample.generate import generate_sample

    store = tmp_path / "store"
    # finetune --sample reuses the sample found beside the store (demo variant, seed 0).
    info = generate_sample(
        get_region("med24"), tmp_path / "store.sample", n_days=N_DAYS, stride=STRIDE
    )
    run = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(
        main, ["finetune", "med24", "--sample", "--store", str(store), "--run-dir", str(run),
               *TRAIN],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    config = (run / "config.yaml").read_text()
    assert "boundary_provider: atlantic-sponge" in config
    start = info.splits.test.start.isoformat()
    cube = tmp_path / "forecast.nc"
    res = runner.invoke(
        main, ["forecast", "med24", "--sample", "--store", str(store), "--checkpoint",
               str(run / "checkpoints" / "best.pt"), "--start", start, "--days", "2",
               "--device", "cpu", "--out", str(cube)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = tmp_path / "report"
    res = runner.invoke(
        main, ["evaluate", "med24", "--sample", "--store", str(store), "--forecast", str(cube),
               "--lagrangian-particles", "0", "--no-plots", "--out", str(report)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    scores = json.loads((report / "scores.json").read_text())
    rows = scores["rows"]
    assert {"alboran", "levantine"} & {r["subregion"] for r in rows}
