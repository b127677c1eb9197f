"""Shared fixtures of the model tests: tiny GLONET networks on small grids."""

from __future__ import annotations

from collections.abc import Callable
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
