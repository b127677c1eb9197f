"""The region contract: everything a region declares, validated when built."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from glonet_regions.core.depth import GLONET_DEPTH_SCHEME, DepthLevels, DepthScheme
from glonet_regions.core.errors import GridMismatchError, ValidationError
from glonet_regions.core.grid import BBox, Grid, GridIndex
from glonet_regions.core.variables import GLONET_VARIABLES, VariableSet

Edge = Literal["west", "east", "south", "north"]
EDGES: tuple[Edge, ...] = ("west", "east", "south", "north")
DatasetKind = Literal["reanalysis", "analysis-forecast", "static", "global", "boundary", "other"]
DATASET_KINDS: tuple[str, ...] = (
    "reanalysis", "analysis-forecast", "static", "global", "boundary", "other",
)  # fmt: skip


def _to_date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        start = _to_date(self.start, "start")
        end = _to_date(self.end, "end")
        if end < start:
            raise ValidationError(f"Date range ends ({end}) before it starts ({start})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and other.start <= self.end

    def to_list(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]


@dataclass(frozen=True)
class DateSplits:
    """Train, validation and test periods; they must not overlap."""

    train: DateRange
    validation: DateRange
    test: DateRange

    def __post_init__(self) -> None:
        items = [("train", self.train), ("validation", self.validation), ("test", self.test)]
        for i, (na, a) in enumerate(items):
            for nb, b in items[i + 1 :]:
                if a.overlaps(b):
                    raise ValidationError(
                        f"Date splits {na} {a.to_list()} and {nb} {b.to_list()} overlap"
                    )

    def split_of(self, day: dt.date) -> str | None:
        """Name of the split a day belongs to, or None."""
        for name in ("train", "validation", "test"):
            if getattr(self, name).contains(day):
                return name
        return None

    def get(self, name: str) -> DateRange:
        if name not in ("train", "validation", "test"):
            raise ValidationError(f"Unknown split {name!r}; expected train, validation or test")
        return getattr(self, name)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "train": self.train.to_list(),
            "validation": self.validation.to_list(),
            "test": self.test.to_list(),
        }


@dataclass(frozen=True)
class OpenBoundaries:
    """Which edges of the domain are open sea, how wide the forced zone is, and how.

    Attributes:
        edges: Open edges.
        width: Width of the forced zone (cells).
        provider: Boundary provider name.
        source: Dataset key of the boundary data of training (a global reanalysis).
        forecast_source: Dataset key(s) of the global analysis-forecast that forces the
            boundaries of a real forecast (its run issued on or before the start date).
        regridder: Registered regridder that puts the boundary data on the region's grid.
    """

    edges: tuple[Edge, ...]
    width: int = 8
    provider: str = "relaxation"
    source: str | None = None
    forecast_source: tuple[str, ...] = ()
    regridder: str = "builtin"

    def __post_init__(self) -> None:
        edges = tuple(self.edges)
        bad = [e for e in edges if e not in EDGES]
        if bad:
            raise ValidationError(f"Unknown open boundary edge(s) {bad}; expected some of {EDGES}")
        if len(set(edges)) != len(edges):
            raise ValidationError(f"Open boundary edges listed twice: {list(edges)}")
        if self.width < 0:
            raise ValidationError(f"Open boundary width must be >= 0, got {self.width}")
        if edges and self.width == 0 and self.provider != "none":
            raise ValidationError("Open boundaries with width 0 need provider 'none'")
        object.__setattr__(self, "edges", edges)
        fs = (
            (self.forecast_source,)
            if isinstance(self.forecast_source, str)
            else self.forecast_source
        )
        object.__setattr__(self, "forecast_source", tuple(str(k) for k in fs))

    def zone_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean ``(nlat, nlon)`` mask, True inside the boundary zone (row 0 is south)."""
        h, w = shape
        zone = np.zeros(shape, dtype=bool)
        n = self.width
        if "south" in self.edges:
            zone[:n, :] = True
        if "north" in self.edges:
            zone[max(h - n, 0) :, :] = True
        if "west" in self.edges:
            zone[:, :n] = True
        if "east" in self.edges:
            zone[:, max(w - n, 0) :] = True
        return zone

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "width": self.width,
            "provider": self.provider,
            "source": self.source,
            "forecast_source": list(self.forecast_source),
            "regridder": self.regridder,
        }


@dataclass(frozen=True)
class SourceDataset:
    """A dataset a region draws on, declared as data.

    Attributes:
        key: The region's own name for it (``reanalysis-temp``).
        kind: reanalysis, analysis-forecast, static, global, boundary or other.
        service: Which source plugin serves it (``copernicusmarine``, ``local``, ``http``).
        dataset_id: The service's dataset id.
        product_id: The product the dataset belongs to (Copernicus Marine).
        variables: Our short name -> the name in the dataset.
        version: Dataset version, when pinned.
        description: Free text.
    """

    key: str
    kind: str
    service: str
    dataset_id: str
    product_id: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise ValidationError("A source dataset needs a key")
        if self.kind not in DATASET_KINDS:
            raise ValidationError(
                f"Dataset {self.key!r}: kind {self.kind!r} is not one of {DATASET_KINDS}"
            )
        if not self.dataset_id:
            raise ValidationError(f"Dataset {self.key!r} needs a dataset_id")
        object.__setattr__(self, "variables", dict(self.variables))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "service": self.service,
            "dataset_id": self.dataset_id,
            "product_id": self.product_id,
            "variables": dict(self.variables),
            "version": self.version,
            "description": self.description,
        }


