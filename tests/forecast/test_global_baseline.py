"""The evaluation's global model baseline is the global forecast known at the start date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import Grid
from glonet_regions.evaluation.baselines import global_forecast_baseline

from .conftest import global_cube


def test_same_start_and_lead_day_from_the_run_issued_before() -> None:
    coarse = Grid.regular(lon0=-20.0, lat0=30.0, dlon=2.0, dlat=2.0, nlon=12, nlat=10)
    fine = Grid.regular(lon0=-15.0, lat0=34.0, dlon=0.5, dlat=0.5, nlon=9, nlat=7)
    runs = [dt.date(2020, 1, 25), dt.date(2020, 1, 28)]
    cube = global_cube(coarse, runs, 6)
    out = global_forecast_baseline(cube, fine, [dt.date(2020, 1, 27), dt.date(2020, 1, 28)], 3)
    assert out["zos"].shape == (2, 3, *fine.shape)
    np.testing.assert_allclose(out["latitude"].values, fine.lat)
    # Start 27th: run 25th at leads 2, 3, 4. Start 28th: its own run at leads 0, 1, 2.
    np.testing.assert_allclose(out["zos"].values[0, :, 3, 4], [102, 103, 104])
    np.testing.assert_allclose(out["zos"].values[1, :, 3, 4], [200, 201, 202])
    assert "run issued on or before the start" in out.attrs["description"]
    with pytest.raises(DataError, match=r"no run issued on or before 2020-01-24"):
        global_forecast_baseline(cube, fine, [dt.date(2020, 1, 24)], 3)
    with pytest.raises(DataError, match=r"needs leads 3\.\.6"):
        global_forecast_baseline(cube, fine, [dt.date(2020, 1, 31)], 4)
