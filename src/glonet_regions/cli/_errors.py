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
    command exits with status 1, without a traceback. An :class:`OSError` (a file where a
    folder is expected, a folder that cannot be read) becomes one line naming the path. Put it
    directly above the ``def``, below click's decorators.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GlonetRegionsError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:  # a path in the way, a folder that cannot be read or written
            raise click.ClickException(os_error_message(err)) from None

    return wrapper  # type: ignore[return-value]


def os_error_message(err: OSError) -> str:
    """One line for a file-system error, naming the path and what is wrong with it."""
    path = err.filename if err.filename is not None else "?"
    reason = err.strerror or type(err).__name__
    hint = ""
    if isinstance(err, FileExistsError | NotADirectoryError):
        hint = " (a file stands where a folder is needed: check the parent folders of the path)"
    elif isinstance(err, PermissionError):
        hint = " (check its permissions)"
    return f"cannot use {path}: {reason}{hint}"
