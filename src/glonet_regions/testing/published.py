"""A small stand-in of GLONET's published release folder, for tests and the sample.

:func:`write_release_stats` writes ``L<depth>/<var>_{mean,std}.npy`` files whose values encode
their place (variable and level), so a test can tell which file a channel was paired with.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from glonet_regions.model.published import DEPTH_GROUPS, GROUP_LEVEL_DIRS, GROUP_VARIABLES

__all__ = ["VARIABLE_CODES", "release_mean", "release_std", "write_release_stats"]

VARIABLE_CODES = {"zos": 1, "thetao": 2, "so": 3, "uo": 4, "vo": 5}
"""Leading digit of a stand-in mean: the variable."""


def _depth(level_dir: str) -> int:
    return int(level_dir.removeprefix("L"))


def release_mean(var: str, level_dir: str) -> float:
    """The stand-in mean of ``var`` at ``level_dir``: ``code * 10000 + depth``."""
    return float(VARIABLE_CODES[var] * 10000 + _depth(level_dir))


def release_std(var: str, level_dir: str) -> float:
    """The stand-in std: ``1 + depth / 1000`` (positive, distinct per level)."""
    return 1.0 + _depth(level_dir) / 1000.0


def write_release_stats(
    folder: str | Path, groups: Iterable[str] = DEPTH_GROUPS, *, scalar_surface: bool = True
) -> Path:
    """Write stand-in statistics for ``groups`` under ``folder`` (laid out like the release).

    The surface files hold 0-d arrays when ``scalar_surface`` (the operational code wraps the
    zos value in a list), the others 1-element arrays (it reads them with ``[0]``).
    """
    root = Path(folder)
    for group in groups:
        g = group if group in GROUP_LEVEL_DIRS else None
        if g is None:
            raise ValueError(f"unknown depth group {group!r}")
        for level in GROUP_LEVEL_DIRS[g]:
            (root / level).mkdir(parents=True, exist_ok=True)
            for var in GROUP_VARIABLES[g]:
                shape: tuple[int, ...] = () if (scalar_surface and level == "L0") else (1,)
                for kind, value in (
                    ("mean", release_mean(var, level)),
                    ("std", release_std(var, level)),
                ):
                    np.save(root / level / f"{var}_{kind}.npy", np.full(shape, value))
    return root
