"""The geographic position embedding: the global grid unchanged, a sub-box cut at its place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from glonet_regions.model.geo_embed import (
    GLOBAL_PATCHES,
    crop_window,
    geographic_pos_embed,
    patch_geometry,
)
from glonet_regions.model.network import Glonet
from glonet_regions.model.weights import POS_EMBED_KEY, import_state_dict


def _coded_embedding(dim: int = 4) -> torch.Tensor:
    """Global embedding whose channels 0 and 1 are the patch row and column."""
    rows, cols = torch.meshgrid(torch.arange(42.0), torch.arange(90.0), indexing="ij")
    emb = torch.zeros(42, 90, dim)
    emb[..., 0], emb[..., 1] = rows, cols
    return emb.reshape(1, 42 * 90, dim)


def _axes(lat0: float, lon0: float, step: float, shape: tuple[int, int]):
    return lat0 + np.arange(shape[0]) * step, lon0 + np.arange(shape[1]) * step


def test_global_grid_gets_the_published_embedding_unchanged() -> None:
    lat, lon = _axes(-78.0, -180.0, 0.25, (672, 1440))
    geom = patch_geometry(lat, lon, (672, 1440), 16)
    assert geom.same_as(GLOBAL_PATCHES)
    emb = torch.randn(1, 42 * 90, 8)
    assert geographic_pos_embed(emb, geom) is emb


def test_sub_box_gets_its_crop() -> None:
    # A 1/12 degree box from 40N to 48N, 10W to 2E (96 x 144 cells: 6 x 9 patches).
    lat, lon = _axes(40.0 + 1 / 24, -10.0 + 1 / 24, 1 / 12, (96, 144))
    geom = patch_geometry(lat, lon, (96, 144), 16)
    rows, cols = crop_window(geom, margin=1)
    # Global patch rows start at 78S every 4 degrees: 40..48N lies in rows 29..31.
    assert rows[0] == 29 - 1 and rows[-1] == 31 + 1
    # Columns from 180W: 10W..2E lies in columns 42..45.
    assert cols[0] == 42 - 1 and cols[-1] == 45 + 1
    out = geographic_pos_embed(_coded_embedding(), geom, margin=1).reshape(6, 9, 4)
    c_lat, c_lon = geom.centres()
    expect_row = (c_lat - (-78 + 1.875)) / 4
    expect_col = (c_lon - (-180 + 1.875)) / 4
    np.testing.assert_allclose(out[:, 0, 0].numpy(), expect_row, atol=0.05)
    np.testing.assert_allclose(out[0, :, 1].numpy(), expect_col, atol=0.05)


def test_region_across_the_dateline_wraps() -> None:
    lat, lon = _axes(-10.0, 170.0, 0.25, (64, 80))  # 170E .. 190E (= 170W)
    geom = patch_geometry(lat, lon, (64, 80), 16)
    _, cols = crop_window(geom, margin=1)
    assert 89 in cols and 0 in cols
    assert list(cols).index(89) + 1 == list(cols).index(0)
    out = geographic_pos_embed(_coded_embedding(), geom, margin=1).reshape(4, 5, 4)
    col = out[0, :, 1].numpy()
    # West of the seam the columns are ~87.5..89; east of it they restart near 0.
    assert col[0] > 87 and col[-1] < 3


@pytest.mark.parametrize("margin", [0, 2])
def test_crop_of_a_box_near_the_pole_stays_inside(margin: int) -> None:
    lat, lon = _axes(80.0, 0.0, 0.25, (32, 32))
    rows, _ = crop_window(patch_geometry(lat, lon, (32, 32), 16), margin=margin)
    assert rows.max() == 41


def test_import_cuts_the_global_embedding(tiny: Callable[..., Glonet]) -> None:
    net = tiny(5, (96, 144))
    dim = net.state_dict()[POS_EMBED_KEY].shape[2]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state[POS_EMBED_KEY] = _coded_embedding(dim)
    lat, lon = _axes(40.0 + 1 / 24, -10.0 + 1 / 24, 1 / 12, (96, 144))
    geom = patch_geometry(lat, lon, net.config.padded_grid_shape, net.config.patch_size)
    report = import_state_dict(net, state, strict=True, target_geometry=geom)
    assert [k for k, _, _ in report.resized] == [POS_EMBED_KEY]
    assert any("cut from the global" in n for n in report.notes)
    got = net.state_dict()[POS_EMBED_KEY].reshape(*geom.hw, dim)
    assert 29 < float(got[0, 0, 0]) < 30 and 42 < float(got[0, 0, 1]) < 43
