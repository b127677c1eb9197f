"""Every command reads data files through the one checked reader (truncation, ranges)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from glonet_regions.core.errors import DataError
from glonet_regions.data.reader import open_canonical, open_checked

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
IBI = REAL / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"


def _small(n_time: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(0)
    shape = (n_time, 2, 6, 7)
    return xr.Dataset(
        {
            "zos": (
                ("time", "latitude", "longitude"),
                rng.normal(0, 0.3, shape[::2][:1] + shape[2:]).astype("f4"),
            ),
            "thetao": (
                ("time", "depth", "latitude", "longitude"),
                (12 + rng.normal(0, 1, shape)).astype("f4"),
            ),
            "so": (
                ("time", "depth", "latitude", "longitude"),
                (35.5 + rng.normal(0, 0.2, shape)).astype("f4"),
            ),
        },
        coords={
            "time": np.arange(n_time).astype("datetime64[D]").astype("datetime64[ns]"),
            "depth": [0.5, 10.0],
            "latitude": np.linspace(43, 44, 6),
            "longitude": np.linspace(-10, -9, 7),
        },
    )


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
@pytest.mark.parametrize("unlimited", [False, True])
@pytest.mark.parametrize("keep", [0.5, -8])
def test_truncated_classic_files_refused(
    tmp_path: Path, fmt: str, unlimited: bool, keep: float
) -> None:
    """CDF-1, CDF-2 and CDF-5, with and without a record dimension, cut anywhere."""
    full = tmp_path / "full.nc"
    _small().to_netcdf(
        full, format=fmt, engine="netcdf4", unlimited_dims=["time"] if unlimited else None
    )
    assert open_checked(full)["so"].values.mean() > 30  # intact: reads
    data = full.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)])
    with pytest.raises(DataError, match="truncated") as err:
        open_checked(cut)
    assert str(cut) in str(err.value)


def test_regrid_refuses_a_truncated_file(tmp_path: Path) -> None:
    """`data regrid` on a cut classic file: exit 1, one line, no output written."""
    from glonet_regions.cli import main

    full = tmp_path / "full.nc"
    _small().to_netcdf(full, format="NETCDF3_64BIT_OFFSET", engine="netcdf4")
    cut = tmp_path / "cut.nc"
    cut.write_bytes(full.read_bytes()[:-40])
    out = tmp_path / "out.nc"
    result = CliRunner().invoke(
        main, ["data", "regrid", str(cut), "--region", "ibi36", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "truncated" in lines[0] and str(cut) in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".out.nc*"))


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (lambda ds: ds.assign(so=ds["so"] * np.nan), "so holds no finite value"),
        (lambda ds: ds.assign(so=ds["so"] * 1e-3), "so has a median of 0.035"),
        (lambda ds: ds.assign(thetao=ds["thetao"] + 273.15), "thetao has"),
    ],
    ids=["nan-everywhere", "salinity-fraction", "kelvin-as-degc"],
)
def test_physical_checks_in_the_reader(tmp_path: Path, edit, expect: str) -> None:  # type: ignore[no-untyped-def]
    ds = _small()
    ds["thetao"].attrs["units"] = "degC"
    ds["so"].attrs["units"] = "1e-3"
    ds["zos"].attrs["units"] = "m"
    path = tmp_path / "f.nc"
    bad = edit(ds)
    for name in ("thetao", "so", "zos"):
        bad[name].attrs = ds[name].attrs
    bad.to_netcdf(path)
    with pytest.raises(DataError, match=expect) as err:
        open_canonical(path, variables=["zos", "thetao", "so"], check_time=False)
    assert str(path) in str(err.value)


def test_inspect_flags_empty_and_implausible_channels() -> None:
    from glonet_regions.data.inspect_store import _check_plausible

    info = {
        "level_indices": [0],
        "channel_variables": [["zos", None], ["so", 0]],
        "channels": ["zos", "so@0.5m"],
    }
    mask = np.ones((1, 4, 5), dtype=bool)
    problems: list[str] = []
    _check_plausible({"g/mask": mask}, "g", info, np.array([0.1, 0.035]), np.array([20, 20]),
                     problems.append)  # fmt: skip
    assert len(problems) == 1 and "so@0.5m" in problems[0] and "outside" in problems[0]
    problems.clear()
    _check_plausible({"g/mask": mask}, "g", info, np.array([0.1, 35.0]), np.array([20, 0]),
                     problems.append)  # fmt: skip
    assert len(problems) == 1 and "no value counted" in problems[0]
    problems.clear()
    _check_plausible({"g/mask": ~mask}, "g", info, np.array([0.1, 35.0]), np.array([0, 0]),
                     problems.append)  # fmt: skip
    assert len(problems) == 1 and "no ocean cell" in problems[0]
