"""Operational forecasts without a store (real IBI and GLO12 files standing in for the
services), and the CF metadata of the cube."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.core.grid import Grid
from glonet_regions.forecast.cube import add_cf_attributes

from .conftest import global_cube

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
IBI = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
GLO12 = REAL / "glo12_anfc_uo_vo_P1D_french_coast_2025-02-06_14.nc"
pytestmark = pytest.mark.skipif(not IBI.is_file(), reason=f"real data file {IBI} is missing")


@pytest.fixture(scope="module")
def ibi_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Grid]:
    """A real (tiny, random) ibi36 bundle of the surface group on the IBI file's grid."""
    import torch

    from glonet_regions.model.bundle import GroupState, save_bundle
    from glonet_regions.model.network import build_glonet
    from glonet_regions.registry.facade import get_region

    try:
        region = get_region("ibi36")
    except Exception:
        pytest.skip("the ibi36 plugin is not installed")
    grid = Grid.from_dataset(xr.open_dataset(IBI))
    chans = region.depth.group("surface").channels()
    torch.manual_seed(0)
    net = build_glonet(len(chans), "tiny", grid.shape)
    means = {"zos": 0.0, "thetao": 13.0, "so": 35.7, "uo": 0.0, "vo": 0.0}
    stds = {"zos": 0.1, "thetao": 1.0, "so": 0.2, "uo": 0.1, "vo": 0.1}
    state = GroupState(
        config=net.config.to_dict(),
        state_dict=net.state_dict(),
        channels=chans,
        mean=np.array([means[v] for v, _ in chans]),
        std=np.array([stds[v] for v, _ in chans]),
        ocean_mask=np.ones((len(chans), *grid.shape), bool),
    )
    path = tmp_path_factory.mktemp("bundle") / "b.pt"
    save_bundle(
        path,
        region_name="ibi36",
        grid=grid,
        groups={"surface": state},
        boundary={
            "provider": "relaxation",
            "edges": ["west", "north", "south", "east"],
            "width": 2,
        },
        train_config={},
    )
    return path, grid


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["forecast", "ibi36", *args])
    return res.exit_code, res.output


def test_operational_forecast_from_local_files(ibi_bundle: tuple[Path, Grid], tmp_path: Path):
    bundle, grid = ibi_bundle
    gfc = tmp_path / "glo.nc"
    cube = global_cube(grid, [dt.date(2022, 2, 8)], 4, margin=3)
    cube = cube.assign(thetao=cube.thetao * 0 + 14.0, so=cube.so * 0 + 35.6)
    cube.to_netcdf(gfc)
    out = tmp_path / "f.nc"
    code, text = _run(
        "--checkpoint", str(bundle), "--initial", str(IBI), "--boundary-source", str(gfc),
        "--start", "2022-02-08", "--days", "2", "--out", str(out),
    )  # fmt: skip
    assert code == 0, text
    fc = xr.open_dataset(out)
    assert fc.attrs["boundary_mode"] == "forecast"
    assert "global forecast issued 2022-02-08" in fc.attrs["boundary_mode_description"]
    assert str(IBI) in fc.attrs["initial_conditions"] and "source_store" not in fc.attrs
    assert fc.attrs["depth_groups_model"] == "surface"
    sst = fc["thetao"].values[0, :, 0]
    assert np.isfinite(sst[:, 3:-3, 3:-3]).all()  # the interior: model output, not NaN
    np.testing.assert_allclose(sst[:, :, 0][np.isfinite(sst[:, :, 0])], 14.0, atol=1e-3)
    # CF: title/history/source/references, no fill value on coordinates, cf-xarray reads it.
    import cf_xarray  # noqa: F401

    for key in ("title", "history", "source", "references", "Conventions"):
        assert fc.attrs[key]
    for coord in fc.coords:
        assert "_FillValue" not in fc[coord].encoding or fc[coord].encoding["_FillValue"] is None
    assert set(fc.cf.axes) >= {"X", "Y", "Z", "T"}
    assert fc.cf["latitude"].name == "latitude" and fc.cf["depth"].name == "depth"
    names = [fc[v].attrs.get("standard_name") for v in fc.variables]
    named = [n for n in names if n]
    assert len(named) == len(set(named))  # a rename by standard_name cannot clash
    assert "standard_name" not in fc["first_day_datetime"].attrs
    assert "forecast_reference_time" in fc["first_day_datetime"].attrs["comment"]
    assert "forecast_period" in fc["lead_day_index"].attrs["comment"]


@pytest.mark.skipif(not GLO12.is_file(), reason=f"real data file {GLO12} is missing")
def test_bad_operational_inputs_are_clear(ibi_bundle: tuple[Path, Grid], tmp_path: Path):
    bundle, _ = ibi_bundle
    base = ["--checkpoint", str(bundle), "--initial", str(IBI), "--out", str(tmp_path / "f.nc")]
    # GLO12 holds uo/vo only: the missing variables are named.
    code, text = _run(*base, "--boundary-source", str(GLO12), "--start", "2025-02-06")
    assert code == 1 and "lacks variable(s) zos, thetao, so" in text, text
    # An initial day that is not in the file.
    code, text = _run(*base, "--boundary", "persistence", "--start", "2022-02-09")
    assert code == 1 and "no data for 2022-02-08" in text, text
    # Reanalysis boundaries need a store.
    code, text = _run(*base, "--boundary", "reanalysis", "--start", "2022-02-08")
    assert code == 1 and "--boundary reanalysis reads a store" in text, text
    assert not (tmp_path / "f.nc").exists()


