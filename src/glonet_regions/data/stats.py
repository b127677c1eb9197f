"""Streaming per-channel statistics (count, mean, M2) in float64, mergeable (Chan et al.).

A store's normalisation statistics are computed chunk by chunk, in parallel, then merged:
each time chunk computes exact two-pass moments of its own ocean cells, and the partial
results are combined with the pairwise update of Chan, Golub and LeVeque (1979), which is
exact in exact arithmetic and numerically stable in float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glonet_regions.core.errors import StoreError


@dataclass
class RunningMoments:
    """Count, mean and sum of squared deviations (M2) per channel, float64."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def zeros(cls, n_channels: int) -> RunningMoments:
        z = np.zeros(n_channels, dtype=np.float64)
        return cls(z.copy(), z.copy(), z.copy())

    @property
    def n_channels(self) -> int:
        return int(self.count.size)

    def update(self, values: np.ndarray, mask: np.ndarray) -> None:
        """Add samples ``values`` (N, C, H, W) where ``mask`` (C, H, W) is True (ocean).

        NaN values inside the mask are an error of the caller (checked upstream); they are
        ignored here so that a single bad cell cannot poison the statistics.
        """
        if values.shape[0] == 0:
            return
        c = values.shape[1]
        for ch in range(c):
            sel = values[:, ch][:, mask[ch]].astype(np.float64, copy=False).ravel()
            sel = sel[np.isfinite(sel)]
            n = sel.size
            if n == 0:
                continue
            mean = float(sel.mean())
            m2 = float(np.square(sel - mean).sum())
            self._merge_one(ch, float(n), mean, m2)

    def _merge_one(self, ch: int, n_b: float, mean_b: float, m2_b: float) -> None:
        n_a, mean_a, m2_a = self.count[ch], self.mean[ch], self.m2[ch]
        n = n_a + n_b
        if n == 0:
            return
        delta = mean_b - mean_a
        self.mean[ch] = mean_a + delta * (n_b / n)
        self.m2[ch] = m2_a + m2_b + delta * delta * (n_a * n_b / n)
        self.count[ch] = n

    def merge(self, other: RunningMoments) -> None:
        """Merge another set of moments into this one (Chan's parallel update)."""
        if other.n_channels != self.n_channels:
            raise ValueError(f"Cannot merge {other.n_channels} channels into {self.n_channels}")
        for ch in range(self.n_channels):
            if other.count[ch] > 0:
                self._merge_one(ch, other.count[ch], other.mean[ch], other.m2[ch])

    @property
    def variance(self) -> np.ndarray:
        """Population variance (M2 / n); NaN where no sample was seen."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.m2 / np.maximum(self.count, 1), np.nan)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def to_array(self) -> np.ndarray:
        """``(3, C)`` array of count, mean, M2 (the form kept in the progress arrays)."""
        return np.stack([self.count, self.mean, self.m2])

    @classmethod
    def from_array(cls, arr: np.ndarray) -> RunningMoments:
        arr = np.asarray(arr, dtype=np.float64)
        return cls(arr[0].copy(), arr[1].copy(), arr[2].copy())


@dataclass(frozen=True)
class GroupStats:
    """Normalisation statistics of one depth group, per channel (float64).

    ``mean``/``std`` are those of the daily values, ``diff_mean``/``diff_std`` those of the
    day-to-day differences (value at day t+1 minus day t), over ocean cells of the training
    split. A channel with no ocean cell (a deep level under a shelf region) or zero spread
    gets mean 0 and std 1 so that normalising never divides by zero; ``count`` tells which.
    """

    channels: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    diff_mean: np.ndarray
    diff_std: np.ndarray
    count: np.ndarray
    diff_count: np.ndarray

    @classmethod
    def from_moments(
        cls, channels: Sequence[str], values: RunningMoments, diffs: RunningMoments
    ) -> GroupStats:
        def fix(mean: np.ndarray, std: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, ...]:
            ok = (count > 0) & np.isfinite(std) & (std > 0)
            return (
                np.where(count > 0, mean, 0.0),
                np.where(ok, std, 1.0),
            )

        mean, std = fix(values.mean, values.std, values.count)
        dmean, dstd = fix(diffs.mean, diffs.std, diffs.count)
        return cls(tuple(channels), mean, std, dmean, dstd, values.count.copy(), diffs.count.copy())

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": list(self.channels),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "diff_mean": [float(v) for v in self.diff_mean],
            "diff_std": [float(v) for v in self.diff_std],
            "count": [int(v) for v in self.count],
            "diff_count": [int(v) for v in self.diff_count],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupStats:
        try:
            return cls(
                tuple(data["channels"]),
                *(
                    np.asarray(data[k], dtype=np.float64)
                    for k in ("mean", "std", "diff_mean", "diff_std", "count", "diff_count")
                ),
            )
        except KeyError as exc:
            raise StoreError(f"Store statistics lack the field {exc.args[0]!r}") from None
