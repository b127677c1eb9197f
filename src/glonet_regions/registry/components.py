"""Registered things and where they came from: provenance records and lazy import strings."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glonet_regions.core.errors import RegistryError

#: The kinds of named components plugins register with ``register(name, factory)``.
COMPONENT_HOOKS = {
    "source": "register_sources",
    "regridder": "register_regridders",
    "boundary provider": "register_boundary_providers",
    "metric": "register_metrics",
}


@dataclass(frozen=True)
class Provider:
    """Who provided a registered item.

    Attributes:
        plugin: The plugin name (entry-point name), or the option that named a folder
            (``GLONET_REGIONS_PATH``, ``--regions-dir``).
        distribution: The plugin's distribution, when known.
        origin: The region file the item came from, for declarative regions.
    """

    plugin: str
    distribution: str | None = None
    origin: Path | None = None

    def describe(self) -> str:
        dist = f" (distribution {self.distribution})" if self.distribution else ""
        origin = f", file {self.origin}" if self.origin else ""
        return f"plugin {self.plugin!r}{dist}{origin}"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin, as ``glonet-regions plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
        }


def import_target(target: str, *, what: str) -> Any:
    """Resolve ``"package.module:attribute.path"``.

    Raises:
        RegistryError: The module cannot be imported or lacks the attribute.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(f"{what}: import string {target!r} must look like 'module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(
            f"{what}: cannot import {target!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return obj


def check_target(target: Any, *, what: str, provider: Provider) -> None:
    """Check a registered factory is a callable or a ``"module:attr"`` string (no import)."""
    if isinstance(target, str):
        if target.count(":") != 1 or target.startswith(":") or target.endswith(":"):
            raise RegistryError(
                f"{what} from {provider.describe()}: import string {target!r} must look like "
                "'module:attribute'"
            )
    elif not callable(target):
        raise RegistryError(
            f"{what} from {provider.describe()}: expected a callable or an import string "
            f"'module:attribute', got {type(target).__name__}"
        )


@dataclass
class Component:
    """A named component (source, regridder, boundary provider, metric), loaded lazily.

    Attributes:
        kind: ``source``, ``regridder``, ``boundary provider`` or ``metric``.
        name: Its registered name.
        target: The factory, or the import string it is loaded from on first use.
        provider: Who registered it.
        options: Extra keyword arguments given to ``register`` (``convention=`` for metrics).
    """

    kind: str
    name: str
    target: Any
    provider: Provider
    options: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def is_lazy(self) -> bool:
        """Whether the factory is given by an import string."""
        return isinstance(self.target, str)

    def load(self) -> Any:
        """The factory, importing it on first use."""
        if not self.is_lazy:
            return self.target
        with self._lock:
            if self._loaded is None:
                self._loaded = import_target(
                    self.target, what=f"{self.kind} {self.name!r} from {self.provider.describe()}"
                )
        return self._loaded

    def describe_target(self) -> str:
        if self.is_lazy:
            return str(self.target)
        return (
            f"{getattr(self.target, '__module__', '?')}:{getattr(self.target, '__qualname__', '?')}"
        )
