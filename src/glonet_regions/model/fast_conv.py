"""Grouped convolutions run either as cuDNN grouped kernels or as one dense convolution.

The Inception branches of GLONET are grouped convolutions (8 groups of 8 -> 16 or 16 -> 32
channels, kernels 3 to 11). cuDNN runs such shapes through generic indexed kernels at a small
fraction of the tensor cores' rate (measured on an H200: the 11x11 branch of ``dynamics``
reaches about 40 TFLOP/s). The same convolution written as a dense one with a block-diagonal
weight does ``groups`` times more arithmetic but on cuDNN's dense tensor-core kernels, which
can be faster. Which one wins depends on the shape, the card and the direction (forward only
or forward and backward), so :func:`grouped_conv` measures both the first time it meets a
shape and remembers the faster (``strategy="auto"``); ``"grouped"`` and ``"dense"`` force one.

Both compute the same sum: the block-diagonal weight holds exactly the grouped weights and
zeros, so the results differ only by the order of the float32 accumulation.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.model.fast_kernels import derived_weights

__all__ = ["ConvStrategy", "block_diagonal", "choices", "grouped_conv"]

ConvStrategy = Literal["auto", "grouped", "dense"]

_CHOICES: dict[tuple[object, ...], dict[str, float | str]] = {}


def block_diagonal(weight: Tensor, groups: int) -> Tensor:
    """The dense ``(C_out, C_in, k, k)`` weight equal to a grouped ``(C_out, C_in/g, k, k)`` one.

    Group ``g``'s output channels see only group ``g``'s input channels, with the grouped
    weights; every other entry is zero. Differentiable (the gradient of the dense weight's
    block-diagonal flows back to ``weight``).
    """
    c_out, c_in_g, kh, kw = weight.shape
    if c_out % groups:
        raise ValueError(f"{c_out} output channels do not split into {groups} groups")
    per = weight.reshape(groups, c_out // groups, c_in_g, kh, kw)
    # (o, i, kh, kw, g) -> diagonal over the last two dims: (o, i, kh, kw, g, g)
    diag = torch.diag_embed(per.permute(1, 2, 3, 4, 0))
    # -> (g_out, o, g_in, i, kh, kw)
    dense = diag.permute(4, 0, 5, 1, 2, 3)
    return dense.reshape(c_out, groups * c_in_g, kh, kw)


def _compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype a convolution of ``x`` runs in: autocast's when it is on, else ``x``'s."""
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


def _dense_weight(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """The block-diagonal weight in ``x``'s layout and compute dtype (cached without grad)."""
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    dtype = _compute_dtype(x)
    w = conv.weight
    if torch.is_grad_enabled() and w.requires_grad:  # the cast is left to autocast
        return block_diagonal(w, conv.groups).contiguous(memory_format=fmt)
    return derived_weights(
        conv, "_dense_cache", (w,), (dtype, channels_last),
        lambda: block_diagonal(w, conv.groups).to(dtype, memory_format=fmt),
    )  # fmt: skip


def _run(
    conv: nn.Conv2d, x: Tensor, strategy: Literal["grouped", "dense"], with_bias: bool = True
) -> Tensor:
    """The convolution as cuDNN grouped (``conv``'s own weight) or dense block-diagonal."""
    padding = conv.padding
    if isinstance(padding, str) or conv.padding_mode != "zeros":
        raise ValueError(
            f"grouped_conv needs numeric zero padding, got padding={padding!r}, "
            f"padding_mode={conv.padding_mode!r}"
        )
    bias = conv.bias if with_bias else None
    if strategy == "dense":
        return F.conv2d(x, _dense_weight(conv, x), bias, conv.stride, padding, conv.dilation, 1)
    return F.conv2d(x, conv.weight, bias, conv.stride, padding, conv.dilation, conv.groups)


def _median_ms(fn: Callable[[], object], reps: int = 3, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _measure(conv: nn.Conv2d, x: Tensor, backward: bool) -> dict[str, float | str]:
    """Time both strategies on a copy of the inputs, outside any autograd graph of the caller."""
    xd = x.detach()
    probe = copy.deepcopy(conv).requires_grad_(backward)  # same weights, same memory layout
    out: dict[str, float | str] = {}
    # Identity saved-tensor hooks: the probe's graph must not go through an enclosing
    # activation-checkpointing context's hooks.
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        for strategy in ("grouped", "dense"):
            if backward:
                xg = xd.clone().requires_grad_(True)

                def step(s: Literal["grouped", "dense"] = strategy, xg: Tensor = xg) -> None:
                    with torch.enable_grad():
                        y = _run(probe, xg, s)
                        torch.autograd.grad(y, [xg, probe.weight], torch.ones_like(y))

                out[strategy] = _median_ms(step)
            else:
                with torch.no_grad():
                    out[strategy] = _median_ms(lambda s=strategy: _run(probe, xd, s))  # type: ignore[misc]
    out["choice"] = "dense" if out["dense"] < out["grouped"] else "grouped"  # type: ignore[operator]
    return out


def _key(conv: nn.Conv2d, x: Tensor, backward: bool) -> tuple[object, ...]:
    layout = x.is_contiguous(memory_format=torch.channels_last)
    return (
        tuple(x.shape), _compute_dtype(x), layout, tuple(conv.weight.shape), conv.groups,
        conv.stride, conv.padding, backward, x.device.index,
    )  # fmt: skip


def _choose(conv: nn.Conv2d, x: Tensor) -> Literal["grouped", "dense"]:
    """``"auto"``: the strategy measured faster for this shape (measured on first meeting)."""
    if x.device.type != "cuda":
        return "grouped"
    backward = torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad)
    key = _key(conv, x, backward)
    rec = _CHOICES.get(key)
    if rec is None:
        if torch.cuda.is_current_stream_capturing():  # no timing inside a graph capture
            return "grouped"
        rec = _CHOICES[key] = _measure(conv, x, backward)
    return "dense" if rec["choice"] == "dense" else "grouped"


def grouped_conv(
    conv: nn.Conv2d, x: Tensor, strategy: ConvStrategy = "auto", *, with_bias: bool = True
) -> Tensor:
    """``conv(x)`` for a grouped ``conv``, as cuDNN grouped or dense block-diagonal kernels.

    Args:
        conv: A ``Conv2d`` (with ``groups == 1`` it is simply called).
        x: Its input.
        strategy: ``"grouped"``, ``"dense"`` or ``"auto"``: on CUDA, measure both on this shape
            once (forward, or forward and backward when gradients are on) and use the faster;
            off CUDA, or while a CUDA graph is being captured, ``"auto"`` means ``"grouped"``.
        with_bias: Add the convolution's bias (``False``: the caller folds it in later, see
            :func:`~glonet_regions.model.fast_kernels.gn_lrelu`).
    """
    if strategy not in ("auto", "grouped", "dense"):
        raise ValueError(f"strategy must be 'auto', 'grouped' or 'dense', got {strategy!r}")
    if conv.groups == 1:
        chosen: Literal["grouped", "dense"] = "grouped"
    else:
        chosen = _choose(conv, x) if strategy == "auto" else strategy
    return _run(conv, x, chosen, with_bias)


def choices() -> list[dict[str, object]]:
    """What ``"auto"`` measured and chose so far in this process (for benchmarks and logs)."""
    rows = []
    for key, rec in _CHOICES.items():
        shape, dtype, channels_last, weight, groups, *_rest, backward, _dev = key
        rows.append(
            {
                "input": shape, "weight": weight, "groups": groups, "dtype": str(dtype),
                "channels_last": channels_last, "backward": backward, **rec,
            }
        )  # fmt: skip
    return rows
