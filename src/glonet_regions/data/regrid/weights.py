"""Regridding with weights read from an ESMF/xesmf weight file (no ESMF needed).

Also re-exports the weight representation (:class:`RegridWeights`) for convenience.
"""

from __future__ import annotations

import os
from typing import Any

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.apply import BaseRegridder
from glonet_regions.data.regrid.matrix import METHODS, RegridWeights, normalise_method

__all__ = ["METHODS", "RegridWeights", "WeightsFileRegridder", "normalise_method"]


class WeightsFileRegridder(BaseRegridder):
    """Apply the weights of an ESMF or xesmf weight file.

    Args:
        source_grid: Grid the weights map from (its shape must match the file).
        target_grid: Grid the weights map to.
        method: The method the file was made with (recorded; the file's own attribute is used
            when it has one and ``method`` is None).
        path: The weight file (netCDF with 1-based ``row``, ``col``, ``S``).
        **options: Passed to :class:`BaseRegridder`.
    """

    def __init__(
        self,
        source_grid: Grid,
        target_grid: Grid,
        method: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        if path is None:
            raise ValidationError("The weights-file regridder needs path= (a weight file)")
        weights = RegridWeights.from_netcdf(
            path,
            src_grid=source_grid,
            dst_grid=target_grid,
            method=None if method is None else normalise_method(method),
        )
        self.path = path
        super().__init__(weights, **options)
