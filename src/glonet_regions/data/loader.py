"""PyTorch dataset and loader over a training store (the only data module importing torch).

A sample is ``n_input`` consecutive days (the model input) followed by ``n_target`` days (the
targets, and the boundary data forcing the rollout over them), all of one depth group on the
full store grid. Samples never cross a gap of the time axis nor a split boundary.

Determinism: :class:`EpochBatchSampler` draws the permutation of epoch ``e`` from
``numpy.random.default_rng([seed, e])`` in the main process, gives rank ``r`` of ``world_size``
the positions ``r, r + world_size, ...`` (padding by wrap-around so every rank takes the same
number of steps, as ``DistributedSampler`` does), and can start an epoch at a given step. So a
run resumed at (epoch, step) sees exactly the batches the interrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from glonet_regions.core.errors import StoreError, ValidationError
from glonet_regions.data.batch import Sample, collate_samples
from glonet_regions.data.stats import GroupStats
from glonet_regions.data.store import StoreReader

SPLITS = ("train", "validation", "test")


def sample_starts(times: np.ndarray, lo: int, hi: int, n: int) -> np.ndarray:
    """Time indices ``i`` such that days ``i..i+n-1`` are consecutive and all in ``[lo, hi]``."""
    if times.size < n:
        return np.zeros(0, dtype=np.int64)
    inside = (times >= lo) & (times <= hi)
    starts = []
    for i in range(times.size - n + 1):
        if times[i + n - 1] - times[i] == n - 1 and inside[i] and inside[i + n - 1]:
            starts.append(i)
    return np.asarray(starts, dtype=np.int64)


class GlonetStoreDataset(Dataset[Sample]):
    """Samples of one depth group of a store.

    Items are :class:`~glonet_regions.data.batch.Sample` objects: ``x``
    ``(n_input, C, H, W)`` float32 (normalised when ``normalise``; land 0), ``y``
    ``(n_target, C, H, W)``, ``boundary`` ``(n_target, C, H, W)`` (normalised, 0 outside the
    boundary zone and on land; only with ``with_boundary``), ``mask`` ``(C, H, W)`` float32
    ocean mask, ``time`` the first target day (int64 days since 1970-01-01).

    The zarr store is opened lazily in each process (DataLoader workers included).

    Args:
        store: Path of a complete store (an incomplete one raises StoreError).
        group: Depth group name.
        split: train, validation or test.
        n_input: Input days.
        n_target: Target days.
        with_boundary: Add the boundary data of the target days.
        normalise: Z-score with the store's training statistics.
    """

    def __init__(
        self,
        store: str | Path,
        group: str,
        split: str,
        *,
        n_input: int = 2,
        n_target: int = 2,
        with_boundary: bool = True,
        normalise: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise ValidationError(f"Unknown split {split!r}; expected one of {SPLITS}")
        if n_input < 1 or n_target < 1:
            raise ValidationError("n_input and n_target must be >= 1")
        self.store = Path(store)
        reader = StoreReader(self.store)
        reader.group_info(group)
        if with_boundary and not reader.has_boundary:
            raise StoreError(f"Store {self.store} holds no boundary data; pass with_boundary=False")
        self.group, self.split = group, split
        self.n_input, self.n_target = n_input, n_target
        self.with_boundary, self.normalise = with_boundary, normalise
        self.stats: GroupStats = reader.stats(group)
        self.channels = reader.channels(group)
        self.times = reader.times
        rng = reader.splits.get(split)
        epoch = np.datetime64("1970-01-01", "D")
        lo = int((np.datetime64(rng.start, "D") - epoch).astype(int))
        hi = int((np.datetime64(rng.end, "D") - epoch).astype(int))
        self.starts = sample_starts(self.times, lo, hi, n_input + n_target)
        self.mask = reader.channel_mask(group).astype(np.float32)
        self._mean = self.stats.mean.astype(np.float32)[:, None, None]
        self._inv_std = (1.0 / self.stats.std).astype(np.float32)[:, None, None]
        self._land = ~reader.channel_mask(group)
        self._mask_t = torch.from_numpy(self.mask)
        self._reader: StoreReader | None = None

    def set_normalisation(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Normalise with these per-channel statistics instead of the store's (e.g. GLONET's)."""
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if mean.shape != self.stats.mean.shape or std.shape != mean.shape or not (std > 0).all():
            raise ValueError(
                f"normalisation statistics must be ({self.stats.mean.size},) with std > 0, "
                f"got mean {mean.shape} and std {std.shape}"
            )
        self._mean = mean.astype(np.float32)[:, None, None]
        self._inv_std = (1.0 / std).astype(np.float32)[:, None, None]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_reader"] = None  # reopened lazily in the worker
        return state

    def _open(self) -> StoreReader:
        if self._reader is None:
            self._reader = StoreReader(self.store)
        return self._reader

    def __len__(self) -> int:
        return int(self.starts.size)

    def _prepare(self, block: np.ndarray, *, nan_possible: bool) -> np.ndarray:
        """Normalise in place and zero the land (and NaN where they may occur)."""
        block = np.asarray(block, dtype=np.float32)
        if self.normalise:
            np.subtract(block, self._mean, out=block)
            np.multiply(block, self._inv_std, out=block)
        np.copyto(block, np.float32(0.0), where=self._land)
        if nan_possible:
            np.nan_to_num(block, copy=False, nan=0.0)
        return block

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"Sample {index} out of range ({len(self)} samples)")
        reader = self._open()
        s = int(self.starts[index])
        n = self.n_input + self.n_target
        # The writer guarantees finite ocean values and NaN land: zeroing land suffices.
        block = self._prepare(reader.read(self.group, s, s + n), nan_possible=False)
        bnd = None
        if self.with_boundary:
            b = reader.read_boundary(self.group, s + self.n_input, s + n)
            bnd = torch.from_numpy(self._prepare(b, nan_possible=True))
        return Sample(
            x=torch.from_numpy(block[: self.n_input]),
            y=torch.from_numpy(block[self.n_input :]),
            mask=self._mask_t,
            time=torch.tensor(int(self.times[s + self.n_input]), dtype=torch.int64),
            boundary=bnd,
        )


