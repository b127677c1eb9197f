"""Fixtures of the engine tests (fakes live in engine_fakes.py)."""

from __future__ import annotations

import pytest
from engine_fakes import H, W  # type: ignore[import-not-found]

from glonet_regions.boundary import RelaxationBoundary
from glonet_regions.core.grid import Grid


@pytest.fixture
def grid() -> Grid:
    return Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=W, nlat=H)


@pytest.fixture
def provider() -> RelaxationBoundary:
    return RelaxationBoundary(["west", "south"], 2)
