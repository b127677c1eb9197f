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

A multi-row variant (``grouped_conv_nhwc(..., rows=2..4)``, :func:`_rows_kernel`) computes
several output rows per program and gathers each input row once for all of them (the one-row
kernel gathers it ``k`` times), aimed at the 16-output-channel groups where the gathers, not
the products, bound the kernel. It is tested in the interpreter and swept by ``gpu_breakdown.py
--part convs``, but not yet measured on a GPU, so ``"auto"`` does not use it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CONFIGS", "available", "grouped_conv_nhwc", "packed_weight", "supports"]

CONFIGS: tuple[tuple[int, int, int, int], ...] = ((64, 32, 4, 1), (128, 32, 4, 1), (64, 64, 4, 1))
"""``(block_m, block_k, num_warps, rows)`` that ``"auto"`` times: for every Inception shape of
GLONET one of these was within 10% of the best of six one-row configurations on an H200."""


def available(device: torch.device) -> bool:
    """Whether the kernel can run on ``device``: Triton importable, and CUDA or the interpreter."""
    if importlib.util.find_spec("triton") is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


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


@functools.lru_cache(maxsize=1)
def _kernel() -> Any:
    """The Triton kernel, defined on first use (Triton reads ``TRITON_INTERPRET`` here)."""
    import triton
    import triton.language as tl

    @triton.jit
    def grouped_conv_kernel(
        x_ptr, w_ptr, b_ptr, y_ptr,
        n_pixels, height, width, c_in, c_out,
        GROUPS: tl.constexpr, CIN_G: tl.constexpr, COUT_G: tl.constexpr, K: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_CO: tl.constexpr,
        HAS_BIAS: tl.constexpr,
    ):  # fmt: skip
        # Groups vary fastest, so the programs of one pixel tile run together and share the
        # cache lines of their pixels (each group reads its own slice of every pixel).
        pid = tl.program_id(0)
        g = pid % GROUPS
        pid_m = pid // GROUPS
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        in_range = offs_m < n_pixels
        hw = height * width
        n = offs_m // hw
        oh = (offs_m % hw) // width
        ow = offs_m % width
        co = tl.arange(0, BLOCK_CO)
        co_ok = co < COUT_G
        acc = tl.zeros((BLOCK_M, BLOCK_CO), dtype=tl.float32)
        pad = K // 2
        row_len = K * CIN_G  # one kernel row's taps x input channels: the reduction per row
        for kh in range(K):
            ih = oh + kh - pad
            row_ok = in_range & (ih >= 0) & (ih < height)
            row_base = (n * height + ih) * width
            for j0 in range(0, row_len, BLOCK_K):
                j = j0 + tl.arange(0, BLOCK_K)
                j_ok = j < row_len
                kw = j // CIN_G
                ci = j % CIN_G
                iw = ow[:, None] + kw[None, :] - pad
                ok = row_ok[:, None] & j_ok[None, :] & (iw >= 0) & (iw < width)
                a = tl.load(
                    x_ptr + (row_base[:, None] + iw) * c_in + g * CIN_G + ci[None, :],
                    mask=ok,
                    other=0.0,
                )
                w = tl.load(
                    w_ptr + ((g * K + kh) * row_len + j)[:, None] * COUT_G + co[None, :],
                    mask=j_ok[:, None] & co_ok[None, :],
                    other=0.0,
                )
                acc += tl.dot(a, w)
        if HAS_BIAS:
            acc += tl.load(b_ptr + g * COUT_G + co, mask=co_ok, other=0.0)[None, :].to(tl.float32)
        tl.store(
            y_ptr + offs_m[:, None] * c_out + g * COUT_G + co[None, :],
            acc.to(y_ptr.dtype.element_ty),
            mask=in_range[:, None] & co_ok[None, :],
        )

    return grouped_conv_kernel


