"""The plugin manager: entry points, broken and blocked plugins, unknown hooks, built-ins."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from registry_test_helpers import GOOD_PLUGIN

from glonet_regions.core.errors import RegistryError
from glonet_regions.registry import manager
from glonet_regions.registry.facade import Registry
from glonet_regions.registry.manager import (
    BUILTIN_ENTRY_POINTS,
    ENTRY_POINT_GROUP,
    PluginLoadWarning,
    make_plugin_manager,
)


def _builtins() -> list[EntryPoint]:
    return [EntryPoint(n, v, ENTRY_POINT_GROUP) for n, v in BUILTIN_ENTRY_POINTS]


def test_good_plugin_loads_from_an_entry_point(plugin_module) -> None:
    ep = plugin_module(GOOD_PLUGIN, "good")
    pm = make_plugin_manager([*_builtins(), ep], block=())
    assert pm.has_plugin("good")
    reg = Registry(pm, environ={})
    assert reg.get_region("good").plugin == "good"
    assert "good-source" in reg.names("source")


def test_broken_plugin_warns_naming_it_and_others_still_load(plugin_module) -> None:
    good = plugin_module(GOOD_PLUGIN, "good")
    broken = plugin_module("import glonet_no_such_module_xyz\n", "broken")
    with pytest.warns(PluginLoadWarning) as record:
        pm = make_plugin_manager([broken, good], block=())
    message = str(record[0].message)
    assert "'broken'" in message
    assert "glonet_no_such_module_xyz" in message  # the error itself
    assert "distribution" in message
    assert pm.has_plugin("good") and not pm.has_plugin("broken")


def test_plugin_raising_at_import_warns(plugin_module) -> None:
    bad = plugin_module("raise RuntimeError('boom at import')\n", "explodes")
    with pytest.warns(PluginLoadWarning, match=r"explodes.*RuntimeError: boom at import"):
        make_plugin_manager([bad], block=())


def test_blocked_plugin_is_not_loaded(plugin_module) -> None:
    # A blocked plugin's module is never imported, so even a broken one gives no warning.
    broken = plugin_module("raise ImportError('must not be imported')\n", "blocked-one")
    good = plugin_module(GOOD_PLUGIN, "good")
    pm = make_plugin_manager([broken, good], block=["blocked-one"])
    assert pm.is_blocked("blocked-one")
    assert pm.has_plugin("good")
    assert [p.name for p in Registry(pm, environ={}).plugin_infos()] == ["good"]


def test_block_list_is_read_from_the_environment(plugin_module, monkeypatch) -> None:
    good = plugin_module(GOOD_PLUGIN, "good")
    other = plugin_module(GOOD_PLUGIN.replace('"good"', '"other"'), "other")
    monkeypatch.setenv("GLONET_REGIONS_BLOCK_PLUGINS", " good , unrelated")
    pm = make_plugin_manager([good, other])
    assert pm.is_blocked("good") and pm.has_plugin("other")


def test_unknown_hook_fails_naming_plugin_and_hook(plugin_module) -> None:
    ep = plugin_module(
        """
        from glonet_regions import hookimpl

        @hookimpl
        def register_regoins(register):
            pass
        """,
        "typo",
    )
    with pytest.raises(RegistryError, match=r"'register_regoins' in plugin 'typo'"):
        make_plugin_manager([ep], block=())


def test_hookimpl_with_unknown_argument_fails_clearly(plugin_module) -> None:
    ep = plugin_module(
        """
        from glonet_regions import hookimpl

        @hookimpl
        def register_regions(register, colour):
            pass
        """,
        "badargs",
    )
    with pytest.raises(RegistryError, match=r"(?s)'badargs'.*colour"):
        make_plugin_manager([ep], block=())


def test_same_name_from_two_entry_points_warns(plugin_module) -> None:
    first = plugin_module(GOOD_PLUGIN, "same")
    second = plugin_module(GOOD_PLUGIN, "same")
    with pytest.warns(PluginLoadWarning, match=r"already loaded"):
        pm = make_plugin_manager([first, second], block=())
    assert pm.has_plugin("same")


def test_builtins_come_from_our_distribution_metadata() -> None:
    pm = make_plugin_manager(block=())
    for name, _ in BUILTIN_ENTRY_POINTS:
        assert pm.has_plugin(name)
        assert pm.source_of(name).distribution == "glonet-regions"


def test_source_tree_fallback_registers_builtins(monkeypatch) -> None:
    """Without our metadata (a source tree), the built-ins load through the same function."""
    monkeypatch.setattr(manager, "entry_points", lambda group: [])
    loaded: list[str] = []
    real = manager.load_entry_point

    def spy(pm, ep, *, blocked):
        loaded.append(ep.name)
        real(pm, ep, blocked=blocked)

    monkeypatch.setattr(manager, "load_entry_point", spy)
    pm = make_plugin_manager(block=())
    assert loaded == [name for name, _ in BUILTIN_ENTRY_POINTS]
    assert pm.has_plugin("builtin-core")
    infos = {p.name: p for p in Registry(pm, environ={}).plugin_infos()}
    assert infos["builtin-core"].distribution == "glonet-regions"
    assert infos["builtin-core"].version is not None
