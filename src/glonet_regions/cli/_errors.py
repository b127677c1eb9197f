"""One place where the package's errors become CLI errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from glonet_regions.core.errors import GlonetRegionsError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Run a command; a :class:`GlonetRegionsError` becomes a :class:`click.ClickException`.

    The message (which names the file, variable or option at fault) goes to stderr and the
    command exits with status 1, without a traceback. Put it directly above the ``def``, below
    click's decorators.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GlonetRegionsError as err:
            raise click.ClickException(str(err)) from None

    return wrapper  # type: ignore[return-value]
