"""`finetune ibi36 --init published --weights-dir DIR`: GLONET's statistics, trust, embedding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.model.network import build_glonet
from glonet_regions.testing.published import (
    PLAUSIBLE_STATS,
    write_release_stats,
    write_torchscript_archive,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_finetune_cli import ARGS, small_store  # noqa: F401  (module fixture)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published-like release for the tiny surface network: global embedding, stand-in stats."""
    root = tmp_path_factory.mktemp("release")
    net = build_glonet(5, "tiny", (16, 20))
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    shapes["space.NO.pos_embed"] = (1, 42 * 90, shapes["space.NO.pos_embed"][2])
    write_torchscript_archive(shapes, root / "glonet_p1.pt")
    write_release_stats(root, ["surface"], values=lambda var, level: PLAUSIBLE_STATS[var])
    return root


def _args(store: Path, run: Path, release: Path, *extra: str) -> list[str]:
    args = list(ARGS)
    args[args.index("--init") + 1] = "published"
    args[args.index("--epochs") + 1] = "1"
    return [
        "finetune", "ibi36", "--store", str(store), "--run-dir", str(run), *args,
        "--weights-dir", str(release), "--max-steps", "1", *extra,
    ]  # fmt: skip


def test_untrusted_weights_and_region_statistics_are_refused(
    small_store: Path,  # noqa: F811
    release: Path,
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    refused = runner.invoke(main, _args(small_store, tmp_path / "r0", release))
    assert refused.exit_code == 1
    assert "runs code" in refused.output and "--trust-weights" in refused.output
    mixed = runner.invoke(
        main,
        _args(
            small_store, tmp_path / "r1", release, "--trust-weights", "--normalisation", "region"
        ),
    )
    assert mixed.exit_code == 1 and "allow_region_normalisation" in mixed.output


@pytest.mark.slow
def test_published_init_uses_glonet_statistics(
    small_store: Path,  # noqa: F811
    release: Path,
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(main, _args(small_store, run, release, "--trust-weights"))
    assert res.exit_code == 0, res.output
    assert "normalisation: published (GLONET's statistics, pairing published)" in res.output
    assert "cut from the global 42x90 patch grid" in res.output
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["normalisation"] == "published" and saved["stats_pairing"] == "published"
    from glonet_regions.model.bundle import load_bundle

    bundle = load_bundle(run / "checkpoints" / "last.pt")
    state = bundle.groups["surface"]
    expected = [PLAUSIBLE_STATS[v] for v in ("zos", "thetao", "so", "uo", "vo")]
    np.testing.assert_allclose(state.mean, [m for m, _ in expected])
    np.testing.assert_allclose(state.std, [s for _, s in expected])
