"""Training loss: masked, area-weighted MSE over interior ocean cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from glonet_regions.core.errors import ConfigError

__all__ = ["channel_weights", "loss_weight_map", "weighted_mse"]


def channel_weights(
    channels: Sequence[tuple[str, int | None]], variable_weights: Mapping[str, float]
) -> np.ndarray:
    """Per-channel loss weight from per-variable weights (default 1).

    Raises:
        ConfigError: A weighted variable is not among the channels, or a weight is negative.
    """
    names = {v for v, _ in channels}
    unknown = sorted(set(variable_weights) - names)
    if unknown:
        raise ConfigError(
            f"variable_weights names {unknown}, not variables of this group {sorted(names)}"
        )
    bad = {k: v for k, v in variable_weights.items() if not float(v) >= 0}
    if bad:
        raise ConfigError(f"variable_weights must be >= 0, got {bad}")
    return np.array([float(variable_weights.get(v, 1.0)) for v, _ in channels])


def loss_weight_map(
    *,
    area_weights: np.ndarray,
    ocean_mask: np.ndarray,
    interior_mask: np.ndarray,
    channel_weight: np.ndarray | None = None,
) -> np.ndarray:
    """``(C, H, W)`` weights: area x ocean x interior (x channel weight).

    Args:
        area_weights: ``(H, W)`` cell-area weights (e.g. :meth:`Grid.area_weights`).
        ocean_mask: ``(C, H, W)`` bool, True over the ocean.
        interior_mask: ``(H, W)`` bool, True outside the boundary zone.
        channel_weight: ``(C,)`` per-channel weights.
    """
    ocean = np.asarray(ocean_mask, dtype=bool)
    w = np.asarray(area_weights, dtype=np.float64)[None] * ocean
    w = w * np.asarray(interior_mask, dtype=bool)[None]
    if channel_weight is not None:
        w = w * np.asarray(channel_weight, dtype=np.float64)[:, None, None]
    if not w.sum() > 0:
        raise ConfigError("the loss weights are all zero (no interior ocean cell)")
    return w


def weighted_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean squared error.

    Args:
        pred, target: ``(B, T, C, H, W)``.
        weight: ``(C, H, W)`` non-negative weights (zero on land and in the boundary zone).

    Returns:
        ``sum(w * (pred - target)^2) / (B * T * sum(w))`` as a float32 scalar.
    """
    diff = (pred.float() - torch.nan_to_num(target.float())) ** 2
    w = weight.to(device=diff.device, dtype=diff.dtype)
    total = (diff * w).sum()
    return total / (w.sum() * diff.shape[0] * diff.shape[1])
