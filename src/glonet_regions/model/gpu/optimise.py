"""Preparing a GLONET network for the GPU: :func:`optimise_model`.

``"eager"`` leaves the network as built; ``"fast"`` (the ``"auto"`` choice on CUDA) turns on
cuDNN autotuning, stores convolution weights channels-last and swaps the blocks for their fused
variants (:mod:`glonet_regions.model.gpu.blocks`): the GroupNorm+LeakyReLU chains, the
Inception branch sums, the AFNO spectral MLPs, the FourierNetBlock MLP halves, the ``space``
branch's convolution biases and sums and ``space.NO``'s patch embedding and ``lproj`` head, as
fused functions compiled lazily with ``torch.compile`` on CUDA. The state dict (names, shapes,
values) is unchanged, so checkpoints and the published weights load the same. In training it
also picks which branches recompute their activations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import nn

from glonet_regions.model.blocks import (
    AdativeFourierNeuralOperator,
    BasicConv2d,
    FoTF,
    FourierNetBlock,
    GFBlock,
    Inception,
    LocalCNNBranch,
)
from glonet_regions.model.gpu import conv as gpu_conv
from glonet_regions.model.gpu import kernels as gpu_kernels
from glonet_regions.model.gpu.blocks import (
    FastAFNO,
    FastBasicConv2d,
    FastFoTF,
    FastFourierNetBlock,
    FastGFBlock,
    FastInception,
    FusedImpl,
)
from glonet_regions.model.gpu.conv import ConvStrategy
from glonet_regions.model.gpu.options import ExecMode, GpuOptions
from glonet_regions.model.network import Glonet

__all__ = [
    "CHECKPOINT_BRANCHES",
    "DEFAULT_TRAIN_CHECKPOINT",
    "fuse_blocks",
    "optimise_model",
    "resolve_mode",
    "set_checkpoint_branches",
]

CHECKPOINT_BRANCHES: tuple[str, ...] = ("space", "dynamics", "jump")
"""Branches whose blocks can recompute activations in backward (AFNO blocks, Inception stacks)."""

DEFAULT_TRAIN_CHECKPOINT: tuple[str, ...] = ("space", "dynamics")
"""Branches checkpointed by ``optimise_model(training=True)`` unless told otherwise: the
smallest set that keeps the full-size C=40 network's training step under 40 GiB per sample."""


def resolve_mode(mode: ExecMode, device: torch.device | str) -> Literal["eager", "fast"]:
    """``"auto"`` is ``"fast"`` on CUDA and ``"eager"`` elsewhere; the others pass through."""
    if mode not in ("auto", "eager", "fast"):
        raise ValueError(f"mode must be 'auto', 'eager' or 'fast', got {mode!r}")
    if mode == "auto":
        return "fast" if torch.device(device).type == "cuda" else "eager"
    return mode


_SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    BasicConv2d: FastBasicConv2d,
    Inception: FastInception,
    AdativeFourierNeuralOperator: FastAFNO,
    FourierNetBlock: FastFourierNetBlock,
    GFBlock: FastGFBlock,
    FoTF: FastFoTF,
}


def _swappable(module: nn.Module, options: GpuOptions) -> bool:
    """Whether the fused variant computes what ``module`` computes.

    The fused variants read the layers' parameters directly, so a layer replaced by a wrapper
    (a LoRA adapter around ``mlp.fc1`` or the AFNO's ``bias``, any wrapper around an
    Inception's convolutions) keeps its block eager.
    """
    if isinstance(module, FourierNetBlock):
        # The fused MLP half assumes the published identities (DropPath, Dropout(0)).
        return (
            isinstance(module.drop_path, nn.Identity)
            and module.mlp.drop.p == 0.0
            and type(module.mlp.fc1) is nn.Linear
        )
    if isinstance(module, AdativeFourierNeuralOperator):
        return type(module.bias) is nn.Conv1d
    if isinstance(module, Inception):  # reads conv1's and the branches' weights directly
        convs = [module.conv1] + [getattr(b, "conv", None) for b in module.lls]
        return all(type(c) is nn.Conv2d for c in convs)
    if isinstance(module, GFBlock):
        lp = module.lproj
        return (
            options.enabled("fast_glue")
            and type(module.patch_embed.projection) is nn.Conv2d
            and isinstance(module.patch_embed.norm, nn.Identity)
            and isinstance(module.final_dropout, nn.Identity)
            and _no_dropout(module.pos_drop)
            and [type(m) for m in lp] == [nn.ConvTranspose2d, nn.Tanh] * 2 + [nn.ConvTranspose2d]
            and all(getattr(m, "bias", 0) is not None for m in lp)
            and module.patch_embed.projection.bias is not None
        )
    if isinstance(module, FoTF):
        local, c1 = module.NN.upconv, module.conv1x1
        return (
            options.enabled("fast_glue")
            and type(module.NN) is LocalCNNBranch
            and type(local) is nn.ConvTranspose2d
            and type(module.up) is nn.ConvTranspose2d
            and type(module.down) is nn.Conv2d and module.down.padding_mode == "zeros"
            and type(c1) is nn.Conv2d
            and all(m.bias is not None for m in (local, c1, module.up, module.down))
            and local.kernel_size == (1, 1) and local.stride == (1, 1) and local.padding == (0, 0)
            and local.groups == 1 and c1.kernel_size == (1, 1) and c1.groups == 1
            and c1.stride == (1, 1) and c1.padding == (0, 0)
        )  # fmt: skip
    return True


