"""The region contract: invariants every region must satisfy, reusable by plugin packages.

Two ways to use it:

- :func:`check_region` runs every check and raises ``AssertionError`` with a message naming
  the region and what is wrong.
- :class:`RegionContract` is a pytest-collectable base class with one test per check; a plugin
  package subclasses it::

      from glonet_regions.testing import RegionContract

      class TestMyRegion(RegionContract):
          region_name = "myregion"

Checks that need the registry (boundary provider and source names, evaluation hooks) are
skipped when ``registry`` is None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from glonet_regions.core.errors import GlonetRegionsError, GridMismatchError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import Region

Check = Callable[[Region, Any], None]
_MIN_SPLIT_DAYS = 4  # GLONET needs 2 input days and 2 target days for one sample
_REQUIRED_JSON_KEYS = (
    "name", "title", "plugin", "bbox", "resolution_deg", "grid", "grid_versions", "variables",
    "depth_levels_m", "splits", "open_boundaries", "datasets", "evaluation_box", "subregions",
)  # fmt: skip


def _fail(region: Region, message: str) -> AssertionError:
    return AssertionError(f"Region {region.name!r}: {message}")


def _box_area(b: BBox) -> float:
    return (b.lon_max - b.lon_min) * (b.lat_max - b.lat_min)


def _holds_centre(grid: Grid, box: BBox) -> bool:
    try:
        grid.index_box(box)
    except GridMismatchError:
        return False
    return True


def check_identity(region: Region, registry: Any = None) -> None:
    """Name, title and, for registered regions, the providing plugin."""
    if not isinstance(region, Region):
        raise AssertionError(f"Expected a glonet_regions.Region, got {type(region).__name__}")
    if not region.title.strip():
        raise _fail(region, "title is empty")
    if registry is not None and region.name in registry.regions:
        registered = registry.get_region(region.name)
        if registered is region and not region.plugin:
            raise _fail(region, "registered without the providing plugin's name (Region.plugin)")


def check_grids(region: Region, registry: Any = None) -> None:
    """Every grid version: sane shape, covers the box, recognised (also thinned), not shifted."""
    for version in region.grid_versions:
        grid, what = version.grid, f"grid version {version.name!r}"
        if min(grid.shape) < 2:
            raise _fail(region, f"{what} has shape {grid.shape}; need at least 2 x 2")
        overlap = region.bbox.intersection(grid.bbox)
        if overlap is None or _box_area(overlap) < 0.5 * _box_area(region.bbox):
            raise _fail(
                region,
                f"{what} (cells {grid.bbox.as_list()}) covers less than half of the region box "
                f"{region.bbox.as_list()}",
            )
        match = region.match_grid(grid.lat, grid.lon, source=what)
        if match.version.name != version.name:
            raise _fail(
                region, f"{what}'s own nodes are recognised as version {match.version.name!r}"
            )
        if not (
            np.array_equal(match.index.lat, np.arange(grid.shape[0]))
            and np.array_equal(match.index.lon, np.arange(grid.shape[1]))
        ):
            raise _fail(region, f"{what}'s own nodes are not located at their own indices")
        if min(grid.shape) >= 3:
            thinned = region.match_grid(grid.lat[::2], grid.lon[::2], source=f"{what} thinned")
            if thinned.version.name != version.name or thinned.stride != (2, 2):
                raise _fail(
                    region,
                    f"{what} thinned by 2 is recognised as {thinned.version.name!r} with stride "
                    f"{thinned.stride}, expected {version.name!r} with (2, 2)",
                )
        shifted_lat, shifted_lon = grid.lat + grid.dlat / 2, grid.lon + grid.dlon / 2
        try:
            shifted = region.match_grid(shifted_lat, shifted_lon, source=f"{what} shifted")
        except GridMismatchError:
            continue
        if shifted.version.name == version.name:
            raise _fail(region, f"{what} shifted by half a cell is still accepted as {what}")


def check_splits(region: Region, registry: Any = None) -> None:
    """Train, validation and test periods each hold at least one sample (4 days)."""
    for name in ("train", "validation", "test"):
        days = region.splits.get(name).n_days
        if days < _MIN_SPLIT_DAYS:
            raise _fail(
                region, f"split {name!r} has {days} days; one sample needs {_MIN_SPLIT_DAYS}"
            )


def check_boundaries(region: Region, registry: Any = None) -> None:
    """The boundary zone leaves an interior; its provider is registered."""
    ob = region.open_boundaries
    zone = ob.zone_mask(region.grid.shape)
    if zone.all():
        raise _fail(
            region,
            f"open boundary zone (edges {list(ob.edges)}, width {ob.width}) covers the whole "
            f"{region.grid.shape} grid",
        )
    if registry is not None and ob.edges:
        known = registry.names("boundary provider")
        if ob.provider not in known:
            raise _fail(
                region,
                f"open boundary provider {ob.provider!r} is not registered; known: {known}",
            )


def check_datasets(region: Region, registry: Any = None) -> None:
    """Dataset variables are the region's; every variable has a source; services exist."""
    provided: set[str] = set()
    for d in region.datasets:
        if d.kind == "static":
            continue
        unknown = sorted(set(d.variables) - set(region.variables.names))
        if unknown:
            raise _fail(
                region,
                f"dataset {d.key!r} maps variables {unknown} that the region does not have "
                f"({list(region.variables.names)})",
            )
        provided.update(d.variables)
    if region.datasets:
        missing = [v for v in region.variables.names if v not in provided]
        if missing:
            raise _fail(region, f"no dataset provides variable(s) {missing}")
    if registry is not None:
        known = registry.names("source")
        for d in region.datasets:
            if d.service not in known:
                raise _fail(region, f"dataset {d.key!r} uses service {d.service!r}; known: {known}")


