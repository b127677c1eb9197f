"""Depth levels and GLONET's depth groups, as data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from glonet_regions.core.errors import ValidationError


@dataclass(frozen=True)
class DepthLevels:
    """Ordered model depth levels in metres (positive down, strictly increasing)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        vals = tuple(float(v) for v in self.values)
        if not vals:
            raise ValidationError("DepthLevels needs at least one level")
        if any(v < 0 for v in vals):
            raise ValidationError(f"Depth levels must be >= 0 m (positive down), got {vals}")
        if any(b <= a for a, b in itertools.pairwise(vals)):
            raise ValidationError(f"Depth levels must be strictly increasing, got {vals}")
        object.__setattr__(self, "values", vals)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[float]:
        return iter(self.values)

    def __getitem__(self, i: int) -> float:
        return self.values[i]

    def as_array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)

    def index_of(self, depth: float, *, rtol: float = 1e-3, atol: float = 0.05) -> int:
        """Index of the level equal to ``depth`` within tolerance, else a ValidationError."""
        arr = self.as_array()
        hits = np.flatnonzero(np.isclose(arr, depth, rtol=rtol, atol=atol))
        if hits.size == 0:
            raise ValidationError(f"Depth {depth} m is not one of the levels {list(self.values)}")
        return int(hits[0])

    def nearest(self, depths: Sequence[float]) -> list[int]:
        """Index of the nearest level for each depth."""
        arr = self.as_array()
        return [int(np.argmin(np.abs(arr - d))) for d in depths]


@dataclass(frozen=True)
class DepthGroup:
    """One of GLONET's independent networks: a set of levels and a channel layout.

    Channels are ordered variable-major: for variables ``(v0, v1, ...)`` and levels
    ``(l0, l1, ...)`` the channel of ``(v, l)`` is ``vi * n_levels + li``, with 2-D
    variables (``zos``) first, one channel each.
    """

    name: str
    level_indices: tuple[int, ...]
    variables_2d: tuple[str, ...]
    variables_3d: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.level_indices:
            raise ValidationError(f"Depth group {self.name!r} has no levels")
        if not self.variables_3d and not self.variables_2d:
            raise ValidationError(f"Depth group {self.name!r} has no variables")
        object.__setattr__(self, "level_indices", tuple(int(i) for i in self.level_indices))

    @property
    def n_levels(self) -> int:
        return len(self.level_indices)

    @property
    def n_channels(self) -> int:
        return len(self.variables_2d) + len(self.variables_3d) * self.n_levels

    def channels(self) -> list[tuple[str, int | None]]:
        """``(variable, level index or None)`` for every channel, in channel order."""
        out: list[tuple[str, int | None]] = [(v, None) for v in self.variables_2d]
        for v in self.variables_3d:
            out.extend((v, li) for li in self.level_indices)
        return out

    def channel_index(self, variable: str, level_index: int | None = None) -> int:
        """Channel number of ``variable`` at the global level index ``level_index``."""
        for i, (v, li) in enumerate(self.channels()):
            if v == variable and (li == level_index or li is None):
                return i
        raise ValidationError(
            f"Depth group {self.name!r} has no channel for {variable!r} at level {level_index}"
        )


@dataclass(frozen=True)
class DepthScheme:
    """Levels plus their partition into depth groups."""

    levels: DepthLevels
    groups: tuple[DepthGroup, ...]

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValidationError(f"Depth group names must be unique, got {names}")
        for g in self.groups:
            bad = [i for i in g.level_indices if not 0 <= i < len(self.levels)]
            if bad:
                raise ValidationError(
                    f"Depth group {g.name!r} refers to levels {bad} outside "
                    f"0..{len(self.levels) - 1}"
                )

    def group(self, name: str) -> DepthGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise ValidationError(
            f"Unknown depth group {name!r}; known: {', '.join(g.name for g in self.groups)}"
        )

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)


#: GLONET's 21 levels in metres.
GLONET_LEVELS = DepthLevels(
    (
        0.494, 47.37, 92.33, 155.85, 222.48, 318.13, 380.21, 453.94, 541.09, 643.57,
        763.33, 902.34, 1245.29, 1684.28, 2225.08, 3220.82, 3597.03, 3992.48, 4405.22,
        4833.29, 5274.78,
    )
)  # fmt: skip

_T_S_U_V = ("thetao", "so", "uo", "vo")

#: GLONET's three networks: surface (zos + 4 at 0.494 m), intermediate and deep (10 levels each).
GLONET_DEPTH_SCHEME = DepthScheme(
    GLONET_LEVELS,
    (
        DepthGroup("surface", (0,), ("zos",), _T_S_U_V),
        DepthGroup("intermediate", tuple(range(1, 11)), (), _T_S_U_V),
        DepthGroup("deep", tuple(range(11, 21)), (), _T_S_U_V),
    ),
)