@functools.lru_cache(maxsize=1)
def _rows_kernel() -> Any:
    """The multi-row variant: a program computes ``ROWS`` output rows of a column tile.

    Output row ``oh0 + i`` reads input row ``oh0 + r - pad`` with kernel row ``r - i``, so each
    input row tile is gathered once for up to ``ROWS`` products (the one-row kernel gathers it
    once per output row: ``k`` times in all). Accumulators are four named tensors (Triton has no
    lists of tensors); those beyond ``ROWS`` are never touched.
    """
    import triton
    import triton.language as tl

    @triton.jit
    def grouped_conv_rows_kernel(
        x_ptr, w_ptr, b_ptr, y_ptr,
        height, width, c_in, c_out, n_col_blocks, n_row_blocks,
        GROUPS: tl.constexpr, CIN_G: tl.constexpr, COUT_G: tl.constexpr, K: tl.constexpr,
        ROWS: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_K: tl.constexpr,
        BLOCK_CO: tl.constexpr, HAS_BIAS: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        g = pid % GROUPS
        t = pid // GROUPS
        cb = t % n_col_blocks
        t = t // n_col_blocks
        rb = t % n_row_blocks
        n = t // n_row_blocks
        oh0 = rb * ROWS
        ow = cb * BLOCK_W + tl.arange(0, BLOCK_W)
        col_ok = ow < width
        co = tl.arange(0, BLOCK_CO)
        co_ok = co < COUT_G
        acc0 = tl.zeros((BLOCK_W, BLOCK_CO), dtype=tl.float32)
        acc1 = tl.zeros((BLOCK_W, BLOCK_CO), dtype=tl.float32)
        acc2 = tl.zeros((BLOCK_W, BLOCK_CO), dtype=tl.float32)
        acc3 = tl.zeros((BLOCK_W, BLOCK_CO), dtype=tl.float32)
        pad = K // 2
        row_len = K * CIN_G
        # Row indices as vectors over the tile's columns (a scalar condition in a mask is not
        # accepted by Triton's interpreter).
        oh0_v = tl.full([BLOCK_W], 0, tl.int32) + oh0
        for r in range(ROWS + K - 1):
            ih = oh0_v + r - pad
            row_ok = (ih >= 0) & (ih < height)
            row_base = (n * height + ih) * width
            for j0 in range(0, row_len, BLOCK_K):
                j = j0 + tl.arange(0, BLOCK_K)
                j_ok = j < row_len
                kw = j // CIN_G
                ci = j % CIN_G
                iw = ow[:, None] + kw[None, :] - pad
                ok = (row_ok & col_ok)[:, None] & j_ok[None, :] & (iw >= 0) & (iw < width)
                a = tl.load(
                    x_ptr + (row_base[:, None] + iw) * c_in + g * CIN_G + ci[None, :],
                    mask=ok,
                    other=0.0,
                )
                # Kernel row kh's weights for this chunk: w_row + kh * w_step.
                w_row = w_ptr + (g * K * row_len + j)[:, None] * COUT_G + co[None, :]
                w_ok = j_ok[:, None] & co_ok[None, :]
                w_step = row_len * COUT_G
                if r < K:  # output row 0 uses kernel row r
                    w = tl.load(w_row + (r) * w_step, mask=w_ok, other=0.0)
                    acc0 += tl.dot(a, w)
                if ROWS > 1:  # noqa: SIM102 (compile-time test, then a runtime one)
                    if (r >= 1) & (r < K + 1):
                        w = tl.load(w_row + (r - 1) * w_step, mask=w_ok, other=0.0)
                        acc1 += tl.dot(a, w)
                if ROWS > 2:  # noqa: SIM102 (compile-time test, then a runtime one)
                    if (r >= 2) & (r < K + 2):
                        w = tl.load(w_row + (r - 2) * w_step, mask=w_ok, other=0.0)
                        acc2 += tl.dot(a, w)
                if ROWS > 3:  # noqa: SIM102 (compile-time test, then a runtime one)
                    if (r >= 3) & (r < K + 3):
                        w = tl.load(w_row + (r - 3) * w_step, mask=w_ok, other=0.0)
                        acc3 += tl.dot(a, w)
        if HAS_BIAS:
            bias = tl.load(b_ptr + g * COUT_G + co, mask=co_ok, other=0.0)[None, :].to(tl.float32)
            acc0 += bias
            acc1 += bias
            acc2 += bias
            acc3 += bias
        col = ow[:, None] * c_out + g * COUT_G + co[None, :]
        out_ty = y_ptr.dtype.element_ty
        row_stride = width * c_out
        first = (n * height + oh0) * row_stride
        tl.store(
            y_ptr + first + col, acc0.to(out_ty),
            mask=(col_ok & (oh0_v < height))[:, None] & co_ok[None, :],
        )  # fmt: skip
        if ROWS > 1:
            ok1 = (col_ok & (oh0_v + 1 < height))[:, None] & co_ok[None, :]
            tl.store(y_ptr + first + row_stride + col, acc1.to(out_ty), mask=ok1)
        if ROWS > 2:
            ok2 = (col_ok & (oh0_v + 2 < height))[:, None] & co_ok[None, :]
            tl.store(y_ptr + first + 2 * row_stride + col, acc2.to(out_ty), mask=ok2)
        if ROWS > 3:
            ok3 = (col_ok & (oh0_v + 3 < height))[:, None] & co_ok[None, :]
            tl.store(y_ptr + first + 3 * row_stride + col, acc3.to(out_ty), mask=ok3)

    return grouped_conv_rows_kernel


def packed_weight(weight: Tensor, groups: int, dtype: torch.dtype) -> Tensor:
    """``(C_out, C_in/g, k, k)`` as ``(g, k, k, C_in/g, C_out/g)`` contiguous in ``dtype``."""
    c_out, c_in_g, k, _ = weight.shape
    per = weight.reshape(groups, c_out // groups, c_in_g, k, k)
    return per.permute(0, 3, 4, 2, 1).to(dtype).contiguous()


def grouped_conv_nhwc(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    groups: int,
    *,
    block_m: int = 128,
    block_k: int = 32,
    num_warps: int = 4,
    num_stages: int = 3,
    rows: int = 1,
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
            (:func:`_rows_kernel`; not yet measured on a GPU, so ``"auto"`` does not use it).

    Returns:
        ``(N, C_out, H, W)`` channels-last, float32 accumulation.
    """
    g, k, k2, cin_g, cout_g = weight.shape
    n, c_in, height, width = x.shape
    if g != groups or k != k2 or c_in != groups * cin_g:
        raise ValueError(
            f"packed weight {tuple(weight.shape)} does not fit {groups} groups of input "
            f"{tuple(x.shape)}"
        )
    x = x.contiguous(memory_format=torch.channels_last)
    c_out = groups * cout_g
    y = torch.empty(
        (n, c_out, height, width), device=x.device, dtype=x.dtype,
        memory_format=torch.channels_last,
    )  # fmt: skip
    if rows not in (1, 2, 3, 4):
        raise ValueError(f"rows must be 1, 2, 3 or 4, got {rows}")
    if rows > 1:
        n_cols = (width + block_m - 1) // block_m
        n_rows = (height + rows - 1) // rows
        _rows_kernel()[(n * n_rows * n_cols * groups,)](
            x, weight, bias if bias is not None else y, y,
            height, width, c_in, c_out, n_cols, n_rows,
            GROUPS=groups, CIN_G=cin_g, COUT_G=cout_g, K=k, ROWS=rows, BLOCK_W=block_m,
            BLOCK_K=block_k, BLOCK_CO=max(16, _pow2(cout_g)),
            HAS_BIAS=bias is not None, num_warps=num_warps, num_stages=num_stages,
        )  # fmt: skip
        return y
    n_pixels = n * height * width
    grid = (((n_pixels + block_m - 1) // block_m) * groups,)
    _kernel()[grid](
        x, weight, bias if bias is not None else y, y,
        n_pixels, height, width, c_in, c_out,
        GROUPS=groups, CIN_G=cin_g, COUT_G=cout_g, K=k, BLOCK_M=block_m,
        BLOCK_K=block_k, BLOCK_CO=max(16, _pow2(cout_g)),
        HAS_BIAS=bias is not None, num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return y
