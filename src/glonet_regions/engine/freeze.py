"""Freezing parameters by submodule name prefix."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from glonet_regions.core.errors import ConfigError

__all__ = [
    "freeze_prefixes",
    "freeze_unused",
    "trainable_parameter_count",
    "unused_parameter_names",
]


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


def freeze_unused(model: nn.Module) -> list[str]:
    """Set ``requires_grad=False`` on the parameters the network never uses in its forward.

    GLONET keeps its attention layers and ``mlp.fc2`` only so the published weights load
    (``Glonet.unused_parameter_names``, LoRA adapters wrapped around them included): they never
    receive a gradient, so AdamW never changes them and freezing them changes nothing in the
    training. What it buys: DDP can run without ``find_unused_parameters`` (no search of the
    autograd graph after every forward). Models without ``unused_parameter_names`` are left
    as they are.

    Returns:
        Names of the parameters frozen here.
    """
    dead = unused_parameter_names(model)
    frozen = []
    for name, param in model.named_parameters():
        if dead is not None and name in dead and param.requires_grad:
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def unused_parameter_names(model: nn.Module) -> set[str] | None:
    """Dotted names (in ``model``) of the parameters its networks never use in a forward.

    Collected from every submodule with an ``unused_parameter_names()`` method (a
    :class:`~glonet_regions.model.network.Glonet`, also inside a wrapper); ``None`` when no
    submodule says.
    """
    found: set[str] | None = None
    for prefix, module in model.named_modules():
        names_fn = getattr(module, "unused_parameter_names", None)
        if not callable(names_fn):
            continue
        found = found or set()
        found.update(f"{prefix}.{n}" if prefix else n for n in names_fn())
    return found
