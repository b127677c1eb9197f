"""A geographic position embedding for a regional grid, cut from GLONET's global one.

GLONET's position embedding has one vector per 16 x 16 patch of its global 1/4 degree grid
(672 x 1440 cells from 78 S and 180 W, so 42 x 90 patches of 4 degrees). A regional network
starts from the vectors of the global patches that cover the region (plus a margin), then
interpolates them (bicubic) at the centres of its own patches, so every regional patch gets
the embedding of the place it is. A region whose patch grid is the global one gets the global
embedding unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "GLOBAL_PATCHES",
    "PatchGeometry",
    "crop_window",
    "geographic_pos_embed",
    "patch_geometry",
]


@dataclass(frozen=True)
class PatchGeometry:
    """Where the patches of a (padded) grid are.

    Attributes:
        lat0, lon0: Centre of the first cell of the padded grid (degrees).
        dlat, dlon: Cell steps (degrees; latitude ascending).
        patch: Cells per patch side.
        hw: Patch grid ``(rows, columns)``.
    """

    lat0: float
    lon0: float
    dlat: float
    dlon: float
    patch: int
    hw: tuple[int, int]

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes ``(rows,)`` and longitudes ``(columns,)`` of the patch centres."""
        half = (self.patch - 1) / 2
        rows = self.lat0 + (np.arange(self.hw[0]) * self.patch + half) * self.dlat
        cols = self.lon0 + (np.arange(self.hw[1]) * self.patch + half) * self.dlon
        return rows, cols

    @property
    def wraps(self) -> bool:
        """True when the columns span the whole circle of longitude."""
        return abs(self.hw[1] * self.patch * self.dlon - 360.0) < 1e-6

    def same_as(self, other: PatchGeometry) -> bool:
        return (
            self.hw == other.hw
            and self.patch == other.patch
            and np.allclose(
                [self.lat0, self.lon0, self.dlat, self.dlon],
                [other.lat0, other.lon0, other.dlat, other.dlon],
                atol=1e-6,
            )
        )


GLOBAL_PATCHES = PatchGeometry(lat0=-78.0, lon0=-180.0, dlat=0.25, dlon=0.25, patch=16, hw=(42, 90))
"""GLONET's global grid (672 x 1440 cells of 1/4 degree, centres from 78 S, 180 W)."""