def _no_dropout(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0.0)


def fuse_blocks(model: nn.Module, impl: FusedImpl, options: GpuOptions | None = None) -> int:
    """Swap the blocks of ``model`` for their fused variants in place; returns how many.

    Only the classes change (parameters, buffers and names stay), so ``state_dict`` is
    identical. Already swapped blocks just get their ``impl`` and ``options`` updated.
    """
    opts = GpuOptions() if options is None else options
    count = 0
    for module in model.modules():
        fast = _SWAPS.get(type(module))
        if fast is not None and _swappable(module, opts):
            module.__class__ = fast
        if type(module) in _SWAPS.values():
            if hasattr(type(module), "fused_impl"):
                module.fused_impl = impl  # type: ignore[assignment]
            module.options = opts  # type: ignore[assignment]
            count += 1
    return count


def set_checkpoint_branches(model: Glonet, branches: Iterable[str]) -> None:
    """Recompute activations in backward for exactly these branches of ``model``.

    Args:
        model: The network.
        branches: Any of ``"space"`` (the 12 AFNO blocks of ``space.NO``, run 7 times),
            ``"dynamics"`` (its Inception stacks and 12 AFNO blocks) and ``"jump"`` (its
            Inception stacks).
    """
    chosen = set(branches)
    unknown = chosen - set(CHECKPOINT_BRANCHES)
    if unknown:
        raise ValueError(
            f"unknown checkpoint branches {sorted(unknown)}; valid: {list(CHECKPOINT_BRANCHES)}"
        )
    model.set_checkpoint_blocks(False)
    model.space.NO.use_checkpoint = "space" in chosen
    model.dynamics.use_checkpoint = "dynamics" in chosen
    model.jump.mmb.use_checkpoint = "jump" in chosen
    if chosen:
        model.config = model.config.replace(checkpoint_blocks=True)


def _channels_last(model: nn.Module) -> None:
    """Store wide convolution weights channels-last (activations follow the weight layout).

    Left as they are: the ``space`` branch (its transposed convolutions and few-channel full
    resolution convolutions run slower channels-last in cuDNN), the first and last
    convolutions (C input or output channels) and any convolution with fewer than 16 input or
    output channels.
    """
    skip: set[int] = set()
    config = getattr(model, "config", None)
    io_channels = getattr(config, "channels", -1)
    space = getattr(model, "space", None)
    if isinstance(space, nn.Module):
        skip = {id(m) for m in space.modules()}
    for module in model.modules():
        if id(module) in skip or not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        if min(module.in_channels, module.out_channels) < 16:
            continue
        if io_channels in (module.in_channels, module.out_channels):
            continue
        module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)


def optimise_model(
    model: nn.Module,
    *,
    device: torch.device | str,
    mode: ExecMode | None = None,
    training: bool,
    options: GpuOptions | None = None,
    checkpoint: Sequence[str] | None = None,
    compile_fused: bool | None = None,
    conv_strategy: ConvStrategy | None = None,
) -> nn.Module:
    """Prepare a GLONET network for fast training or inference on ``device`` (in place).

    Args:
        model: A :class:`~glonet_regions.model.network.Glonet` (other modules are only moved).
        device: Where it runs.
        mode: ``"auto"`` (fast on CUDA, eager elsewhere), ``"eager"`` (as built) or ``"fast"``;
            default ``options.exec_mode``.
        training: Put the model in train mode (and apply ``checkpoint``) or in eval mode.
        checkpoint: Branches to checkpoint in training (see :func:`set_checkpoint_branches`);
            ``None`` keeps the model's own setting in eager mode and uses
            :data:`DEFAULT_TRAIN_CHECKPOINT` in fast mode.
        compile_fused: Compile the fused functions with ``torch.compile`` (default: on CUDA).
            Compilation happens lazily on first use, per shape, and is cached on disk.
        conv_strategy: How the Inception branches' grouped convolutions run (see
            :func:`~glonet_regions.model.gpu.conv.grouped_conv`); default ``"auto"`` on CUDA
            (measure cuDNN grouped against dense block-diagonal per shape on first use),
            ``"grouped"`` elsewhere.
        options: The GPU options (default: :class:`GpuOptions` with the environment's
            overrides, read here once); they apply to every network prepared after this one.

    Returns:
        The same module, moved, in train or eval mode. Run it under
        ``torch.autocast("cuda", torch.bfloat16)`` as before; weights stay float32.
    """
    opts = GpuOptions().with_env() if options is None else options
    dev = torch.device(device)
    resolved = resolve_mode(opts.exec_mode if mode is None else mode, dev)
    model.to(dev)
    model.train(training)
    if resolved == "eager":
        if checkpoint is not None and isinstance(model, Glonet):
            set_checkpoint_branches(model, checkpoint)
        return model
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    _channels_last(model)
    gpu_conv.configure(opts)
    gpu_kernels.configure(opts.tuned())
    use_compile = dev.type == "cuda" if compile_fused is None else compile_fused
    fuse_blocks(model, "compiled" if use_compile else "eager", opts)
    strategy: ConvStrategy = (
        conv_strategy if conv_strategy is not None else "auto" if dev.type == "cuda" else "grouped"
    )
    for module in model.modules():
        if isinstance(module, FastInception):
            module.conv_strategy = strategy
    if training and isinstance(model, Glonet):
        set_checkpoint_branches(
            model, DEFAULT_TRAIN_CHECKPOINT if checkpoint is None else checkpoint
        )
    return model
