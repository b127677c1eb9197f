"""The published GLONET release: file names, statistics and how channels pair with them.

The release (EDITO object store, ``project-glonet/public/glonet_1_4_model/20241112/model/``)
holds three TorchScript networks (``glonet_p1.pt`` surface, ``glonet_p2.pt`` intermediate,
``glonet_p3.pt`` deep) and one scalar mean and standard deviation per (variable, level) in
``L<depth>/<var>_mean.npy`` / ``_std.npy``, where ``<depth>`` is the level's depth rounded
as in the release's folder names (``L0``, ``L50``, ``L100`` ... ``L5274``).

Pairing of channels with statistics (``pairing``):

``published`` (default)
    What Mercator's operational inference does (``utility.py`` of the daily forecast): the
    statistics of the intermediate and deep groups are collected by iterating the level folder
    names sorted as *strings* (``L100, L150, L222, L318, L380, L450, L50, L540, L640, L763``;
    ``L1245 ... L5274, L902``) while the data channels are in depth order. Channel ``k`` of a
    variable therefore uses the statistics of the ``k``-th folder in string order. The weights
    were used (and, as far as anyone can tell, trained) with that pairing, so it is what the
    network expects.
``depth``
    Each channel uses the statistics of its own level.

The surface group has a single level, so both pairings agree there. This module needs only
numpy; files are downloaded by :mod:`glonet_regions.data.assets` (imported lazily).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from glonet_regions.core.errors import AssetError, ValidationError

__all__ = [
    "DEPTH_GROUPS",
    "GROUP_CHANNELS",
    "GROUP_INPUT_LEVEL_DIRS",
    "GROUP_LEVEL_DIRS",
    "GROUP_VARIABLES",
    "PAIRINGS",
    "PUBLISHED_WEIGHTS",
    "DepthGroup",
    "Pairing",
    "PublishedStats",
    "denormalise",
    "fetch_published_stats",
    "fetch_published_weights",
    "load_published_stats",
    "normalisation_assets",
    "normalise",
    "published_stats_for_channels",
    "stats_level_dirs",
]

DepthGroup = Literal["surface", "intermediate", "deep"]
DEPTH_GROUPS: tuple[DepthGroup, ...] = ("surface", "intermediate", "deep")

Pairing = Literal["published", "depth"]
PAIRINGS: tuple[Pairing, ...] = ("published", "depth")

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
    # 47.37 .. 763.33 m (GLONET levels 1..10)
    "intermediate": (
        "L50", "L100", "L150", "L222", "L318", "L380", "L450", "L540", "L640", "L763",
    ),
    # 902.34 .. 5274.78 m (GLONET levels 11..20)
    "deep": (
        "L902", "L1245", "L1684", "L2225", "L3220", "L3597", "L3992", "L4405", "L4833", "L5274",
    ),
}  # fmt: skip
"""The release's level folders of each depth group, in depth order (one per channel level)."""

GROUP_INPUT_LEVEL_DIRS: dict[DepthGroup, tuple[str, ...]] = {
    "surface": GROUP_LEVEL_DIRS["surface"],
    "intermediate": GROUP_LEVEL_DIRS["intermediate"],
    # The operational input loads 4405 m twice and never 4833 m (get_inits.py, glo_in3).
    "deep": (
        "L902", "L1245", "L1684", "L2225", "L3220", "L3597", "L3992", "L4405", "L4405", "L5274",
    ),
}  # fmt: skip
"""The levels the operational inference reads into each group's channels, in channel order."""


def _check_group(group: str) -> DepthGroup:
    if group not in PUBLISHED_WEIGHTS:
        raise ValidationError(
            f"unknown depth group {group!r}; valid groups: {', '.join(DEPTH_GROUPS)}"
        )
    return group


def _check_pairing(pairing: str) -> Pairing:
    if pairing not in PAIRINGS:
        raise ValidationError(
            f"unknown statistics pairing {pairing!r}; valid: {', '.join(PAIRINGS)}"
        )
    return pairing


