"""The ``atlantic-sponge`` boundary provider: a wide linear sponge on the Atlantic edge.

The Mediterranean domain's only open edge is the meridian at 18.125 W, some 12 degrees west of
the Strait of Gibraltar. The boundary data (a global reanalysis, coarser than the region) are
blended in with a weight falling linearly from 1 on the edge cell to ``1/N`` on the N-th cell,
a gentler ramp than the built-in Davies relaxation's cosine-squared, so the mismatch between
the boundary data and the prediction is damped over the whole Atlantic buffer before it can
reach the Strait.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glonet_regions.boundary.providers import BoundaryProvider


class AtlanticSponge(BoundaryProvider):
    """``w = 1 - d / N`` for ``d < N`` cells from an open edge, 0 beyond.

    Args:
        edges: Open edges (``west`` for the Mediterranean).
        width: Sponge width in cells.
    """

    name = "atlantic-sponge"

    def __init__(self, edges: Sequence[str], width: int) -> None:
        super().__init__(edges, width)

    def profile(self, distance: np.ndarray) -> np.ndarray:
        n = max(self.width, 1)
        return np.where(distance < self.width, 1.0 - distance / n, 0.0)
