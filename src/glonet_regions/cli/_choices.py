"""Option values that must name a registered component, checked against the registry lazily.

``--help`` never loads the registry (so it stays instant); the value given is checked when the
command runs, and a wrong one is a usage error listing the registered names. Shell completion
offers the registered names.
"""

from __future__ import annotations

from typing import Any

import click


class RegistryChoice(click.ParamType):
    """The name of a registered component of one kind (``regridder``, ``metric``...).

    Args:
        kind: A component kind of :data:`glonet_regions.registry.components.COMPONENT_HOOKS`.
        aliases: Other spellings accepted for a registered name (``weights_file``).
    """

    def __init__(self, kind: str, aliases: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.aliases = dict(aliases or {})
        self.name = kind.replace(" ", "-")

    def _names(self) -> list[str]:
        from glonet_regions.registry.facade import get_registry

        return get_registry().names(self.kind)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            value = str(value)
        value = self.aliases.get(value, value)
        names = self._names()
        if value not in names:
            self.fail(
                f"{value!r} is not a registered {self.kind}; registered: "
                f"{', '.join(names) or '(none)'} (see `glonet-regions plugins`)",
                param,
                ctx,
            )
        return value

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in self._names() if n.startswith(incomplete)]
