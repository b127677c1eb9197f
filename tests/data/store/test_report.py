"""``data report`` on a store of the embedded sample: HTML, JSON, warnings, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.core.errors import StoreError
from glonet_regions.data.report import _mhw, compute_report, open_complete

sample_mod = pytest.importorskip("glonet_regions.sample.generate")


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from glonet_regions.data.canonical_source import CanonicalSource
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.store import Layout
    from glonet_regions.registry.facade import get_region

    region = get_region("ibi36")
    out = tmp_path_factory.mktemp("report")
    info = sample_mod.generate_sample(region, out / "sample", variant="demo", n_days=24, stride=36)
    src = CanonicalSource.from_files(region, info.regional_files, info.global_files)
    prepare_store(out / "s.zarr", src, region=region, splits=info.splits, layout=Layout(8, 8),
                  workers=2)  # fmt: skip
    return out / "s.zarr"


def test_cli_report_writes_html_and_json(sample_store: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["data", "report", str(sample_store), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "index.html").read_text()
    assert "data:image/png;base64," in page and "Seasonal cycle" in page
    summ = json.loads((tmp_path / "summary.json").read_text())
    assert summ["days_per_split"] == {"train": 18, "validation": 3, "test": 3}
    assert {"iberian_upwelling", "canary", "whole_grid"} <= set(summ["zones"])
    assert set(summ["extremes"]["coastal_upwelling"]) == {"iberian_upwelling", "canary"}
    row = summ["distributions"]["thetao@0.494m"]["whole_grid"]
    assert len(row["quantiles"]["train"]) == len(summ["quantile_levels"])
    assert row["vs_train"]["test"]["wasserstein"] >= 0
    assert summ["quality"]["nan_in_ocean"]["zos"] == 0 and summ["quality"]["gaps"] == []
    assert summ["seasonal_cycle"]["train"]["months"] == [1]


def test_report_refuses_an_incomplete_store(sample_store: Path, tmp_path: Path) -> None:
    import shutil

    import zarr

    from glonet_regions.data.store import PROGRESS, ROOT_ATTR

    broken = tmp_path / "b.zarr"
    shutil.copytree(sample_store, broken)
    root = zarr.open_group(str(broken), mode="r+")
    root[f"{PROGRESS}/done"][1] = 0
    root.attrs[ROOT_ATTR] = {**root.attrs[ROOT_ATTR], "complete": False}
    with pytest.raises(StoreError, match=r"work chunks 1 of 3 are missing"):
        open_complete(broken)
    res = CliRunner().invoke(main, ["data", "report", str(broken), "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "work chunks 1 of 3" in res.output


def test_heat_waves_need_five_hot_days_in_a_row() -> None:
    days = np.arange(3 * 365, dtype=np.int64) + 18262
    rng = np.random.default_rng(1)
    sst = 15 + 3 * np.sin(2 * np.pi * days / 365.25) + 0.1 * rng.standard_normal(days.size)
    train = days < days[0] + 2 * 365
    sst[800:806] += 5.0  # 6 hot days: a heat wave
    sst[820:823] += 5.0  # 3 hot days: not one
    hot = _mhw(sst, days, train)
    assert hot[800:806].all() and not hot[820:823].any()
    assert hot[~train].mean() < 0.05


def test_report_upwelling_index_reacts_to_a_cold_coast(sample_store: Path) -> None:
    from glonet_regions.core.grid import BBox
    from glonet_regions.core.region import SubRegion

    box = SubRegion("all", "all", BBox(-19.0, 5.0, 26.0, 56.0))
    data = compute_report(sample_store, subregions=[box], upwelling=["all", "nowhere"])
    assert set(data.summary["extremes"]["coastal_upwelling"]) == {"all"}
    assert data.summary["notes"] == ["upwelling sub-region 'nowhere' is not on the store grid"]