class EpochBatchSampler(Sampler[list[int]]):
    """Seeded, rank-aware, resumable batch sampler (see the module docstring).

    Call :meth:`set_epoch` before each epoch; ``start_step`` skips the first batches of that
    epoch (for exact resume) and is cleared once the epoch has been iterated.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        epoch: int = 0,
        start_step: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValidationError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValidationError(f"rank {rank} is not in 0..world_size-1 ({world_size})")
        self.n, self.batch_size = n, batch_size
        self.shuffle, self.seed = shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start_step = epoch, start_step
        self._check_start()

    def _check_start(self) -> None:
        if not 0 <= self.start_step <= self.full_length():
            raise ValidationError(
                f"start_step {self.start_step} is outside the epoch's {self.full_length()} steps"
            )

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        self.epoch, self.start_step = epoch, start_step
        self._check_start()

    def rank_indices(self) -> np.ndarray:
        """The sample indices this rank sees in the current epoch, in order."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.n == 0:
            return order
        if self.drop_last:
            per_rank = self.n // self.world_size
        else:
            per_rank = math.ceil(self.n / self.world_size)
        total = per_rank * self.world_size
        if total > self.n:
            order = np.concatenate([order, np.resize(order, total - self.n)])
        return order[self.rank : total : self.world_size]

    def _batches(self) -> list[list[int]]:
        idx = self.rank_indices().tolist()
        out = [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out

    def full_length(self) -> int:
        return len(self._batches())

    def __len__(self) -> int:
        return self.full_length() - self.start_step

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()[self.start_step :]
        self.start_step = 0
        yield from batches


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)


def make_loader(
    dataset: GlonetStoreDataset,
    *,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    pin_memory: bool = True,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
    start_step: int = 0,
    epoch: int = 0,
    prefetch_factor: int = 2,
    multiprocessing_context: str | None = None,
) -> DataLoader[Sample]:
    """A DataLoader of :class:`~glonet_regions.data.batch.Batch` objects, with
    :class:`EpochBatchSampler`, persistent workers and pinned memory.

    Pinned memory is used only where an accelerator exists (CPU-only torch would warn).
    Resume at (epoch, step): ``make_loader(..., epoch=e, start_step=s)``; at each later
    epoch call :func:`set_epoch`.
    """
    sampler = EpochBatchSampler(
        len(dataset), batch_size, shuffle=shuffle, seed=seed, rank=rank,
        world_size=world_size, drop_last=drop_last, epoch=epoch, start_step=start_step,
    )  # fmt: skip
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra.update(
            persistent_workers=True,
            prefetch_factor=prefetch_factor,
            worker_init_fn=_worker_init,
            multiprocessing_context=multiprocessing_context,
        )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_samples,
        pin_memory=bool(pin_memory and torch.cuda.is_available()),
        **extra,
    )


def set_epoch(loader: DataLoader[Any], epoch: int, start_step: int = 0) -> None:
    """Select the epoch (and first step) the next iteration of ``loader`` yields."""
    sampler = loader.batch_sampler
    if not isinstance(sampler, EpochBatchSampler):
        raise ValidationError("set_epoch needs a loader built by make_loader")
    sampler.set_epoch(epoch, start_step)


def _as_channel_array(values: np.ndarray, like: Any) -> Any:
    shaped = values.reshape(-1, 1, 1)
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(shaped, dtype=like.dtype, device=like.device)
    return shaped.astype(np.asarray(like).dtype, copy=False)


def normalise(x: Any, stats: GroupStats) -> Any:
    """``(x - mean) / std`` per channel; ``x`` is ``(..., C, H, W)`` (tensor or array)."""
    return (x - _as_channel_array(stats.mean, x)) / _as_channel_array(stats.std, x)


def denormalise(x: Any, stats: GroupStats, mask: Any = None) -> Any:
    """Back to physical units: ``x * std + mean`` per channel (``(..., C, H, W)``).

    With ``mask`` (``(C, H, W)``, 1 ocean / 0 land), land is set to NaN again: a normalised
    0 on land would otherwise become a spurious "mean" value after de-normalising.
    """
    out = x * _as_channel_array(stats.std, x) + _as_channel_array(stats.mean, x)
    if mask is not None:
        if isinstance(out, torch.Tensor):
            m = torch.as_tensor(mask, device=out.device).bool()
            out = torch.where(m, out, torch.full_like(out, float("nan")))
        else:
            out = np.where(np.asarray(mask).astype(bool), out, np.nan)
    return out
