"""A grouped "same" convolution on channels-last maps as one Triton implicit-GEMM kernel.

The Inception branches of GLONET are grouped convolutions (8 groups of 8 -> 16 or 16 -> 32
channels, kernels 3 to 11, stride 1, zero padding ``k // 2``). cuDNN runs them either through
slow generic grouped kernels or, as :mod:`~glonet_regions.model.gpu.conv` does, with merged
groups that multiply the arithmetic and add layout transforms. This kernel computes the grouped
sum directly: each program takes a tile of output pixels and one group, and for each kernel
row accumulates matrix products ``[pixels, k * C_in/g] x [k * C_in/g, C_out/g]`` (the row's
taps and the group's input channels form one reduction, cut in chunks of ``block_k``; float32
accumulation) from the channels-last input, whose group slice of each pixel is contiguous.

Inference only (no backward). It beats every cuDNN form where a group has 32 or 64 output
channels and loses where it has 16 (the reduction per loaded input is too short), so
:func:`~glonet_regions.model.gpu.conv.grouped_conv` with ``strategy="auto"`` times it beside
cuDNN in each of :func:`configs`; tests run it on the CPU through Triton's interpreter.

A multi-row variant (``grouped_conv_nhwc(..., rows=2..4)``) computes several output rows per
program and gathers each input row once for all of them (the one-row kernel gathers it ``k``
times), aimed at the 16-output-channel groups where the gathers, not the products, bound the
kernel.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "BLOCK_M", "CONFIGS", "available", "branch_packed_weight", "configs", "grouped_conv_nhwc",
    "packed_weight", "precompile", "set_configs", "supports",
]  # fmt: skip

BLOCK_M = 128
""":func:`grouped_conv_nhwc`'s default tile width (output pixels per program)."""

CONFIGS: tuple[tuple[int, int, int, int], ...] = ((128, 32, 4, 1), (64, 32, 4, 4), (128, 32, 8, 2))
"""``(block_m, block_k, num_warps, rows)`` that ``"auto"`` times by default: every Inception
shape of GLONET that the kernel wins is won by one of these three."""

_ACTIVE: tuple[tuple[int, int, int, int], ...] = ()


def configs() -> tuple[tuple[int, int, int, int], ...]:
    """The configurations ``"auto"`` times: those of :func:`set_configs`, else :data:`CONFIGS`."""
    return _ACTIVE or CONFIGS


def set_configs(configs: Sequence[Sequence[int]]) -> None:
    """Time these configurations from now on (empty: :data:`CONFIGS`); checked by
    :class:`~glonet_regions.model.gpu.options.GpuOptions`."""
    global _ACTIVE
    _ACTIVE = tuple((int(c[0]), int(c[1]), int(c[2]), int(c[3])) for c in configs)


def available(device: torch.device) -> bool:
    """Whether the kernel can run on ``device``: Triton importable, and CUDA or the interpreter."""
    if not _triton_installed():
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


@functools.lru_cache(maxsize=1)
def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None  # a path search: once per process


def supports(conv: nn.Conv2d, x: Tensor) -> str | None:
    """``None`` if the kernel computes ``conv(x)``; else why not (for the error message)."""
    k = conv.kernel_size
    if x.dim() != 4:
        return f"expects a 4-D (N, C, H, W) input, got {x.dim()}-D"
    if k[0] != k[1] or k[0] % 2 == 0:
        return f"expects a square odd kernel, got {k}"
    if conv.stride != (1, 1) or conv.dilation != (1, 1):
        return f"expects stride 1 and dilation 1, got {conv.stride} and {conv.dilation}"
    if conv.padding != (k[0] // 2, k[0] // 2) or conv.padding_mode != "zeros":
        return f"expects zero padding {k[0] // 2}, got {conv.padding!r} ({conv.padding_mode})"
    if torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad):
        return "is inference-only (no backward): call it under torch.no_grad()"
    return None


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _kernels() -> Any:
    """The module holding the Triton kernels, imported on first use.

    Triton decides between compiling and interpreting (``TRITON_INTERPRET``) when a kernel is
    defined, so the kernels live in :mod:`glonet_regions.model.gpu.triton_kernels`, imported
    only here: importing this module needs no Triton.
    """
    from glonet_regions.model.gpu import triton_kernels

    return triton_kernels


