"""Names of the published GLONET weight and normalisation files.

The files are served over HTTPS from the EDITO object store and cached by the asset
registry of :mod:`glonet_regions.data.assets` (imported lazily, so this module stays light).
Normalisation statistics are stored per level as ``L{depth}/{variable}_{mean|std}.npy``,
where ``depth`` is the rounded level depth used in the release's file names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = [
    "DEPTH_GROUPS",
    "GROUP_CHANNELS",
    "GROUP_LEVEL_DIRS",
    "GROUP_VARIABLES",
    "PUBLISHED_WEIGHTS",
    "DepthGroup",
    "fetch_published_weights",
    "normalisation_assets",
]

DepthGroup = Literal["surface", "intermediate", "deep"]
DEPTH_GROUPS: tuple[DepthGroup, ...] = ("surface", "intermediate", "deep")

PUBLISHED_WEIGHTS: dict[DepthGroup, str] = {
    "surface": "glonet_p1.pt",
    "intermediate": "glonet_p2.pt",
    "deep": "glonet_p3.pt",
}
"""Asset name of the TorchScript weight file of each depth group."""

GROUP_CHANNELS: dict[DepthGroup, int] = {"surface": 5, "intermediate": 40, "deep": 40}

GROUP_VARIABLES: dict[DepthGroup, tuple[str, ...]] = {
    "surface": ("zos", "thetao", "so", "uo", "vo"),
    "intermediate": ("thetao", "so", "uo", "vo"),
    "deep": ("thetao", "so", "uo", "vo"),
}

GROUP_LEVEL_DIRS: dict[DepthGroup, tuple[str, ...]] = {
    # 0.494 m
    "surface": ("L0",),
    # 47.37 .. 763.33 m (levels 1..10)
    "intermediate": (
        "L50", "L100", "L150", "L222", "L318", "L380", "L450", "L540", "L640", "L763",
    ),
    # 902.34 .. 5274.78 m (levels 11..20)
    "deep": (
        "L902", "L1245", "L1684", "L2225", "L3220", "L3597", "L3992", "L4405", "L4833", "L5274",
    ),
}  # fmt: skip
"""Level directories of the release's normalisation files, per depth group (in depth order).

The split of the 20 sub-surface levels into two groups of 10 follows DESIGN.md section 3;
the directory names are those of the public release's file list.
"""


def _check_group(group: str) -> DepthGroup:
    if group not in PUBLISHED_WEIGHTS:
        raise ValueError(f"unknown depth group {group!r}; valid groups: {list(DEPTH_GROUPS)}")
    return group


def normalisation_assets(group: str) -> dict[str, tuple[str, str]]:
    """Asset names of the mean and std files of every channel of a depth group.

    Returns:
        ``{"thetao@L50": ("L50/thetao_mean.npy", "L50/thetao_std.npy"), ...}`` in the
        network's channel order (variable-major for the 40-channel groups: thetao of the 10
        levels, then so, uo, vo; ``zos, thetao, so, uo, vo`` for the surface).
    """
    g = _check_group(group)
    out: dict[str, tuple[str, str]] = {}
    for var in GROUP_VARIABLES[g]:
        for level in GROUP_LEVEL_DIRS[g]:
            out[f"{var}@{level}"] = (f"{level}/{var}_mean.npy", f"{level}/{var}_std.npy")
    return out


def fetch_published_weights(group: str, offline: bool | None = None) -> Path:
    """Local path of a depth group's published weight file, downloading it if needed.

    Args:
        group: ``"surface"``, ``"intermediate"`` or ``"deep"``.
        offline: Passed to the asset registry (``None``: its default policy).

    Raises:
        ValueError: Unknown group.
        AssetError: From the asset registry when the file cannot be obtained.
    """
    name = PUBLISHED_WEIGHTS[_check_group(group)]
    from glonet_regions.data.assets import GLONET_ASSETS

    return Path(GLONET_ASSETS.fetch(name, offline=offline))