def test_operational_forecast_through_copernicus_marine(
    ibi_bundle: tuple[Path, Grid], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Without --initial and --boundary-source: the region's IBI analysis-forecast (initial
    days) and GLO12 analysis-forecast (boundaries) datasets through the toolbox, here faked
    with the real IBI file and a global field, as the Copernicus source tests do."""
    import copernicusmarine

    bundle, grid = ibi_bundle
    for var in ("COPERNICUSMARINE_SERVICE_USERNAME", "COPERNICUSMARINE_SERVICE_PASSWORD"):
        monkeypatch.setenv(var, "someone")
    calls: list[dict] = []
    glo = global_cube(grid, [dt.date(2022, 2, 8)], 2, margin=3).isel(first_day_datetime=0)
    glo = glo.assign(
        zos=glo.zos * 0 + 0.1, thetao=glo.thetao * 0 + 14.0, so=glo.so * 0 + 35.6,
        uo=glo.uo * 0 + 0.1, vo=glo.vo * 0 - 0.1,
    )  # fmt: skip
    days = np.array(["2022-02-08", "2022-02-09"], dtype="datetime64[ns]")
    glo = glo.drop_vars("first_day_datetime").rename(lead_day_index="time")
    glo = add_cf_attributes(glo.assign_coords(time=days))
    ibi = xr.open_dataset(IBI).load()

    from glonet_regions.registry.facade import get_region

    served = {d.dataset_id: list(d.variables.values()) for d in get_region("ibi36").datasets}

    def fake_open_dataset(**kw: object) -> xr.Dataset:
        """Like the service: the dataset's own variables (all of them without ``variables``)."""
        calls.append(kw)
        ds = ibi if str(kw["dataset_id"]).startswith("cmems_mod_ibi") else glo
        return ds[kw["variables"] or served[str(kw["dataset_id"])]]  # type: ignore[index]

    monkeypatch.setattr(copernicusmarine, "open_dataset", fake_open_dataset)
    out = tmp_path / "f.nc"
    code, text = _run(
        "--checkpoint", str(bundle), "--start", "2022-02-08", "--days", "2", "--out", str(out)
    )  # fmt: skip
    assert code == 0, text
    by_id = {str(c["dataset_id"]): c for c in calls}
    ibi_call = by_id["cmems_mod_ibi_phy_anfc_0.027deg-3D_P1D-m"]
    assert ibi_call["start_datetime"] == dt.datetime(2022, 2, 6)
    assert ibi_call["end_datetime"] == dt.datetime(2022, 2, 7, 23, 59, 59)
    glo_call = by_id["cmems_mod_glo_phy-cur_anfc_0.083deg_P1D-m"]
    assert glo_call["start_datetime"] == dt.datetime(2022, 2, 8)
    assert {
        "cmems_mod_glo_phy_anfc_0.083deg_P1D-m",
        "cmems_mod_ibi_phy_anfc_0.027deg-2D_P1D-m",
    } <= set(by_id)
    fc = xr.open_dataset(out)
    assert fc.attrs["boundary_mode"] == "forecast"
    desc = fc.attrs["boundary_mode_description"]
    assert "global forecast issued 2022-02-08" in desc and "are analyses" in desc
    assert "cmems_mod_glo_phy-cur_anfc_0.083deg_P1D-m" in fc.attrs["boundary_source"]


def test_initial_source_reads_the_checkpoint_grid_out_of_a_finer_file() -> None:
    from glonet_regions.core.errors import GridMismatchError
    from glonet_regions.forecast.operational import InitialSource
    from glonet_regions.registry.facade import get_region

    try:
        region = get_region("ibi36")
    except Exception:
        pytest.skip("the ibi36 plugin is not installed")
    full = Grid.from_dataset(xr.open_dataset(IBI))
    thin = full.isel(slice(None, None, 2), slice(1, None, 3))
    days = [dt.date(2022, 2, 6), dt.date(2022, 2, 7)]
    a = InitialSource(region, [IBI]).group_days("surface", days)
    b = InitialSource(region, [IBI], grid=thin).group_days("surface", days)
    assert b.shape == (2, a.shape[1], *thin.shape)
    np.testing.assert_array_equal(b, a[:, :, ::2, 1::3])
    offset = Grid.regular(
        lon0=float(full.lon[0]) + full.dlon / 2, lat0=float(full.lat[0]), dlon=full.dlon,
        dlat=full.dlat, nlon=4, nlat=4,
    )  # fmt: skip
    with pytest.raises(GridMismatchError, match="not on the checkpoint's grid"):
        InitialSource(region, [IBI], grid=offset).group_days("surface", days)
