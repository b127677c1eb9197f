"""Validation scores in physical units: the model against persistence.

Convention (WeatherBench-2 style): RMSE per variable, level and lead day, over interior ocean
cells (boundary zone excluded), weighted by cell area, with the square root taken after the
mean over all validation samples (``sqrt(sum w e^2 / sum w)``). Fields are de-normalised with
the store's per-channel mean and std before scoring; land is masked after de-normalising.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["CONVENTION", "RmseAccumulator", "format_table"]

CONVENTION = (
    "area-weighted RMSE over interior ocean cells (boundary zone excluded), physical units, "
    "square root after the mean over validation samples (WeatherBench-2 style)"
)


@dataclass
class RmseAccumulator:
    """Accumulates weighted squared errors per (channel, lead day) for model and persistence.

    Args:
        weight: ``(C, H, W)`` scoring weights (area x ocean x interior).
        mean, std: ``(C,)`` normalisation statistics.
    """

    weight: Tensor
    mean: Tensor
    std: Tensor
    sums: dict[str, Tensor] = field(default_factory=dict)
    wsum: Tensor | None = None

    def update(self, pred: Tensor, target: Tensor, last_input: Tensor) -> None:
        """Add a batch.

        Args:
            pred: ``(B, K, C, H, W)`` normalised prediction.
            target: ``(B, K, C, H, W)`` normalised truth.
            last_input: ``(B, C, H, W)`` normalised last input day (persistence).
        """
        w = self.weight.to(pred.device, torch.float64)
        std = self.std.to(pred.device, torch.float64)[None, None, :, None, None]
        truth = torch.nan_to_num(target.double())
        persist = torch.nan_to_num(last_input.double())[:, None].expand_as(truth)
        for name, fc in (("model", pred.double()), ("persistence", persist)):
            # (f*std + mean) - (t*std + mean) = (f - t) * std: the mean cancels out.
            err2 = (((fc - truth) * std) ** 2 * w).sum(dim=(0, 3, 4))  # (K, C)
            self.sums[name] = self.sums.get(name, 0) + err2
        ws = w.sum(dim=(1, 2))[None].expand(truth.shape[1], -1) * truth.shape[0]
        self.wsum = ws if self.wsum is None else self.wsum + ws

    def all_reduce(self) -> None:
        """Sum the accumulators over distributed ranks (no-op when not distributed)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or self.wsum is None:
            return
        for name in sorted(self.sums):
            dist.all_reduce(self.sums[name])
        dist.all_reduce(self.wsum)

    def rmse(self) -> dict[str, np.ndarray]:
        """``{"model": (K, C), "persistence": (K, C)}`` RMSE arrays."""
        assert self.wsum is not None, "no batch was added"
        return {k: torch.sqrt(v / self.wsum).cpu().numpy() for k, v in self.sums.items()}


def records(
    group: str,
    channels: Sequence[tuple[str, int | None]],
    depths_m: Sequence[float] | None,
    rmse: dict[str, np.ndarray],
    lead_days: Sequence[int],
) -> list[dict[str, Any]]:
    """Flat score rows: group, variable, level, depth, lead day, model, persistence, skill."""
    out: list[dict[str, Any]] = []
    for ci, (var, li) in enumerate(channels):
        for ki, day in enumerate(lead_days):
            m = float(rmse["model"][ki, ci])
            p = float(rmse["persistence"][ki, ci])
            out.append(
                {
                    "group": group,
                    "variable": var,
                    "level_index": li,
                    "depth_m": None if li is None or depths_m is None else float(depths_m[li]),
                    "lead_day": int(day),
                    "model_rmse": m,
                    "persistence_rmse": p,
                    "skill": (1.0 - m / p) if p > 0 else None,
                }
            )
    return out


def format_table(rows: Sequence[dict[str, Any]], lead_day: int = 1) -> str:
    """A text table of the rows at one lead day (skill = 1 - model/persistence)."""
    sel = [r for r in rows if r["lead_day"] == lead_day]
    head = f"{'group':<13}{'variable':<9}{'depth_m':>9}{'model':>12}{'persist':>12}{'skill':>8}"
    lines = [f"Validation RMSE at lead day {lead_day} (physical units)", head, "-" * len(head)]
    for r in sel:
        depth = "-" if r["depth_m"] is None else f"{r['depth_m']:.1f}"
        skill = "n/a" if r["skill"] is None else f"{r['skill']:+.3f}"
        lines.append(
            f"{r['group']:<13}{r['variable']:<9}{depth:>9}{r['model_rmse']:>12.5g}"
            f"{r['persistence_rmse']:>12.5g}{skill:>8}"
        )
    return "\n".join(lines)
