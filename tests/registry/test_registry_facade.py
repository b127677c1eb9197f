"""The registry facade: provenance, duplicates, unknown names, lazy components, folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from registry_test_helpers import dummy_file_text

from glonet_regions import hookimpl
from glonet_regions.core.errors import (
    DuplicateNameError,
    RegistryError,
    UnknownNameError,
)
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import SubRegion
from glonet_regions.registry import builtin, facade
from glonet_regions.registry.facade import Registry
from glonet_regions.registry.manager import BUILTIN_ENTRY_POINTS, make_plugin_manager
from glonet_regions.testing import DummyPlugin, make_dummy_region


def _registry(*plugins: tuple[str, object], environ: dict[str, str] | None = None,
              dirs: tuple[Path, ...] = ()) -> Registry:  # fmt: skip
    """Built-ins (through the same loader) plus the given plugin objects, nothing installed."""
    from importlib.metadata import EntryPoint

    eps = [EntryPoint(n, v, "glonet_regions") for n, v in BUILTIN_ENTRY_POINTS]
    pm = make_plugin_manager(eps, plugins=plugins, block=())
    return Registry(pm, environ=environ or {}, extra_region_dirs=dirs)


class _Sources:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def register_sources(self, register):
        for n in self.names:
            register(n, lambda **kw: ("made", kw))


def test_builtin_names_are_registered_without_importing_them() -> None:
    reg = _registry()
    assert reg.names("source") == ["copernicusmarine", "local"]
    assert reg.names("regridder") == ["builtin", "weights-file", "xesmf"]
    assert reg.names("boundary provider") == ["none", "relaxation", "strip"]
    assert reg.names("metric") == ["acc", "bias", "rmsd", "rmse"]
    assert reg.component("metric", "rmsd").options == {"convention": "oceanbench"}
    assert reg.component("source", "copernicusmarine").target == builtin.SOURCES["copernicusmarine"]
    assert all(c.is_lazy for c in reg.components("regridder").values())
    assert [t for t, _ in reg.asset_entries()] == [builtin.ASSETS]
    assert reg.component("source", "local").provider.plugin == "builtin-core"


def test_lazy_import_string_resolved_on_first_use(tmp_path, monkeypatch) -> None:
    (tmp_path / "glonet_lazy_target_mod.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Lazy:
        @hookimpl
        def register_regridders(self, register):
            register("lazy", "glonet_lazy_target_mod:Thing")

    reg = _registry(("lazy", Lazy()))
    assert "lazy" in reg.names("regridder")
    assert "glonet_lazy_target_mod" not in sys.modules  # nothing imported at registration
    try:
        assert reg.get_regridder("lazy").__name__ == "Thing"
    finally:
        sys.modules.pop("glonet_lazy_target_mod", None)


def test_bad_import_string_fails_on_use_naming_it() -> None:
    class Broken:
        @hookimpl
        def register_metrics(self, register):
            register("nope", "glonet_no_such_module_abc:fn")

    reg = _registry(("broken", Broken()))
    with pytest.raises(RegistryError, match=r"metric 'nope'.*'broken'.*glonet_no_such_module_abc"):
        reg.get_metric("nope")


def test_callable_factory_is_returned_as_is() -> None:
    reg = _registry(("mine", _Sources("mine")))
    assert reg.get_source("mine")(a=1) == ("made", {"a": 1})


def test_unknown_name_lists_known_names_sorted() -> None:
    reg = _registry(("dummy", DummyPlugin()))
    with pytest.raises(UnknownNameError, match=r"Unknown region 'atlantis'; .*: dummy, glo4$"):
        reg.get_region("atlantis")
    with pytest.raises(UnknownNameError, match=r"copernicusmarine, local"):
        reg.get_source("ftp")


def test_duplicate_region_from_two_plugins_names_both() -> None:
    reg = _registry(("first", DummyPlugin()), ("second", DummyPlugin()))
    with pytest.raises(DuplicateNameError, match=r"'dummy'.*'first'.*'second'"):
        reg.region_names()


def test_duplicate_source_from_two_plugins_names_both() -> None:
    reg = _registry(("one", _Sources("shared")), ("two", _Sources("shared")))
    with pytest.raises(DuplicateNameError, match=r"'shared'.*'one'.*'two'"):
        reg.names("source")


def test_builtin_name_clash_names_builtin_plugin() -> None:
    reg = _registry(("mine", _Sources("local")))
    with pytest.raises(DuplicateNameError, match=r"'builtin-core'.*'mine'"):
        reg.names("source")


def test_region_records_its_plugin() -> None:
    reg = _registry(("dummy-plugin", DummyPlugin()))
    assert reg.get_region("dummy").plugin == "dummy-plugin"
    assert reg.region_provider("dummy").plugin == "dummy-plugin"
    assert make_dummy_region().plugin is None  # the original object is untouched


def test_registering_a_non_region_fails_naming_plugin() -> None:
    class Wrong:
        @hookimpl
        def register_regions(self, register):
            register({"name": "x"})

    with pytest.raises(RegistryError, match=r"'wrong'.*dict"):
        _registry(("wrong", Wrong())).region_names()


def test_plugin_error_in_hook_is_wrapped_naming_plugin() -> None:
    class Crashes:
        @hookimpl
        def register_regions(self, register):
            raise ZeroDivisionError("oops")

    with pytest.raises(RegistryError, match=r"'crashes' failed in hook register_regions"):
        _registry(("crashes", Crashes())).region_names()


def test_evaluation_extras_only_for_the_plugin_region() -> None:
    reg = _registry(("dummy", DummyPlugin()), ("other", DummyPlugin("other")))
    subs, diags = reg.evaluation_extras("dummy")
    assert [s.name for s in subs] == ["east"] and diags == []
    extended = reg.get_region("dummy").with_subregions(subs)
    assert [s.name for s in extended.subregions] == ["west", "east"]


def test_evaluation_diagnostics_and_duplicate_subregions() -> None:
    def fn(ds):
        return ds

    class Extra:
        @hookimpl
        def register_evaluation(self, region, register):
            register(diagnostic=("identity", fn))
            register(subregion=SubRegion("west", "Clash", BBox(-20.0, -10.0, 30.0, 40.0)))

    reg = _registry(("dummy", DummyPlugin()), ("extra", Extra()))
    with pytest.raises(DuplicateNameError, match=r"'west'.*region itself.*'extra'"):
        reg.evaluation_extras("dummy")


def test_plugin_infos_list_name_distribution_version_hooks() -> None:
    infos = {p.name: p for p in _registry(("dummy", DummyPlugin())).plugin_infos()}
    assert infos["dummy"].hooks == ("register_evaluation", "register_regions")
    assert infos["dummy"].distribution is None
    assert infos["builtin-core"].to_dict()["distribution"] == "glonet-regions"


def test_regions_path_env_adds_a_folder(tmp_path) -> None:
    (tmp_path / "filed.yaml").write_text(dummy_file_text())
    reg = _registry(environ={"GLONET_REGIONS_PATH": f"{tmp_path}:"})
    region = reg.get_region("filed")
    assert region.plugin == "GLONET_REGIONS_PATH"
    assert reg.region_provider("filed").origin == tmp_path / "filed.yaml"


def test_missing_folder_in_regions_path_is_an_error(tmp_path) -> None:
    reg = _registry(environ={"GLONET_REGIONS_PATH": str(tmp_path / "nowhere")})
    with pytest.raises(Exception, match=r"nowhere.*does not exist"):
        reg.region_names()


def test_extra_region_dirs_through_the_global_facade(tmp_path) -> None:
    (tmp_path / "filed.toml").write_text(
        'schema_version = 1\nname = "tomled"\nbbox = [0.0, 10.0, 40.0, 48.0]\n'
        'resolution_deg = 1\n[grid]\nversions = [{name = "a", lon0 = 0.0, lat0 = 40.0, '
        "nlon = 11, nlat = 9}]\n[splits]\ntrain = [2000-01-01, 2000-12-31]\n"
        "validation = [2001-01-01, 2001-06-30]\ntest = [2001-07-01, 2001-12-31]\n"
        '[open_boundaries]\nedges = ["west"]\nwidth = 2\n'
    )
    facade.set_extra_region_dirs([tmp_path])
    assert "tomled" in facade.region_names()
    assert facade.get_region("tomled").plugin == "--regions-dir"
    facade.set_extra_region_dirs(())
    assert "tomled" not in facade.region_names()


def test_file_region_clashing_with_code_region_names_both(tmp_path) -> None:
    (tmp_path / "dummy.yaml").write_text(dummy_file_text("dummy"))
    reg = _registry(("dummy-plugin", DummyPlugin()), dirs=(tmp_path,))
    with pytest.raises(DuplicateNameError, match=r"'dummy'.*dummy.yaml.*'dummy-plugin'"):
        reg.region_names()


def test_file_referring_to_a_missing_region_is_skipped_with_reason(tmp_path) -> None:
    text = dummy_file_text("child", grid="grid: {from_region: ghost}", resolution_deg="")
    (tmp_path / "child.yaml").write_text(text)
    reg = _registry(dirs=(tmp_path,))
    assert "child" not in reg.region_names()
    assert "ghost" in reg.skipped_regions["child"]
    with pytest.raises(UnknownNameError, match=r"'child' is not available.*'ghost'"):
        reg.get_region("child")


def test_file_region_can_build_on_a_code_region(tmp_path) -> None:
    text = (
        dummy_file_text(
            "dummy-west",
            bbox="bbox: [-20.0, -10.0, 30.0, 40.0]",
            grid="grid: {from_region: dummy}",
            resolution_deg="",
            open_boundaries="open_boundaries: {edges: [west], width: 1, source: boundary}",
        )
        + "datasets_from: dummy\n"
    )
    (tmp_path / "west.yaml").write_text(text)
    reg = _registry(("dummy", DummyPlugin()), dirs=(tmp_path,))
    west, dummy = reg.get_region("dummy-west"), reg.get_region("dummy")
    assert west.grid.shape == (6, 6)
    assert dummy.grid.locate(west.grid.lat, west.grid.lon).stride == (1, 1)
    assert [d.key for d in west.datasets] == [d.key for d in dummy.datasets]
