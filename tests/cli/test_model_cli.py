"""`glonet-regions model inspect|import` on TorchScript files made here (the published files
cannot be downloaded on this machine)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.model.network import build_glonet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from test_weights import export_torchscript


@pytest.fixture(scope="module")
def ts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_glonet(5, "tiny", (32, 48))
    return export_torchscript(model, tmp_path_factory.mktemp("ts") / "glonet_p1.pt")


def test_inspect_prints_tensors_and_code(ts_file: Path) -> None:
    result = CliRunner().invoke(main, ["model", "inspect", str(ts_file), "--trust-weights"])
    assert result.exit_code == 0, result.output
    assert "0.space.NO.pos_embed" in result.output


def test_import_matches_every_tensor(ts_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["model", "import", str(ts_file), "--size", "tiny", "--strict", "--trust-weights"]
    )
    assert result.exit_code == 0, result.output
    assert "matched" in result.output.lower()


def test_import_wrong_group_lists_mismatches(ts_file: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "model",
            "import",
            str(ts_file),
            "--size",
            "tiny",
            "--group",
            "deep",
            "--strict",
            "--trust-weights",
        ],
    )
    assert result.exit_code == 1
    assert "jump.maps.enc.0.conv.conv.weight" in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["model", "inspect", str(tmp_path / "nope.pt")])
    assert result.exit_code == 1
    assert "nope.pt" in result.output


def test_compile_refuses_clearly(tmp_path: Path) -> None:
    """`model compile` names what is wrong: no bundle, or no CUDA for --device cuda."""
    missing = tmp_path / "best.pt"
    result = CliRunner().invoke(main, ["model", "compile", str(missing), "--device", "cpu"])
    assert result.exit_code != 0 and str(missing) in result.output
    if not torch.cuda.is_available():
        result = CliRunner().invoke(main, ["model", "compile", str(missing)])
        assert result.exit_code != 0 and "CUDA is not available" in result.output