def stats_level_dirs(group: str, pairing: str = "published") -> tuple[str, ...]:
    """The level folder whose statistics each channel level of ``group`` uses, in channel order.

    ``published``: the folder names sorted as strings (the operational code's order);
    ``depth``: the depth order of the channels.
    """
    g, p = _check_group(group), _check_pairing(pairing)
    dirs = GROUP_LEVEL_DIRS[g]
    return tuple(sorted(set(dirs))) if p == "published" else dirs


def normalisation_assets(group: str) -> dict[str, tuple[str, str]]:
    """Asset names of the mean and std files of every (variable, level) of a depth group.

    Returns:
        ``{"thetao@L50": ("L50/thetao_mean.npy", "L50/thetao_std.npy"), ...}``, variables in
        channel order, levels in depth order.
    """
    g = _check_group(group)
    out: dict[str, tuple[str, str]] = {}
    for var in GROUP_VARIABLES[g]:
        for level in GROUP_LEVEL_DIRS[g]:
            out[f"{var}@{level}"] = (f"{level}/{var}_mean.npy", f"{level}/{var}_std.npy")
    return out


@dataclass(frozen=True)
class PublishedStats:
    """One scalar mean and std per channel of a depth group, from the released files.

    Attributes:
        group: The depth group.
        pairing: ``published`` or ``depth`` (see the module docstring).
        channels: ``"var@Ldir"`` of each channel (the channel's own level, depth order).
        sources: ``"var@Ldir"`` whose statistics each channel uses (differs from
            ``channels`` under the published pairing).
        mean: ``(C,)`` float64.
        std: ``(C,)`` float64, all > 0.
        folder: Where the files were read.
    """

    group: DepthGroup
    pairing: Pairing
    channels: tuple[str, ...]
    sources: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    folder: str

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (recorded in checkpoints and bundles)."""
        return {
            "group": self.group,
            "pairing": self.pairing,
            "channels": list(self.channels),
            "sources": list(self.sources),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "folder": self.folder,
        }


def _read_scalar(path: Path, what: str) -> float:
    if not path.is_file():
        raise AssetError(
            f"GLONET statistics: {path} is missing ({what}); the folder must hold the "
            "release's L<depth>/<var>_mean.npy and _std.npy files (run `glonet-regions model "
            "fetch` or copy the release's folder)"
        )
    try:
        arr = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64).reshape(-1)
    except (OSError, ValueError) as exc:
        raise AssetError(f"GLONET statistics: {path} is not a readable .npy file: {exc}") from None
    if arr.size < 1 or not np.isfinite(arr[0]):
        raise AssetError(
            f"GLONET statistics: {path} holds {arr.size} values; expected one finite scalar"
        )
    # The operational code reads the sub-surface files with [0]; a longer array is tolerated.
    return float(arr[0])


def load_published_stats(
    folder: str | Path, group: str, pairing: str = "published"
) -> PublishedStats:
    """Read a depth group's statistics from a release folder (``L*/<var>_{mean,std}.npy``).

    Raises:
        ValidationError: Unknown group or pairing.
        AssetError: A level folder or file is missing or unreadable (the message names it), or
            a standard deviation is not positive.
    """
    g, p = _check_group(group), _check_pairing(pairing)
    root = Path(folder)
    if not root.is_dir():
        raise AssetError(f"GLONET statistics folder {root} does not exist or is not a folder")
    channels: list[str] = []
    sources: list[str] = []
    mean: list[float] = []
    std: list[float] = []
    for var in GROUP_VARIABLES[g]:
        for own, src in zip(GROUP_LEVEL_DIRS[g], stats_level_dirs(g, p), strict=True):
            if not (root / src).is_dir():
                raise AssetError(
                    f"GLONET statistics folder {root} lacks the level folder {src}/ "
                    f"(needed by the {g} group)"
                )
            m = _read_scalar(root / src / f"{var}_mean.npy", f"mean of {var} at {src}")
            s = _read_scalar(root / src / f"{var}_std.npy", f"std of {var} at {src}")
            if not s > 0:
                raise AssetError(f"GLONET statistics: {root / src / f'{var}_std.npy'} is {s}")
            channels.append(f"{var}@{own}")
            sources.append(f"{var}@{src}")
            mean.append(m)
            std.append(s)
    return PublishedStats(
        g, p, tuple(channels), tuple(sources), np.array(mean), np.array(std), str(root)
    )


def published_stats_for_channels(
    stats: PublishedStats, channels: Sequence[tuple[str, int | None]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of a store's channels ``(variable, GLONET level index)`` from ``stats``.

    The store's channels may be any subset or order of the group's channels; each takes the
    statistics of the same channel of the published group.

    Raises:
        ValidationError: A channel is not one of the group's (names it).
    """
    from glonet_regions.core.depth import GLONET_DEPTH_SCHEME

    dg = GLONET_DEPTH_SCHEME.group(stats.group)
    mean = np.empty(len(channels))
    std = np.empty(len(channels))
    for i, (var, level) in enumerate(channels):
        try:
            k = dg.channel_index(var, level)
        except ValidationError:
            raise ValidationError(
                f"channel {var} at GLONET level {level} is not in the published {stats.group} "
                "group, so GLONET's statistics cannot normalise it; use normalisation: region"
            ) from None
        mean[i], std[i] = stats.mean[k], stats.std[k]
    return mean, std


