"""Classes of bad input glonet-regions must refuse, each with the command that meets it.

Shared by the tests (``tests/cli/test_refuses_cli.py``, through click's runner) and by
``benchmarks/bad_inputs.py`` (the installed command in a subprocess), which measures how many
classes are refused with exit status 1 and one clear line. Every case uses the ``ibi36`` region
plugin and the real IBI sample file (``../shared/data/real`` beside the repository).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CASES", "REAL_IBI", "BadInput", "Case"]

REAL_IBI = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "real"
    / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
)


@dataclass(frozen=True)
class BadInput:
    """One prepared bad input: the command line, extra environment, what the error says."""

    args: list[str]
    expect: str
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 1
    must_not_exist: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Case:
    """A class of bad input (``item``: the issue item it comes from)."""

    name: str
    item: str
    make: Callable[[Path], BadInput]
    needs_real_ibi: bool = False


def _rewrite_ibi(tmp: Path, name: str, edit: Callable[..., object]) -> Path:
    import xarray as xr

    with xr.open_dataset(REAL_IBI) as ds:
        out = ds.load()
    edit(out)
    for var in out.variables:
        out[var].encoding = {}
    path = tmp / name
    out.to_netcdf(path)
    return path


def _truncated(tmp: Path) -> BadInput:
    full = REAL_IBI.read_bytes()
    path = tmp / "truncated.nc"
    path.write_bytes(full[: len(full) - 4096])
    out = tmp / "regridded.nc"
    return BadInput(["data", "regrid", str(path), "--region", "ibi36", "--out", str(out)],
                    "truncated", must_not_exist=(out,))  # fmt: skip


def _kelvin_as_degc(tmp: Path) -> BadInput:
    def edit(ds: object) -> None:
        ds["thetao"] = ds["thetao"] + 273.15  # type: ignore[index]
        ds["thetao"].attrs["units"] = "degC"  # type: ignore[index]

    truth = _rewrite_ibi(tmp, "kelvin.nc", edit)
    out = tmp / "pers.nc"
    return BadInput(["forecast", "ibi36", "--persistence", "--truth", str(truth), "--start",
                     "2022-02-07", "--days", "1", "--out", str(out)], "thetao",
                    must_not_exist=(out,))  # fmt: skip


def _nan_everywhere(tmp: Path) -> BadInput:
    def edit(ds: object) -> None:
        ds["so"] = ds["so"] * np.nan  # type: ignore[index]

    return BadInput(["data", "inspect", str(_rewrite_ibi(tmp, "nan.nc", edit))],
                    "no finite value")  # fmt: skip


def _salinity_fraction(tmp: Path) -> BadInput:
    def edit(ds: object) -> None:
        attrs = dict(ds["so"].attrs)  # type: ignore[index]
        ds["so"] = ds["so"] * 1e-3  # type: ignore[index]
        ds["so"].attrs = attrs  # type: ignore[index]

    return BadInput(["data", "inspect", str(_rewrite_ibi(tmp, "fraction.nc", edit))],
                    "median")  # fmt: skip


def _resume_other_region(tmp: Path) -> BadInput:
    run = tmp / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    (run / "config.yaml").write_text("schema_version: 1\nregion: biscay36\n")
    return BadInput(["finetune", "ibi36", "--resume", "--run-dir", str(run)], "'biscay36'")


def _nan_weights(tmp: Path) -> BadInput:
    import torch

    from glonet_regions.core.grid import Grid
    from glonet_regions.model.bundle import GroupState, save_bundle
    from glonet_regions.model.network import build_glonet

    grid = Grid.regular(lon0=-10, lat0=40, dlon=0.5, dlat=0.5, nlon=12, nlat=10)
    net = build_glonet(5, "tiny", grid.shape)
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
             for k, v in net.state_dict().items()}  # fmt: skip
    ckpt = save_bundle(
        tmp / "nan.pt", region_name="ibi36", grid=grid,
        groups={"surface": GroupState(
            config=net.config.to_dict(), state_dict=state,
            channels=[("zos", None), ("thetao", 0), ("so", 0), ("uo", 0), ("vo", 0)],
            mean=np.zeros(5), std=np.ones(5), ocean_mask=np.ones((5, 10, 12), dtype=bool))},
        boundary={}, train_config={},
    )  # fmt: skip
    out = tmp / "f.nc"
    return BadInput(["forecast", "ibi36", "--checkpoint", str(ckpt), "--sample", "--out",
                     str(out)], "NaN or infinite weights", must_not_exist=(out,))  # fmt: skip


def _random_checkpoint(tmp: Path) -> BadInput:
    ckpt = tmp / "random.pt"
    ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    out = tmp / "f.nc"
    return BadInput(["forecast", "ibi36", "--checkpoint", str(ckpt), "--sample", "--out",
                     str(out)], "not a glonet-regions checkpoint",
                    must_not_exist=(out,))  # fmt: skip


def _nan_lr(tmp: Path) -> BadInput:
    cfg = tmp / "cfg.yaml"
    cfg.write_text("schema_version: 1\nlr: .nan\n")
    return BadInput(["finetune", "ibi36", "--config", str(cfg), "--run-dir", str(tmp / "run")],
                    "key lr must be a finite number")  # fmt: skip


def _out_under_a_file(tmp: Path) -> BadInput:
    (tmp / "afile").write_text("x")
    return BadInput(["forecast", "ibi36", "--persistence", "--truth", str(REAL_IBI), "--start",
                     "2022-02-07", "--days", "1", "--out", str(tmp / "afile" / "out.nc")],
                    "afile")  # fmt: skip


def _bad_region_file(tmp: Path) -> BadInput:
    folder = tmp / "regions"
    folder.mkdir()
    (folder / "broken.yaml").write_text("schema_version: 1\nname: [oops\n")
    return BadInput(["regions", "show", "ibi36"], "broken.yaml",
                    env={"GLONET_REGIONS_PATH": str(folder)}, exit_code=0)  # fmt: skip


CASES: tuple[Case, ...] = (
    Case("truncated netCDF to data regrid", "1", _truncated, True),
    Case("truth in Kelvin labelled degC", "2", _kelvin_as_degc, True),
    Case("a variable NaN everywhere", "3", _nan_everywhere, True),
    Case("salinity as a fraction", "3", _salinity_fraction, True),
    Case("resuming another region's run", "4", _resume_other_region),
    Case("checkpoint with NaN weights", "5", _nan_weights),
    Case("random file as a checkpoint", "11", _random_checkpoint),
    Case("lr: .nan in a config file", "9", _nan_lr),
    Case("--out under a file", "9", _out_under_a_file, True),
    Case("an invalid region file (others stay usable)", "9", _bad_region_file),
)
