"""What each row says: boundary mode, persistence groups, missing fraction, headline tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from glonet_regions.core.region import Region
from glonet_regions.evaluation.headline import headline_leads, headlines, headlines_text
from glonet_regions.evaluation.labels import (
    PERSISTENCE_GROUP_LABEL,
    boundary_info,
    climatology_label,
)
from glonet_regions.evaluation.pipeline import evaluate_forecast
from glonet_regions.evaluation.report import _html, skill_table, write_scores
from glonet_regions.evaluation.scoring import interior_mask
from glonet_regions.forecast.align import daily_to_cube, open_daily
from glonet_regions.forecast.sources import FileSource

START = [dt.date(2020, 1, 28)]


def _cube(truth_file: Path, n: int = 3) -> xr.Dataset:
    return daily_to_cube(open_daily(truth_file), START, n)


def test_persistence_groups_are_labelled_and_left_out_of_the_scorecard(
    dummy_registry: object, region: Region, truth_file: Path, tmp_path: Path
) -> None:
    truth = _cube(truth_file, 2)
    fc = (truth + 0.5).assign_attrs(
        model="mymodel",
        boundary_mode="reanalysis",
        boundary_mode_description="idealised: perfect boundaries (the reanalysis)",
        depth_groups_model="surface",
        depth_groups_persistence="intermediate,deep",
    )
    src = FileSource(truth_file, splits=region.splits)
    res = evaluate_forecast(region, fc, src, depths=[0.494, 47.37], lagrangian_particles=0)
    df = res.scores
    mine = df[df.model == "mymodel"]
    pers = df[df.model == PERSISTENCE_GROUP_LABEL]
    # The surface group (zos, and the 4 variables at 0.494 m) is the model's; 47 m
    # belongs to the intermediate group: persistence, never under the model's name.
    assert set(mine[mine.variable == "thetao"].depth.round(2)) == {0.49}
    assert set(pers[pers.variable == "thetao"].depth.round(2)) == {47.37}
    assert "zos" in set(mine.variable) and "zos" not in set(pers.variable)
    assert {"ugos", "vgos"} <= set(mine.variable)  # geostrophic currents follow zos
    # Only the label changes: the rows are still the forecast cube's numbers (truth + 0.5).
    rmse = pers[(pers.metric == "rmse") & (pers.variable == "thetao")]
    np.testing.assert_allclose(rmse.value, 0.5, rtol=1e-5)
    # Boundary mode: a column on the model's rows, and in the meta and the note.
    assert set(mine.boundary_mode) == {"reanalysis"}
    assert set(pers.boundary_mode) == {""}
    assert res.meta["boundary_mode"] == "reanalysis"
    assert "idealised: perfect boundaries" in res.meta["boundary_mode_description"]
    assert res.meta["depth_groups_persistence"] == ["intermediate", "deep"]
    assert any(PERSISTENCE_GROUP_LABEL in n for n in res.notes)
    # The skill scorecard holds the trained rows only (no 0.000 rows of persistence).
    table = skill_table(df, "mymodel")
    assert not any("47.37" in r for r in table.index)
    assert any("0.494" in r for r in table.index)
    # The headline shows the label and says where the forecast is persistence.
    heads = {h.variable: h for h in headlines(df, res.meta)}
    assert PERSISTENCE_GROUP_LABEL in set(heads["thetao"].table.index.get_level_values("model"))
    assert f"is {PERSISTENCE_GROUP_LABEL}" in heads["thetao"].sentence
    page = _html(res, table, {}, list(heads.values()))  # the report's page, without plots
    assert "reanalysis" in page and "idealised: perfect boundaries" in page
    assert PERSISTENCE_GROUP_LABEL in page
    paths = write_scores(res, tmp_path / "rep")
    csv = pd.read_csv(paths["csv"], keep_default_na=False)
    assert PERSISTENCE_GROUP_LABEL in set(csv.model) and "reanalysis" in set(csv.boundary_mode)


def test_a_cube_without_boundary_mode_is_unknown() -> None:
    info = boundary_info({"model": "x"})
    assert info["boundary_mode"] == "unknown" and not info["boundary_known"]
    assert info["depth_groups_persistence"] == []
    info = boundary_info({"boundary_mode": "forecast", "depth_groups_persistence": "none"})
    assert info["boundary_mode"] == "forecast" and info["depth_groups_persistence"] == []


def test_climatology_label_says_what_it_is() -> None:
    harmonic = {"climatology_method": "harmonic fit (annual) of the training split"}
    assert climatology_label({**harmonic, "climatology_n_days": 200}) == (
        "climatology (harmonic fit of 200 training days)"
    )
    doy = {
        "climatology_method": "day-of-year mean (31-day window)",
        "climatology_window_days": 31,
        "climatology_n_days": 9496,
    }
    assert climatology_label(doy) == (
        "climatology (day-of-year mean, 31-day window of 9496 training days)"
    )


def test_missing_forecast_cells_are_counted(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    """NaN forecast cells over ocean are left out of the score and counted in the column."""
    truth = _cube(truth_file, 2)
    fc = (truth + 0.5).assign_attrs(model="holes")
    interior = interior_mask(region, region.grid)
    ocean = np.isfinite(truth["zos"].values[0, 0])
    # Blank the interior's northernmost ocean row at lead day 2 only.
    rows = np.flatnonzero((interior & ocean).any(axis=1))
    hole = np.zeros_like(interior)
    hole[rows[-1]] = interior[rows[-1]] & ocean[rows[-1]]
    zos = fc["zos"].values.copy()
    zos[:, 1][:, hole] = np.nan
    fc["zos"] = (fc["zos"].dims, zos)
    src = FileSource(truth_file, splits=region.splits)
    res = evaluate_forecast(region, fc, src, lagrangian_particles=0, depths=[0.494])
    df = res.scores
    sel = df[(df.model == "holes") & (df.variable == "zos") & (df.subregion == "region")]
    rmse = sel[sel.metric == "rmse"].set_index("lead_day")
    np.testing.assert_allclose(rmse.value, 0.5, rtol=1e-5)  # the holes are not errors
    assert rmse.missing_fraction[1] == 0.0
    w = np.cos(np.deg2rad(region.grid.lat))[:, None] * np.ones(region.grid.shape)
    scorable = interior & ocean
    expect = w[hole].sum() / w[scorable].sum()  # cos(latitude)-weighted share, by hand
    assert rmse.missing_fraction[2] == pytest.approx(expect, rel=1e-9)
    # OceanBench's rows (whole box) count them over the box.
    rmsd = sel[sel.metric == "rmsd"].set_index("lead_day")
    lat_sl, lon_sl = region.grid.index_box(region.evaluation_box or region.bbox)
    box = np.zeros_like(interior)
    box[lat_sl, lon_sl] = True
    assert rmsd.missing_fraction[2] == pytest.approx(w[hole].sum() / w[box & ocean].sum(), rel=1e-9)


def test_headline_tables_mark_the_best_and_compare(
    dummy_registry: object, region: Region, truth_file: Path
) -> None:
    truth = daily_to_cube(open_daily(truth_file), START, 6)
    fc = (truth + 0.1).assign_attrs(model="mine")
    glob = truth + 0.2  # worse everywhere
    phys = truth + 1e-4  # better than every model everywhere
    src = FileSource(truth_file, splits=region.splits)
    res = evaluate_forecast(
        region,
        fc,
        src,
        references={"global forecast": glob, "physical forecast": phys},
        depths=[0.494],
        lagrangian_particles=0,
    )
    res.meta["roles"]["global"] = ["global forecast"]
    res.meta["roles"]["references"] = ["physical forecast"]
    heads = {h.variable: h for h in headlines(res.scores, res.meta)}
    zos = heads["zos"]
    assert list(zos.table.columns) == [1, 5, 6]  # 1, 5 and the last lead day before 10
    best = zos.best.xs("physical forecast", level="model")
    assert best.to_numpy().all()
    assert "beats global forecast at the surface and every lead day" in zos.sentence
    assert "does not beat physical forecast" in zos.sentence
    text = headlines_text(list(heads.values()))
    assert "*" in text and "lead 5" in text
    assert headline_leads(range(1, 11)) == [1, 5, 10]
    assert headline_leads([1, 2]) == [1, 2]


def test_skill_difference_of_two_boundary_modes(
    dummy_registry: object, region: Region, truth_file: Path, tmp_path: Path
) -> None:
    from glonet_regions.core.errors import DataError
    from glonet_regions.evaluation.compare import read_scores, skill_difference

    truth = _cube(truth_file, 2)
    src = FileSource(truth_file, splits=region.splits)
    runs = {}
    for mode, err in (("forecast", 0.3), ("reanalysis", 0.1)):
        fc = (truth + err).assign_attrs(model="mine", boundary_mode=mode)
        runs[mode] = evaluate_forecast(region, fc, src, depths=[0.494], lagrangian_particles=0)
    write_scores(runs["reanalysis"], tmp_path / "ideal")
    other = read_scores(tmp_path / "ideal" / "scores.csv")
    table, title = skill_difference(runs["forecast"].scores, other)
    assert "reanalysis boundaries minus" in title and "forecast boundaries" in title
    assert list(table.columns) == [1, 2] and "zos" in table.index
    assert (table.to_numpy() > 0).all()  # the smaller error of the idealised run is skill
    runs["forecast"].comparison = (table, title)
    page = _html(runs["forecast"], pd.DataFrame(), {})
    assert "What the other run" in page
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"not a scores\.csv"):
        read_scores(tmp_path / "bad.csv")
