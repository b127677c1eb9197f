"""Shared fixtures of the model tests: tiny GLONET networks on small grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from glonet_regions.model.network import Glonet, build_glonet


@pytest.fixture(autouse=True)
def _seed_and_threads() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)


@pytest.fixture
def tiny() -> Callable[..., Glonet]:
    """Factory ``tiny(channels=5, grid=(32, 48), **overrides)`` of tiny networks in eval mode."""

    def make(channels: int = 5, grid: tuple[int, int] = (32, 48), **overrides: Any) -> Glonet:
        return build_glonet(channels, "tiny", grid, **overrides).eval()

    return make


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Glonet, Path]:
    """A tiny surface network and its ``Sequential(net, filter)`` TorchScript file (traced once)."""
    from test_weights import export_torchscript

    torch.manual_seed(123)
    model = build_glonet(5, "tiny", (32, 48)).eval()
    path = export_torchscript(model, tmp_path_factory.mktemp("ts") / "glonet_p1.pt")
    return model, path
