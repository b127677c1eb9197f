"""Metrics against hand-computed values, in both conventions."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.evaluation.metrics import (
    acc,
    bias,
    missing_fraction,
    rmsd_oceanbench,
    rmse,
)

LAT = np.array([0.0, 30.0, 60.0])
LON = np.array([0.0, 1.0])


def field(values: np.ndarray, dates: int | None = None) -> xr.DataArray:
    dims: tuple[str, ...] = ("latitude", "longitude")
    coords: dict[str, object] = {"latitude": LAT, "longitude": LON}
    if dates is not None:
        dims = ("first_day_datetime", *dims)
        coords["first_day_datetime"] = np.arange(dates).astype("datetime64[D]")
    return xr.DataArray(values, dims=dims, coords=coords)


def test_constant_error_gives_that_error() -> None:
    truth = field(np.random.default_rng(0).normal(size=(3, 2)))
    fc = truth + 0.25
    w = np.cos(np.deg2rad(LAT))[:, None] * np.ones((1, 2))
    assert float(rmse(fc, truth, w)) == pytest.approx(0.25)
    assert float(rmsd_oceanbench(fc, truth)) == pytest.approx(0.25)
    assert float(bias(fc, truth, w)) == pytest.approx(0.25)
    assert float(bias(truth - 0.5, truth, None)) == pytest.approx(-0.5)


def test_area_weights_matter_for_error_varying_with_latitude() -> None:
    truth = field(np.zeros((3, 2)))
    err = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    fc = truth + err
    cos = np.cos(np.deg2rad(LAT))
    w = np.repeat(cos[:, None], 2, axis=1)
    expected_w = np.sqrt(np.sum(cos * np.array([1, 4, 9])) / cos.sum())
    expected_u = np.sqrt((1 + 4 + 9) / 3)
    assert float(rmse(fc, truth, w)) == pytest.approx(expected_w)
    assert float(rmse(fc, truth, None)) == pytest.approx(expected_u)
    # OceanBench 0.4-0.6 weights its RMSD by cos(latitude) too.
    assert float(rmsd_oceanbench(fc, truth)) == pytest.approx(expected_w)
    assert float(rmsd_oceanbench(fc, truth, np.ones((3, 2)))) == pytest.approx(expected_u)
    assert expected_w != pytest.approx(expected_u)
    # Grid.area_weights (cell areas) agree with cos-lat on a regular grid up to normalisation.
    g = Grid.regular(lon0=0, lat0=0, dlon=1, dlat=30, nlon=2, nlat=3)
    assert float(rmse(fc, truth, g.area_weights())) == pytest.approx(
        np.sqrt(np.sum(g.cell_area()[:, 0] * [1, 4, 9]) / g.cell_area()[:, 0].sum())
    )


def test_nan_cells_are_left_out_and_weights_renormalised() -> None:
    truth = field(np.zeros((3, 2)))
    fc = field(np.array([[1.0, np.nan], [1.0, 1.0], [np.nan, np.nan]]))
    w = np.array([[1.0, 100.0], [2.0, 3.0], [5.0, 5.0]])
    assert float(rmse(fc, truth, w)) == pytest.approx(1.0)
    assert float(bias(fc, truth, w)) == pytest.approx(1.0)


def test_oceanbench_and_weatherbench_average_in_different_orders() -> None:
    truth = field(np.zeros((2, 3, 2)), dates=2)
    fc = truth.copy()
    fc[0] = 1.0  # date 1: error 1 everywhere
    fc[1] = 3.0  # date 2: error 3 everywhere
    # OceanBench: mean of per-date RMSD = (1 + 3) / 2 = 2.
    assert float(rmsd_oceanbench(fc, truth)) == pytest.approx(2.0)
    # WeatherBench-2: sqrt of the mean of MSE = sqrt((1 + 9) / 2) = sqrt(5).
    assert float(rmse(fc, truth, None)) == pytest.approx(np.sqrt(5.0))


def test_acc_perfect_and_opposite_anomalies() -> None:
    rng = np.random.default_rng(1)
    clim = field(rng.normal(size=(2, 3, 2)), dates=2)
    anomaly = field(rng.normal(size=(2, 3, 2)), dates=2)
    truth = clim + anomaly
    w = np.ones((3, 2))
    assert float(acc(truth, truth, clim, w)) == pytest.approx(1.0)
    assert float(acc(clim + 3.0 * anomaly, truth, clim, w)) == pytest.approx(1.0)
    assert float(acc(clim - anomaly, truth, clim, w)) == pytest.approx(-1.0)


def test_acc_hand_value_with_weights() -> None:
    clim = field(np.zeros((3, 2)))
    obs = field(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    fc = field(np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]))
    w = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]])
    num = 1 * 1 + 1 * 1  # cells (0,0) and (2,0)
    den = np.sqrt((1 + 1 + 1) * (1 + 2 + 1 + 1))
    assert float(acc(fc, obs, clim, w)) == pytest.approx(num / den)


def test_metrics_keep_other_dims() -> None:
    data = np.zeros((2, 4, 3, 2))
    truth = xr.DataArray(
        data,
        dims=("first_day_datetime", "lead_day_index", "latitude", "longitude"),
        coords={"latitude": LAT, "longitude": LON},
    )
    fc = truth + np.arange(4)[None, :, None, None]
    out = rmse(fc, truth, np.ones((3, 2)))
    assert out.dims == ("lead_day_index",)
    np.testing.assert_allclose(out.values, [0, 1, 2, 3])


def test_bad_weights_raise() -> None:
    truth = field(np.zeros((3, 2)))
    with pytest.raises(ValidationError, match="Weights of shape"):
        rmse(truth, truth, np.ones((2, 2)))
    with pytest.raises(ValidationError, match="must be an xarray"):
        rmse(np.zeros((3, 2)), truth, None)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=30)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=6, max_size=6),
    st.floats(0.1, 10),
)
def test_rmse_properties(errors: list[float], scale: float) -> None:
    truth = field(np.zeros((3, 2)))
    fc = field(np.asarray(errors).reshape(3, 2))
    w = np.random.default_rng(0).uniform(0.5, 2, size=(3, 2))
    r = float(rmse(fc, truth, w))
    # Scaling the weights changes nothing; RMSE >= |bias|; scaling the error scales RMSE.
    assert r == pytest.approx(float(rmse(fc, truth, w * scale)), abs=1e-12)
    assert r + 1e-12 >= abs(float(bias(fc, truth, w)))
    assert float(rmse(fc * scale, truth, w)) == pytest.approx(r * scale, abs=1e-9)


def test_oceanbench_rmsd_by_hand_sqrt_per_date_then_mean() -> None:
    """OceanBench: sqrt(sum(cos(lat) e^2) / sum(cos(lat))) per date, then the date mean."""
    truth = field(np.zeros((2, 3, 2)), dates=2)
    err = np.zeros((2, 3, 2))
    err[0] = [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]  # date 1: error grows with latitude
    err[1] = 2.0  # date 2: 2 everywhere
    cos = np.cos(np.deg2rad(LAT))  # 1, 0.8660, 0.5
    date1 = np.sqrt((1 * cos[0] + 4 * cos[1] + 9 * cos[2]) / cos.sum())  # = 1.94645
    expected = (date1 + 2.0) / 2
    assert float(rmsd_oceanbench(truth + err, truth)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.973226, rel=1e-6)
    # WeatherBench-2's RMSE takes the root after the date mean: not the same number.
    w = np.broadcast_to(cos[:, None], (3, 2))
    wb2 = np.sqrt((date1**2 + 4.0) / 2)
    assert float(rmse(truth + err, truth, w)) == pytest.approx(wb2, rel=1e-12)
    assert abs(wb2 - expected) > 1e-4


def test_missing_fraction_by_hand() -> None:
    """Share of the truth's valid cells, weighted by cos(latitude), where the forecast is NaN."""
    truth = field(np.array([[0.0, 0.0], [0.0, 0.0], [np.nan, 0.0]]))  # 5 scorable cells
    fc = field(np.array([[np.nan, 1.0], [1.0, np.nan], [np.nan, 1.0]]))  # 2 of them missing
    cos = np.cos(np.deg2rad(LAT))
    expected = (cos[0] + cos[1]) / (2 * cos[0] + 2 * cos[1] + cos[2])
    assert float(missing_fraction(fc, truth)) == pytest.approx(expected, rel=1e-12)
    # NaN over land (truth NaN) is not missing; the RMSD skips the missing cells.
    assert float(missing_fraction(truth + 1.0, truth)) == 0.0
    assert float(rmsd_oceanbench(fc, truth)) == pytest.approx(1.0)


