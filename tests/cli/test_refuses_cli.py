"""What glonet-regions refuses, at the command line: exit status 1 and one clear line.

A few cases run the real executable in a subprocess; the others use click's runner on the
same ``main`` (much faster). docs/reference/refuses.md lists every check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.registry import facade
from glonet_regions.registry.manager import make_plugin_manager
from glonet_regions.testing.dummy import DummyPlugin, make_dummy_region


def _one_line(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The installed command in a subprocess: (exit status, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "glonet_regions.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stderr


@pytest.fixture
def dummy_registry(monkeypatch: pytest.MonkeyPatch) -> facade.Registry:
    reg = facade.Registry(make_plugin_manager(entry_points=[], plugins=[("dummy", DummyPlugin())]))
    monkeypatch.setattr(facade, "_REGISTRY", reg)
    return reg


def _nan_bundle(path: Path, region: str) -> Path:
    from glonet_regions.model.bundle import GroupState, save_bundle
    from glonet_regions.model.network import build_glonet

    grid = make_dummy_region().grid
    net = build_glonet(5, "tiny", grid.shape)
    state = dict(net.state_dict())
    first = next(k for k, v in state.items() if torch.is_floating_point(v))
    state[first] = torch.full_like(state[first], float("nan"))
    return save_bundle(
        path,
        region_name=region,
        grid=grid,
        groups={
            "surface": GroupState(
                config=net.config.to_dict(),
                state_dict=state,
                channels=[("zos", None), ("thetao", 0), ("so", 0), ("uo", 0), ("vo", 0)],
                mean=np.zeros(5),
                std=np.ones(5),
                ocean_mask=np.ones((5, *grid.shape), dtype=bool),
            )
        },
        boundary={"provider": "none", "width": 0, "edges": []},
        train_config={},
    )


# -- checkpoints (items 5 and 11) --------------------------------------------------------------
def test_checkpoint_with_nan_weights_refused(tmp_path: Path) -> None:
    ckpt = _nan_bundle(tmp_path / "nan.pt", "ibi36")
    out = tmp_path / "f.nc"
    rc, err = run_cli(
        "forecast", "ibi36", "--checkpoint", str(ckpt), "--sample", "--out", str(out)
    )
    line = _one_line(err)
    assert rc == 1 and "NaN or infinite weights" in line and str(ckpt) in line
    assert not out.exists()


def test_random_file_as_checkpoint_never_suggests_unsafe_loading(tmp_path: Path) -> None:
    ckpt = tmp_path / "random.pt"
    ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    rc, err = run_cli("forecast", "ibi36", "--checkpoint", str(ckpt), "--sample", "--out",
                      str(tmp_path / "f.nc"))  # fmt: skip
    line = _one_line(err)
    assert rc == 1 and "not a glonet-regions checkpoint" in line and str(ckpt) in line
    assert "weights_only" not in err


def test_forecast_output_checked_for_nan() -> None:
    from torch import nn

    from glonet_regions.core.errors import DataError
    from glonet_regions.forecast.runner import run_group

    class Nan(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full_like(x, float("nan"))

    mask = np.ones((1, 4, 4), bool)
    with pytest.raises(DataError, match="NaN or infinite values in the ocean"):
        run_group(Nan(), np.zeros((2, 1, 4, 4), np.float32), np.zeros(1), np.ones(1), mask, 1)
