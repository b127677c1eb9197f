"""Land/sea masks per depth level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glonet_regions.core.errors import ValidationError


@dataclass(frozen=True, eq=False)
class LandSeaMask:
    """Boolean ocean mask of shape ``(n_levels, nlat, nlon)``: True where a cell is ocean.

    Level ``k`` refers to the ``k``-th entry of the depth levels the mask was built for. A cell
    that is land at one level is land at every deeper level (the sea floor only gets
    shallower towards the coast); :meth:`from_data` enforces this, the constructor checks it.
    """

    ocean: np.ndarray

    def __post_init__(self) -> None:
        arr = np.asarray(self.ocean)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValidationError(f"A mask must be (levels, lat, lon), got shape {arr.shape}")
        if arr.dtype != np.bool_:
            if not np.isin(np.unique(arr), (0, 1)).all():
                raise ValidationError("A mask must hold only booleans (or 0/1)")
            arr = arr.astype(bool)
        if np.any(arr[1:] & ~arr[:-1]):
            k = int(np.argmax(np.any(arr[1:] & ~arr[:-1], axis=(1, 2)))) + 1
            raise ValidationError(
                f"Mask level {k} has ocean under land of level {k - 1}: "
                "build it with LandSeaMask.from_data to close such cells"
            )
        arr = np.ascontiguousarray(arr)
        arr.flags.writeable = False
        object.__setattr__(self, "ocean", arr)

    @classmethod
    def from_data(cls, values: np.ndarray) -> LandSeaMask:
        """Ocean where ``values`` is finite, with cells below land closed.

        ``values`` is ``(levels, lat, lon)`` or ``(lat, lon)`` (for a single level); NaN marks
        land. A wet cell under a dry one is treated as land (a cumulative AND down the column).
        """
        arr = np.asarray(values)
        if arr.ndim == 2:
            arr = arr[None]
        wet = np.isfinite(arr)
        return cls(np.logical_and.accumulate(wet, axis=0))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.ocean.shape)

    @property
    def n_levels(self) -> int:
        return int(self.ocean.shape[0])

    def level(self, k: int) -> np.ndarray:
        """The 2-D ocean mask of level ``k``."""
        return self.ocean[k]

    def select_levels(self, indices: tuple[int, ...] | list[int]) -> LandSeaMask:
        """The mask of the given levels, in order."""
        return LandSeaMask(self.ocean[list(indices)])

    def isel(self, lat: slice, lon: slice) -> LandSeaMask:
        return LandSeaMask(self.ocean[:, lat, lon])

    def ocean_fraction(self) -> np.ndarray:
        """Fraction of ocean cells per level."""
        return self.ocean.mean(axis=(1, 2))

    def bottom_level(self) -> np.ndarray:
        """Index of the deepest wet level per column (-1 on land)."""
        return self.ocean.sum(axis=0).astype(np.int64) - 1

    def apply(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """``values`` with land set to ``fill`` (``values`` is ``(..., levels, lat, lon)``)."""
        return np.where(self.ocean, values, fill)
