"""The scorer on synthetic cubes: known errors, boundary zone, sub-regions, baselines, hooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.region import Region
from glonet_regions.evaluation.pipeline import evaluate_forecast
from glonet_regions.evaluation.report import skill_table, write_report
from glonet_regions.evaluation.scoring import interior_mask
from glonet_regions.forecast.align import daily_to_cube, open_daily
from glonet_regions.forecast.runner import persistence_cube
from glonet_regions.forecast.sources import FileSource


def dates(*items: str) -> list[dt.date]:
    return [dt.date.fromisoformat(s) for s in items]


def _truth_cube(path: Path, starts: list, n: int) -> xr.Dataset:
    return daily_to_cube(open_daily(path), starts, n)


def test_constant_error_scores_and_zone_exclusion(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    starts = dates("2020-01-28", "2020-01-30")
    cube = _truth_cube(truth_file, starts, 4)
    fc = cube + 0.5
    # A huge error inside the open-boundary zone (west/south, 2 cells) does not count in our
    # own (interior) rows, and counts in OceanBench's (whole box) rows.
    zone = ~interior_mask(region, region.grid)
    fc["thetao"] = fc["thetao"].where(~xr.DataArray(zone, dims=("latitude", "longitude")), 99.0)
    fc.attrs["model"] = "mymodel"
    res = evaluate_forecast(region, fc, FileSource(truth_file, splits=region.splits))
    df = res.scores
    sel = df[(df.model == "mymodel") & (df.variable == "thetao") & (df.subregion == "region")]
    rmse = sel[sel.metric == "rmse"]
    np.testing.assert_allclose(rmse.value, 0.5, rtol=1e-5)
    assert set(rmse.area) == {"interior"}
    rmsd = sel[sel.metric == "rmsd"]
    assert set(rmsd.area) == {"box"} and (rmsd.value > 5.0).all()
    assert set(sel.depth.round(2)) == {0.49, 47.37, 92.33}  # 10 m is not an OceanBench depth
    bias = sel[sel.metric == "bias"]
    np.testing.assert_allclose(bias.value, 0.5, rtol=1e-5)
    # Conventions are labelled; sub-regions from the region and from the plugin hook.
    assert set(df.convention) == {"oceanbench", "weatherbench2"}
    assert {"region", "west", "east"} <= set(df.subregion)
    assert {"mymodel", "persistence"} <= set(df.model)
    assert any(m.startswith("climatology (") and "training days" in m for m in df.model)
    assert {"rmsd", "rmse", "bias", "acc"} <= set(df.metric)
    assert sorted(df.lead_day.unique()) == [1, 2, 3, 4]
    # zos has no depth; diagnostics are scored like variables.
    assert df[df.variable == "zos"].depth.isna().all()
    assert {"ugos", "vgos", "mld"} <= set(df.variable)


def test_persistence_baseline_and_skill(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    src = FileSource(truth_file, splits=region.splits)
    starts = dates("2020-01-28")
    truth = _truth_cube(truth_file, starts, 3)
    res = evaluate_forecast(region, truth.assign_attrs(model="perfect"), src, lead_days=[1, 3])
    df = res.scores
    perfect = df[(df.model == "perfect") & (df.metric == "rmse")]
    assert np.allclose(perfect.value, 0.0, atol=1e-6)
    acc = df[(df.model == "perfect") & (df.metric == "acc") & (df.variable == "thetao")]
    np.testing.assert_allclose(acc.value, 1.0, atol=1e-6)
    assert sorted(df.lead_day.unique()) == [1, 3]
    table = skill_table(df, "perfect")
    np.testing.assert_allclose(table.to_numpy(dtype=float)[np.isfinite(table.to_numpy(float))], 1.0)
    # The persistence rows equal a persistence cube scored by hand: OceanBench's RMSD over the
    # whole box (open-boundary zone included), cos(latitude)-weighted.
    pers = persistence_cube(src, starts, 3)
    err = (pers["zos"] - truth["zos"]).isel(lead_day_index=2)
    box = region.evaluation_box or region.bbox
    lat_sl, lon_sl = region.grid.index_box(box)
    e = err.values[0][lat_sl, lon_sl]
    w = np.broadcast_to(np.cos(np.deg2rad(region.grid.lat[lat_sl]))[:, None], e.shape)
    ok = np.isfinite(e)
    row = df[
        (df.model == "persistence")
        & (df.variable == "zos")
        & (df.metric == "rmsd")
        & (df.subregion == "region")
        & (df.lead_day == 3)
    ]
    expect = np.sqrt(np.sum(w[ok] * e[ok] ** 2) / np.sum(w[ok]))
    assert float(row.value.iloc[0]) == pytest.approx(expect, rel=1e-5)


def test_report_files(
    dummy_registry: object, region: Region, truth_file: Path, tmp_path: Path
) -> None:
    src = FileSource(truth_file, splits=region.splits)
    fc = _truth_cube(truth_file, dates("2020-01-28"), 3) + 0.1
    res = evaluate_forecast(region, fc, src, depths=[0.494])
    paths = write_report(res, tmp_path / "rep")
    html = Path(paths["html"]).read_text()
    assert "data:image/png;base64," in html and "<script" not in html and "http" not in html
    assert (tmp_path / "rep" / "scorecard.png").is_file()
    import json

    rows = json.loads(Path(paths["json"]).read_text())["rows"]
    assert len(rows) == len(res.scores)
    assert set(rows[0]) >= {
        "model",
        "variable",
        "depth",
        "lead_day",
        "metric",
        "convention",
        "subregion",
        "area",
        "value",
        "missing_fraction",
        "boundary_mode",
    }
    assert "Headline" in html and "Boundary mode" in html


def test_missing_truth_days_raise(dummy_registry: object, region: Region, truth_file: Path) -> None:
    src = FileSource(truth_file, splits=region.splits)
    fc = _truth_cube(truth_file, dates("2020-02-10"), 1)
    late = fc.assign_coords(first_day_datetime=np.array(["2020-03-01"], dtype="datetime64[ns]"))
    with pytest.raises(DataError, match="no data for"):
        evaluate_forecast(region, late, src)


def test_rows_use_the_truth_levels_whatever_the_forecast_depth_dtype(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    """A reference stored with float32 depths (0.49399999) is scored at the truth's levels, so
    one depth holds every model (a split once drew each level's plot twice)."""
    starts = dates("2020-01-28")
    cube = _truth_cube(truth_file, starts, 2)
    fc = (cube + 0.5).assign_attrs(model="mymodel")
    ref = (cube + 0.25).assign_coords(depth=cube["depth"].values.astype(np.float32))
    res = evaluate_forecast(
        region, fc, FileSource(truth_file, splits=region.splits), references={"ref": ref}
    )
    df = res.scores
    truth_levels = {float(d) for d in cube["depth"].values}
    for model in ("mymodel", "ref"):
        got = set(df[(df.model == model) & (df.variable == "thetao")].depth)
        assert got <= truth_levels, (model, got)
