"""``data plan``: figures from the region declaration and a calibration, clear date errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.data.plan import Calibration, calibrate, format_plan, plan_store

CAL = Calibration(
    grid_shape=(10, 10), n_days=4, seconds=0.4, data_ratio=4.0, boundary_ratio=2.0,
    peak_bytes=4_000_000, storage_dtype="float32", machine="test",
)  # fmt: skip


def test_plan_figures_scale_with_days_channels_and_zone(region) -> None:  # type: ignore[no-untyped-def]
    p = plan_store(region, calibration=CAL)
    assert p.start == region.splits.train.start and p.n_days == 41
    zone = int(region.open_boundaries.zone_mask(region.grid.shape).sum())
    assert p.zone_cells == zone
    want = 41 * (5 + 40 + 40) * 12 * 16 * 4
    assert p.store["data_raw"] == pytest.approx(want)
    assert p.store["boundary_raw"] == pytest.approx(want * zone / (12 * 16))
    assert p.store["disk"] == pytest.approx(want / 4 + p.store["boundary_raw"] / 2)
    assert p.preparation["one_worker"] == pytest.approx(0.4 / 400 * 192 * 41)
    one = plan_store(region, groups=["surface"], storage_dtype="int16", calibration=CAL)
    assert one.store["data_raw"] == pytest.approx(41 * 5 * 192 * 2)
    text = format_plan(p)
    assert "surface: 5 channels" in text and "on disk" in text
    json.dumps(p.to_dict())


def test_plan_refuses_dates_outside_splits_and_datasets(region) -> None:  # type: ignore[no-untyped-def]
    start = region.splits.train.start
    with pytest.raises(DataError, match="outside region tiny's splits"):
        plan_store(region, start=start - dt.timedelta(days=1), calibration=CAL)
    with pytest.raises(DataError, match="no day of region tiny's training split"):
        plan_store(region, start=region.splits.test.start, calibration=CAL)
    with pytest.raises(ValidationError, match="Unknown depth group"):
        plan_store(region, groups=["abyss"], calibration=CAL)
    covered = dataclasses.replace(
        region,
        extra={"dataset_coverage": {"reanalysis": [str(start + dt.timedelta(days=3)), None]}},
    )
    with pytest.raises(DataError, match="outside dataset reanalysis"):
        plan_store(covered, calibration=CAL)


def test_calibration_measures_a_tiny_store(region) -> None:  # type: ignore[no-untyped-def]
    cal = calibrate(region, shape=(8, 10), n_days=2)
    assert cal.grid_shape == (8, 10) and cal.seconds > 0 and cal.peak_bytes > 0
    assert cal.data_ratio > 1 and cal.boundary_ratio > 0


def test_cli_plan_names_the_bad_dates() -> None:
    res = CliRunner().invoke(main, ["data", "plan", "ibi36", "--start", "1980-01-01"])
    assert res.exit_code != 0
    assert "1980-01-01" in res.output and "splits" in res.output
    res = CliRunner().invoke(main, ["data", "plan", "ibi36", "--end", "2031-01-01"])
    assert res.exit_code != 0 and "2031-01-01" in res.output
