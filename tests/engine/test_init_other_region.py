"""``init: checkpoint:PATH`` from a bundle trained on another region's grid (glo4 -> ibi36)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glonet_regions.core.grid import Grid
from glonet_regions.engine.setup import _init_from_checkpoint
from glonet_regions.model.blocks import resize_pos_embed
from glonet_regions.model.bundle import GroupState, save_bundle
from glonet_regions.model.network import build_glonet

POS = "space.NO.pos_embed"


def test_bundle_of_another_grid_initialises_with_a_resized_embedding(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = build_glonet(5, "tiny", (32, 64))
    with torch.no_grad():
        src.space.NO.pos_embed.normal_()
    grid = Grid.regular(lon0=-180.0, lat0=-78.0, dlon=3.0, dlat=3.0, nlon=64, nlat=32)
    state = GroupState(
        config=src.config.to_dict(),
        state_dict=src.state_dict(),
        channels=[("zos", None), ("thetao", 0), ("so", 0), ("uo", 0), ("vo", 0)],
        mean=np.zeros(5),
        std=np.ones(5),
        ocean_mask=np.ones((5, 32, 64), bool),
        residual_scale=np.full(5, 0.5),
    )
    path = save_bundle(
        tmp_path / "glo4.pt", region_name="glo4", grid=grid, groups={"surface": state},
        boundary={}, train_config={},
    )  # fmt: skip
    dst = build_glonet(5, "tiny", (48, 40))
    lines: list[str] = []
    residual = _init_from_checkpoint(dst, str(path), "surface", lines.append)
    assert residual is not None and np.allclose(residual, 0.5)
    assert "of region glo4" in lines[0] and "1 resized" in lines[0]
    want = resize_pos_embed(src.state_dict()[POS], src.config.pos_hw, dst.config.pos_hw)
    torch.testing.assert_close(dst.state_dict()[POS], want)
    key = "jump.maps.enc.0.conv.conv.weight"
    torch.testing.assert_close(dst.state_dict()[key], src.state_dict()[key])
