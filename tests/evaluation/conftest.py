"""Shared fixtures: the dummy region behind a registry, synthetic daily truth files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from glonet_regions.core.region import Region
from glonet_regions.registry import facade
from glonet_regions.registry.manager import make_plugin_manager
from glonet_regions.testing.dummy import DummyPlugin, make_dummy_region
from glonet_regions.testing.real_data import real_data_dir
from glonet_regions.testing.synthetic import synthetic_daily

REAL = real_data_dir()  # the offline mirror, the asset cache or the files' origins
IBI_FILE = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"


@pytest.fixture
def dummy_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[facade.Registry]:
    """The process-wide registry replaced by one holding only the dummy plugin."""
    reg = facade.Registry(make_plugin_manager(entry_points=[], plugins=[("dummy", DummyPlugin())]))
    monkeypatch.setattr(facade, "_REGISTRY", reg)
    yield reg


@pytest.fixture
def region() -> Region:
    return make_dummy_region()


@pytest.fixture
def truth_file(tmp_path: Path, region: Region) -> Path:
    path = tmp_path / "truth.nc"
    synthetic_daily(region.grid).to_netcdf(path)
    return path
