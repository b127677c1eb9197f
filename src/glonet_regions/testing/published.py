"""A small stand-in of GLONET's published release folder, for tests and the sample.

:func:`write_release_stats` writes ``L<depth>/<var>_{mean,std}.npy`` files whose values encode
their place (variable and level), so a test can tell which file a channel was paired with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.model.published import DEPTH_GROUPS, GROUP_LEVEL_DIRS, GROUP_VARIABLES

__all__ = [
    "PLAUSIBLE_STATS",
    "VARIABLE_CODES",
    "release_mean",
    "release_std",
    "write_release_stats",
    "write_torchscript_archive",
]

PLAUSIBLE_STATS = {
    "zos": (0.0, 0.5),
    "thetao": (12.0, 5.0),
    "so": (35.0, 1.0),
    "uo": (0.0, 0.2),
    "vo": (0.0, 0.2),
}
"""Ocean-like ``(mean, std)`` per variable, for stand-ins that a network can train with."""

VARIABLE_CODES = {"zos": 1, "thetao": 2, "so": 3, "uo": 4, "vo": 5}
"""Leading digit of a stand-in mean: the variable."""


def _depth(level_dir: str) -> int:
    return int(level_dir.removeprefix("L"))


def release_mean(var: str, level_dir: str) -> float:
    """The stand-in mean of ``var`` at ``level_dir``: ``code * 10000 + depth``."""
    return float(VARIABLE_CODES[var] * 10000 + _depth(level_dir))


def release_std(var: str, level_dir: str) -> float:
    """The stand-in std: ``1 + depth / 1000`` (positive, distinct per level)."""
    return 1.0 + _depth(level_dir) / 1000.0


def write_release_stats(
    folder: str | Path,
    groups: Iterable[str] = DEPTH_GROUPS,
    *,
    scalar_surface: bool = True,
    values: Callable[[str, str], tuple[float, float]] | None = None,
) -> Path:
    """Write stand-in statistics for ``groups`` under ``folder`` (laid out like the release).

    The surface files hold 0-d arrays when ``scalar_surface`` (the operational code wraps the
    zos value in a list), the others 1-element arrays (it reads them with ``[0]``).
    ``values(var, level_dir) -> (mean, std)`` overrides the place-encoding values.
    """
    root = Path(folder)
    for group in groups:
        g = group if group in GROUP_LEVEL_DIRS else None
        if g is None:
            raise ValueError(f"unknown depth group {group!r}")
        for level in GROUP_LEVEL_DIRS[g]:
            (root / level).mkdir(parents=True, exist_ok=True)
            for var in GROUP_VARIABLES[g]:
                shape: tuple[int, ...] = () if (scalar_surface and level == "L0") else (1,)
                mean, std = (
                    values(var, level)
                    if values is not None
                    else (release_mean(var, level), release_std(var, level))
                )
                for kind, value in (("mean", mean), ("std", std)):
                    np.save(root / level / f"{var}_{kind}.npy", np.full(shape, value))
    return root


def write_torchscript_archive(
    shapes: Mapping[str, Any], path: str | Path, *, filter_name: str | None = "SelectiveFilterLayer"
) -> Path:
    """A TorchScript archive with tensors of the given names and shapes, built generically.

    The archive is ``Sequential(tree, filter)`` like the published files (keys prefixed
    ``0.``), where ``tree`` is a tree of plain modules holding zero-valued, stride-0 tensors
    (the file stays tiny whatever the shapes) and ``filter`` a tensor-free identity module
    named ``filter_name`` (``None``: no second module). No class of ours is involved, so the
    archive checks our importer against a list of names and shapes alone.
    """
    import warnings

    import torch
    from torch import Tensor, nn

    class _Node(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x

    root = _Node()
    for name, shape in shapes.items():
        *parents, leaf = name.split(".")
        node: nn.Module = root
        for part in parents:
            if part not in node._modules:
                node.add_module(part, _Node())
            node = node._modules[part]  # type: ignore[assignment]
        value = torch.zeros((), dtype=torch.float32).expand(*[int(s) for s in shape])
        node.register_parameter(leaf, nn.Parameter(value, requires_grad=False))
    top: nn.Module = root
    if filter_name is not None:
        filt = type(filter_name, (_Node,), {})()
        top = nn.Sequential(root, filt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        torch.jit.script(top).save(str(path))
    return Path(path)
