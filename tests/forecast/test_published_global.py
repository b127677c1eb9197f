"""GLONET's published global pipeline on synthetic global files and tiny TorchScript models."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.core.errors import AssetError
from glonet_regions.forecast.published_global import (
    PUBLISHED_FILES,
    FilesSource,
    PublishedForecastConfig,
    jit_load,
    operational_input_depths,
    released_statistics,
    run_published_forecast,
    run_published_group,
)
from glonet_regions.model.published import GROUP_LEVEL_DIRS
from glonet_regions.registry.facade import get_region

NLAT, NLON = 6, 10
VARS = ("zos", "thetao", "so", "uo", "vo")
#: The release's 21 level folders in depth order.
LEVEL_DIRS = tuple(d for g in ("surface", "intermediate", "deep") for d in GROUP_LEVEL_DIRS[g])


class _Step(torch.nn.Module):
    """Next two days: a damped swap of the input days plus a channel-dependent offset."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = torch.arange(x.shape[2], dtype=x.dtype, device=x.device)[None, None, :, None, None]
        return 0.5 * x.flip(1) + 0.01 * c + 0.1


class _Clip(torch.nn.Module):
    """Stands for the published filter layer: it must be applied after the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, -3.0, 3.0)


def _write_models(folder: Path) -> None:
    with warnings.catch_warnings():
        # torch.jit is deprecated in torch 2.x, but the published files are TorchScript.
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        scripted = torch.jit.script(torch.nn.Sequential(_Step(), _Clip()))
    for name in PUBLISHED_FILES.values():
        scripted.save(str(folder / name))


def _write_stats(folder: Path) -> dict[tuple[str, str], tuple[float, float]]:
    stats = {}
    for k, level in enumerate(LEVEL_DIRS):
        (folder / level).mkdir(parents=True, exist_ok=True)
        for v, var in enumerate(VARS):
            if var == "zos" and k:
                continue
            mean, std = 1.0 + v + 0.01 * k, 0.5 + 0.1 * v + 0.001 * k
            np.save(folder / level / f"{var}_mean.npy", np.array([mean], dtype=np.float32))
            np.save(folder / level / f"{var}_std.npy", np.array([std], dtype=np.float32))
            stats[(level, var)] = (mean, std)
    return stats


def _write_initial(path: Path, days: list[dt.date]) -> xr.Dataset:
    rng = np.random.default_rng(0)
    lat = -78.0 + 0.25 * np.arange(NLAT)
    lon = -180.0 + 0.25 * np.arange(NLON)
    depth = np.asarray(GLONET_LEVELS.values)
    land = np.zeros((NLAT, NLON), bool)
    land[:2, :3] = True
    shape3 = (len(days), depth.size, NLAT, NLON)
    data: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for v, var in enumerate(VARS):
        if var == "zos":
            arr = rng.normal(0.1, 0.2, (len(days), NLAT, NLON))
            arr[:, land] = np.nan
            data[var] = (("time", "latitude", "longitude"), arr)
        else:
            arr = rng.normal(1.0 + v, 0.5, shape3)
            arr[:, :, land] = np.nan
            data[var] = (("time", "depth", "latitude", "longitude"), arr)
    times = np.array([np.datetime64(f"{d}T12:00") for d in days]).astype("datetime64[ns]")
    ds = xr.Dataset(data, coords={"time": times, "depth": depth, "latitude": lat, "longitude": lon})
    ds.to_netcdf(path)
    return ds


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("published")
    weights = root / "weights"
    weights.mkdir()
    _write_models(weights)
    stats = _write_stats(weights)
    start = dt.date(2024, 3, 10)
    days = [start - dt.timedelta(days=2), start - dt.timedelta(days=1)]
    truth = _write_initial(root / "glo4_init.nc", days)
    return {"weights": weights, "stats": stats, "start": start, "truth": truth,
            "initial": root / "glo4_init.nc"}  # fmt: skip


def _expected(x: np.ndarray, mean: np.ndarray, std: np.ndarray, n_calls: int) -> np.ndarray:
    """The operational loop written out in NumPy."""
    m, s = mean[:, None, None], std[:, None, None]
    mask = np.isfinite(x[1]).astype(np.float32)
    vin = (np.nan_to_num(x) - m) / s
    outs = []
    c = np.arange(x.shape[1], dtype=np.float32)[:, None, None]
    for _ in range(n_calls):
        vin = vin * mask
        out = np.clip(0.5 * vin[::-1] + 0.01 * c + 0.1, -3.0, 3.0)
        outs.append(out)
        vin = out
    phys = np.concatenate(outs) * s + m
    phys[:, mask == 0] = np.nan
    return phys


def test_group_rollout_follows_the_operational_loop(published: dict[str, object]) -> None:
    model = jit_load(Path(str(published["weights"])) / "glonet_p1.pt", "cpu")
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 1.0, (2, 5, NLAT, NLON)).astype(np.float32)
    x[1, :, 0, 0] = np.nan  # land on the second day: masked before every call
    x[0, :, 1, 1] = np.nan  # land only on the first day: 0 in normalised space, not masked
    mean = np.arange(5, dtype=np.float32)
    std = np.full(5, 2.0, np.float32)
    got = run_published_group(model, x, mean, std, 3)
    np.testing.assert_allclose(got, _expected(x, mean, std, 3), rtol=1e-5, atol=1e-5)
    assert np.isnan(got[:, :, 0, 0]).all() and np.isfinite(got[:, :, 1, 1]).all()


def test_statistics_pair_channels_with_level_folders(published: dict[str, object]) -> None:
    stats = published["stats"]
    region = get_region("glo4")
    group = region.depth.group("intermediate")
    mean, std = released_statistics("depth")(
        Path(str(published["weights"])), group, region.depth.levels.values
    )
    assert mean.shape == (40,)
    # channel 0: thetao at 47.37 m (L50); channel 19: so at 763.33 m (L763)
    assert mean[0] == pytest.approx(stats[("L50", "thetao")][0])  # type: ignore[index]
    assert std[19] == pytest.approx(stats[("L763", "so")][1])  # type: ignore[index]


def test_missing_statistics_file_is_named(tmp_path: Path) -> None:
    region = get_region("glo4")
    (tmp_path / "L0").mkdir()
    with pytest.raises(AssetError, match=r"L0/zos_mean.npy is missing"):
        released_statistics("depth")(
            tmp_path, region.depth.group("surface"), region.depth.levels.values
        )


def test_forecast_cube_of_the_three_groups(published: dict[str, object]) -> None:
    region = get_region("glo4")
    start = published["start"]
    assert isinstance(start, dt.date)
    config = PublishedForecastConfig(
        weights_dir=Path(str(published["weights"])), days=5, pairing="depth", trust_weights=True
    )
    source = FilesSource([Path(str(published["initial"]))])
    cube = run_published_forecast(source, region, [start], config)
    assert dict(cube.sizes) == {
        "first_day_datetime": 1, "lead_day_index": 5, "depth": 21,
        "latitude": NLAT, "longitude": NLON,
    }  # fmt: skip
    assert cube.attrs["depth_groups_model"] == "surface,intermediate,deep"
    assert cube.attrs["boundary_mode"] == "none"
    truth = published["truth"]
    assert isinstance(truth, xr.Dataset)
    # deep group, vo at 5274.78 m (its last channel), checked against the NumPy loop
    stats = published["stats"]
    group = region.depth.group("deep")
    x = np.concatenate(
        [truth[v].isel(depth=list(group.level_indices)).values for v in group.variables_3d],
        axis=1,
    ).astype(np.float32)
    mean, std = released_statistics("depth")(
        Path(str(published["weights"])), group, region.depth.levels.values
    )
    assert mean[-1] == pytest.approx(stats[("L5274", "vo")][0])  # type: ignore[index]
    want = _expected(x, mean, std, 3)[:5, -1]
    np.testing.assert_allclose(cube["vo"].values[0, :, 20], want, rtol=1e-5, atol=1e-5)


def test_cli_forecast_with_weights_dir(published: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "glo4_cube.nc"
    args = ["forecast", "glo4", "--weights-dir", str(published["weights"]),
            "--initial", str(published["initial"]), "--start", str(published["start"]),
            "--days", "4", "--out", str(out), "--trust-weights"]  # fmt: skip
    untrusted = CliRunner().invoke(main, args[:-1])
    assert untrusted.exit_code == 1 and "runs code when loaded" in untrusted.output
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as cube:
        assert cube.sizes["lead_day_index"] == 4
        assert "published" in cube.attrs["model"]
        assert np.isnan(cube["thetao"].values[0, 0, 0, 0, 0])  # land stays NaN
    bad = CliRunner().invoke(main, [*args[:4], "--start", "2024-03-10", "--out", str(out)])
    assert bad.exit_code != 0 and "--initial FILE" in bad.output
    ibi = CliRunner().invoke(main, ["forecast", "ibi36", *args[2:]])
    assert ibi.exit_code != 0 and "no open boundaries" in ibi.output


def test_published_pairing_reproduces_the_operational_quirks(
    published: dict[str, object],
) -> None:
    """Statistics folders sorted as strings; the deep input reads 4405 m into the 4833 m channel."""
    region = get_region("glo4")
    group = region.depth.group("deep")
    stats = published["stats"]
    levels = region.depth.levels.values
    read = operational_input_depths(group, levels)
    assert read[8] == pytest.approx(4405.22) and read[7] == pytest.approx(4405.22)
    assert read[9] == pytest.approx(5274.78)
    mean, std = released_statistics("published")(Path(str(published["weights"])), group, levels)
    # channel 0 is thetao at 902 m; sorted as strings, L1245 comes first
    assert mean[0] == pytest.approx(stats[("L1245", "thetao")][0])  # type: ignore[index]
    assert mean[9] == pytest.approx(stats[("L902", "thetao")][0])  # type: ignore[index]
    config = PublishedForecastConfig(
        weights_dir=Path(str(published["weights"])), days=2, groups=("deep",), trust_weights=True
    )
    start = published["start"]
    assert isinstance(start, dt.date)
    cube = run_published_forecast(
        FilesSource([Path(str(published["initial"]))]), region, [start], config
    )
    truth = published["truth"]
    assert isinstance(truth, xr.Dataset)
    # The model's output depends on the channel index: build the thetao channels as read.
    x = truth["thetao"].sel(depth=read, method="nearest").values.astype(np.float32)
    want = _expected(x, mean[:10], std[:10], 1)[:2, 8]
    got = cube["thetao"].values[0, :, 19]  # GLONET level 19 is 4833.29 m
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
