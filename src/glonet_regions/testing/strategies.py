"""Hypothesis strategies for regular grids, boxes inside them and fields with NaN land.

Importable by plugin packages (``from glonet_regions.testing.strategies import grids``).
All grids lie strictly inside (-90, 90) in latitude, with steps and shapes in sane ranges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from glonet_regions.core.grid import BBox, Grid

__all__ = ["bboxes_inside", "fields", "grid_and_bbox", "grids", "land_masks", "steps"]


def steps(min_step: float = 0.01, max_step: float = 2.0) -> st.SearchStrategy[float]:
    """Grid steps in degrees, either 'round' (1/n degree) or arbitrary."""
    round_steps = (
        st.integers(1, 100).map(lambda n: 1.0 / n).filter(lambda s: min_step <= s <= max_step)
    )
    free = st.floats(min_step, max_step, allow_nan=False, allow_infinity=False)
    return st.one_of(round_steps, free)


@st.composite
def grids(
    draw: st.DrawFn,
    *,
    min_size: int = 1,
    max_size: int = 30,
    min_step: float = 0.01,
    max_step: float = 2.0,
    lon_range: tuple[float, float] = (-180.0, 180.0),
    lat_range: tuple[float, float] = (-89.0, 89.0),
) -> Grid:
    """Regular lat/lon grids with random origin, steps and shape inside ``lat_range``."""
    dlat = draw(steps(min_step, max_step))
    dlon = draw(steps(min_step, max_step))
    nlat = draw(st.integers(min_size, max_size))
    nlon = draw(st.integers(min_size, max_size))
    lat_lo = lat_range[0] + dlat / 2
    lat_hi = lat_range[1] - dlat / 2 - (nlat - 1) * dlat
    if lat_hi < lat_lo:  # too tall for the range: shrink the shape
        nlat = max(1, int((lat_range[1] - lat_range[0]) / dlat) - 1)
        lat_hi = lat_range[1] - dlat / 2 - (nlat - 1) * dlat
    lat0 = draw(st.floats(lat_lo, max(lat_lo, lat_hi), allow_nan=False))
    lon0 = draw(st.floats(*lon_range, allow_nan=False))
    return Grid.regular(lon0=lon0, lat0=lat0, dlon=dlon, dlat=dlat, nlon=nlon, nlat=nlat)


@st.composite
def bboxes_inside(draw: st.DrawFn, grid: Grid) -> BBox:
    """A box spanning a random contiguous block of the grid's cell centres (edges inclusive)."""
    nlat, nlon = grid.shape
    i0 = draw(st.integers(0, nlat - 1))
    i1 = draw(st.integers(i0, nlat - 1))
    j0 = draw(st.integers(0, nlon - 1))
    j1 = draw(st.integers(j0, nlon - 1))
    # Extend each side by a random fraction (< 1/2) of a cell so the box edges are not nodes.
    f = draw(st.lists(st.floats(0.0, 0.45), min_size=4, max_size=4))
    return BBox(
        float(grid.lon[j0] - f[0] * grid.dlon),
        float(grid.lon[j1] + max(f[1], 0.01) * grid.dlon),
        float(grid.lat[i0] - f[2] * grid.dlat),
        float(grid.lat[i1] + max(f[3], 0.01) * grid.dlat),
    )


@st.composite
def grid_and_bbox(draw: st.DrawFn, **grid_kwargs: Any) -> tuple[Grid, BBox]:
    """A grid and a box inside it."""
    grid = draw(grids(**grid_kwargs))
    return grid, draw(bboxes_inside(grid))


@st.composite
def land_masks(draw: st.DrawFn, shape: tuple[int, int], *, max_land: float = 0.6) -> np.ndarray:
    """A boolean ocean mask (True = ocean) with blobs of land, at least one ocean cell."""
    seed = draw(st.integers(0, 2**32 - 1))
    frac = draw(st.floats(0.0, max_land))
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    # Smooth a little so land comes in blobs, as coasts do.
    for axis in (0, 1):
        noise = (noise + np.roll(noise, 1, axis=axis) + np.roll(noise, -1, axis=axis)) / 3
    ocean = noise >= np.quantile(noise, frac) if frac > 0 else np.ones(shape, dtype=bool)
    if not ocean.any():
        ocean.flat[0] = True
    return ocean


@st.composite
def fields(
    draw: st.DrawFn,
    grid: Grid,
    *,
    leading: tuple[int, ...] = (),
    land: bool = True,
    max_land: float = 0.6,
) -> np.ndarray:
    """A random float64 field ``(*leading, nlat, nlon)`` with NaN on (optional) land."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(*leading, *grid.shape)) * draw(st.floats(0.1, 100.0))
    if land:
        ocean = draw(land_masks(grid.shape, max_land=max_land))
        values = np.where(ocean, values, np.nan)
    return values
