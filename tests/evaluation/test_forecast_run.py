"""Running a depth-group network: normalisation, boundary forcing, land put back after."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from glonet_regions.boundary.providers import StripBoundary
from glonet_regions.forecast.runner import run_group


class AddOne(nn.Module):
    """Adds 1 (in normalised space) to the last input day, for both output days."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:].repeat(1, 2, 1, 1, 1) + 1.0


def test_run_group_denormalises_then_masks_land_and_forces_boundary() -> None:
    c, h, w = 2, 8, 10
    mean = np.array([10.0, 35.0])
    std = np.array([2.0, 0.5])
    mask = np.ones((c, h, w), bool)
    mask[:, -2:, -2:] = False  # land
    x = np.stack([np.full((c, h, w), 0.0) + mean[:, None, None]] * 2).astype(np.float32)
    x[:, ~mask] = np.nan
    provider = StripBoundary(("west",), 2)
    boundary = np.full((4, c, h, w), np.nan, np.float32)
    boundary[:, :, :, :2] = (mean + 5 * std)[None, :, None, None]  # 5 std in the zone
    out = run_group(AddOne(), x, mean, std, mask, 2, provider=provider, boundary_phys=boundary)
    assert out.shape == (4, c, h, w)
    assert np.isnan(out[:, ~mask]).all()  # land NaN, never "0 de-normalised" (= the mean)
    interior = out[:, :, :6, 2:8]
    # Day k of the forecast: the mean + (calls so far) std, in physical units.
    np.testing.assert_allclose(interior[0], np.broadcast_to((mean + std)[:, None, None], (c, 6, 6)))
    np.testing.assert_allclose(
        interior[3], np.broadcast_to((mean + 2 * std)[:, None, None], (c, 6, 6))
    )
    np.testing.assert_allclose(
        out[:, :, :, :2], np.broadcast_to(boundary[:, :, :, :2], (4, c, h, 2))
    )


def test_run_group_without_boundary() -> None:
    mean, std = np.array([0.0]), np.array([1.0])
    mask = np.ones((1, 4, 4), bool)
    x = np.zeros((2, 1, 4, 4), np.float32)
    out = run_group(AddOne(), x, mean, std, mask, 3)
    np.testing.assert_allclose(out[:, 0, 0, 0], [1, 1, 2, 2, 3, 3])


def test_run_group_cache_refills_boundary_for_each_start() -> None:
    """A cached runner (as used for a CUDA graph) must see each start's own boundary data."""
    c, h, w = 1, 6, 6
    mean, std = np.array([0.0]), np.array([1.0])
    mask = np.ones((c, h, w), bool)
    x = np.zeros((2, c, h, w), np.float32)
    provider = StripBoundary(("west",), 1)
    cache: dict[int, object] = {}
    model = AddOne()
    outs = []
    for value in (3.0, 7.0):
        boundary = np.full((2, c, h, w), value, np.float32)
        outs.append(
            run_group(
                model, x, mean, std, mask, 1, provider=provider, boundary_phys=boundary, cache=cache
            )
        )
    assert len(cache) == 1
    np.testing.assert_allclose(outs[0][:, :, :, 0], 3.0)
    np.testing.assert_allclose(outs[1][:, :, :, 0], 7.0)
    np.testing.assert_allclose(outs[1][:, :, :, 1:], 1.0)
