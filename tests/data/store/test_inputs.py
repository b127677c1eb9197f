"""Preparing from CMEMS-like files (the sample generator's), bad inputs and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from store_helpers import tiny_region

from glonet_regions.core.errors import DataError, GlonetRegionsError, GridMismatchError
from glonet_regions.data.canonical_source import CanonicalSource
from glonet_regions.data.loader import GlonetStoreDataset
from glonet_regions.data.prepare import prepare_store
from glonet_regions.data.store import Layout, StoreReader

sample_mod = pytest.importorskip("glonet_regions.sample.generate")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Any:
    region = tiny_region(24, 32)
    out = tmp_path_factory.mktemp("sample")
    info = sample_mod.generate_sample(region, out, variant="demo", n_days=20, stride=2)
    return region, info


def _prepare(region: Any, info: Any, regional: list[Path], out: Path) -> Any:
    src = CanonicalSource.from_files(region, regional, info.global_files)
    return prepare_store(
        out, src, region=region, splits=info.splits, layout=Layout(8, 4), workers=2
    )


def test_sample_files_to_store_and_loader(sample: Any, tmp_path: Path) -> None:
    region, info = sample
    res = _prepare(region, info, info.regional_files, tmp_path / "s.zarr")
    reader = StoreReader(res.path)
    assert reader.grid.same_as(info.grid) and len(reader.times) == 20
    assert reader.has_boundary
    ds = GlonetStoreDataset(res.path, "surface", "train", n_target=2)
    item = ds[0]
    assert item.x.shape == (2, 5, *info.grid.shape)
    assert float(item.boundary.abs().sum()) > 0
    # Store values equal the files' values at GLONET's surface level (0.494 m is native).
    raw = xr.open_dataset(info.regional_files[0])
    sst = raw["thetao"].isel(time=0, depth=0).values
    np.testing.assert_allclose(reader.read("surface", 0, 1)[0, 1], sst, rtol=1e-6)
    raw.close()


def _rewrite(src: Path, dst: Path, edit: Any) -> Path:
    with xr.open_dataset(src) as ds:
        new = edit(ds.load())
    new.to_netcdf(dst)
    return dst


def _half_cell(ds: xr.Dataset) -> xr.Dataset:
    return ds.assign_coords(longitude=ds.longitude + 0.5)


def _nan_ocean(ds: xr.Dataset) -> xr.Dataset:
    t = ds["thetao"].values.copy()
    iy, ix = np.argwhere(np.isfinite(t[0, 0]))[0]
    t[5, 0, iy, ix] = np.nan
    return ds.assign(thetao=(ds["thetao"].dims, t, ds["thetao"].attrs))


def _units(ds: xr.Dataset) -> xr.Dataset:
    ds["thetao"].attrs["units"] = "furlongs"
    return ds


def _twice_daily(ds: xr.Dataset) -> xr.Dataset:
    t0 = ds.time.values[0]
    return ds.assign_coords(time=t0 + np.arange(ds.sizes["time"]) * np.timedelta64(12, "h"))


BAD = {
    "missing-variable": (lambda ds: ds.drop_vars("so"), DataError, "so"),
    "wrong-units": (_units, DataError, "furlongs"),
    "non-daily": (_twice_daily, DataError, "bad_non-daily"),
    "grid-offset": (_half_cell, GridMismatchError, "cells from the nearest grid node"),
    "nan-in-ocean": (_nan_ocean, DataError, "NaN in the ocean"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_file_and_leaves_nothing(
    sample: Any, tmp_path: Path, case: str
) -> None:
    region, info = sample
    edit, error, text = BAD[case]
    bad = _rewrite(info.regional_files[0], tmp_path / f"bad_{case}.nc", edit)
    out = tmp_path / "s.zarr"
    with pytest.raises(error, match=text) as exc:
        _prepare(region, info, [bad], out)
    if case != "nan-in-ocean":  # that one is found while writing: it names the day
        assert "bad_" in str(exc.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == [bad.name]


def test_truncated_and_duplicate_files(sample: Any, tmp_path: Path) -> None:
    region, info = sample
    trunc = tmp_path / "trunc.nc"
    data = info.regional_files[0].read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(GlonetRegionsError, match=r"trunc\.nc"):
        _prepare(region, info, [trunc], tmp_path / "t.zarr")
    dup = tmp_path / "dup.nc"
    shutil.copyfile(info.regional_files[0], dup)
    with pytest.raises(DataError, match=r"dup\.nc"):
        _prepare(region, info, [info.regional_files[0], dup], tmp_path / "d.zarr")
    assert not (tmp_path / "t.zarr").exists() and not (tmp_path / "d.zarr").exists()


def test_cli_prepare_and_inspect(sample: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from glonet_regions.cli.data_inspect import inspect_cmd
    from glonet_regions.cli.data_prepare import prepare
    from glonet_regions.registry import facade

    region, info = sample
    monkeypatch.setattr(facade, "get_region", lambda name: region)
    out = tmp_path / "c.zarr"
    args = ["tiny", "--out", str(out), "--chunk-days", "8", "--shard-days", "4", "--workers", "1"]
    for f in info.regional_files:
        args += ["--regional", str(f)]
    for f in info.global_files:
        args += ["--global", str(f)]
    runner = CliRunner()
    res = runner.invoke(prepare, [*args, "--start", "2021-01-01", "--end", "2021-01-18"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(inspect_cmd, [str(out)])
    assert res.exit_code == 0, res.output
    assert "surface/data: shape (18, 5, 12, 16)" in res.output and "OK" in res.output
    bad = runner.invoke(prepare, [*args, "--out", str(tmp_path / "x.zarr"), "--end", "2022-01-01"])
    assert bad.exit_code == 1 and "--end 2022-01-01 is outside" in bad.output
    # An incomplete store: inspect exits 1 and lists the problem.
    zarr_json = out / "zarr.json"
    zarr_json.write_text(zarr_json.read_text().replace('"complete": true', '"complete": false'))
    res = runner.invoke(inspect_cmd, [str(out)])
    assert res.exit_code == 1 and "incomplete" in res.output
    res = runner.invoke(inspect_cmd, [str(info.regional_files[0]), "--region", "tiny"])
    assert res.exit_code == 0, res.output
    assert "grid version 'v1', stride (2, 2)" in res.output
