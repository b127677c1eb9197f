"""A region file loaded inside ``register_regions`` resolves its references without recursion.

``load_region_file(path)`` used to look references up in the process-wide registry, which
was still being built by that very hook: a file with ``grid.from_region`` recursed until
RecursionError. The hook's ``resolve`` argument is now passed in explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from registry_test_helpers import dummy_file_text

from glonet_regions.core.errors import ConfigError, RegistryError
from glonet_regions.registry import facade, manager
from glonet_regions.registry.manager import BUILTIN_ENTRY_POINTS, ENTRY_POINT_GROUP

PARENT = """
    from glonet_regions import hookimpl
    from glonet_regions.testing import make_dummy_region

    @hookimpl
    def register_regions(register):
        register(make_dummy_region("parent"))
"""

# The how-to's pattern: a file built on another plugin's region, loaded in register_regions.
CHILD = """
    from glonet_regions import hookimpl, load_region_file

    @hookimpl
    def register_regions(register, resolve):
        register(load_region_file({path!r}, resolve={resolve}))
"""


def _child_file(tmp_path: Path) -> Path:
    path = tmp_path / "child.yaml"
    path.write_text(
        dummy_file_text(
            "child",
            bbox="bbox: [-16.0, -8.0, 34.0, 42.0]",
            grid="grid: {from_region: parent}",
            resolution_deg="",
        )
    )
    return path


def _use(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    builtins = [EntryPoint(n, v, ENTRY_POINT_GROUP) for n, v in BUILTIN_ENTRY_POINTS]
    monkeypatch.setattr(manager, "discover_entry_points", lambda: [*eps, *builtins])
    facade.reset_registry()


def test_file_with_from_region_loads_inside_register_regions(
    plugin_module: Callable[..., EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = plugin_module(CHILD.format(path=str(_child_file(tmp_path)), resolve="resolve"))
    # The child's plugin comes first: the registry calls it again once 'parent' is registered.
    _use(monkeypatch, child, plugin_module(PARENT))
    region = facade.get_region("child")
    assert region.grid.shape == (5, 5) and region.plugin == child.name
    assert facade.get_region("parent").plugin != child.name


def test_without_a_resolver_the_error_is_clear_not_a_recursion(
    plugin_module: Callable[..., EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = plugin_module(CHILD.format(path=str(_child_file(tmp_path)), resolve=None))
    _use(monkeypatch, plugin_module(PARENT), child)
    with pytest.raises(ConfigError, match=r"child\.yaml.*grid\.from_region.*no resolver"):
        facade.get_region("parent")


def test_a_region_no_plugin_registers_is_named(
    plugin_module: Callable[..., EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, plugin_module(CHILD.format(path=str(_child_file(tmp_path)),
                                                 resolve="resolve")))  # fmt: skip
    with pytest.raises(ConfigError, match=r"cannot resolve region 'parent'.*known regions"):
        facade.region_names()


def test_two_plugins_resolving_each_other_are_a_clear_error(
    plugin_module: Callable[..., EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        from glonet_regions import hookimpl

        @hookimpl
        def register_regions(register, resolve):
            resolve({other!r})
    """
    _use(monkeypatch, plugin_module(source.format(other="b"), "a"),
         plugin_module(source.format(other="a"), "b"))  # fmt: skip
    with pytest.raises(RegistryError, match=r"plugin 'a'.*'b'.*plugin 'b'.*'a'.*cycle"):
        facade.region_names()
