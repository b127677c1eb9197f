"""The ibi36 plugin: its data, its entry point, the contract, and a real IBI file."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

ibi36 = pytest.importorskip(
    "glonet_regions_ibi36.plugin",
    reason="ibi36 plugin not installed: pip install -e plugins/glonet-regions-ibi36 --no-deps",
)

from glonet_regions import GLONET_LEVELS, get_registry  # noqa: E402
from glonet_regions.core.errors import GridMismatchError  # noqa: E402
from glonet_regions.testing import RegionContract  # noqa: E402
from glonet_regions.testing.real_data import real_data_dir  # noqa: E402

REAL = real_data_dir()  # the offline mirror, the asset cache or the files' origins
FINISTERRE = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"


class TestIbi36Contract(RegionContract):
    region_name = "ibi36"


@pytest.fixture(scope="module")
def region():
    return ibi36.load_region()


def test_registered_through_its_entry_point() -> None:
    reg = get_registry()
    infos = {p.name: p for p in reg.plugin_infos()}
    assert infos["ibi36"].distribution == "glonet-regions-ibi36"
    assert reg.get_region("ibi36").plugin == "ibi36"


def test_both_grid_versions(region) -> None:
    v1, v2 = region.grid_version("v1"), region.grid_version("v2")
    assert v1.grid.shape == (1081, 865) and v2.grid.shape == (1078, 871)
    assert v1.grid.lon[-1] == pytest.approx(5.0) and v1.grid.lat[-1] == pytest.approx(56.0)
    assert v2.grid.lon[0] == pytest.approx(-19.0828) and v2.grid.lat[0] == pytest.approx(26.1654)
    assert v2.tolerance_deg == 1e-4 and v1.tolerance_deg is None
    assert region.resolution_deg == pytest.approx(1 / 36)


def test_native_levels_hold_glonet_levels(region) -> None:
    native = region.native_levels
    assert len(native) == 50 and native[0] == 0.494025 and native[49] == 5727.917
    mapping = region.extra["glonet_level_native_index"]
    assert len(mapping) == len(GLONET_LEVELS)
    assert mapping == [native.index_of(level) for level in GLONET_LEVELS]


def test_datasets_and_boundaries(region) -> None:
    ids = {d.key: (d.product_id, d.dataset_id) for d in region.datasets}
    assert ids["reanalysis-temp"] == (
        "IBI_MULTIYEAR_PHY_005_002", "cmems_mod_ibi_phy-temp_my_0.027deg_P1D-m"
    )  # fmt: skip
    assert ids["anfc-2d"][1] == "cmems_mod_ibi_phy_anfc_0.027deg-2D_P1D-m"
    assert region.dataset("glorys12").kind == "global"
    assert region.open_boundaries.source == "glorys12"
    assert set(region.open_boundaries.edges) == {"west", "north", "south", "east"}
    assert region.evaluation_box.as_list() == [-19.08, 5.08, 26.17, 56.08]
    assert region.splits.split_of(datetime.date(2022, 6, 1)) == "test"


def test_evaluation_hook_adds_subregions_for_ibi36_only(region) -> None:
    reg = get_registry()
    subs, _ = reg.evaluation_extras("ibi36")
    assert [s.name for s in subs] == list(ibi36.SUBREGIONS)
    for s in subs:
        assert region.bbox.intersection(s.bbox) is not None
    from glonet_regions.testing import make_dummy_region

    assert reg.evaluation_extras(make_dummy_region()) == ([], [])


@pytest.fixture(scope="module")
def finisterre():
    if not FINISTERRE.exists():
        pytest.skip(f"real data folder missing: {FINISTERRE}")
    import xarray as xr

    with xr.open_dataset(FINISTERRE) as ds:
        return ds.load()


def test_real_ibi_file_lies_on_grid_v1_thinned_by_3(region, finisterre) -> None:
    match = region.match_dataset_grid(finisterre, source=FINISTERRE.name)
    assert match.version.name == "v1"
    assert match.stride == (3, 3)
    assert match.index.lon[0] == 313 and match.index.lat[0] == 634


def test_real_ibi_file_shifted_by_half_a_cell_is_rejected(region, finisterre) -> None:
    half = region.resolution_deg / 2
    shifted = finisterre.assign_coords(
        longitude=finisterre.longitude + np.float32(half),
        latitude=finisterre.latitude + np.float32(half),
    )
    with pytest.raises(GridMismatchError, match="none of region 'ibi36'"):
        region.match_dataset_grid(shifted, source="shifted copy")
