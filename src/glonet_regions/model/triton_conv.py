"""A grouped "same" convolution on channels-last maps as one Triton implicit-GEMM kernel.

The Inception branches of GLONET are grouped convolutions (8 groups of 8 -> 16 or 16 -> 32
channels, kernels 3 to 11, stride 1, zero padding ``k // 2``). cuDNN runs them either through
slow generic grouped kernels or, as :mod:`~glonet_regions.model.fast_conv` does, with merged
groups that multiply the arithmetic and add layout transforms. This kernel computes the grouped
sum directly: each program takes a tile of output pixels and one group, and for each kernel
row accumulates matrix products ``[pixels, k * C_in/g] x [k * C_in/g, C_out/g]`` (the row's
taps and the group's input channels form one reduction, cut in chunks of ``block_k``; float32
accumulation) from the channels-last input, whose group slice of each pixel is contiguous.

Inference only (no backward). Measured on an H200 (``benchmarks/gpu_breakdown.py --part
convs``, docs/benchmarks-gpu.md round 6), it beats every cuDNN form where a group has 32 or 64
output channels (``jump.mmb``'s 16 -> 32, ``dynamics``' 8 -> 64) and loses where it has 16
(the reduction per loaded input is too short). :func:`~glonet_regions.model.fast_conv.grouped_conv`
with ``strategy="auto"`` times it beside cuDNN in each of :data:`CONFIGS`; tests run it on the
CPU through Triton's interpreter.

A multi-row variant (``grouped_conv_nhwc(..., rows=2..4)``) computes
several output rows per program and gathers each input row once for all of them (the one-row
kernel gathers it ``k`` times), aimed at the 16-output-channel groups where the gathers, not
the products, bound the kernel. ``"auto"`` times two multi-row configurations beside the
one-row ones (an end-to-end gain of about 1% on an H200, docs/benchmarks-gpu.md round 7).
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
    "BLOCK_M", "CONFIGS", "Partials", "available", "branch_packed_weight", "configs",
    "grouped_conv_nhwc", "grouped_conv_nhwc_stats", "packed_weight", "precompile", "supports",
]  # fmt: skip

BLOCK_M = 128
""":func:`grouped_conv_nhwc`'s default tile width (output pixels per program)."""

Partials = tuple[Tensor, Tensor, Tensor]
"""Per-tile output statistics ``(sums, m2, counts)`` (see :func:`grouped_conv_nhwc_stats`)."""

CONFIGS: tuple[tuple[int, int, int, int], ...] = ((128, 32, 4, 1), (64, 32, 4, 4), (128, 32, 8, 2))
"""``(block_m, block_k, num_warps, rows)`` that ``"auto"`` times. Every Inception shape of
GLONET that the kernel wins on an H100 (10-day forecast, session 7) is won by one of these
three; ``(64, 32, 4, 1)`` and ``(64, 64, 4, 1)`` (timed until then) won none, so they went,
which cuts the kernels a first run on a fresh machine compiles and times by 40%. The two
multi-row ones took a forecast from 1.79 to 1.77 s on an H200 (session 6)."""


def configs() -> tuple[tuple[int, int, int, int], ...]:
    """The configurations ``"auto"`` times: :data:`CONFIGS`, or those of the environment
    variable ``GLONET_REGIONS_TRITON_CONFIGS`` (``block_m,block_k,num_warps,rows`` tuples
    separated by ``;``), to try others without a code change."""
    raw = os.environ.get("GLONET_REGIONS_TRITON_CONFIGS", "").strip()
    return _parse_configs(raw) if raw else CONFIGS


