"""Freezing parameters by submodule name prefix."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from glonet_regions.core.errors import ConfigError

__all__ = ["freeze_prefixes", "trainable_parameter_count"]


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix.rstrip(".") + ".")


def freeze_prefixes(model: nn.Module, prefixes: Sequence[str]) -> list[str]:
    """Set ``requires_grad=False`` on every parameter under the given submodule names.

    A prefix matches a parameter whose dotted name equals it or starts with ``prefix + "."``
    (``space.NO`` freezes ``space.NO.blks.0.mlp.fc1.weight`` but not ``space.NOx``).

    Returns:
        Names of the frozen parameters.

    Raises:
        ConfigError: A prefix matches no parameter (the message names it).
    """
    names = [n for n, _ in model.named_parameters()]
    frozen: list[str] = []
    for prefix in prefixes:
        hit = [n for n in names if _matches(n, prefix)]
        if not hit:
            tops = sorted({n.split(".")[0] for n in names})
            raise ConfigError(
                f"freeze prefix {prefix!r} matches no parameter of the model; top-level "
                f"submodules are {tops}"
            )
        frozen.extend(hit)
    params = dict(model.named_parameters())
    for n in frozen:
        params[n].requires_grad_(False)
    return sorted(set(frozen))


def trainable_parameter_count(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` scalar parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