def test_agrees_with_oceanbench_0_6_1_on_its_own_output() -> None:
    """Numbers printed by oceanbench 0.6.1's own ``oceanbench.core.rmsd._rmsd`` and
    ``_missing_ocean_fraction`` (Python 3.13, the package's modules imported from its wheel)
    on these arrays, with an all-ocean mask; see docs/reference/scores.md."""
    nd, nl, ny, nx = 2, 3, 5, 4
    lat = np.array([28.0, 36.0, 44.0, 52.0, 60.0])
    lon = np.array([-12.0, -8.0, -4.0, 0.0])
    i, j, k, col = np.meshgrid(
        np.arange(nd), np.arange(nl), np.arange(ny), np.arange(nx), indexing="ij"
    )
    ref = 10.0 + np.sin(i + 2 * j + 0.7 * k + 0.3 * col)
    fc = ref + (1.0 + k) * np.cos(3 * i + j + 0.5 * col) * 0.1 * (1 + j)
    ref[:, :, 0, 0] = np.nan
    fc[:, :, 0, 0] = np.nan
    fc[0, 1, 3, 2] = np.nan
    fc[1, 2, 4, :] = np.nan
    dims = ("first_day_datetime", "lead_day_index", "latitude", "longitude")
    coords = {
        "first_day_datetime": np.array(["2024-01-03", "2024-01-10"], dtype="datetime64[ns]"),
        "lead_day_index": np.arange(nl),
        "latitude": lat,
        "longitude": lon,
    }
    f = xr.DataArray(fc, dims=dims, coords=coords)
    r = xr.DataArray(ref, dims=dims, coords=coords)
    oceanbench_rmsd = [0.23246516464521877, 0.3269934014842799, 0.7038260167527715]
    oceanbench_missing = 0.03296380739791577  # one number: the mean over lead days
    np.testing.assert_allclose(rmsd_oceanbench(f, r).values, oceanbench_rmsd, rtol=1e-13)
    per_lead = missing_fraction(f, r).values
    assert float(per_lead.mean()) == pytest.approx(oceanbench_missing, rel=1e-13)
