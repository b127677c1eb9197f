"""Import of TorchScript weight files shaped like the published GLONET release."""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from glonet_regions.core.errors import (
    CheckpointError,
    CheckpointIncompatibleError,
    CheckpointNotFoundError,
)
from glonet_regions.model.network import Glonet, build_glonet
from glonet_regions.model.published import (
    PUBLISHED_WEIGHTS,
    fetch_published_weights,
    normalisation_assets,
)
from glonet_regions.model.weights import (
    POS_EMBED_KEY,
    describe_torchscript,
    import_torchscript,
    strip_prefix,
)

GRID = (32, 48)


class SelectiveFilterLayer(nn.Module):
    """Parameter-free stand-in for the published second Sequential element."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


def export_torchscript(model: Glonet, path: Path) -> Path:
    """Trace ``Sequential(model, filter)`` to TorchScript, as the published files are built."""
    wrapped = nn.Sequential(model.eval(), SelectiveFilterLayer())
    example = torch.randn(1, 2, model.config.channels, *model.config.grid_shape)
    with warnings.catch_warnings():
        # torch.jit.trace is deprecated in torch 2.x (DeprecationWarning) but it is how the
        # published files were made; the TracerWarnings come from our Python shape checks,
        # which are constant for a fixed example grid.
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        with torch.no_grad():
            traced = torch.jit.trace(wrapped, example)
        traced.save(str(path))
    return path


def test_round_trip_gives_identical_outputs(
    exported: tuple[Glonet, Path], tiny: Callable[..., Glonet]
) -> None:
    source, path = exported
    fresh = tiny(5, GRID)
    x = torch.randn(1, 2, 5, *GRID)
    with torch.no_grad():
        assert not torch.equal(fresh(x), source(x))
    report = import_torchscript(fresh, path, strict=True, trust_weights=True)
    assert report.ok
    assert len(report.matched) == len(fresh.state_dict())
    assert not report.resized
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), source(x), rtol=0, atol=0)
    assert "OK" in report.format()


def test_mismatching_file_lists_names(exported: tuple[Glonet, Path]) -> None:
    _, path = exported
    other = build_glonet(40, "tiny", GRID)
    with pytest.raises(CheckpointIncompatibleError) as info:
        import_torchscript(other, path, strict=True, trust_weights=True)
    message = str(info.value)
    assert str(path) in message
    assert "jump.maps.enc.0.conv.conv.weight" in message
    assert "space.NO.patch_embed.projection.weight" in message
    before = other.state_dict()["maps.enc.0.conv.conv.weight"].clone()
    report = import_torchscript(other, path, strict=False, trust_weights=True)
    assert not report.ok
    names = [k for k, _, _ in report.shape_mismatch]
    assert "maps.enc.0.conv.conv.weight" in names
    assert torch.equal(other.state_dict()["maps.enc.0.conv.conv.weight"], before)
    text = report.format()
    assert "shape mismatch" in text and "INCOMPLETE" in text


def test_other_grid_resizes_pos_embed(
    exported: tuple[Glonet, Path], tiny: Callable[..., Glonet]
) -> None:
    source, path = exported
    target = tiny(5, (64, 40))
    report = import_torchscript(target, path, strict=True, source_grid=GRID, trust_weights=True)
    assert report.ok
    assert [k for k, _, _ in report.resized] == [POS_EMBED_KEY]
    assert report.resized[0][1:] == ((1, 4 * 6, 32), (1, 8 * 5, 32))
    assert "resized" in report.format()
    # Without source_grid the patch grid is guessed from the token count and our aspect.
    guessed = import_torchscript(tiny(5, (64, 96)), path, trust_weights=True)
    assert guessed.resized and any("guessed" in n for n in guessed.notes)
    with torch.no_grad():
        assert torch.isfinite(target(torch.randn(1, 2, 5, 64, 40))).all()
    torch.testing.assert_close(
        target.state_dict()["dynamics.blocks.1.filter.w1"],
        source.state_dict()["dynamics.blocks.1.filter.w1"],
    )


def test_missing_and_invalid_files(tmp_path: Path, tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    with pytest.raises(CheckpointNotFoundError):
        import_torchscript(model, tmp_path / "nope.pt", trust_weights=True)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip archive at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        import_torchscript(model, junk, trust_weights=True)
    plain = tmp_path / "plain.pt"
    torch.save(model.state_dict(), plain)
    with pytest.raises(CheckpointError, match=r"plain\.pt"):
        import_torchscript(model, plain, trust_weights=True)


def test_describe_torchscript(exported: tuple[Glonet, Path]) -> None:
    _, path = exported
    text = describe_torchscript(path, trust_weights=True)
    assert "0: Glonet" in text and "1: SelectiveFilterLayer" in text
    assert "0.space.NO.blks.0.filter.w1 [2, 2, 16, 16] float32" in text
    assert "def forward" in text
    assert "AdativeFourierNeuralOperator" in text


def test_strip_prefix() -> None:
    t = torch.zeros(1)
    assert list(strip_prefix({"0.a": t, "1.b": t})) == ["a", "1.b"]
    assert list(strip_prefix({"a": t})) == ["a"]


def test_published_names() -> None:
    assert PUBLISHED_WEIGHTS == {
        "surface": "glonet_p1.pt",
        "intermediate": "glonet_p2.pt",
        "deep": "glonet_p3.pt",
    }
    surface = normalisation_assets("surface")
    assert list(surface) == ["zos@L0", "thetao@L0", "so@L0", "uo@L0", "vo@L0"]
    assert surface["zos@L0"] == ("L0/zos_mean.npy", "L0/zos_std.npy")
    deep = normalisation_assets("deep")
    assert len(deep) == 40 and next(iter(deep)) == "thetao@L902"
    with pytest.raises(ValueError, match="unknown depth group"):
        normalisation_assets("abyss")


def test_fetch_published_weights_uses_asset_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, bool | None]] = []

    class FakeRegistry:
        def fetch(
            self, name: str, offline: bool | None = None, allow_unverified: bool = False
        ) -> Path:
            calls.append((name, offline))
            return tmp_path / name

    fake = types.ModuleType("glonet_regions.data.assets")
    fake.GLONET_ASSETS = FakeRegistry()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "glonet_regions.data.assets", fake)
    assert fetch_published_weights("deep", offline=True) == tmp_path / "glonet_p3.pt"
    assert calls == [("glonet_p3.pt", True)]
    with pytest.raises(ValueError):
        fetch_published_weights("nowhere")
