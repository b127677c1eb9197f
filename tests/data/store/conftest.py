"""Fixtures of the store tests: a tiny region and small stores built from a synthetic source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_helpers import START, tiny_region

from glonet_regions.core.region import Region
from glonet_regions.data.prepare import PrepareResult, prepare_store
from glonet_regions.data.prepare_source import SyntheticSource
from glonet_regions.data.store import Layout


@pytest.fixture
def region() -> Region:
    return tiny_region()


@pytest.fixture
def source(region: Region) -> SyntheticSource:
    return SyntheticSource(region.grid, START, 32)


@pytest.fixture
def build(tmp_path: Path, region: Region) -> Callable[..., tuple[Path, PrepareResult]]:
    """``build(source=None, name="s.zarr", chunk_days=4, shard_days=2, **kw)``."""

    def make(
        src: SyntheticSource | None = None,
        name: str = "s.zarr",
        chunk_days: int = 4,
        shard_days: int = 2,
        **kwargs: Any,
    ) -> tuple[Path, PrepareResult]:
        src = src or SyntheticSource(region.grid, START, 32)
        out = tmp_path / name
        kwargs.setdefault("workers", 2)
        res = prepare_store(
            out, src, region=region, layout=Layout(chunk_days, shard_days), **kwargs
        )
        return out, res

    return make
