"""The example plugin package (docs/examples/glonet-regions-example) through its entry point.

CI installs it with ``pip install -e docs/examples/glonet-regions-example --no-deps``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from glonet_regions.registry.facade import Registry
from glonet_regions.registry.manager import make_plugin_manager
from glonet_regions.testing import check_region

_EXAMPLE = [ep for ep in entry_points(group="glonet_regions") if ep.name == "example"]
pytestmark = pytest.mark.skipif(
    not _EXAMPLE,
    reason="example plugin not installed: pip install -e docs/examples/glonet-regions-example "
    "--no-deps",
)


def test_example_is_discovered_through_its_entry_point() -> None:
    (ep,) = _EXAMPLE
    assert ep.value == "glonet_regions_example.plugin"
    assert ep.dist is not None and ep.dist.name == "glonet-regions-example"
    reg = Registry(make_plugin_manager(block=()), environ={})
    infos = {p.name: p for p in reg.plugin_infos()}
    assert infos["example"].distribution == "glonet-regions-example"
    assert infos["example"].hooks == ("register_region_paths", "register_regions")
    north_sea = reg.get_region("northsea12")
    assert north_sea.plugin == "example" and north_sea.grid.shape == (109, 169)
    skagerrak = reg.get_region("skagerrak12")  # the declarative one, from the package folder
    assert skagerrak.plugin == "example"
    assert reg.region_provider("skagerrak12").origin is not None
    assert north_sea.grid.locate(skagerrak.grid.lat, skagerrak.grid.lon).stride == (1, 1)
    check_region(north_sea, reg)
    check_region(skagerrak, reg)


def test_example_can_be_blocked() -> None:
    reg = Registry(make_plugin_manager(block=["example"]), environ={})
    assert "northsea12" not in reg.region_names()
    assert "skagerrak12" not in reg.region_names()