def _bcast(values: np.ndarray, ndim: int, channel_axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[channel_axis] = values.size
    return values.reshape(shape)


def normalise(
    x: np.ndarray, mean: np.ndarray, std: np.ndarray, channel_axis: int = -3
) -> np.ndarray:
    """``(x - mean) / std`` per channel (on ``channel_axis``; default ``(..., C, H, W)``)."""
    ax = channel_axis % x.ndim
    return (x - _bcast(np.asarray(mean), x.ndim, ax)) / _bcast(np.asarray(std), x.ndim, ax)


def denormalise(
    x: np.ndarray, mean: np.ndarray, std: np.ndarray, channel_axis: int = -3
) -> np.ndarray:
    """``x * std + mean`` per channel: the inverse of :func:`normalise`."""
    ax = channel_axis % x.ndim
    return x * _bcast(np.asarray(std), x.ndim, ax) + _bcast(np.asarray(mean), x.ndim, ax)


def fetch_published_weights(
    group: str, offline: bool | None = None, *, trust_weights: bool = False
) -> Path:
    """Local path of a depth group's published weight file, downloading it if needed.

    Args:
        group: ``"surface"``, ``"intermediate"`` or ``"deep"``.
        offline: Passed to the asset registry (``None``: ``$GLONET_REGIONS_OFFLINE``).
        trust_weights: Accept a file whose sha256 is not pinned.

    Raises:
        ValidationError: Unknown group.
        AssetError: From the asset registry when the file cannot be obtained.
    """
    name = PUBLISHED_WEIGHTS[_check_group(group)]
    from glonet_regions.data.assets import GLONET_ASSETS

    return Path(GLONET_ASSETS.fetch(name, offline=offline, allow_unverified=trust_weights))


def fetch_published_stats(
    group: str,
    offline: bool | None = None,
    *,
    trust_weights: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The cache folder holding a depth group's statistics files, downloading missing ones.

    Returns:
        A folder laid out like the release (``L*/<var>_{mean,std}.npy``), for
        :func:`load_published_stats`.
    """
    from glonet_regions.data.assets import GLONET_ASSETS

    names = [n for pair in normalisation_assets(group).values() for n in pair]
    for name in names:
        if progress is not None:
            progress(name)
        GLONET_ASSETS.fetch(name, offline=offline, allow_unverified=trust_weights)
    return GLONET_ASSETS.cache_dir