def packed_weight(weight: Tensor, groups: int, dtype: torch.dtype) -> Tensor:
    """``(C_out, C_in/g, k, k)`` as ``(g, k, k, C_in/g, C_out/g)`` contiguous in ``dtype``."""
    c_out, c_in_g, k, _ = weight.shape
    per = weight.reshape(groups, c_out // groups, c_in_g, k, k)
    return per.permute(0, 3, 4, 2, 1).to(dtype).contiguous()


def branch_packed_weight(weights: Sequence[Tensor], groups: int, dtype: torch.dtype) -> Tensor:
    """The weights of parallel branches (same input, same groups, odd kernels of any size) as
    one packed weight for :func:`grouped_conv_nhwc` with ``branches=len(weights)``.

    Each ``(C_out_b, C_in/g, k, k)`` weight is zero-padded to the largest kernel (centred, so
    "same" padding stays right) and packed; each group's output columns are the branches' in
    order: ``(g, k_max, k_max, C_in/g, n_branches * C_out_b/g)``.
    """
    k_max = max(int(w.shape[-1]) for w in weights)
    packed = []
    for w in weights:
        if w.shape[0] != weights[0].shape[0] or w.shape[1] != weights[0].shape[1]:
            raise ValueError(
                f"branch weights must share (C_out, C_in/g), got {tuple(w.shape)} and "
                f"{tuple(weights[0].shape)}"
            )
        p = (k_max - int(w.shape[-1])) // 2
        packed.append(packed_weight(F.pad(w, (p, p, p, p)), groups, dtype))
    return torch.cat(packed, dim=-1).contiguous()


def grouped_conv_nhwc(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    groups: int,
    *,
    block_m: int = BLOCK_M,
    block_k: int = 32,
    num_warps: int = 4,
    num_stages: int = 3,
    rows: int = 1,
    branches: int = 1,
) -> Tensor:
    """Grouped stride-1 "same" convolution of a channels-last ``x`` with ``weight``.

    Args:
        x: ``(N, C_in, H, W)``, any layout (made channels-last; its dtype is the output's).
        weight: Packed by :func:`packed_weight` for ``groups`` groups, in ``x``'s dtype.
        bias: ``(C_out,)`` or ``None``.
        groups: Number of groups.
        block_m: Output pixels per program (a power of two, at least 16).
        block_k: Reduction chunk (a power of two, at least 16): the taps of one kernel row
            times the input channels of a group are reduced in chunks of this length.
        num_warps, num_stages: Triton launch parameters.
        rows: Output rows per program (1, 2, 3 or 4). Above 1, a program covers ``rows``
            rows of ``block_m`` columns and gathers each input row once for all of them
            (two of :data:`CONFIGS` are multi-row; ``"auto"`` picks them where they
            measure fastest).
        branches: Each group's ``C_out/g`` output columns hold this many branches side by side
            (:func:`branch_packed_weight`); the output is then branch-major: branch ``b`` is
            the channel slice ``[b * C_out / branches, (b + 1) * C_out / branches)``.

    Returns:
        ``(N, C_out, H, W)`` channels-last, float32 accumulation.
    """
    x, y = _input_and_output(x, weight, groups)
    cout_g = weight.shape[-1]
    if branches < 1 or cout_g % branches:
        raise ValueError(
            f"{cout_g} output channels per group do not split into {branches} branches"
        )
    if rows not in (1, 2, 3, 4):
        raise ValueError(f"rows must be 1, 2, 3 or 4, got {rows}")
    _launch(x, weight, bias, y, block_m, block_k, num_warps, num_stages, rows, branches)
    return y


def _input_and_output(x: Tensor, weight: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    """``x`` channels-last and an empty channels-last output, after checking that the packed
    ``weight`` fits ``groups`` groups of ``x``."""
    g, k, k2, cin_g, cout_g = weight.shape
    n, c_in, height, width = x.shape
    if g != groups or k != k2 or c_in != groups * cin_g:
        raise ValueError(
            f"packed weight {tuple(weight.shape)} does not fit {groups} groups of input "
            f"{tuple(x.shape)}"
        )
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.empty(
        (n, groups * cout_g, height, width), device=x.device, dtype=x.dtype,
        memory_format=torch.channels_last,
    )  # fmt: skip
    return x, y


def _tiles(n: int, height: int, width: int, block_m: int, rows: int) -> int:
    """Pixel tiles (programs per group) of ``n`` images: ``rows`` rows of ``block_m`` columns
    per image, or with one row ``block_m`` consecutive pixels running across rows and images."""
    if rows == 1:
        return -(-(n * height * width) // block_m)
    return n * -(-height // rows) * -(-width // block_m)


def _launch(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    y: Tensor,
    block_m: int,
    block_k: int,
    num_warps: int,
    num_stages: int,
    rows: int,
    branches: int,
    *,
    warmup: bool = False,
) -> None:
    """Launch the kernel for checked arguments (see :func:`grouped_conv_nhwc`), or with
    ``warmup`` only compile it for exactly these arguments (Triton's ``warmup``: the same
    specialisation as the launch, nothing runs)."""
    groups, k, _, cin_g, cout_g = weight.shape
    n, c_in, height, width = x.shape
    c_out = y.shape[1]
    consts: dict[str, Any] = dict(
        GROUPS=groups, CIN_G=cin_g, COUT_G=cout_g, K=k, BLOCK_K=block_k,
        BLOCK_CO=max(16, _pow2(cout_g)), HAS_BIAS=bias is not None, BRANCHES=branches,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    b = bias if bias is not None else y
    grid = (_tiles(n, height, width, block_m, rows) * groups,)
    if rows > 1:
        kernel = _kernels().grouped_conv_rows_kernel
        n_rows, n_cols = -(-height // rows), -(-width // block_m)
        args: tuple[Any, ...] = (
            x, weight, b, y, height, width, c_in, c_out, n_cols, n_rows,
        )  # fmt: skip
        consts.update(ROWS=rows, BLOCK_W=block_m)
    else:
        kernel = _kernels().grouped_conv_kernel
        args = (x, weight, b, y, n * height * width, height, width, c_in, c_out)
        consts.update(BLOCK_M=block_m)
    if warmup:
        kernel.warmup(*args, grid=grid, **consts)
    else:
        kernel[grid](*args, **consts)


def precompile(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    groups: int,
    configs: Sequence[tuple[int, int, int, int]],
    *,
    branches: int = 1,
    threads: int = 8,
    num_stages: int = 3,
) -> bool:
    """Compile the kernel of each configuration for these arguments in parallel, so the first
    calls that follow (:func:`grouped_conv_nhwc` with the same arguments) find them compiled.

    Uses Triton's asynchronous compilation (``AsyncCompileMode``, Triton 3.4 and later):
    every ``warmup`` submits its compilation to a pool of ``threads`` threads and all finish
    when the block ends. A configuration that fails to compile is left to the first call (which
    reports it). Returns ``False`` where it does nothing: Triton's interpreter, a non-CUDA
    input, a Triton without asynchronous compilation, or any error on the way (the kernels
    then compile one after another on first use, as without this call).
    """
    if not _can_precompile(x):
        return False
    try:
        from triton.runtime._async_compile import AsyncCompileMode
    except ImportError:  # pragma: no cover - Triton before 3.4
        return False
    from concurrent.futures import ThreadPoolExecutor

    x, y = _input_and_output(x, weight, groups)
    try:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            try:
                mode = AsyncCompileMode(pool, ignore_errors=True)
            except TypeError:  # pragma: no cover - a Triton without ignore_errors
                mode = AsyncCompileMode(pool)
            with mode:
                for block_m, block_k, num_warps, rows in configs:
                    _launch(
                        x, weight, bias, y, block_m, block_k, num_warps, num_stages, rows,
                        branches, warmup=True,
                    )  # fmt: skip
    except Exception:  # the lazy path compiles (and reports) what failed here
        return False
    return True


def _can_precompile(x: Tensor) -> bool:
    """Asynchronous compilation needs compiled kernels: a CUDA input, not the interpreter."""
    return x.device.type == "cuda" and os.environ.get("TRITON_INTERPRET") != "1"
