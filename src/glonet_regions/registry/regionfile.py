"""Declarative region files (YAML or TOML, ``schema_version: 1``): parse, check, build.

A file is parsed into a :class:`RegionFile` (every key checked, unknown keys rejected with
the key and the file named), then built into a :class:`~glonet_regions.core.Region`. A file
may refer to another region (``grid: {from_region: ...}``, ``datasets_from: ...``); those
references are resolved by a look-up function given when building. Every key is documented in
``docs/reference/region-files.md``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from glonet_regions.core.depth import GLONET_DEPTH_SCHEME, DepthGroup, DepthLevels, DepthScheme
from glonet_regions.core.errors import ConfigError, GlonetRegionsError
from glonet_regions.core.grid import BBox, Grid
from glonet_regions.core.region import (
    DateRange,
    DateSplits,
    GridVersion,
    OpenBoundaries,
    Region,
    SourceDataset,
    SubRegion,
)
from glonet_regions.core.variables import GLONET_VARIABLES, Variable, VariableSet

#: The schema versions this code reads.
SCHEMA_VERSIONS = (1,)
#: File suffixes recognised as region files.
REGION_FILE_SUFFIXES = (".yaml", ".yml", ".toml")

RegionLookup = Callable[[str], Region]

_TOP_KEYS = {
    "schema_version", "name", "title", "description", "bbox", "resolution_deg", "grid",
    "variables", "depth", "native_levels_m", "splits", "open_boundaries", "datasets",
    "datasets_from", "evaluation_box", "subregions", "extra",
}  # fmt: skip
_REQUIRED_TOP = ("schema_version", "name", "bbox", "grid", "splits", "open_boundaries")
_GRID_KEYS = {"versions", "from_region", "subset_bbox"}
_VERSION_KEYS = {"name", "lon0", "lat0", "nlon", "nlat", "dlon", "dlat", "description",
                 "tolerance_deg"}  # fmt: skip
_SPLIT_KEYS = {"train", "validation", "test"}
_BOUNDARY_KEYS = {"edges", "width", "provider", "source", "forecast_source", "regridder"}
_DATASET_KEYS = {"key", "kind", "service", "dataset_id", "product_id", "variables", "version",
                 "description"}  # fmt: skip
_SUBREGION_KEYS = {"name", "title", "bbox"}
_VARIABLE_KEYS = {"name", "standard_name", "units", "ndim", "valid_range", "aliases",
                  "long_name", "unit_aliases"}  # fmt: skip
_DEPTH_KEYS = {"levels_m", "groups"}
_GROUP_KEYS = {"name", "levels", "variables_2d", "variables_3d"}


class _Ctx:
    """Error reporting for one file: every message names the file and the key path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, where: str, message: str) -> ConfigError:
        at = f" (key {where})" if where else ""
        return ConfigError(f"Region file {self.path}{at}: {message}")

    def mapping(self, value: Any, where: str, allowed: set[str], required: Sequence[str] = ()
                ) -> dict[str, Any]:  # fmt: skip
        if not isinstance(value, Mapping):
            raise self.error(where, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise self.error(
                where,
                f"unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
        missing = [k for k in required if k not in value]
        if missing:
            raise self.error(where, f"missing required key(s) {', '.join(map(repr, missing))}")
        return dict(value)

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(where, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, value: Any, where: str) -> float:
        """A number, or a fraction written as a string (``"1/36"``)."""
        if isinstance(value, bool):
            raise self.error(where, f"expected a number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(Fraction(value.replace(" ", "")))
            except (ValueError, ZeroDivisionError):
                pass
        raise self.error(where, f"expected a number or a fraction like '1/36', got {value!r}")

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected an integer, got {value!r}")
        return value

    def seq(self, value: Any, where: str) -> list[Any]:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise self.error(where, f"expected a list, got {value!r}")
        return list(value)

    def numbers(self, value: Any, where: str) -> list[float]:
        return [self.number(v, f"{where}[{i}]") for i, v in enumerate(self.seq(value, where))]

    def strings(self, value: Any, where: str) -> list[str]:
        return [self.string(v, f"{where}[{i}]") for i, v in enumerate(self.seq(value, where))]

    def bbox(self, value: Any, where: str) -> BBox:
        vals = self.numbers(value, where)
        if len(vals) != 4:
            raise self.error(where, f"expected [lon_min, lon_max, lat_min, lat_max], got {vals}")
        with self.at(where):
            return BBox(*vals)

    def date(self, value: Any, where: str) -> dt.date:
        if isinstance(value, dt.date):
            return value.date() if isinstance(value, dt.datetime) else value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise self.error(where, f"expected a date YYYY-MM-DD, got {value!r}") from None

    @contextmanager
    def at(self, where: str) -> Iterator[None]:
        """Turn a core ValidationError raised inside the block into a ConfigError here."""
        try:
            yield
        except ConfigError:
            raise
        except GlonetRegionsError as exc:
            raise self.error(where, str(exc)) from exc


@dataclass(frozen=True)
class RegionFile:
    """A parsed, checked region file whose references are not yet resolved.

    Attributes:
        path: The file.
        data: Its top-level mapping (keys checked).
        name: The region name it declares.
        references: Names of other regions it refers to (``from_region``, ``datasets_from``).
    """

    path: Path
    data: Mapping[str, Any]
    name: str
    references: tuple[str, ...]

    def build(self, lookup: RegionLookup | None = None) -> Region:
        """Build the region; ``lookup(name)`` returns a referenced region."""
        return _build(self, lookup)


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML file into a mapping (no checks beyond the syntax)."""
    suffix = path.suffix.lower()
    if suffix not in REGION_FILE_SUFFIXES:
        raise ConfigError(
            f"Region file {path}: unknown suffix {suffix!r}; expected one of {REGION_FILE_SUFFIXES}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Region file {path} cannot be read: {exc}") from exc
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / tomllib.TOMLDecodeError
        raise ConfigError(f"Region file {path} is not valid {suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Region file {path}: expected a mapping at the top level")
    return data


def parse_region_file(path: str | Path) -> RegionFile:
    """Read and check a region file (keys, types, schema version), without building it."""
    path = Path(path)
    ctx = _Ctx(path)
    data = ctx.mapping(read_mapping(path), "", _TOP_KEYS, _REQUIRED_TOP)
    version = data["schema_version"]
    if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
        raise ctx.error(
            "schema_version",
            f"unsupported schema_version {version!r}; this glonet-regions reads "
            f"{', '.join(map(str, SCHEMA_VERSIONS))}",
        )
    name = ctx.string(data["name"], "name")
    grid = ctx.mapping(data["grid"], "grid", _GRID_KEYS)
    refs: list[str] = []
    if "from_region" in grid:
        refs.append(ctx.string(grid["from_region"], "grid.from_region"))
    if "datasets_from" in data:
        refs.append(ctx.string(data["datasets_from"], "datasets_from"))
    if name in refs:
        raise ctx.error("grid.from_region", f"region {name!r} refers to itself")
    return RegionFile(path, data, name, tuple(dict.fromkeys(refs)))


def load_region_file(
    path: str | Path, *, resolve: RegionLookup | Mapping[str, Region] | None = None
) -> Region:
    """Load one region file into a :class:`~glonet_regions.core.Region`.

    Args:
        path: A ``.yaml``, ``.yml`` or ``.toml`` file with ``schema_version: 1``.
        resolve: How to find regions the file refers to (``grid.from_region``,
            ``datasets_from``): a function of the name or a mapping. Required when the file
            refers to another region: inside a ``register_regions`` hook pass the hook's own
            ``resolve`` argument; elsewhere :func:`glonet_regions.get_region` will do.

    Raises:
        ConfigError: Unknown key, wrong type, bad schema version, invalid values, an
            unknown referenced region, or a reference with no ``resolve``; the message names
            the file and the key.
    """
    rf = parse_region_file(path)
    lookup: RegionLookup | None
    if resolve is None:
        lookup = None
    elif isinstance(resolve, Mapping):
        table = resolve

        def lookup(name: str) -> Region:
            try:
                return table[name]
            except KeyError:
                from glonet_regions.core.errors import UnknownNameError

                raise UnknownNameError(
                    f"Unknown region {name!r}; known: {', '.join(sorted(table)) or '(none)'}"
                ) from None

    else:
        lookup = resolve
    return rf.build(lookup)


# -- building ----------------------------------------------------------------------------
def _ref(ctx: _Ctx, lookup: RegionLookup | None, name: str, where: str) -> Region:
    if lookup is None:
        raise ctx.error(
            where,
            f"refers to region {name!r} but no resolver was given: call "
            "load_region_file(path, resolve=...) with a function or a mapping of regions (in a "
            "register_regions hook, the hook's own 'resolve' argument)",
        )
    try:
        return lookup(name)
    except GlonetRegionsError as exc:
        raise ctx.error(where, f"cannot resolve region {name!r}: {exc}") from exc


def _build(rf: RegionFile, lookup: RegionLookup | None) -> Region:
    ctx = _Ctx(rf.path)
    d = rf.data
    bbox = ctx.bbox(d["bbox"], "bbox")
    grid_spec = ctx.mapping(d["grid"], "grid", _GRID_KEYS)
    base: Region | None = None
    if "from_region" in grid_spec:
        base = _ref(ctx, lookup, grid_spec["from_region"], "grid.from_region")
    if "resolution_deg" in d:
        resolution = ctx.number(d["resolution_deg"], "resolution_deg")
    elif base is not None:
        resolution = base.resolution_deg
    else:
        raise ctx.error("resolution_deg", "required unless grid.from_region is given")
    versions = _grid_versions(ctx, grid_spec, base, bbox, resolution)
    variables = _variables(ctx, d.get("variables"))
    depth = _depth(ctx, d["depth"]) if "depth" in d else GLONET_DEPTH_SCHEME
    native = None
    if d.get("native_levels_m") is not None:
        values = ctx.numbers(d["native_levels_m"], "native_levels_m")
        with ctx.at("native_levels_m"):
            native = DepthLevels(tuple(values))
    datasets: list[SourceDataset] = []
    if "datasets_from" in d:
        datasets.extend(_ref(ctx, lookup, d["datasets_from"], "datasets_from").datasets)
    for i, item in enumerate(ctx.seq(d.get("datasets", []), "datasets")):
        datasets.append(_dataset(ctx, item, f"datasets[{i}]"))
    subregions = [
        _subregion(ctx, item, f"subregions[{i}]")
        for i, item in enumerate(ctx.seq(d.get("subregions", []), "subregions"))
    ]
    evaluation_box = (
        ctx.bbox(d["evaluation_box"], "evaluation_box")
        if d.get("evaluation_box") is not None
        else None
    )
    extra = ctx.mapping(d.get("extra", {}), "extra", set(d.get("extra", {}) or {}))
    title = ctx.string(d.get("title", rf.name), "title")
    description = d.get("description", "")
    if not isinstance(description, str):
        raise ctx.error("description", f"expected a string, got {description!r}")
    splits = _splits(ctx, d["splits"])
    boundaries = _boundaries(ctx, d["open_boundaries"])
    with ctx.at(""):
        return Region(
            name=rf.name,
            title=title,
            description=description.strip(),
            bbox=bbox,
            resolution_deg=resolution,
            grid_versions=versions,
            splits=splits,
            open_boundaries=boundaries,
            variables=variables,
            depth=depth,
            native_levels=native,
            datasets=tuple(datasets),
            evaluation_box=evaluation_box,
            subregions=tuple(subregions),
            extra=extra,
        )


def _grid_versions(
    ctx: _Ctx, spec: dict[str, Any], base: Region | None, bbox: BBox, resolution: float
) -> tuple[GridVersion, ...]:
    if ("versions" in spec) == ("from_region" in spec):
        raise ctx.error("grid", "give exactly one of 'versions' or 'from_region'")
    if "subset_bbox" in spec and base is None:
        raise ctx.error("grid.subset_bbox", "only allowed with grid.from_region")
    if base is not None:
        box = ctx.bbox(spec["subset_bbox"], "grid.subset_bbox") if "subset_bbox" in spec else bbox
        subs = []
        for version in base.grid_versions:
            with ctx.at("grid.subset_bbox"):
                sub = version.grid.subset(box)
            desc = f"Sub-grid of region {base.name!r} grid {version.name!r} in {box.as_list()}"
            subs.append(GridVersion(version.name, sub, desc, version.tolerance_deg))
        return tuple(subs)
    items = ctx.seq(spec["versions"], "grid.versions")
    if not items:
        raise ctx.error("grid.versions", "list at least one grid version")
    out = []
    for i, item in enumerate(items):
        where = f"grid.versions[{i}]"
        v = ctx.mapping(item, where, _VERSION_KEYS, ("name", "lon0", "lat0", "nlon", "nlat"))
        dlon = ctx.number(v.get("dlon", resolution), f"{where}.dlon")
        dlat = ctx.number(v.get("dlat", resolution), f"{where}.dlat")
        lon0 = ctx.number(v["lon0"], f"{where}.lon0")
        lat0 = ctx.number(v["lat0"], f"{where}.lat0")
        nlon = ctx.integer(v["nlon"], f"{where}.nlon")
        nlat = ctx.integer(v["nlat"], f"{where}.nlat")
        with ctx.at(where):
            grid = Grid.regular(lon0=lon0, lat0=lat0, dlon=dlon, dlat=dlat, nlon=nlon, nlat=nlat)
        tol = v.get("tolerance_deg")
        out.append(
            GridVersion(
                name=ctx.string(v["name"], f"{where}.name"),
                grid=grid,
                description=str(v.get("description", "")).strip(),
                tolerance_deg=None if tol is None else ctx.number(tol, f"{where}.tolerance_deg"),
            )
        )
    return tuple(out)


def _variables(ctx: _Ctx, value: Any) -> VariableSet:
    if value is None:
        return GLONET_VARIABLES
    out = []
    for i, item in enumerate(ctx.seq(value, "variables")):
        where = f"variables[{i}]"
        if isinstance(item, str):
            if item not in GLONET_VARIABLES:
                raise ctx.error(
                    where,
                    f"unknown variable {item!r}; known by name: "
                    f"{', '.join(GLONET_VARIABLES.names)} (or give a full mapping)",
                )
            out.append(GLONET_VARIABLES[item])
            continue
        v = ctx.mapping(item, where, _VARIABLE_KEYS,
                        ("name", "standard_name", "units", "ndim", "valid_range"))  # fmt: skip
        vrange = ctx.numbers(v["valid_range"], f"{where}.valid_range")
        if len(vrange) != 2:
            raise ctx.error(f"{where}.valid_range", f"expected [min, max], got {vrange}")
        name = ctx.string(v["name"], f"{where}.name")
        standard_name = ctx.string(v["standard_name"], f"{where}.standard_name")
        units = ctx.string(v["units"], f"{where}.units")
        ndim = ctx.integer(v["ndim"], f"{where}.ndim")
        aliases = tuple(ctx.strings(v.get("aliases", []), f"{where}.aliases"))
        unit_aliases = tuple(ctx.strings(v.get("unit_aliases", []), f"{where}.unit_aliases"))
        with ctx.at(where):
            out.append(
                Variable(
                    name=name,
                    standard_name=standard_name,
                    units=units,
                    ndim=ndim,
                    valid_range=(vrange[0], vrange[1]),
                    aliases=aliases,
                    long_name=str(v.get("long_name", "")),
                    unit_aliases=unit_aliases,
                )
            )
    with ctx.at("variables"):
        return VariableSet(tuple(out))


def _depth(ctx: _Ctx, value: Any) -> DepthScheme:
    d = ctx.mapping(value, "depth", _DEPTH_KEYS, ("levels_m", "groups"))
    levels = ctx.numbers(d["levels_m"], "depth.levels_m")
    groups = []
    for i, item in enumerate(ctx.seq(d["groups"], "depth.groups")):
        where = f"depth.groups[{i}]"
        g = ctx.mapping(item, where, _GROUP_KEYS, ("name", "levels"))
        idx = [ctx.integer(x, f"{where}.levels") for x in ctx.seq(g["levels"], f"{where}.levels")]
        name = ctx.string(g["name"], f"{where}.name")
        v2 = tuple(ctx.strings(g.get("variables_2d", []), f"{where}.variables_2d"))
        v3 = tuple(ctx.strings(g.get("variables_3d", []), f"{where}.variables_3d"))
        with ctx.at(where):
            groups.append(DepthGroup(name, tuple(idx), v2, v3))
    with ctx.at("depth"):
        return DepthScheme(DepthLevels(tuple(levels)), tuple(groups))


def _splits(ctx: _Ctx, value: Any) -> DateSplits:
    d = ctx.mapping(value, "splits", _SPLIT_KEYS, ("train", "validation", "test"))
    ranges = {}
    for name in ("train", "validation", "test"):
        items = ctx.seq(d[name], f"splits.{name}")
        if len(items) != 2:
            raise ctx.error(f"splits.{name}", f"expected [start, end], got {items}")
        start, end = (ctx.date(x, f"splits.{name}") for x in items)
        with ctx.at(f"splits.{name}"):
            ranges[name] = DateRange(start, end)
    with ctx.at("splits"):
        return DateSplits(**ranges)


def _boundaries(ctx: _Ctx, value: Any) -> OpenBoundaries:
    d = ctx.mapping(value, "open_boundaries", _BOUNDARY_KEYS, ("edges",))
    edges = ctx.strings(d["edges"], "open_boundaries.edges")
    width = ctx.integer(d.get("width", 8), "open_boundaries.width")
    provider = ctx.string(d.get("provider", "relaxation"), "open_boundaries.provider")
    source = d.get("source")
    if source is not None:
        source = ctx.string(source, "open_boundaries.source")
    fsrc = d.get("forecast_source", [])
    if isinstance(fsrc, str):
        fsrc = [fsrc]
    forecast_source = ctx.strings(fsrc, "open_boundaries.forecast_source")
    regridder = ctx.string(d.get("regridder", "builtin"), "open_boundaries.regridder")
    with ctx.at("open_boundaries"):
        return OpenBoundaries(
            tuple(edges),  # type: ignore[arg-type]
            width,
            provider,
            source,
            tuple(forecast_source),
            regridder,
        )


def _dataset(ctx: _Ctx, value: Any, where: str) -> SourceDataset:
    d = ctx.mapping(value, where, _DATASET_KEYS, ("key", "kind", "service", "dataset_id"))
    variables = ctx.mapping(d.get("variables", {}) or {}, f"{where}.variables",
                            set(d.get("variables", {}) or {}))  # fmt: skip
    for k, v in variables.items():
        ctx.string(v, f"{where}.variables.{k}")

    def opt(key: str) -> str | None:
        return None if d.get(key) is None else ctx.string(str(d[key]), f"{where}.{key}")

    key = ctx.string(d["key"], f"{where}.key")
    kind = ctx.string(d["kind"], f"{where}.kind")
    service = ctx.string(d["service"], f"{where}.service")
    dataset_id = ctx.string(d["dataset_id"], f"{where}.dataset_id")
    product_id, version = opt("product_id"), opt("version")
    with ctx.at(where):
        return SourceDataset(
            key=key,
            kind=kind,
            service=service,
            dataset_id=dataset_id,
            product_id=product_id,
            variables={str(k): str(v) for k, v in variables.items()},
            version=version,
            description=str(d.get("description", "")).strip(),
        )


def _subregion(ctx: _Ctx, value: Any, where: str) -> SubRegion:
    d = ctx.mapping(value, where, _SUBREGION_KEYS, ("name", "bbox"))
    name = ctx.string(d["name"], f"{where}.name")
    return SubRegion(name, str(d.get("title", name)), ctx.bbox(d["bbox"], f"{where}.bbox"))
