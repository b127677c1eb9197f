"""Fixtures of the forecast tests: a tiny store of the dummy region, a fake bundle, a global
forecast cube whose values name their run and lead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from glonet_regions.core.depth import GLONET_LEVELS
from glonet_regions.core.grid import Grid
from glonet_regions.core.region import Region
from glonet_regions.testing.dummy import make_dummy_region

START = dt.date(2020, 1, 27)


class Hold(nn.Module):
    """Returns the last input day for both output days (persistence in normalised space)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:].repeat(1, 2, 1, 1, 1)


@dataclass
class GroupStub:
    channels: list[tuple[str, int | None]]
    mean: np.ndarray
    std: np.ndarray
    ocean_mask: np.ndarray


@dataclass
class FakeBundle:
    """What ``run_bundle_forecast`` reads of a bundle, with a network that holds its input."""

    region_name: str
    grid: Grid
    groups: dict[str, GroupStub]
    boundary: dict[str, Any]
    path: Path = Path("fake-bundle.pt")
    sha256: str = "0" * 64
    config: dict[str, Any] = field(default_factory=dict)

    def build_model(self, group: str, device: str = "cpu") -> nn.Module:
        return Hold()


def fake_bundle(
    region: Region, grid: Grid, channels: dict[str, list[tuple[str, int | None]]]
) -> FakeBundle:
    groups = {
        g: GroupStub(
            list(ch),
            np.zeros(len(ch)),
            np.ones(len(ch)),
            np.ones((len(ch), *grid.shape), bool),
        )
        for g, ch in channels.items()
    }
    ob = region.open_boundaries
    return FakeBundle(
        region.name, grid, groups, {"provider": "strip", "edges": list(ob.edges), "width": 2}
    )


@pytest.fixture(scope="session")
def dummy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the analytic SyntheticSource on the dummy region's grid, with boundary data."""
    from glonet_regions.data.prepare import prepare_store
    from glonet_regions.data.prepare_source import SyntheticSource

    region = make_dummy_region()
    out = tmp_path_factory.mktemp("fstore") / "store"
    src = SyntheticSource(region.grid, dt.date(2020, 1, 1), 40)
    prepare_store(out, src, region=region, workers=1)
    return out


def global_cube(
    grid: Grid,
    runs: list[dt.date],
    n_lead: int = 12,
    *,
    margin: int = 1,
    drop: tuple[str, ...] = (),
) -> xr.Dataset:
    """A global forecast cube around ``grid`` (``margin`` cells more on each side).

    Every value is ``100 * (run index + 1) + lead`` (+ 10 for ``so``), so a forced zone tells
    which run and lead it came from.
    """
    big = Grid.regular(
        lon0=float(grid.lon[0]) - margin * grid.dlon,
        lat0=float(grid.lat[0]) - margin * grid.dlat,
        dlon=grid.dlon,
        dlat=grid.dlat,
        nlon=grid.shape[1] + 2 * margin,
        nlat=grid.shape[0] + 2 * margin,
    )
    depth = np.asarray(GLONET_LEVELS.values)
    base = 100.0 * (np.arange(len(runs)) + 1)[:, None] + np.arange(n_lead)[None, :]
    shape2 = (len(runs), n_lead, *big.shape)
    shape3 = (len(runs), n_lead, depth.size, *big.shape)
    dims3 = ("first_day_datetime", "lead_day_index", "depth", "latitude", "longitude")
    fields: dict[str, Any] = {
        "zos": (dims3[:2] + dims3[3:], np.broadcast_to(base[:, :, None, None], shape2).copy()),
    }
    for v, off in (("thetao", 0.0), ("so", 10.0), ("uo", 0.0), ("vo", 0.0)):
        fields[v] = (dims3, np.broadcast_to(base[:, :, None, None, None] + off, shape3).copy())
    for v in drop:
        fields.pop(v)
    return xr.Dataset(
        fields,
        coords={
            "first_day_datetime": np.array([np.datetime64(r, "ns") for r in runs]),
            "lead_day_index": np.arange(n_lead),
            "depth": depth,
            "latitude": big.lat,
            "longitude": big.lon,
        },
    )
