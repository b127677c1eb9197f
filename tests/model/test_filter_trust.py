"""TorchScript trust boundary and the published filter module (kept, checked, applied)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import Tensor, nn

from glonet_regions.cli import main
from glonet_regions.data.assets import GLONET_ASSETS, file_sha256
from glonet_regions.model.network import Glonet
from glonet_regions.model.weights import (
    FilteredGlonet,
    UntrustedWeightsError,
    check_filter,
    import_torchscript,
    load_torchscript,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_weights import GRID


class SelectiveFilterLayer(nn.Module):
    """A stand-in with a constant attribute, to check it is printed and applied as scripted."""

    def __init__(self) -> None:
        super().__init__()
        self.limit: float = 0.5

    def forward(self, x: Tensor) -> Tensor:
        return torch.clamp(x, -self.limit, self.limit)


class OtherFilter(SelectiveFilterLayer):
    pass


def _script(model: nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        torch.jit.script(model).save(str(path))
    return path


@pytest.fixture(scope="module")
def source(exported: tuple[Glonet, Path]) -> Glonet:
    return exported[0]


@pytest.fixture(scope="module")
def files(
    exported: tuple[Glonet, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("filters")
    # The traced network of the shared export (tracing again would cost ~20 s on CI).
    traced = dict(load_torchscript(exported[1], trust_weights=True).named_children())["0"]
    return {
        "published": _script(nn.Sequential(traced, SelectiveFilterLayer()), d / "pub.pt"),
        "other": _script(nn.Sequential(traced, OtherFilter()), d / "other.pt"),
        "bare": _script(traced, d / "bare.pt"),
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_unpinned_archive_needs_trust(files: dict[str, Path], cache: Path) -> None:
    with pytest.raises(UntrustedWeightsError, match=r"runs code.*--trust-weights"):
        load_torchscript(files["published"])
    assert load_torchscript(files["published"], trust_weights=True) is not None


def test_pinned_file_loads_without_asking(
    files: dict[str, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user pin (what `model fetch --trust-weights` records) counts as pinned.
    monkeypatch.setattr(GLONET_ASSETS, "_hashes", dict(GLONET_ASSETS._hashes))
    (cache / "assets" / "glonet").mkdir(parents=True)
    (cache / "assets" / "glonet" / "pinned.txt").write_text(
        f"glonet_p1.pt {file_sha256(files['published'])}\n"
    )
    assert load_torchscript(files["published"]) is not None
    with pytest.raises(UntrustedWeightsError):
        load_torchscript(files["other"])


def test_filter_is_kept_and_applied_as_scripted(
    files: dict[str, Path], source: Glonet, tiny: Callable[..., Glonet]
) -> None:
    net = tiny(5, GRID)
    report = import_torchscript(net, files["published"], strict=True, trust_weights=True)
    assert report.filter_check is not None and report.filter_check.applied
    assert report.filter_check.attrs() == {"glonet_filter": "applied"}
    full = FilteredGlonet(net.eval(), report.filter)
    scripted = load_torchscript(files["published"], trust_weights=True)
    x = torch.randn(1, 2, 5, *GRID)
    with torch.no_grad():
        torch.testing.assert_close(full(x), scripted(x), rtol=0, atol=0)
        assert float(full(x).abs().max()) <= 0.5


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("other", "OtherFilter, not the published SelectiveFilterLayer"), ("bare", "no filter")],
)
def test_absent_or_different_filter_warns(
    files: dict[str, Path], tiny: Callable[..., Glonet], kind: str, reason: str
) -> None:
    with pytest.warns(UserWarning, match="filter layer is not applied") as record:
        report = import_torchscript(tiny(5, GRID), files[kind], trust_weights=True)
    assert reason in str(record[0].message)
    assert report.filter is None and report.filter_check is not None
    assert report.filter_check.attrs()["glonet_filter"].startswith("not applied: ")
    assert reason in report.format()


def test_check_filter_counts_tensors() -> None:
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mask", torch.ones(3))

        def forward(self, x: Tensor) -> Tensor:
            return x * self.mask

    Holder.__name__ = "SelectiveFilterLayer"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        scripted = torch.jit.script(nn.Sequential(nn.Identity(), Holder()))
    check = check_filter(scripted)
    assert not check.applied and "holds 1 tensors" in check.reason


def test_cli_inspect_refuses_then_prints_the_filter(files: dict[str, Path], cache: Path) -> None:
    refused = CliRunner().invoke(main, ["model", "inspect", str(files["published"])])
    assert refused.exit_code == 1
    assert "runs code" in refused.output and "--trust-weights" in refused.output
    result = CliRunner().invoke(
        main, ["model", "inspect", str(files["published"]), "--trust-weights"]
    )
    assert result.exit_code == 0, result.output
    assert "filter module: SelectiveFilterLayer" in result.output
    assert "clamp" in result.output
    assert "limit = 0.5" in result.output


def test_shared_export_has_the_filter(exported: tuple[Glonet, Path]) -> None:
    assert check_filter(load_torchscript(exported[1], trust_weights=True)).applied