def patch_geometry(
    lat: np.ndarray, lon: np.ndarray, padded_hw: tuple[int, int], patch: int
) -> PatchGeometry:
    """The patch geometry of a grid (cell-centre axes) padded, centred, to ``padded_hw``.

    The network pads ``(H, W)`` to a multiple of the patch size with ``(hp - H) // 2`` rows
    before the grid and ``(wp - W) // 2`` columns before it.
    """
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    dlat = float(lat[1] - lat[0]) if lat.size > 1 else 1.0
    dlon = float(lon[1] - lon[0]) if lon.size > 1 else 1.0
    top = (padded_hw[0] - lat.size) // 2
    left = (padded_hw[1] - lon.size) // 2
    return PatchGeometry(
        lat0=float(lat[0]) - top * dlat,
        lon0=float(lon[0]) - left * dlon,
        dlat=dlat,
        dlon=dlon,
        patch=patch,
        hw=(padded_hw[0] // patch, padded_hw[1] // patch),
    )


def _fractional(target: PatchGeometry, source: PatchGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Target patch centres in source patch-index units (columns unwrapped from 0)."""
    t_lat, t_lon = target.centres()
    s_lat, s_lon = source.centres()
    step_lat = source.patch * source.dlat
    step_lon = source.patch * source.dlon
    fi = (t_lat - s_lat[0]) / step_lat
    fj = ((t_lon - s_lon[0]) % 360.0) / step_lon
    return fi, fj


def crop_window(
    target: PatchGeometry, source: PatchGeometry = GLOBAL_PATCHES, margin: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Source patch rows and columns (in order) that cover ``target`` plus ``margin`` patches.

    Columns wrap around the source's edge when the source spans the globe (a region across
    the dateline gets columns ``..., 88, 89, 0, 1, ...``).
    """
    fi, fj = _fractional(target, source)
    nr, nc = source.hw
    r0 = max(int(np.floor(fi.min())) - margin, 0)
    r1 = min(int(np.ceil(fi.max())) + margin, nr - 1)
    if r0 > r1:  # entirely outside the source rows: nearest edge row
        r0 = r1 = int(np.clip(np.round(fi.mean()), 0, nr - 1))
    rows = np.arange(r0, r1 + 1)
    if not source.wraps:
        c0 = max(int(np.floor(fj.min())) - margin, 0)
        c1 = min(int(np.ceil(fj.max())) + margin, nc - 1)
        return rows, np.arange(c0, max(c1, c0) + 1)
    # Smallest arc of columns that holds every target centre (they may straddle column 0).
    order = np.sort(np.mod(fj, nc))
    gaps = np.diff(np.concatenate([order, order[:1] + nc]))
    k = int(np.argmax(gaps))
    start = order[(k + 1) % order.size]
    span = float(gaps.sum() - gaps[k])
    c0 = int(np.floor(start)) - margin
    n = int(np.ceil(start + span)) + margin - c0 + 1
    if n >= nc:
        return rows, np.arange(nc)
    return rows, np.mod(np.arange(c0, c0 + n), nc)


def geographic_pos_embed(
    embed: Tensor,
    target: PatchGeometry,
    source: PatchGeometry = GLOBAL_PATCHES,
    margin: int = 2,
) -> Tensor:
    """The position embedding of ``target``'s patches, cut from ``source``'s and interpolated.

    Args:
        embed: ``(1, rows * columns, D)`` embedding of the source patch grid (row-major).
        target: The regional patch geometry (see :func:`patch_geometry`).
        source: The geometry ``embed`` belongs to (default: GLONET's global grid).
        margin: Extra source patches kept around the region before interpolating.

    Returns:
        ``(1, target rows * target columns, D)``; ``embed`` itself when the geometries agree.

    Raises:
        ValueError: ``embed`` does not have the source's token count.
    """
    nr, nc = source.hw
    if embed.ndim != 3 or embed.shape[0] != 1 or embed.shape[1] != nr * nc:
        raise ValueError(
            f"pos_embed of shape {tuple(embed.shape)} does not fit the source patch grid "
            f"{nr} x {nc}"
        )
    if target.same_as(source):
        return embed
    rows, cols = crop_window(target, source, margin)
    dim = embed.shape[2]
    grid = embed.reshape(nr, nc, dim)
    crop = grid[torch.as_tensor(rows)][:, torch.as_tensor(cols)]  # (r, c, D)
    fi, fj = _fractional(target, source)
    y = fi - rows[0]
    x = np.mod(fj - cols[0], nc) if source.wraps else fj - cols[0]
    full_circle = source.wraps and cols.size == nc
    img = crop.permute(2, 0, 1).unsqueeze(0).float()  # (1, D, r, c)
    if full_circle:  # wrap the seam so bicubic sees neighbours across it
        img = torch.cat([img[..., -2:], img, img[..., :2]], dim=-1)
        x = x + 2
    h, w = img.shape[-2:]
    yn = torch.as_tensor(2 * y / max(h - 1, 1) - 1, dtype=torch.float32)
    xn = torch.as_tensor(2 * x / max(w - 1, 1) - 1, dtype=torch.float32)
    gy, gx = torch.meshgrid(yn, xn, indexing="ij")
    sample = torch.stack([gx, gy], dim=-1).unsqueeze(0)  # (1, th, tw, 2)
    out = F.grid_sample(img, sample, mode="bicubic", padding_mode="border", align_corners=True)
    th, tw = target.hw
    return out[0].permute(1, 2, 0).reshape(1, th * tw, dim).to(embed.dtype)
