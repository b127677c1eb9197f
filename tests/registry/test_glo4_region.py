"""glo4: GLONET's global 1/4 degree grid declared as a region file, no code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.registry.facade import get_region


def test_glo4_is_glonets_grid_with_no_open_boundary() -> None:
    region = get_region("glo4")
    grid = region.grid
    assert grid.shape == (672, 1440)
    assert (grid.lat[0], grid.lat[-1]) == (-78.0, 89.75)
    assert (grid.lon[0], grid.lon[-1]) == (-180.0, 179.75)
    assert region.depth.levels.values == GLONET_LEVELS.values
    assert region.depth.group_names == ("surface", "intermediate", "deep")
    assert region.open_boundaries.edges == ()
    assert region.open_boundaries.provider == "none"
    ids = {d.dataset_id for d in region.datasets}
    assert "cmems_mod_glo_phy-thetao_anfc_0.083deg_P1D-m" in ids
    assert "cmems_mod_glo_phy_my_0.083deg_P1D-m" in ids
    assert region.plugin == "builtin-core"


@pytest.mark.slow
def test_glo4_sample_is_global_and_in_range(tmp_path: Path) -> None:
    from glonet_regions.sample.generate import generate_sample

    info = generate_sample(get_region("glo4"), tmp_path, n_days=4, stride=48)
    assert info.grid.shape == (14, 30)
    assert info.global_grid is not None and info.global_grid.same_as(info.grid)
    with xr.open_dataset(info.regional_files[0]) as ds:
        t = ds["thetao"].values
        assert np.nanmin(t) >= -3.0 and np.nanmax(t) <= 40.0
        assert np.isfinite(ds["uo"].values).any()
        assert ds["time"].values[0].astype("datetime64[D]") == np.datetime64(dt.date(2021, 1, 1))
