"""The plugin manager factory: hookspecs, entry points, blocking, broken plugins.

Built-in plugins are loaded through the same path as external ones: our own distribution
declares them as entry points of group ``glonet_regions``. When that metadata is absent (code
run from a source tree without installing it), the built-in entry points are built here and
loaded by the same function.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import pluggy

from glonet_regions.core.errors import RegistryError
from glonet_regions.registry import hookspecs
from glonet_regions.registry.markers import PROJECT_NAME

#: The entry-point group every plugin distribution declares its plugin module in.
ENTRY_POINT_GROUP = "glonet_regions"
#: Comma-separated entry-point names that must not be loaded.
BLOCK_ENV = "GLONET_REGIONS_BLOCK_PLUGINS"
#: Our own distribution, which declares the built-in plugins.
DISTRIBUTION = "glonet-regions"

#: The built-in plugins, as our pyproject declares them (used when its metadata is absent).
BUILTIN_ENTRY_POINTS: tuple[tuple[str, str], ...] = (
    ("builtin-core", "glonet_regions.registry.builtin"),
)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the other plugins still are."""


@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin came from.

    Attributes:
        name: The plugin name (the entry-point name for installed plugins).
        distribution: The distribution that declared it, or None when registered directly.
        version: That distribution's version, or None.
        entry_point: The entry point's value (``"module:attr"``), or None.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None


class GlonetPluginManager(pluggy.PluginManager):
    """A pluggy plugin manager that remembers each plugin's distribution."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.plugin_sources: dict[str, PluginSource] = {}

    def source_of(self, name: str) -> PluginSource:
        """Provenance of a plugin by name (a bare record for plugins registered directly)."""
        return self.plugin_sources.get(name, PluginSource(name))


def blocked_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> set[str]:
    """Entry-point names listed in ``GLONET_REGIONS_BLOCK_PLUGINS``."""
    env = os.environ if environ is None else environ
    return {n.strip() for n in env.get(BLOCK_ENV, "").split(",") if n.strip()}


def discover_entry_points() -> list[EntryPoint]:
    """Installed entry points of our group, plus the built-ins if their metadata is missing."""
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    names = {ep.name for ep in found}
    for name, value in BUILTIN_ENTRY_POINTS:
        if name not in names:  # running from a source tree: no (or stale) metadata
            found.append(EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP))
    return found


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is not None:
        return dist.name, dist.version
    if (ep.name, ep.value) in BUILTIN_ENTRY_POINTS:
        from glonet_regions import __version__

        return DISTRIBUTION, __version__
    return None, None


def load_entry_point(pm: GlonetPluginManager, ep: EntryPoint, *, blocked: set[str]) -> None:
    """Load one entry point into ``pm``; warn (never raise) when its module fails to import.

    Args:
        pm: The plugin manager.
        ep: The entry point (its name becomes the plugin name).
        blocked: Names to block instead of loading.
    """
    if ep.name in blocked:
        pm.set_blocked(ep.name)
        return
    dist, version = _dist_of(ep)
    where = f"distribution {dist!r}" if dist else "an unknown distribution"
    if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
        if pm.is_blocked(ep.name):
            return
        earlier = pm.source_of(ep.name).distribution
        warnings.warn(
            PluginLoadWarning(
                f"glonet-regions plugin {ep.name!r} from {where} is ignored: a plugin of that "
                f"name was already loaded from distribution {earlier!r}"
            ),
            stacklevel=2,
        )
        return
    try:
        plugin = ep.load()
    except Exception as exc:  # any failure of third-party code must not stop the others
        warnings.warn(
            PluginLoadWarning(
                f"Could not load glonet-regions plugin {ep.name!r} ({ep.value}) from {where}: "
                f"{type(exc).__name__}: {exc}"
            ),
            stacklevel=2,
        )
        return
    register_plugin(pm, plugin, ep.name, distribution=dist, version=version, entry_point=ep.value)


def register_plugin(
    pm: GlonetPluginManager,
    plugin: object,
    name: str,
    *,
    distribution: str | None = None,
    version: str | None = None,
    entry_point: str | None = None,
) -> None:
    """Register a plugin object (module or instance) under ``name``, recording provenance."""
    if pm.is_registered(plugin):
        other = pm.get_name(plugin)
        warnings.warn(
            PluginLoadWarning(
                f"glonet-regions plugin {name!r} is the same object as plugin {other!r}; "
                "registered once only"
            ),
            stacklevel=3,
        )
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        where = f" (distribution {distribution!r})" if distribution else ""
        raise RegistryError(f"glonet-regions plugin {name!r}{where} is invalid: {exc}") from exc
    pm.plugin_sources[name] = PluginSource(name, distribution, version, entry_point)


def check_pending(pm: GlonetPluginManager) -> None:
    """Fail clearly if a plugin implements a hook that no hookspec declares."""
    known = sorted(n for n in dir(hookspecs) if n.startswith("register_"))
    unknown: list[str] = []
    for hook_name in dir(pm.hook):
        if hook_name.startswith("_"):
            continue
        caller = getattr(pm.hook, hook_name)
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    unknown.append(f"{hook_name!r} in plugin {impl.plugin_name!r}")
    if unknown:
        raise RegistryError(
            "glonet-regions plugins implement unknown hooks: "
            + "; ".join(sorted(unknown))
            + f". Known hooks: {', '.join(known)}"
        )
    pm.check_pending()  # anything our scan missed still fails in pluggy's own words


def make_plugin_manager(
    entry_points: Iterable[EntryPoint] | None = None,
    *,
    plugins: Iterable[tuple[str, object]] = (),
    block: Iterable[str] | None = None,
) -> GlonetPluginManager:
    """Build the plugin manager: hookspecs, entry points, extra plugins, then a check.

    Args:
        entry_points: Entry points to load; default: every installed one of group
            ``glonet_regions`` (built-ins included, see :func:`discover_entry_points`).
        plugins: ``(name, plugin object)`` pairs registered after the entry points (tests).
        block: Plugin names to block; default: ``GLONET_REGIONS_BLOCK_PLUGINS``.

    Returns:
        The manager, checked: a plugin implementing an unknown hook raises
        :class:`~glonet_regions.core.errors.RegistryError` naming it and the hook.
    """
    pm = GlonetPluginManager()
    blocked = blocked_from_env() if block is None else set(block)
    eps = discover_entry_points() if entry_points is None else list(entry_points)
    for ep in eps:
        load_entry_point(pm, ep, blocked=blocked)
    for name, plugin in plugins:
        if name in blocked:
            pm.set_blocked(name)
            continue
        register_plugin(pm, plugin, name)
    check_pending(pm)
    return pm
