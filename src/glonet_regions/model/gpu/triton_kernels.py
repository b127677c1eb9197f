"""Triton kernels of :mod:`glonet_regions.model.gpu.triton_conv` (imported only by it, on use).

Both compute a grouped stride-1 "same" convolution of a channels-last input with weights packed
as ``(g, k, k, C_in/g, C_out/g)``: for each kernel row, the row's taps times the group's input
channels form one reduction, cut in chunks of ``BLOCK_K`` and gathered by :func:`_row_chunk`.
Triton decides between compiling and interpreting (``TRITON_INTERPRET``) when this module is
imported.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _row_chunk(
    x_ptr, n, ih, pix_ok, ow, j0, g, c_in, height, width,
    CIN_G: tl.constexpr, K: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    """One reduction chunk of input row ``ih`` (per pixel) for the output pixels at columns
    ``ow`` of images ``n``: ``[pixels, BLOCK_K]`` inputs (zero outside the map and where
    ``pix_ok`` is false) and the chunk's indices ``j`` (tap ``j // CIN_G``, channel
    ``j % CIN_G``) with their validity."""
    row_ok = pix_ok & (ih >= 0) & (ih < height)
    row_base = (n * height + ih) * width
    row_len = K * CIN_G
    j = j0 + tl.arange(0, BLOCK_K)
    j_ok = j < row_len
    kw = j // CIN_G
    ci = j % CIN_G
    iw = ow[:, None] + kw[None, :] - K // 2
    ok = row_ok[:, None] & j_ok[None, :] & (iw >= 0) & (iw < width)
    a = tl.load(
        x_ptr + (row_base[:, None] + iw) * c_in + g * CIN_G + ci[None, :], mask=ok, other=0.0
    )
    return a, j, j_ok


@triton.jit
def _out_channels(co, g, GROUPS: tl.constexpr, COUT_G: tl.constexpr, BRANCHES: tl.constexpr):
    """Output channel of column ``co`` of group ``g``: group-major (``g * COUT_G + co``) for one
    branch; for ``BRANCHES`` branches stacked in each group's columns, branch-major
    (``b * GROUPS * COUT_B + g * COUT_B + o``), so each branch is a channel slice."""
    cout_b = COUT_G // BRANCHES
    return (co // cout_b) * (GROUPS * cout_b) + g * cout_b + co % cout_b


@triton.jit
def grouped_conv_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    n_pixels, height, width, c_in, c_out,
    GROUPS: tl.constexpr, CIN_G: tl.constexpr, COUT_G: tl.constexpr, K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_CO: tl.constexpr,
    HAS_BIAS: tl.constexpr, BRANCHES: tl.constexpr,
):  # fmt: skip
    """One program: ``BLOCK_M`` consecutive output pixels (any rows and images) of one group."""
    # Groups vary fastest, so the programs of one pixel tile run together and share the cache
    # lines of their pixels (each group reads its own slice of every pixel).
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
    row_len = K * CIN_G
    for kh in range(K):
        ih = oh + kh - K // 2
        for j0 in range(0, row_len, BLOCK_K):
            a, j, j_ok = _row_chunk(
                x_ptr, n, ih, in_range, ow, j0, g, c_in, height, width, CIN_G, K, BLOCK_K
            )
            w = tl.load(
                w_ptr + ((g * K + kh) * row_len + j)[:, None] * COUT_G + co[None, :],
                mask=j_ok[:, None] & co_ok[None, :],
                other=0.0,
            )
            acc += tl.dot(a, w)
    out_c = _out_channels(co, g, GROUPS, COUT_G, BRANCHES)
    if HAS_BIAS:
        acc += tl.load(b_ptr + out_c, mask=co_ok, other=0.0)[None, :].to(tl.float32)
    ok = in_range[:, None] & co_ok[None, :]
    tl.store(
        y_ptr + offs_m[:, None] * c_out + out_c[None, :], acc.to(y_ptr.dtype.element_ty), mask=ok
    )


@triton.jit
def grouped_conv_rows_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    height, width, c_in, c_out, n_col_blocks, n_row_blocks,
    GROUPS: tl.constexpr, CIN_G: tl.constexpr, COUT_G: tl.constexpr, K: tl.constexpr,
    ROWS: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_K: tl.constexpr,
    BLOCK_CO: tl.constexpr, HAS_BIAS: tl.constexpr, BRANCHES: tl.constexpr,
):  # fmt: skip
    """One program: ``ROWS`` output rows of ``BLOCK_W`` columns of one group.

    Output row ``oh0 + i`` reads input row ``oh0 + r - K // 2`` with kernel row ``r - i``, so
    each input row chunk is gathered once for up to ``ROWS`` products (the one-row kernel
    gathers it once per output row: ``K`` times in all). The accumulators are four named
    tensors (Triton has no lists of tensors); those beyond ``ROWS`` are never touched.
    """
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
    row_len = K * CIN_G
    # Row indices as vectors over the tile's columns (a scalar condition in a mask is not
    # accepted by Triton's interpreter).
    oh0_v = tl.full([BLOCK_W], 0, tl.int32) + oh0
    for r in range(ROWS + K - 1):
        ih = oh0_v + r - K // 2
        for j0 in range(0, row_len, BLOCK_K):
            a, j, j_ok = _row_chunk(
                x_ptr, n, ih, col_ok, ow, j0, g, c_in, height, width, CIN_G, K, BLOCK_K
            )
            # Kernel row kh's weights for this chunk: w_row + kh * w_step.
            w_row = w_ptr + (g * K * row_len + j)[:, None] * COUT_G + co[None, :]
            w_ok = j_ok[:, None] & co_ok[None, :]
            w_step = row_len * COUT_G
            if r < K:  # output row 0 uses kernel row r
                w = tl.load(w_row + r * w_step, mask=w_ok, other=0.0)
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
    out_c = _out_channels(co, g, GROUPS, COUT_G, BRANCHES)
    if HAS_BIAS:
        bias = tl.load(b_ptr + out_c, mask=co_ok, other=0.0)[None, :].to(tl.float32)
        acc0 += bias
        acc1 += bias
        acc2 += bias
        acc3 += bias
    col = ow[:, None] * c_out + out_c[None, :]
    out_ty = y_ptr.dtype.element_ty
    row_stride = width * c_out
    first = (n * height + oh0) * row_stride
    ok0 = (col_ok & (oh0_v < height))[:, None] & co_ok[None, :]
    tl.store(y_ptr + first + col, acc0.to(out_ty), mask=ok0)
    # Rows beyond ROWS are masked off entirely (their accumulators stay zero, unused).
    ok1 = (col_ok & (oh0_v + 1 < height) & (oh0_v * 0 + 1 < ROWS))[:, None] & co_ok[None, :]
    ok2 = (col_ok & (oh0_v + 2 < height) & (oh0_v * 0 + 2 < ROWS))[:, None] & co_ok[None, :]
    ok3 = (col_ok & (oh0_v + 3 < height) & (oh0_v * 0 + 3 < ROWS))[:, None] & co_ok[None, :]
    if ROWS > 1:
        tl.store(y_ptr + first + row_stride + col, acc1.to(out_ty), mask=ok1)
    if ROWS > 2:
        tl.store(y_ptr + first + 2 * row_stride + col, acc2.to(out_ty), mask=ok2)
    if ROWS > 3:
        tl.store(y_ptr + first + 3 * row_stride + col, acc3.to(out_ty), mask=ok3)
