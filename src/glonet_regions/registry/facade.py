"""The typed facade over the plugin manager: regions, components, assets, evaluation extras.

Everything is collected on first use through the hooks' ``register`` callbacks, one callback
per plugin, so each item records the plugin (and distribution) that provided it and a name
registered twice is reported with both providers. The process-wide registry is built lazily
by :func:`get_registry`; :func:`reset_registry` forgets it.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pluggy

from glonet_regions.core.errors import (
    ConfigError,
    DuplicateNameError,
    GlonetRegionsError,
    RegistryError,
    UnknownNameError,
)
from glonet_regions.core.region import Region, SubRegion
from glonet_regions.registry.components import (
    COMPONENT_HOOKS,
    Component,
    PluginInfo,
    Provider,
    check_target,
    import_target,
)
from glonet_regions.registry.manager import GlonetPluginManager, make_plugin_manager


class RegionFileWarning(UserWarning):
    """A region file is invalid: its region is left out, the others stay usable."""


#: os.pathsep-separated folders of region files.
REGIONS_PATH_ENV = "GLONET_REGIONS_PATH"

Diagnostic = tuple[str, Callable[..., Any]]


def _unknown(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    names = sorted(known)
    return UnknownNameError(
        f"Unknown {kind} {name!r}; known {kind}s: {', '.join(names) if names else '(none)'}"
    )


class _NotRegisteredYet(Exception):
    """Raised by a ``register_regions`` hook's ``resolve`` for a region not registered yet."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Registry:
    """Regions and components provided by the plugins of one plugin manager.

    Args:
        pm: The plugin manager (default: :func:`make_plugin_manager`).
        extra_region_dirs: Folders of region files given by ``--regions-dir``.
        environ: Where to read ``GLONET_REGIONS_PATH`` (default ``os.environ``).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager | None = None,
        *,
        extra_region_dirs: Iterable[str | Path] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.pm = make_plugin_manager() if pm is None else pm
        self._extra_dirs = tuple(Path(d) for d in extra_region_dirs)
        self._environ = os.environ if environ is None else environ
        self._lock = threading.RLock()
        self._regions: dict[str, Region] | None = None
        self._region_providers: dict[str, Provider] = {}
        self._skipped: dict[str, str] = {}
        self._broken: dict[Path, str] = {}
        self._components: dict[str, dict[str, Component]] = {}
        self._assets: list[tuple[Any, Provider]] | None = None

    # -- calling hooks -------------------------------------------------------------------
    def _provider(self, plugin_name: str) -> Provider:
        if isinstance(self.pm, GlonetPluginManager):
            src = self.pm.source_of(plugin_name)
            return Provider(plugin_name, src.distribution)
        return Provider(plugin_name)

    def _call_each(
        self, hook_name: str, make_register: Callable[[Provider], Callable[..., None]],
        **kwargs: Any,
    ) -> None:  # fmt: skip
        """Call every implementation of a hook with its own ``register`` callback."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                continue
            provider = self._provider(impl.plugin_name)
            args = {**kwargs, "register": make_register(provider)}
            try:
                impl.function(*[args[a] for a in impl.argnames])
            except GlonetRegionsError:
                raise
            except Exception as exc:
                raise RegistryError(
                    f"{provider.describe()} failed in hook {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc

    # -- regions -------------------------------------------------------------------------
    def _call_region_hooks(
        self, regions: dict[str, Region], providers: dict[str, Provider]
    ) -> None:
        """Call every ``register_regions``, each plugin after those whose regions it resolves.

        A plugin's ``resolve(name)`` returns a region another plugin registers. When that
        plugin has not run yet, the call is abandoned (its registrations dropped) and retried
        after the others, so plugins are called in the order their references need.
        """
        pending = [
            impl
            for impl in self.pm.hook.register_regions.get_hookimpls()
            if not (impl.hookwrapper or impl.wrapper)
        ]
        while pending:
            deferred: list[tuple[Any, str]] = []
            for impl in pending:
                provider = self._provider(impl.plugin_name)
                found: list[Region] = []

                def register(region: Any, provider: Provider = provider,
                             found: list[Region] = found) -> None:  # fmt: skip
                    if not isinstance(region, Region):
                        raise RegistryError(
                            f"{provider.describe()} registered {type(region).__name__} in "
                            "register_regions; expected a glonet_regions.Region"
                        )
                    found.append(region)

                others = any(p.plugin_name != impl.plugin_name for p in pending)

                def resolve(name: str, others: bool = others) -> Region:
                    if name in regions:
                        return regions[name]
                    if others:  # another plugin may register it: call this one again later
                        raise _NotRegisteredYet(name)
                    raise _unknown("region", name, regions)

                args = {"register": register, "resolve": resolve}
                try:
                    impl.function(*[args[a] for a in impl.argnames])
                except _NotRegisteredYet as exc:
                    deferred.append((impl, exc.name))
                    continue
                except GlonetRegionsError:
                    raise
                except Exception as exc:
                    raise RegistryError(
                        f"{provider.describe()} failed in hook register_regions: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                for region in found:
                    if region.name in regions:
                        raise DuplicateNameError(
                            f"Region {region.name!r} is registered by "
                            f"{providers[region.name].describe()} and by {provider.describe()}"
                        )
                    regions[region.name] = replace(region, plugin=provider.plugin)
                    providers[region.name] = provider
            if len(deferred) == len(pending):
                waits = "; ".join(
                    f"{self._provider(impl.plugin_name).describe()} resolves region {name!r}"
                    for impl, name in deferred
                )
                raise RegistryError(
                    f"register_regions: {waits}, which no other plugin's register_regions "
                    "provides (a cycle, or a region declared only in a region file: "
                    "register such files with register_region_paths instead)"
                )
            pending = [impl for impl, _ in deferred]

    def _collect_regions(self) -> dict[str, Region]:
        from glonet_regions.registry.declarative import (
            FileOrigin,
            parse_folder,
            resolve_region_files,
        )

        regions: dict[str, Region] = {}
        providers: dict[str, Provider] = {}
        self._call_region_hooks(regions, providers)

        folders: list[tuple[Path, str]] = []

        def make_path_register(provider: Provider) -> Callable[..., None]:
            def register(path: Any) -> None:
                if not isinstance(path, str | os.PathLike):
                    raise RegistryError(
                        f"{provider.describe()} registered {path!r} in register_region_paths; "
                        "expected a path"
                    )
                folders.append((Path(path), provider.plugin))

            return register

        self._call_each("register_region_paths", make_path_register)
        for entry in self._environ.get(REGIONS_PATH_ENV, "").split(os.pathsep):
            if entry.strip():
                folders.append((Path(entry.strip()), REGIONS_PATH_ENV))
        folders.extend((d, "--regions-dir") for d in self._extra_dirs)

        broken: dict[Path, str] = {}

        def parse_failed(path: Path, exc: ConfigError) -> None:
            text = " ".join(str(exc).split())
            broken[path] = text.removeprefix(f"Region file {path}").lstrip(": ") or text

        def build_failed(path: Path, name: str, exc: ConfigError) -> None:
            broken[path] = f"region {name!r}: " + " ".join(str(exc).split())

        files: list[FileOrigin] = []
        for path, who in folders:
            files.extend(parse_folder(path, who, on_error=parse_failed))
        resolved = resolve_region_files(files, regions, on_error=build_failed)
        self._skipped = resolved.skipped
        self._broken = broken
        for path, message in broken.items():
            warnings.warn(
                f"region file {path} is left out: {message}", RegionFileWarning, stacklevel=2
            )
        for name, (region, origin) in resolved.regions.items():
            base = self._provider(origin.provider)
            provider = Provider(base.plugin, base.distribution, origin.file.path)
            regions[name] = replace(region, plugin=origin.provider)
            providers[name] = provider
        self._region_providers = providers
        return regions

    @property
    def regions(self) -> Mapping[str, Region]:
        """Every registered region by name (collected on first use)."""
        with self._lock:
            if self._regions is None:
                self._regions = self._collect_regions()
            return self._regions

    def region_names(self) -> list[str]:
        """Sorted names of the registered regions."""
        return sorted(self.regions)

    def get_region(self, name: str) -> Region:
        """A region by name; :class:`UnknownNameError` lists the known names."""
        try:
            return self.regions[name]
        except KeyError:
            if name in self._skipped:
                raise UnknownNameError(
                    f"Region {name!r} is not available: {self._skipped[name]}; known regions: "
                    f"{', '.join(sorted(self.regions)) or '(none)'}"
                ) from None
            err = _unknown("region", name, self.regions)
            if self._broken:
                files = "; ".join(f"{p} ({m})" for p, m in self._broken.items())
                err = UnknownNameError(f"{err}; region file(s) that could not be read: {files}")
            raise err from None

    @property
    def broken_region_files(self) -> Mapping[Path, str]:
        """Region files left out because they are invalid: file -> why (also warned)."""
        self.regions  # noqa: B018 - collect first
        return dict(self._broken)

    @property
    def skipped_regions(self) -> Mapping[str, str]:
        """Region files left out because they refer to a region nobody provides: name -> why."""
        self.regions  # noqa: B018 - collect first
        return dict(self._skipped)

    def region_provider(self, name: str) -> Provider:
        """Which plugin (and file, for declarative regions) provided a region."""
        self.get_region(name)
        return self._region_providers[name]

    # -- components ----------------------------------------------------------------------
    def _collect_components(self, kind: str) -> dict[str, Component]:
        found: dict[str, Component] = {}

        def make_register(provider: Provider) -> Callable[..., None]:
            def register(name: str, factory: Any, **options: Any) -> None:
                if not isinstance(name, str) or not name:
                    raise RegistryError(
                        f"{provider.describe()} registered a {kind} with name {name!r}; "
                        "expected a non-empty string"
                    )
                check_target(factory, what=f"{kind} {name!r}", provider=provider)
                if name in found:
                    raise DuplicateNameError(
                        f"{kind.capitalize()} {name!r} is registered by "
                        f"{found[name].provider.describe()} and by {provider.describe()}"
                    )
                found[name] = Component(kind, name, factory, provider, dict(options))

            return register

        self._call_each(COMPONENT_HOOKS[kind], make_register)
        return found

    def components(self, kind: str) -> Mapping[str, Component]:
        """Registered components of a kind by name (factories not loaded)."""
        if kind not in COMPONENT_HOOKS:
            raise _unknown("component kind", kind, COMPONENT_HOOKS)
        with self._lock:
            if kind not in self._components:
                self._components[kind] = self._collect_components(kind)
            return self._components[kind]

    def names(self, kind: str) -> list[str]:
        """Sorted names of the registered components of a kind."""
        return sorted(self.components(kind))

    def component(self, kind: str, name: str) -> Component:
        """The registration record of a component (its factory is not loaded)."""
        table = self.components(kind)
        try:
            return table[name]
        except KeyError:
            raise _unknown(kind, name, table) from None

    def get(self, kind: str, name: str) -> Any:
        """A component's factory, imported on first use."""
        return self.component(kind, name).load()

    def get_source(self, name: str) -> Any:
        """The factory of a data source (``copernicusmarine``, ``local``, ...)."""
        return self.get("source", name)

    def get_regridder(self, name: str) -> Any:
        """The factory of a regridding backend (``builtin``, ``weights-file``, ``xesmf``)."""
        return self.get("regridder", name)

    def get_boundary_provider(self, name: str) -> Any:
        """The factory of an open-boundary provider (``strip``, ``relaxation``, ``none``)."""
        return self.get("boundary provider", name)

    def get_metric(self, name: str) -> Any:
        """A metric function (``rmsd``, ``rmse``, ``bias``, ``acc``)."""
        return self.get("metric", name)

    # -- assets --------------------------------------------------------------------------
    def _asset_entries(self) -> list[tuple[Any, Provider]]:
        with self._lock:
            if self._assets is None:
                found: list[tuple[Any, Provider]] = []

                def make_register(provider: Provider) -> Callable[..., None]:
                    def register(registry: Any) -> None:
                        if isinstance(registry, str):
                            check_target(registry, what="asset registry", provider=provider)
                        found.append((registry, provider))

                    return register

                self._call_each("register_assets", make_register)
                self._assets = found
            return self._assets

    def asset_entries(self) -> list[tuple[str, Provider]]:
        """``(import string or type name, provider)`` of every asset registry, unloaded."""
        return [
            (t if isinstance(t, str) else type(t).__name__, p) for t, p in self._asset_entries()
        ]

    def asset_registries(self) -> list[Any]:
        """Every registered asset registry, importing lazy references now."""
        return [
            import_target(t, what=f"asset registry from {p.describe()}")
            if isinstance(t, str)
            else t
            for t, p in self._asset_entries()
        ]

    # -- evaluation ----------------------------------------------------------------------
    def evaluation_extras(self, region: Region | str) -> tuple[list[SubRegion], list[Diagnostic]]:
        """Sub-regions and diagnostics plugins add for ``region`` (hook ``register_evaluation``).

        Raises:
            DuplicateNameError: A sub-region or diagnostic name repeats (also against the
                region's own sub-regions).
        """
        reg = self.get_region(region) if isinstance(region, str) else region
        subregions: list[SubRegion] = []
        diagnostics: list[Diagnostic] = []
        seen_sub = {s.name: "the region itself" for s in reg.subregions}
        seen_diag: dict[str, str] = {}

        def make_register(provider: Provider) -> Callable[..., None]:
            def register(*, subregion: Any = None, diagnostic: Any = None) -> None:
                if (subregion is None) == (diagnostic is None):
                    raise RegistryError(
                        f"{provider.describe()}: register_evaluation's register() takes exactly "
                        "one of subregion= or diagnostic="
                    )
                if subregion is not None:
                    if not isinstance(subregion, SubRegion):
                        raise RegistryError(
                            f"{provider.describe()} registered subregion="
                            f"{type(subregion).__name__}; expected a glonet_regions.SubRegion"
                        )
                    if subregion.name in seen_sub:
                        raise DuplicateNameError(
                            f"Sub-region {subregion.name!r} of region {reg.name!r} is registered "
                            f"by {seen_sub[subregion.name]} and by {provider.describe()}"
                        )
                    seen_sub[subregion.name] = provider.describe()
                    subregions.append(subregion)
                    return
                if (
                    not isinstance(diagnostic, tuple)
                    or len(diagnostic) != 2
                    or not isinstance(diagnostic[0], str)
                    or not callable(diagnostic[1])
                ):
                    raise RegistryError(
                        f"{provider.describe()} registered diagnostic={diagnostic!r}; expected "
                        "a (name, function) pair"
                    )
                if diagnostic[0] in seen_diag:
                    raise DuplicateNameError(
                        f"Diagnostic {diagnostic[0]!r} is registered by "
                        f"{seen_diag[diagnostic[0]]} and by {provider.describe()}"
                    )
                seen_diag[diagnostic[0]] = provider.describe()
                diagnostics.append((diagnostic[0], diagnostic[1]))

            return register

        self._call_each("register_evaluation", make_register, region=reg)
        return subregions, diagnostics

    # -- plugins -------------------------------------------------------------------------
    def plugin_infos(self) -> list[PluginInfo]:
        """Loaded plugins (blocked ones left out), sorted by name."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or []))
            dist, version = None, None
            if isinstance(self.pm, GlonetPluginManager):
                src = self.pm.source_of(name)
                dist, version = src.distribution, src.version
            out.append(PluginInfo(name, dist, version, hooks))
        return sorted(out, key=lambda p: p.name)


# -- the process-wide registry ---------------------------------------------------------------
_LOCK = threading.Lock()
_REGISTRY: Registry | None = None
_EXTRA_DIRS: tuple[Path, ...] = ()


def get_registry() -> Registry:
    """The process-wide registry, built on first use from the installed plugins."""
    global _REGISTRY
    with _LOCK:
        if _REGISTRY is None:
            _REGISTRY = Registry(extra_region_dirs=_EXTRA_DIRS)
        return _REGISTRY


def reset_registry() -> None:
    """Forget the process-wide registry (plugins and environment are read again on next use)."""
    global _REGISTRY
    with _LOCK:
        _REGISTRY = None


def set_extra_region_dirs(dirs: Iterable[str | Path]) -> None:
    """Folders of region files to add (``--regions-dir``); resets the process-wide registry."""
    global _EXTRA_DIRS
    with _LOCK:
        _EXTRA_DIRS = tuple(Path(d) for d in dirs)
    reset_registry()


def get_region(name: str) -> Region:
    """A registered region by name."""
    return get_registry().get_region(name)


def region_names() -> list[str]:
    """Sorted names of the registered regions."""
    return get_registry().region_names()


def plugin_infos() -> list[PluginInfo]:
    """The loaded plugins: name, distribution, version, hooks implemented."""
    return get_registry().plugin_infos()


def get_source(name: str) -> Any:
    """A data source factory by name."""
    return get_registry().get_source(name)


def get_regridder(name: str) -> Any:
    """A regridder factory by name."""
    return get_registry().get_regridder(name)


def get_boundary_provider(name: str) -> Any:
    """An open-boundary provider factory by name."""
    return get_registry().get_boundary_provider(name)


def get_metric(name: str) -> Any:
    """A metric function by name."""
    return get_registry().get_metric(name)


def evaluation_extras(region: Region | str) -> tuple[list[SubRegion], list[Diagnostic]]:
    """Sub-regions and diagnostics plugins add for a region."""
    return get_registry().evaluation_extras(region)
