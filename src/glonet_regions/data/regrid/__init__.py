"""Regridding: sparse weights (ESMF file format), NaN-aware application, backends.

Backends are looked up by name in the plugin registry (hook ``register_regridders``,
``factory(source_grid, target_grid, method, **options)``); the built-in ones are:

- ``builtin`` (:class:`~glonet_regions.data.regrid.builtin.BuiltinRegridder`): bilinear,
  conservative and nearest weights computed here for regular lat/lon grids;
- ``weights-file`` (:class:`~glonet_regions.data.regrid.weights.WeightsFileRegridder`): an
  ESMF/xesmf weight file (``path=``);
- ``xesmf`` (:class:`~glonet_regions.data.regrid.xesmf_backend.XesmfRegridder`): where esmpy
  imports.
"""

from __future__ import annotations

from typing import Any

from glonet_regions.core.errors import GridMismatchError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.data.regrid.apply import DEFAULT_THRESHOLD, BaseRegridder, apply_weights
from glonet_regions.data.regrid.matrix import METHODS, RegridWeights, normalise_method

#: Older spellings of registered backend names.
ALIASES = {"weights_file": "weights-file"}

__all__ = [
    "ALIASES",
    "DEFAULT_THRESHOLD",
    "METHODS",
    "BaseRegridder",
    "RegridWeights",
    "apply_weights",
    "backend_names",
    "crop_to_overlap",
    "make_regridder",
    "normalise_method",
    "regrid",
]


def backend_names() -> list[str]:
    """Sorted names of the registered regridding backends."""
    from glonet_regions.registry.facade import get_registry

    return get_registry().names("regridder")


def make_regridder(
    source_grid: Grid, target_grid: Grid, method: str = "bilinear", backend: str = "builtin",
    **options: Any,
) -> BaseRegridder:  # fmt: skip
    """Build a regridder of a backend registered by name (``builtin``, ``weights-file``,
    ``xesmf`` or a plugin's).

    Raises:
        UnknownNameError: ``backend`` is not registered (the message lists the known names).
    """
    from glonet_regions.registry.facade import get_regridder

    method = normalise_method(method)
    factory = get_regridder(ALIASES.get(backend, backend))
    return factory(source_grid, target_grid, method, **options)


def crop_to_overlap(source_grid: Grid, target_grid: Grid, *, source: str | None = None) -> Grid:
    """The part of ``target_grid`` whose cell centres lie inside ``source_grid``'s cells.

    Raises:
        GridMismatchError: no target cell centre lies inside the source grid.
    """
    sb, tb = source_grid.bbox, target_grid.bbox
    where = f" of {source}" if source else ""
    overlap = sb.intersection(tb)
    if overlap is None:
        raise GridMismatchError(
            f"The grid{where} (lon {sb.lon_min:.4f}..{sb.lon_max:.4f}, lat {sb.lat_min:.4f}.."
            f"{sb.lat_max:.4f}) does not overlap the target grid (lon {tb.lon_min:.4f}.."
            f"{tb.lon_max:.4f}, lat {tb.lat_min:.4f}..{tb.lat_max:.4f})"
        )
    try:
        return target_grid.subset(BBox(*overlap.as_list()))
    except GridMismatchError:
        raise GridMismatchError(
            f"The grid{where} overlaps the target grid by less than one target cell centre"
        ) from None


def regrid(
    obj: Any,
    target_grid: Grid,
    method: str = "bilinear",
    backend: str = "builtin",
    *,
    crop: bool = True,
    src_mask: Any = None,
    dst_mask: Any = None,
    fill: str | None = None,
    **options: Any,
) -> Any:
    """Regrid an xarray DataArray/Dataset onto ``target_grid`` (cropped to the overlap).

    The source grid is read from ``obj`` (:meth:`Grid.from_dataset`). With ``crop`` (default)
    the target is first cut to the cells whose centres fall inside the source grid.
    """
    source_grid = Grid.from_dataset(obj)
    target = crop_to_overlap(source_grid, target_grid) if crop else target_grid
    regridder = make_regridder(source_grid, target, method, backend, **options)
    return regridder.regrid(obj, src_mask=src_mask, dst_mask=dst_mask, fill=fill)
