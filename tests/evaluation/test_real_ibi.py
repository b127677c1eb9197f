"""A genuine CMEMS IBI file through the scorer: day 1 persisted from day 0 against day 1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import UnknownNameError
from glonet_regions.core.region import Region
from glonet_regions.evaluation.pipeline import evaluate_forecast
from glonet_regions.forecast.runner import persistence_cube
from glonet_regions.forecast.sources import FileSource

IBI = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "real"
    / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
)
pytestmark = pytest.mark.skipif(not IBI.is_file(), reason=f"real data file {IBI} is missing")


def _ibi36() -> Region:
    from glonet_regions.registry.facade import get_region

    try:
        return get_region("ibi36")
    except UnknownNameError:
        pytest.skip("the ibi36 plugin is not installed")


def test_persistence_on_real_ibi_file() -> None:
    region = _ibi36()
    src = FileSource(IBI, splits=region.splits)
    start = dt.date(2022, 2, 7)
    cube = persistence_cube(src, [start], 1, region=region)
    assert cube.attrs["model"] == "persistence"
    res = evaluate_forecast(region, cube, src, depths=[0.494, 47.37, 92.33, 541.09])
    df = res.scores
    assert set(df.model) == {"persistence"}  # no training days in the file: no climatology
    assert any("climatology" in n for n in res.notes)
    raw = xr.open_dataset(IBI)
    for var, depth in (("thetao", 0), ("so", 0), ("uo", 21), ("zos", None)):
        da = raw[var] if depth is None else raw[var].isel(depth=depth)
        err = (da.isel(time=0) - da.isel(time=1)).values  # forecast (day 0) - truth (day 1)
        ok = np.isfinite(err)
        sel = df[(df.variable == var) & (df.subregion == "region") & (df.lead_day == 1)]
        if depth is not None:
            sel = sel[np.isclose(sel.depth, float(raw.depth[depth]), atol=0.01)]
        w = np.broadcast_to(np.cos(np.deg2rad(raw.latitude.values))[:, None], err.shape)
        rmsd = float(sel[sel.metric == "rmsd"].value.iloc[0])  # OceanBench: cos(lat)-weighted
        assert rmsd == pytest.approx(
            np.sqrt(np.sum(w[ok] * err[ok] ** 2) / np.sum(w[ok])), rel=1e-4
        )
        rmse = float(sel[sel.metric == "rmse"].value.iloc[0])
        expect = np.sqrt(np.sum(w[ok] * err[ok] ** 2) / np.sum(w[ok]))
        assert rmse == pytest.approx(expect, rel=1e-4)
        bias = float(sel[sel.metric == "bias"].value.iloc[0])
        assert bias == pytest.approx(np.sum(w[ok] * err[ok]) / np.sum(w[ok]), rel=1e-3, abs=1e-7)
        assert rmsd > 0
    # The Finisterre window lies deep inside the IBI domain: no cell is in the boundary zone.
    assert res.meta["zones"][0] == "region"


def test_two_training_days_skip_the_climatology_with_a_note() -> None:
    """Both days of the file in the training split: too few for a climatology, one note."""
    import dataclasses

    from glonet_regions.core.region import DateRange, DateSplits
    from glonet_regions.evaluation.climatology import doy_climatology
    from glonet_regions.evaluation.pipeline import MIN_CLIMATOLOGY_DAYS

    region = _ibi36()
    splits = DateSplits(
        train=DateRange(dt.date(2022, 1, 1), dt.date(2022, 2, 7)),
        validation=DateRange(dt.date(2022, 2, 8), dt.date(2022, 2, 9)),
        test=DateRange(dt.date(2022, 2, 10), dt.date(2022, 2, 11)),
    )
    region = dataclasses.replace(region, splits=splits)
    src = FileSource(IBI, splits=splits)
    assert len(src.train_days()) == 2 < MIN_CLIMATOLOGY_DAYS
    cube = persistence_cube(src, [dt.date(2022, 2, 7)], 1, region=region)
    res = evaluate_forecast(region, cube, src, depths=[0.494], lagrangian_particles=0)
    assert not any(str(m).startswith("climatology") for m in res.scores.model)
    assert any("Climatology baseline and ACC skipped" in n and "2 day(s)" in n for n in res.notes)
    # The fit itself no longer fails on two days (it was numpy's "Singular matrix"): the mean.
    clim = doy_climatology(xr.open_dataset(IBI)[["zos"]])
    assert clim.attrs["climatology_harmonics"] == 0