def check_depth(region: Region, registry: Any = None) -> None:
    """Model levels lie within the native levels (no vertical extrapolation)."""
    if region.native_levels is None:
        return
    native = region.native_levels.as_array()
    levels = region.depth.levels.as_array()
    tol = 1e-3 * np.maximum(levels, 1.0)
    outside = levels[(levels < native[0] - tol) | (levels > native[-1] + tol)]
    if outside.size:
        raise _fail(
            region,
            f"depth levels {outside.tolist()} m lie outside the native levels "
            f"{native[0]}..{native[-1]} m",
        )


def check_boxes(region: Region, registry: Any = None) -> None:
    """The evaluation box overlaps the region; every sub-region holds grid cells."""
    if (
        region.evaluation_box is not None
        and region.bbox.intersection(region.evaluation_box) is None
    ):
        raise _fail(region, f"evaluation box {region.evaluation_box.as_list()} misses the region")
    for s in region.subregions:
        if not _holds_centre(region.grid, s.bbox):
            raise _fail(region, f"sub-region {s.name!r} {s.bbox.as_list()} holds no grid cell")


def check_serialisation(region: Region, registry: Any = None) -> None:
    """``to_dict()`` is JSON and carries the keys ``regions show --json`` promises."""
    data = region.to_dict()
    missing = [k for k in _REQUIRED_JSON_KEYS if k not in data]
    if missing:
        raise _fail(region, f"to_dict() lacks keys {missing}")
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise _fail(region, f"to_dict() is not JSON-serialisable: {exc}") from exc
    back = json.loads(text)
    if back["bbox"] != region.bbox.as_list() or back["name"] != region.name:
        raise _fail(region, "to_dict() does not round-trip name and bbox through JSON")


def check_evaluation(region: Region, registry: Any = None) -> None:
    """Sub-regions added by evaluation hooks are valid and hold grid cells."""
    if registry is None:
        return
    try:
        subregions, diagnostics = registry.evaluation_extras(region)
        extended = region.with_subregions(subregions)
    except GlonetRegionsError as exc:
        raise _fail(region, f"evaluation hooks give an invalid result: {exc}") from exc
    for s in extended.subregions:
        if not _holds_centre(region.grid, s.bbox):
            raise _fail(region, f"evaluation sub-region {s.name!r} holds no grid cell")
    for name, fn in diagnostics:
        if not callable(fn):
            raise _fail(region, f"diagnostic {name!r} is not callable")


def region_checks() -> list[tuple[str, Check]]:
    """Every check as ``(name, function(region, registry))``."""
    return [
        ("identity", check_identity),
        ("grids", check_grids),
        ("splits", check_splits),
        ("boundaries", check_boundaries),
        ("datasets", check_datasets),
        ("depth", check_depth),
        ("boxes", check_boxes),
        ("serialisation", check_serialisation),
        ("evaluation", check_evaluation),
    ]


def check_region(region: Region, registry: Any = None) -> None:
    """Run every check; the first failure raises ``AssertionError`` naming region and fault.

    Args:
        region: The region.
        registry: A :class:`glonet_regions.registry.facade.Registry` for the checks that look
            names up (None skips them).
    """
    for _, check in region_checks():
        check(region, registry)


class RegionContract:
    """Pytest base class running the contract on one region (one test per check).

    Subclass it in a class whose name starts with ``Test`` and set :attr:`region_name`, or
    override :meth:`make_region` (and :meth:`make_registry`, default the process-wide one).
    """

    region_name: str | None = None

    def make_registry(self) -> Any:
        from glonet_regions.registry.facade import get_registry

        return get_registry()

    def make_region(self) -> Region:
        if self.region_name is None:
            raise AssertionError(f"{type(self).__name__}: set region_name or override make_region")
        region: Region = self.make_registry().get_region(self.region_name)
        return region

    def _run(self, check: Check) -> None:
        check(self.make_region(), self.make_registry())

    def test_identity(self) -> None:
        self._run(check_identity)

    def test_grids(self) -> None:
        self._run(check_grids)

    def test_splits(self) -> None:
        self._run(check_splits)

    def test_boundaries(self) -> None:
        self._run(check_boundaries)

    def test_datasets(self) -> None:
        self._run(check_datasets)

    def test_depth(self) -> None:
        self._run(check_depth)

    def test_boxes(self) -> None:
        self._run(check_boxes)

    def test_serialisation(self) -> None:
        self._run(check_serialisation)

    def test_evaluation(self) -> None:
        self._run(check_evaluation)
