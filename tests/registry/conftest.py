"""Fixtures for registry tests: throw-away plugin modules and a clean global registry."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from glonet_regions.registry import facade
from glonet_regions.registry.manager import ENTRY_POINT_GROUP

_COUNTER = itertools.count()


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends with no cached registry, no extra dirs and no env overrides."""
    monkeypatch.delenv("GLONET_REGIONS_PATH", raising=False)
    monkeypatch.delenv("GLONET_REGIONS_BLOCK_PLUGINS", raising=False)
    facade.set_extra_region_dirs(())
    yield
    facade.set_extra_region_dirs(())


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], EntryPoint]:
    """Write a module from source text and return an EntryPoint for it (real importlib type)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def make(source: str, ep_name: str | None = None) -> EntryPoint:
        module = f"glonet_test_plugin_{next(_COUNTER)}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        names.append(module)
        return EntryPoint(name=ep_name or module, value=module, group=ENTRY_POINT_GROUP)

    yield make  # type: ignore[misc]
    for module in names:
        sys.modules.pop(module, None)
