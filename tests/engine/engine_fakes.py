"""Fakes for engine tests: an in-memory dataset yielding the store dataset's Sample items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from glonet_regions.core.grid import Grid
from glonet_regions.data.batch import Sample
from glonet_regions.engine.config import FinetuneConfig
from glonet_regions.engine.trainer import GroupData

H, W, C = 16, 20, 5
CHANNELS = [("zos", None), ("thetao", 0), ("so", 0), ("uo", 0), ("vo", 0)]


class FakeDataset(torch.utils.data.Dataset):
    """A smooth moving pattern: items ``x`` (2,C,H,W), ``y``/``boundary`` (K,C,H,W), ``mask``."""

    def __init__(self, n: int, k: int, offset: int, mask: np.ndarray) -> None:
        self.n, self.k, self.offset = n, k, offset
        self.mask = torch.as_tensor(mask, dtype=torch.float32)
        yy, xx = np.meshgrid(np.linspace(0, 1, H), np.linspace(0, 1, W), indexing="ij")
        t = np.arange(n + 2 + k + offset)[:, None, None, None]
        c = np.arange(C)[None, :, None, None]
        field = np.sin(2 * np.pi * (xx - 0.05 * t) + c) * np.cos(np.pi * yy)
        self.field = torch.as_tensor(field * mask, dtype=torch.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Sample:
        s = i + self.offset
        block = self.field[s : s + 2 + self.k]
        return Sample(
            x=block[:2], y=block[2:], boundary=block[2:], mask=self.mask,
            time=torch.tensor(s, dtype=torch.int64),
        )  # fmt: skip


def make_group_data(
    name: str = "surface", k: int = 2, n_train: int = 8, n_val: int = 4
) -> GroupData:
    mask = np.ones((C, H, W), dtype=bool)
    mask[:, 10:, 14:] = False  # a block of land
    grid = Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=W, nlat=H)
    return GroupData(
        name=name,
        channels=list(CHANNELS),
        mean=np.zeros(C),
        std=np.full(C, 2.0),
        ocean_mask=mask,
        area_weights=grid.area_weights(),
        train=FakeDataset(n_train, k, 0, mask),
        val=FakeDataset(n_val, k, 40, mask),
        depths_m=[0.494],
        tendency_scale=np.full(C, 0.3),
    )


def tiny_config(run_dir: Path, **changes: Any) -> FinetuneConfig:
    base = dict(
        region="fake",
        run_dir=str(run_dir),
        model_size="tiny",
        init="random",
        epochs=3,
        batch_size=4,
        lr=3e-3,
        warmup_steps=2,
        seed=3,
        device="cpu",
        tensorboard=False,
        progress=False,
        log_every=1,
    )
    base.update(changes)
    return FinetuneConfig.from_mapping(base, source="test")