@dataclass(frozen=True)
class SubRegion:
    """A named box inside a region, scored on its own."""

    name: str
    title: str
    bbox: BBox

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "bbox": self.bbox.as_list()}


@dataclass(frozen=True)
class GridVersion:
    """A known version of a region's grid (products change grids between releases)."""

    name: str
    grid: Grid
    description: str = ""
    tolerance_deg: float | None = None

    def locate(self, lat: Any, lon: Any, *, source: str | None = None) -> GridIndex:
        return self.grid.locate(lat, lon, tol=self.tolerance_deg, source=source)


@dataclass(frozen=True)
class GridMatch:
    """The outcome of recognising a dataset's grid among a region's versions."""

    version: GridVersion
    index: GridIndex

    @property
    def stride(self) -> tuple[int, int]:
        return self.index.stride


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Region:
    """A forecasting region: geometry, variables, levels, periods, boundaries and sources.

    ``grid_versions`` lists the known grids (the first is the default). A region whose data
    are not yet available still has them, so every command can tell the shape it will work on.
    """

    name: str
    title: str
    bbox: BBox
    resolution_deg: float
    grid_versions: tuple[GridVersion, ...]
    splits: DateSplits
    open_boundaries: OpenBoundaries
    variables: VariableSet = GLONET_VARIABLES
    depth: DepthScheme = GLONET_DEPTH_SCHEME
    native_levels: DepthLevels | None = None
    datasets: tuple[SourceDataset, ...] = ()
    evaluation_box: BBox | None = None
    subregions: tuple[SubRegion, ...] = ()
    description: str = ""
    plugin: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or set(self.name) - _NAME_CHARS:
            raise ValidationError(
                f"Region name {self.name!r} must be lower-case letters, digits, '_' or '-'"
            )
        if not self.resolution_deg > 0:
            raise ValidationError(f"Region {self.name!r}: resolution_deg must be > 0")
        if not self.grid_versions:
            raise ValidationError(f"Region {self.name!r} declares no grid")
        names = [v.name for v in self.grid_versions]
        if len(set(names)) != len(names):
            raise ValidationError(f"Region {self.name!r}: grid version names repeat: {names}")
        for v in self.grid_versions:
            if not np.isclose(v.grid.dlat, self.resolution_deg, rtol=1e-3) or not np.isclose(
                v.grid.dlon, self.resolution_deg, rtol=1e-3
            ):
                raise ValidationError(
                    f"Region {self.name!r}: grid version {v.name!r} has steps "
                    f"({v.grid.dlat:.6g}, {v.grid.dlon:.6g}) deg, not resolution_deg "
                    f"{self.resolution_deg:.6g}"
                )
        for var in self.variables:
            if var.is_3d and len(self.depth.levels) == 0:
                raise ValidationError(f"Region {self.name!r}: 3-D variable {var.name} needs levels")
        for g in self.depth.groups:
            missing = [v for v in (*g.variables_2d, *g.variables_3d) if v not in self.variables]
            if missing:
                raise ValidationError(
                    f"Region {self.name!r}: depth group {g.name!r} uses unknown variables {missing}"
                )
        keys = [d.key for d in self.datasets]
        if len(set(keys)) != len(keys):
            raise ValidationError(f"Region {self.name!r}: dataset keys repeat: {keys}")
        sub = [s.name for s in self.subregions]
        if len(set(sub)) != len(sub):
            raise ValidationError(f"Region {self.name!r}: sub-region names repeat: {sub}")
        for s in self.subregions:
            if self.bbox.intersection(s.bbox) is None:
                raise ValidationError(
                    f"Region {self.name!r}: sub-region {s.name!r} {s.bbox.as_list()} lies "
                    f"outside the region box {self.bbox.as_list()}"
                )
        if self.open_boundaries.source is not None and self.open_boundaries.source not in keys:
            raise ValidationError(
                f"Region {self.name!r}: open boundary source {self.open_boundaries.source!r} "
                f"is not one of its datasets {keys}"
            )
        unknown = [k for k in self.open_boundaries.forecast_source if k not in keys]
        if unknown:
            raise ValidationError(
                f"Region {self.name!r}: open boundary forecast source(s) {unknown} are not "
                f"among its datasets {keys}"
            )
        object.__setattr__(self, "extra", dict(self.extra))

    # -- grids -----------------------------------------------------------------------------
    @property
    def grid(self) -> Grid:
        """The default grid (the first declared version)."""
        return self.grid_versions[0].grid

    def grid_version(self, name: str) -> GridVersion:
        for v in self.grid_versions:
            if v.name == name:
                return v
        raise ValidationError(
            f"Region {self.name!r} has no grid version {name!r}; known: "
            f"{', '.join(v.name for v in self.grid_versions)}"
        )

    def match_grid(self, lat: Any, lon: Any, *, source: str | None = None) -> GridMatch:
        """Recognise which grid version some coordinates lie on (possibly thinned or cut)."""
        errors = []
        for version in self.grid_versions:
            try:
                return GridMatch(version, version.locate(lat, lon, source=source))
            except GridMismatchError as exc:
                errors.append(f"  {version.name}: {exc}")
        where = f" of {source}" if source else ""
        raise GridMismatchError(
            f"The coordinates{where} lie on none of region {self.name!r}'s grids:\n"
            + "\n".join(errors)
        )

    def match_dataset_grid(self, ds: Any, *, source: str | None = None) -> GridMatch:
        """:meth:`match_grid` on an xarray-like dataset's lat/lon coordinates."""
        data_grid = Grid.from_dataset(ds, source=source)
        return self.match_grid(data_grid.lat, data_grid.lon, source=source)

    # -- open-boundary zone ----------------------------------------------------------------
    def boundary_zone(self, grid: Grid) -> np.ndarray:
        """The open-boundary zone on ``grid``, as a boolean ``(nlat, nlon)`` mask.

        The zone is ``open_boundaries.width`` cells of the region's own grid along each open
        edge. When ``grid`` lies on the nodes of one of the region's grid versions (a thinned
        store, a cut-out window), the zone is computed on that full grid and cut out, so it
        covers the same sea whatever the working grid; otherwise it is taken on ``grid``.
        Training losses, forecasts and interior scores all use this one definition.
        """
        ob = self.open_boundaries
        if not ob.edges or ob.width == 0:
            return np.zeros(grid.shape, dtype=bool)
        try:
            match = self.match_grid(grid.lat, grid.lon)
        except GridMismatchError:
            return ob.zone_mask(grid.shape)
        full = ob.zone_mask(match.version.grid.shape)
        return full[np.ix_(match.index.lat, match.index.lon)]

    def boundary_width_on(self, grid: Grid) -> int:
        """Width in cells of ``grid`` of the open-boundary zone (see :meth:`boundary_zone`).

        On the region's own grid this is ``open_boundaries.width``; on a grid thinned by ``k``
        it is ``ceil(width / k)``. 0 when the region has no open boundary.
        """
        zone = self.boundary_zone(grid)
        h, w = grid.shape
        widths = [0]
        for edge in self.open_boundaries.edges:
            line = {
                "west": zone[h // 2, :],
                "east": zone[h // 2, ::-1],
                "south": zone[:, w // 2],
                "north": zone[::-1, w // 2],
            }[edge]
            widths.append(int(np.argmin(line)) if not line.all() else int(line.size))
        return max(widths)

    # -- datasets and boxes ----------------------------------------------------------------
    def dataset(self, key: str) -> SourceDataset:
        for d in self.datasets:
            if d.key == key:
                return d
        raise ValidationError(
            f"Region {self.name!r} has no dataset {key!r}; known: "
            f"{', '.join(d.key for d in self.datasets) or '(none)'}"
        )

    def datasets_of_kind(self, kind: str) -> tuple[SourceDataset, ...]:
        return tuple(d for d in self.datasets if d.kind == kind)

    def subregion(self, name: str) -> SubRegion:
        for s in self.subregions:
            if s.name == name:
                return s
        raise ValidationError(
            f"Region {self.name!r} has no sub-region {name!r}; known: "
            f"{', '.join(s.name for s in self.subregions) or '(none)'}"
        )

    def with_subregions(self, extra: Iterable[SubRegion]) -> Region:
        """A copy with more sub-regions (used by evaluation hooks)."""
        from dataclasses import replace

        return replace(self, subregions=(*self.subregions, *extra))

    def to_dict(self) -> dict[str, Any]:
        """The JSON description printed by ``regions show --json``."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "plugin": self.plugin,
            "bbox": self.bbox.as_list(),
            "resolution_deg": self.resolution_deg,
            "grid": self.grid.to_dict(),
            "grid_versions": [
                {"name": v.name, "description": v.description, **v.grid.to_dict()}
                for v in self.grid_versions
            ],
            "variables": [v.to_dict() for v in self.variables],
            "depth_levels_m": list(self.depth.levels.values),
            "depth_groups": {
                g.name: {
                    "levels_m": [self.depth.levels[i] for i in g.level_indices],
                    "channels": g.n_channels,
                }
                for g in self.depth.groups
            },
            "native_levels_m": list(self.native_levels.values) if self.native_levels else None,
            "splits": self.splits.to_dict(),
            "open_boundaries": self.open_boundaries.to_dict(),
            "datasets": [d.to_dict() for d in self.datasets],
            "evaluation_box": self.evaluation_box.as_list() if self.evaluation_box else None,
            "subregions": [s.to_dict() for s in self.subregions],
        }


def bbox_of(values: Sequence[float] | BBox, what: str = "bbox") -> BBox:
    """Coerce ``[lon_min, lon_max, lat_min, lat_max]`` or a BBox into a BBox."""
    return values if isinstance(values, BBox) else BBox.from_sequence(values, what=what)
