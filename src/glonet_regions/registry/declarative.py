"""Region files in folders, resolved after code plugins.

Folders come from plugins (hook ``register_region_paths``), ``GLONET_REGIONS_PATH`` and
``--regions-dir``; glonet-regions itself ships none. These helpers find region files in
folders and build them in dependency order, so a file may refer (``grid.from_region``,
``datasets_from``) to a region registered by a code plugin or to one declared in another file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from glonet_regions.core.errors import ConfigError, DuplicateNameError
from glonet_regions.core.region import Region
from glonet_regions.registry.regionfile import (
    REGION_FILE_SUFFIXES,
    RegionFile,
    parse_region_file,
)


@dataclass(frozen=True)
class FileOrigin:
    """A region file and who pointed at its folder (a plugin name, or an option)."""

    file: RegionFile
    provider: str


def region_files_in(path: Path, *, what: str) -> list[Path]:
    """The region files in a folder (sorted), or ``[path]`` for a single file.

    Args:
        path: A folder or a file.
        what: Who named the path, for the error message.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"Folder of region files {str(path)!r} (from {what}) does not exist")
    try:
        return sorted(
            p for p in path.iterdir() if p.suffix.lower() in REGION_FILE_SUFFIXES and p.is_file()
        )
    except OSError as exc:
        raise ConfigError(
            f"Folder of region files {str(path)!r} (from {what}) cannot be read: "
            f"{exc.strerror or exc}"
        ) from None


@dataclass(frozen=True)
class ResolvedFiles:
    """The outcome of :func:`resolve_region_files`.

    Attributes:
        regions: Region name -> (built region, origin), in file order.
        skipped: Region name -> why it was left out (it refers to a region no plugin
            provides, say because that plugin is not installed or is blocked).
    """

    regions: dict[str, tuple[Region, FileOrigin]]
    skipped: dict[str, str]


def resolve_region_files(
    files: Iterable[FileOrigin],
    known: Mapping[str, Region],
    *,
    on_error: Callable[[Path, str, ConfigError], None] | None = None,
) -> ResolvedFiles:
    """Build region files in dependency order.

    A file that refers to a region nobody provides is skipped (with the reason recorded), not
    an error: a built-in file may build on a region from a plugin that is not installed.

    Args:
        files: Parsed files and their providers.
        known: Regions already registered by code plugins (files may refer to them).
        on_error: Called with (file, region name, error) for a file that fails to build;
            the region is then skipped (so are regions built on it) instead of raising.

    Raises:
        DuplicateNameError: Two files, or a file and a code plugin, declare the same name.
        ConfigError: References form a cycle, or a file is invalid.
    """
    by_name: dict[str, FileOrigin] = {}
    for fo in files:
        name = fo.file.name
        if name in by_name:
            other = by_name[name]
            raise DuplicateNameError(
                f"Region {name!r} is declared twice: in {other.file.path} (from {other.provider}) "
                f"and in {fo.file.path} (from {fo.provider})"
            )
        if name in known:
            raise DuplicateNameError(
                f"Region {name!r} from file {fo.file.path} (from {fo.provider}) is already "
                f"registered by plugin {known[name].plugin!r}"
            )
        by_name[name] = fo

    skipped: dict[str, str] = {}
    changed = True
    while changed:  # propagate "refers to a missing region" through chains of references
        changed = False
        for name, fo in by_name.items():
            if name in skipped:
                continue
            for ref in fo.file.references:
                if ref in skipped:
                    reason = f"it refers to region {ref!r}, which was skipped ({skipped[ref]})"
                elif ref not in known and ref not in by_name:
                    reason = (
                        f"file {fo.file.path} refers to region {ref!r}, which no loaded plugin "
                        "provides (is its plugin installed and not blocked?)"
                    )
                else:
                    continue
                skipped[name] = reason
                changed = True
                break

    built: dict[str, tuple[Region, FileOrigin]] = {}
    in_progress: list[str] = []

    def lookup(name: str) -> Region:
        if name in known:
            return known[name]
        if name in built:
            return built[name][0]
        if name in skipped:
            raise ConfigError(f"it refers to region {name!r}, which was skipped ({skipped[name]})")
        return build(name)

    def build(name: str) -> Region:
        if name in in_progress:
            cycle = " -> ".join([*in_progress[in_progress.index(name) :], name])
            raise ConfigError(
                f"Region file {by_name[name].file.path}: references form a cycle: {cycle}"
            )
        in_progress.append(name)
        try:
            region = by_name[name].file.build(lookup)
        finally:
            in_progress.pop()
        built[name] = (region, by_name[name])
        return region

    for name in by_name:
        if name not in built and name not in skipped:
            if on_error is None:
                build(name)
                continue
            try:
                build(name)
            except ConfigError as exc:
                path = by_name[name].file.path
                skipped[name] = f"its file {path} is invalid: {' '.join(str(exc).split())}"
                on_error(path, name, exc)
    return ResolvedFiles({n: built[n] for n in by_name if n in built}, skipped)


def parse_folder(
    path: Path,
    provider: str,
    *,
    on_error: Callable[[Path, ConfigError], None] | None = None,
) -> list[FileOrigin]:
    """Parse every region file of a folder (or one file) registered by ``provider``.

    Args:
        on_error: Called with (file, error) for a file that cannot be parsed, which is then
            left out instead of raising (one bad file must not hide the other regions).
    """
    out = []
    for p in region_files_in(path, what=provider):
        try:
            out.append(FileOrigin(parse_region_file(p), provider))
        except ConfigError as exc:
            if on_error is None:
                raise
            on_error(p, exc)
    return out
