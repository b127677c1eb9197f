"""``glonet-regions data regrid`` (the region is built here, the registry is patched)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from glonet_regions.core.errors import UnknownNameError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import DateRange, DateSplits, GridVersion, OpenBoundaries, Region
from glonet_regions.testing.real_data import real_data_dir

REAL = real_data_dir()  # the offline mirror, the asset cache or the files' origins
IBI = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"


def _region() -> Region:
    grid = Grid.regular(lon0=-19, lat0=26, dlon=1 / 6, dlat=1 / 6, nlon=145, nlat=181)
    return Region(
        name="ibi6",
        title="IBI at 1/6",
        bbox=BBox(-19, 5, 26, 56),
        resolution_deg=1 / 6,
        grid_versions=(GridVersion("v1", grid),),
        splits=DateSplits(
            DateRange("2000-01-01", "2000-12-31"),
            DateRange("2001-01-01", "2001-12-31"),
            DateRange("2002-01-01", "2002-12-31"),
        ),
        open_boundaries=OpenBoundaries(("west",)),
    )


@pytest.fixture(autouse=True)
def _patched(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    import glonet_regions.registry.facade as facade

    def get_region(name: str) -> Region:
        if name != "ibi6":
            raise UnknownNameError(f"Unknown region {name!r}; known: ibi6")
        return _region()

    monkeypatch.setattr(facade, "get_region", get_region)
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path_factory.mktemp("cache")))


def test_cli_regrids_the_real_ibi_file(tmp_path: Path) -> None:
    if not IBI.exists():
        pytest.skip(f"real data file {IBI} is missing")
    from glonet_regions.cli.data_regrid import regrid

    out = tmp_path / "out.nc"
    result = CliRunner().invoke(
        regrid, [str(IBI), "--region", "ibi6", "--method", "conservative", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output
    with xr.open_dataset(out) as ds:
        assert set(ds.data_vars) == {"so", "thetao", "uo", "vo", "zos"}
        assert np.isfinite(ds.zos).any()


def test_cli_errors_are_clean(tmp_path: Path) -> None:
    from glonet_regions.cli.data_regrid import regrid

    runner = CliRunner()
    missing = runner.invoke(
        regrid, [str(tmp_path / "x.nc"), "--region", "ibi6", "--out", str(tmp_path / "o.nc")]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output
    unknown = runner.invoke(
        regrid, [str(tmp_path / "x.nc"), "--region", "mars", "--out", str(tmp_path / "o.nc")]
    )
    assert unknown.exit_code == 1 and "Unknown region 'mars'" in unknown.output
    bad_method = runner.invoke(
        regrid, [str(tmp_path / "x.nc"), "--region", "ibi6", "--method", "cubic", "--out", "o.nc"]
    )
    assert bad_method.exit_code == 2 and "cubic" in bad_method.output
    assert "Traceback" not in missing.output + unknown.output
