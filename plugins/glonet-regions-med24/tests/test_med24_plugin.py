"""The med24 plugin: its data, its entry point, the contract, its own boundary provider."""

from __future__ import annotations

import numpy as np
import pytest

med24 = pytest.importorskip(
    "glonet_regions_med24.plugin",
    reason="med24 plugin not installed: pip install -e plugins/glonet-regions-med24 --no-deps",
)

from glonet_regions import get_registry  # noqa: E402
from glonet_regions.testing import RegionContract  # noqa: E402


class TestMed24Contract(RegionContract):
    region_name = "med24"


@pytest.fixture(scope="module")
def region():
    return med24.load_region()


def test_registered_through_its_entry_point() -> None:
    reg = get_registry()
    infos = {p.name: p for p in reg.plugin_infos()}
    assert infos["med24"].distribution == "glonet-regions-med24"
    assert reg.get_region("med24").plugin == "med24"
    assert reg.component("boundary provider", "atlantic-sponge").provider.plugin == "med24"


def test_grid_is_the_products_1_24_grid(region) -> None:
    grid = region.grid
    assert grid.shape == (380, 1307) and region.resolution_deg == pytest.approx(1 / 24)
    assert grid.lon[0] == pytest.approx(-18.125)
    assert grid.lon[-1] == pytest.approx(36.2917, abs=1e-4)
    assert grid.lat[0] == pytest.approx(30.1875)
    assert grid.lat[-1] == pytest.approx(45.9792, abs=1e-4)
    # The demo sample (every 12th node) is no larger than ibi36's (73 x 91).
    assert grid.isel(slice(None, None, 12), slice(None, None, 12)).size <= 73 * 91


def test_datasets_and_the_atlantic_edge(region) -> None:
    ids = {d.key: (d.product_id, d.dataset_id) for d in region.datasets}
    assert ids["reanalysis-tem"] == (
        "MEDSEA_MULTIYEAR_PHY_006_004", "cmems_mod_med_phy-tem_my_4.2km_P1D-m"
    )  # fmt: skip
    assert ids["anfc-cur"][0] == "MEDSEA_ANALYSISFORECAST_PHY_006_013"
    ob = region.open_boundaries
    assert ob.edges == ("west",) and ob.provider == "atlantic-sponge" and ob.source == "glorys12"
    assert region.dataset("glorys12").kind == "global"
    assert region.native_levels is None  # the 141 levels come from the files


def test_sponge_is_linear_on_the_west_edge_only() -> None:
    from glonet_regions.boundary.providers import make_boundary_provider

    sponge = make_boundary_provider("atlantic-sponge", ("west",), 4)
    w = sponge.weights((3, 8))
    np.testing.assert_allclose(w[1], [1.0, 0.75, 0.5, 0.25, 0, 0, 0, 0])
    assert (w == w[0]).all()
    assert sponge.to_dict() == {"provider": "atlantic-sponge", "width": 4, "edges": ["west"]}


def test_subregions_only_for_med24(region) -> None:
    from glonet_regions.testing import make_dummy_region

    subs, _ = get_registry().evaluation_extras(region)
    assert {s.name for s in subs} >= set(med24.SUBREGIONS)
    for sub in subs:
        region.grid.index_box(sub.bbox)  # every box holds grid cells
    seen: list[object] = []
    med24.register_evaluation(make_dummy_region(), lambda **kw: seen.append(kw))
    assert seen == []
