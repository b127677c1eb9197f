"""Low-rank adapters (LoRA) for linear and 1x1 convolution layers.

``LoRALinear`` wraps an :class:`torch.nn.Linear`: ``y = base(x) + (alpha / r) * x A^T B^T``
with ``A`` (r, in) initialised like a Kaiming-uniform weight and ``B`` (out, r) zero, so a
freshly wrapped model computes exactly what the original did. The base weights are frozen.
:meth:`LoRALinear.merge` folds the update into the base weight (for export) and
:meth:`LoRALinear.unmerge` takes it out again.

:func:`apply_lora` replaces matching submodules in place; :func:`merged_state_dict` returns the
plain (wrapper-free) state dict of a model with adapters, as the bundle stores it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.core.errors import ConfigError

__all__ = [
    "DEFAULT_TARGETS",
    "LoRAConv1d",
    "LoRALinear",
    "apply_lora",
    "lora_modules",
    "merge_lora",
    "merged_state_dict",
    "unmerge_lora",
]

DEFAULT_TARGETS: tuple[str, ...] = ("attn", "mlp.fc1", "mlp.fc2")
"""Name patterns (regular expressions searched in module names) wrapped by default."""


class _LoRABase(nn.Module):
    base: nn.Module

    def __init__(
        self, base: nn.Module, in_features: int, out_features: int, rank: int, alpha: float
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {rank}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.rank = int(rank)
        self.alpha = float(alpha)
        self.scaling = self.alpha / self.rank
        weight = next(base.parameters())
        self.lora_A = nn.Parameter(
            torch.empty(rank, in_features, dtype=weight.dtype, device=weight.device)
        )
        self.lora_B = nn.Parameter(
            torch.zeros(out_features, rank, dtype=weight.dtype, device=weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    def delta_weight(self) -> Tensor:
        """The low-rank update ``scaling * B A`` with the base weight's shape."""
        delta = (self.lora_B @ self.lora_A) * self.scaling
        weight: Tensor = getattr(self.base, "weight")  # noqa: B009
        return delta.reshape(weight.shape)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight (idempotent)."""
        if not self.merged:
            self.base.weight.add_(self.delta_weight())  # type: ignore[operator]
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the base weight again (idempotent)."""
        if self.merged:
            self.base.weight.sub_(self.delta_weight())  # type: ignore[operator]
            self.merged = False


class LoRALinear(_LoRABase):
    """A frozen :class:`nn.Linear` plus a trainable rank-``r`` update.

    Args:
        base: The layer to adapt.
        rank: Rank r of the update.
        alpha: Scale; the update is multiplied by ``alpha / r``.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float = 1.0) -> None:
        super().__init__(base, base.in_features, base.out_features, rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.base(x)
        if self.merged:
            return out
        return out + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling


class LoRAConv1d(_LoRABase):
    """A frozen kernel-size-1 :class:`nn.Conv1d` plus a trainable rank-``r`` update."""

    def __init__(self, base: nn.Conv1d, rank: int, alpha: float = 1.0) -> None:
        if base.kernel_size != (1,) or base.groups != 1:
            raise ConfigError("LoRAConv1d only adapts kernel-size-1, ungrouped Conv1d layers")
        super().__init__(base, base.in_channels, base.out_channels, rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.base(x)
        if self.merged:
            return out
        h = torch.einsum("ri,bil->brl", self.lora_A, x)
        return out + torch.einsum("or,brl->bol", self.lora_B, h) * self.scaling


def _wrap(module: nn.Module, rank: int, alpha: float) -> nn.Module | None:
    if type(module) is nn.Linear:  # not MultiheadAttention's out_proj subclass (read directly)
        return LoRALinear(module, rank, alpha)
    if isinstance(module, nn.Conv1d) and module.kernel_size == (1,) and module.groups == 1:
        return LoRAConv1d(module, rank, alpha)
    return None


def apply_lora(
    model: nn.Module, *, rank: int, alpha: float, targets: Sequence[str] = DEFAULT_TARGETS
) -> list[str]:
    """Wrap every linear (or 1x1 Conv1d) layer whose name matches a target pattern.

    A pattern matches a layer if :func:`re.search` finds it in the layer's dotted name, or
    in the name of a module containing it (``attn`` selects the linear layers inside every
    ``...attn`` module). Layers that cannot be wrapped (``nn.MultiheadAttention``'s
    ``out_proj``, whose weight the attention reads directly) are skipped.

    Args:
        model: Modified in place.
        rank: LoRA rank.
        alpha: LoRA alpha.
        targets: Regular expressions.

    Returns:
        Names of the wrapped layers.

    Raises:
        ConfigError: A pattern matches no module name at all (a pattern matching only
            unwrappable modules, like GLONET's ``attn`` holding a MultiheadAttention, is
            accepted and wraps nothing).
    """
    patterns = [(t, re.compile(t)) for t in targets]
    hits: dict[str, list[str]] = {t: [] for t in targets}
    seen = {
        t for t, rx in patterns for name, _ in model.named_modules() if name and rx.search(name)
    }
    for name, module in list(model.named_modules()):
        if not name or isinstance(module, _LoRABase):
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if isinstance(parent, nn.MultiheadAttention | _LoRABase):
            continue
        matched = [t for t, rx in patterns if rx.search(name)]
        if not matched:
            continue
        wrapped = _wrap(module, rank, alpha)
        if wrapped is None:
            continue
        setattr(parent, child, wrapped)
        for t in matched:
            hits[t].append(name)
    empty = [t for t in targets if t not in seen]
    if empty:
        raise ConfigError(f"LoRA target pattern(s) {empty} match no layer name of the model")
    return sorted({n for names in hits.values() for n in names})


def lora_modules(model: nn.Module) -> list[_LoRABase]:
    return [m for m in model.modules() if isinstance(m, _LoRABase)]


def merge_lora(model: nn.Module) -> None:
    """Merge every adapter into its base weight."""
    for m in lora_modules(model):
        m.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Undo :func:`merge_lora`."""
    for m in lora_modules(model):
        m.unmerge()


def merged_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The plain state dict of ``model`` with adapters merged and wrapper names removed.

    The model itself is left as it was (merged weights are computed on copies).
    """
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if not isinstance(module, _LoRABase):
            continue
        prefix = f"{name}." if name else ""
        state.pop(f"{prefix}lora_A")
        state.pop(f"{prefix}lora_B")
        weight = state.pop(f"{prefix}base.weight")
        if not module.merged:
            weight = weight + module.delta_weight().detach()
        state[f"{prefix}weight"] = weight
        if f"{prefix}base.bias" in state:
            state[f"{prefix}bias"] = state.pop(f"{prefix}base.bias")
    return state
