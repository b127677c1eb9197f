"""Learning-rate schedule (linear warm-up, cosine decay) and the rollout curriculum."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

from glonet_regions.core.errors import ConfigError

__all__ = ["RolloutCurriculum", "warmup_cosine", "warmup_cosine_factor"]


def warmup_cosine_factor(
    step: int, *, warmup_steps: int, total_steps: int, min_factor: float = 0.05
) -> float:
    """LR multiplier at ``step``: linear from ~0 to 1 over warm-up, then cosine to min_factor."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    min_factor: float = 0.05,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A :class:`LambdaLR` stepping :func:`warmup_cosine_factor` once per optimiser step."""

    def factor(step: int) -> float:
        return warmup_cosine_factor(
            step, warmup_steps=warmup_steps, total_steps=total_steps, min_factor=min_factor
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class RolloutCurriculum:
    """Number of autoregressive model calls per training sample, by epoch.

    Args:
        stages: ``[(first_epoch, n_calls), ...]``; the first stage must start at epoch 0 and
            epochs must increase. Each call predicts ``T`` (2) days.
    """

    def __init__(self, stages: Sequence[Sequence[int]]) -> None:
        parsed = []
        for i, stage in enumerate(stages):
            if len(stage) != 2:
                raise ConfigError(f"rollout stage {i} must be [epoch, n_calls], got {stage!r}")
            epoch, calls = int(stage[0]), int(stage[1])
            if calls < 1 or epoch < 0:
                raise ConfigError(f"rollout stage {i} {list(stage)}: need epoch >= 0, calls >= 1")
            parsed.append((epoch, calls))
        if not parsed or parsed[0][0] != 0:
            raise ConfigError("the rollout curriculum must have a stage starting at epoch 0")
        if any(b[0] <= a[0] for a, b in itertools.pairwise(parsed)):
            raise ConfigError(f"rollout stages must have increasing epochs, got {parsed}")
        self.stages = tuple(parsed)

    def calls(self, epoch: int) -> int:
        """Model calls used in ``epoch`` (0-based)."""
        out = self.stages[0][1]
        for first, calls in self.stages:
            if epoch >= first:
                out = calls
        return out

    @property
    def max_calls(self) -> int:
        return max(c for _, c in self.stages)