@functools.lru_cache(maxsize=8)
def _parse_configs(raw: str) -> tuple[tuple[int, int, int, int], ...]:
    out = []
    for item in raw.split(";"):
        try:
            block_m, block_k, num_warps, rows = (int(v) for v in item.split(","))
        except ValueError:
            raise ValueError(
                f"GLONET_REGIONS_TRITON_CONFIGS: expected 'block_m,block_k,num_warps,rows' "
                f"tuples separated by ';', got {item!r}"
            ) from None
        pow2 = all(v >= 16 and v & (v - 1) == 0 for v in (block_m, block_k))
        if not pow2 or num_warps not in (1, 2, 4, 8, 16) or rows not in (1, 2, 3, 4):
            raise ValueError(
                f"GLONET_REGIONS_TRITON_CONFIGS: {item!r} needs block_m and block_k powers of "
                "two >= 16, num_warps in 1, 2, 4, 8, 16 and rows in 1-4"
            )
        out.append((block_m, block_k, num_warps, rows))
    return tuple(out)


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
    defined, so the kernels live in :mod:`glonet_regions.model._triton_kernels`, imported only
    here: importing this module needs no Triton.
    """
    from glonet_regions.model import _triton_kernels

    return _triton_kernels


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
    partials: Partials | None = None,
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
        partials: Buffers for the output's statistics, filled by the kernel (see
            :func:`grouped_conv_nhwc_stats`, which allocates them).

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
    _launch(
        x, weight, bias, y, block_m, block_k, num_warps, num_stages, rows, branches,
        partials=partials,
    )  # fmt: skip
    return y


def grouped_conv_nhwc_stats(
    x: Tensor, weight: Tensor, bias: Tensor | None, groups: int, **config: int
) -> tuple[Tensor, Partials]:
    """:func:`grouped_conv_nhwc` (``config``: its keyword arguments), and the statistics of its
    output per image and channel in partial form, computed from the float32 accumulators
    before the output is rounded.

    Returns ``(y, (sums, m2, counts))``: per image ``n``, tile ``t`` of output pixels and
    channel ``c``, the sum of the tile's outputs ``sums[n, t, c]``, their squared deviations
    from the tile's mean ``m2[n, t, c]`` and the tile's pixel count ``counts[n, t]`` (float32).
    :func:`~glonet_regions.model.fast_kernels.combine_partials` turns them into the mean and
    the (biased) variance over each image's pixels, exactly as a two-level Welford/Chan
    combination: no ``E[x^2] - E[x]^2`` cancellation. A GroupNorm that follows then needs no
    pass of its own over the map. The one-row kernel's tiles run across images, so with
    ``rows == 1`` the batch must be 1.
    """
    n, _, height, width = x.shape
    rows, block_m = config.get("rows", 1), config.get("block_m", BLOCK_M)
    if rows == 1 and n != 1:
        raise ValueError(
            f"grouped_conv_nhwc_stats with rows=1 needs a batch of 1 (tiles run across "
            f"images), got input {tuple(x.shape)}"
        )
    per_image = _tiles(1, height, width, block_m, rows)
    c_out = groups * weight.shape[-1]
    partials = (
        torch.empty((n, per_image, c_out), device=x.device, dtype=torch.float32),
        torch.empty((n, per_image, c_out), device=x.device, dtype=torch.float32),
        torch.empty((n, per_image), device=x.device, dtype=torch.float32),
    )
    y = grouped_conv_nhwc(x, weight, bias, groups, partials=partials, **config)
    return y, partials


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
    partials: Partials | None = None,
) -> None:
    """Launch the kernel for checked arguments (see :func:`grouped_conv_nhwc`), or with
    ``warmup`` only compile it for exactly these arguments (Triton's ``warmup``: the same
    specialisation as the launch, nothing runs). ``partials``: buffers the kernel fills with
    its tiles' statistics (see :func:`grouped_conv_nhwc_stats`)."""
    groups, k, _, cin_g, cout_g = weight.shape
    n, c_in, height, width = x.shape
    c_out = y.shape[1]
    consts: dict[str, Any] = dict(
        GROUPS=groups, CIN_G=cin_g, COUT_G=cout_g, K=k, BLOCK_K=block_k,
        BLOCK_CO=max(16, _pow2(cout_g)), HAS_BIAS=bias is not None, BRANCHES=branches,
        STATS=partials is not None, num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    b = bias if bias is not None else y
    sums, m2, counts = partials if partials is not None else (y, y, y)
    grid = (_tiles(n, height, width, block_m, rows) * groups,)
    if rows > 1:
        kernel = _kernels().grouped_conv_rows_kernel
        n_rows, n_cols = -(-height // rows), -(-width // block_m)
        args: tuple[Any, ...] = (
            x, weight, b, y, sums, m2, counts, height, width, c_in, c_out, n_cols, n_rows,
        )  # fmt: skip
        consts.update(ROWS=rows, BLOCK_W=block_m)
    else:
        kernel = _kernels().grouped_conv_kernel
        args = (x, weight, b, y, sums, m2, counts, n * height * width, height, width, c_in, c_out)
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
