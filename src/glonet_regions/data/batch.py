"""The typed contract between the loader and the training engine: :class:`Sample` and
:class:`Batch`.

A :class:`GlonetStoreDataset` item is a :class:`Sample` (one window of days); the loader's
collate function stacks samples into a :class:`Batch`. Both check their fields' shapes and
dtypes once, when built, so the engine never has to guess what it was given; a batch moves to
a device with :meth:`Batch.to`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from glonet_regions.core.errors import ValidationError

__all__ = ["Batch", "Sample", "collate_samples"]


def _check(name: str, t: Tensor, ndim: int, dtype: torch.dtype, what: str) -> None:
    if not isinstance(t, Tensor):
        raise ValidationError(f"{what}: field {name} is a {type(t).__name__}, expected a tensor")
    if t.ndim != ndim:
        raise ValidationError(
            f"{what}: field {name} has shape {tuple(t.shape)}, expected {ndim} dimensions"
        )
    if t.dtype != dtype:
        raise ValidationError(f"{what}: field {name} is {t.dtype}, expected {dtype}")


def _check_fields(item: Sample | Batch, what: str, lead: int) -> None:
    """Ranks, dtypes and shared ``(C, H, W)`` of a sample (``lead`` 0) or a batch (``lead`` 1)."""
    _check("x", item.x, 4 + lead, torch.float32, what)
    _check("y", item.y, 4 + lead, torch.float32, what)
    _check("mask", item.mask, 3 + lead, torch.float32, what)
    _check("time", item.time, lead, torch.int64, what)
    chw = item.x.shape[1 + lead :]
    if item.y.shape[1 + lead :] != chw or item.mask.shape[lead:] != chw:
        raise ValidationError(
            f"{what}: x {tuple(item.x.shape)}, y {tuple(item.y.shape)} and mask "
            f"{tuple(item.mask.shape)} do not share (C, H, W)"
        )
    if item.boundary is not None:
        _check("boundary", item.boundary, 4 + lead, torch.float32, what)
        if item.boundary.shape != item.y.shape:
            raise ValidationError(
                f"{what}: boundary {tuple(item.boundary.shape)} differs from y "
                f"{tuple(item.y.shape)}"
            )


@dataclass(frozen=True)
class Sample:
    """One window of a depth group: ``x`` ``(n_input, C, H, W)`` float32 (normalised, land 0),
    ``y`` ``(n_target, C, H, W)``, ``boundary`` ``(n_target, C, H, W)`` or None, ``mask``
    ``(C, H, W)`` float32 ocean mask, ``time`` the first target day (int64 scalar, days since
    1970-01-01)."""

    x: Tensor
    y: Tensor
    mask: Tensor
    time: Tensor
    boundary: Tensor | None = None

    def __post_init__(self) -> None:
        _check_fields(self, "loader sample", 0)


@dataclass(frozen=True)
class Batch:
    """Stacked samples: ``x`` ``(B, n_input, C, H, W)``, ``y`` and ``boundary``
    ``(B, n_target, C, H, W)`` (``boundary`` None when the store has none), ``mask``
    ``(B, C, H, W)``, ``time`` ``(B,)`` int64. Floating fields are float32."""

    x: Tensor
    y: Tensor
    mask: Tensor
    time: Tensor
    boundary: Tensor | None = None

    def __post_init__(self) -> None:
        _check_fields(self, "loader batch", 1)
        b = self.x.shape[0]
        if any(t.shape[0] != b for t in (self.y, self.mask, self.time)):
            raise ValidationError(f"loader batch: fields disagree on the batch size ({b})")

    @property
    def size(self) -> int:
        """Number of samples in the batch."""
        return int(self.x.shape[0])

    @property
    def n_target(self) -> int:
        return int(self.y.shape[1])

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> Batch:
        """The batch on ``device`` (the checks are not repeated)."""

        def move(t: Tensor) -> Tensor:
            return t.to(device, non_blocking=non_blocking)

        return _unchecked(
            move(self.x), move(self.y), move(self.mask), move(self.time),
            None if self.boundary is None else move(self.boundary),
        )  # fmt: skip

    def pin_memory(self) -> Batch:
        """Page-locked copies (called by the DataLoader with ``pin_memory=True``)."""
        return _unchecked(
            self.x.pin_memory(), self.y.pin_memory(), self.mask.pin_memory(),
            self.time.pin_memory(),
            None if self.boundary is None else self.boundary.pin_memory(),
        )  # fmt: skip


def _unchecked(x: Tensor, y: Tensor, mask: Tensor, time: Tensor, boundary: Tensor | None) -> Batch:
    out = object.__new__(Batch)
    for name, value in (("x", x), ("y", y), ("mask", mask), ("time", time),
                        ("boundary", boundary)):  # fmt: skip
        object.__setattr__(out, name, value)
    return out


def collate_samples(samples: Sequence[Sample]) -> Batch:
    """Stack samples into a :class:`Batch` (the loader's ``collate_fn``)."""
    if not samples:
        raise ValidationError("cannot collate an empty list of samples")
    bnd = [s.boundary for s in samples]
    if any(b is None for b in bnd) and not all(b is None for b in bnd):
        raise ValidationError("loader samples disagree on holding boundary data")
    return Batch(
        x=torch.stack([s.x for s in samples]),
        y=torch.stack([s.y for s in samples]),
        mask=torch.stack([s.mask for s in samples]),
        time=torch.stack([s.time for s in samples]),
        boundary=None if bnd[0] is None else torch.stack([b for b in bnd if b is not None]),
    )
