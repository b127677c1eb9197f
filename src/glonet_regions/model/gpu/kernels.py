"""Fused pointwise/reduction pieces of the GLONET blocks, eager reference and compiled form.

Each function here computes exactly what a chain of eager modules of
:mod:`glonet_regions.model.blocks` computes, as one function of tensors so that
``torch.compile`` can fuse it into one or two kernels (the convolutions and matrix products
around it stay in cuDNN/cuBLAS). The eager form is the reference the tests compare against.

Compilation is lazy (on first call, per input shape) and cached on disk by Inductor under
:func:`compile_cache_dir` (``TORCHINDUCTOR_CACHE_DIR`` if set, else
``~/.cache/glonet-regions/inductor``).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "FUSED",
    "afno_fold",
    "afno_mix",
    "bias_act",
    "compile_cache_dir",
    "compiled",
    "configure",
    "derived_weights",
    "dft_matrices",
    "fourier_block",
    "gn_lrelu",
    "gn_lrelu_branches",
    "lproj_gemm",
    "lproj_matrices",
    "mlp_residual",
    "patch_embed_gemm",
    "patch_tokens",
    "pool_major_fc1",
]


def gn_lrelu(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    groups: int,
    eps: float,
    slope: float,
    acc: Tensor | None,
    conv_bias: Tensor | None = None,
) -> Tensor:
    """``acc + LeakyReLU(GroupNorm(x + conv_bias))`` (``acc``, ``conv_bias`` optional).

    ``conv_bias`` is the bias of the convolution that produced ``x``, run without it: a
    per-channel constant moves only the channel means, so it enters the statistics and the
    normalisation's shift and the map is never rewritten to add it (cuDNN convolutions add
    their bias in a separate pass over the output in PyTorch). Statistics in float32.

    Equals ``GroupNorm`` then ``LeakyReLU(slope)`` (then the Inception branch sum); the result
    has ``x``'s dtype (eager autocast would keep float32 here, which doubles the bytes moved).

    The statistics are a split reduction: a mean and (biased) variance per channel over the
    spatial dimensions (``N*C`` independent reductions, which fill the GPU where ``N*groups``
    would give only a handful of thread blocks for a full-resolution map), then combined per
    group exactly (mean of the means; mean of the variances plus the variance of the means).
    """
    n, c = x.shape[:2]
    cg = c // groups
    xf = x.float()
    spatial = tuple(range(2, x.dim()))
    var_c, mean_c = torch.var_mean(xf, dim=spatial, correction=0)  # (N, C)
    if conv_bias is not None:
        mean_c = mean_c + conv_bias.float().reshape(1, c)
    mean_c = mean_c.reshape(n, groups, cg)
    var_c = var_c.reshape(n, groups, cg)
    mean_g = mean_c.mean(dim=-1, keepdim=True)
    var_g = var_c.mean(dim=-1, keepdim=True) + (mean_c - mean_g).square().mean(-1, keepdim=True)
    rstd_g = torch.rsqrt(var_g + eps)
    scale = (weight.float().reshape(1, groups, cg) * rstd_g).reshape(n, c)
    shift = bias.float().reshape(1, c) - (mean_g * scale.reshape(n, groups, cg)).reshape(n, c)
    if conv_bias is not None:
        shift = shift + conv_bias.float().reshape(1, c) * scale
    view = (n, c) + (1,) * len(spatial)
    y = xf * scale.reshape(view) + shift.reshape(view)
    y = F.leaky_relu(y, slope).to(x.dtype)
    return y if acc is None else acc + y


def gn_lrelu_branches(
    maps: Sequence[Tensor],
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    groups: int,
    eps: float,
    slope: float,
    conv_biases: Sequence[Tensor | None],
) -> Tensor:
    """``sum_i LeakyReLU(GroupNorm_i(maps[i] + conv_biases[i]))``: an Inception's branches
    (:func:`gn_lrelu` per branch, one GroupNorm's weight and bias each) in one function.

    Compiled, the normalisations and the sum are one pass that reads every branch map once
    and writes the sum once; the branch-by-branch chain (``acc = gn_lrelu(..., acc)``) also
    reads and writes the running sum once per branch (11 map passes instead of 5 for four
    branches).
    """
    if not maps:
        raise ValueError("gn_lrelu_branches needs at least one branch map")
    out: Tensor | None = None
    for i, x in enumerate(maps):
        out = gn_lrelu(x, weights[i], biases[i], groups, eps, slope, out, conv_biases[i])
    assert out is not None
    return out


def afno_fold(
    w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, mm_dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The AFNO spectral weights as two real block matrices over interleaved ``(re, im)``.

    Returns ``(l1, c1, l2, c2)`` in ``mm_dtype``: per block a ``(2*bs, 2*bs)`` weight and a
    ``(1, 2*bs)`` bias for each layer (see :func:`afno_spectral`). Folded in float32, then cast.
    Differentiable; in inference the caller may cache the result while the weights do not change.
    """
    with torch.autocast(device_type=w1.device.type, enabled=False):  # fold in float32
        nb, bs = w1.shape[1], w1.shape[2]
        w1, b1, w2, b2 = w1.float(), b1.float(), w2.float(), b2.float()
        # Layer 1: [re, im] -> [r1, i1]; rows (i, c_in), columns (o, c_out), interleaved.
        l1 = torch.stack(
            [torch.stack([w1[0], w1[1]], dim=-1), torch.stack([-w1[1], w1[0]], dim=-1)], dim=2
        ).reshape(nb, 2 * bs, 2 * bs)
        c1 = torch.stack([b1[0], b1[1]], dim=-1).reshape(nb, 1, 2 * bs)
        # Layer 2 with the quirk folded in.
        w2r, w2i = w2[0], w2[1]
        to_i_from_r = torch.bmm(w2r, w2i)
        to_i_from_i = w2r - torch.bmm(w2i, w2i)
        l2 = torch.stack(
            [torch.stack([w2r, to_i_from_r], dim=-1), torch.stack([-w2i, to_i_from_i], dim=-1)],
            dim=2,
        ).reshape(nb, 2 * bs, 2 * bs)
        bi2 = torch.bmm(b2[0].unsqueeze(1), w2i).squeeze(1) + b2[1]
        c2 = torch.stack([b2[0], bi2], dim=-1).reshape(nb, 1, 2 * bs)
        return l1.to(mm_dtype), c1.to(mm_dtype), l2.to(mm_dtype), c2.to(mm_dtype)


def _spectral_mlp(
    xr: Tensor, folded: tuple[Tensor, Tensor, Tensor, Tensor], sparsity_threshold: float
) -> Tensor:
    """``(nb, m, 2*bs)`` interleaved modes through both folded layers; float32 result."""
    l1, c1, l2, c2 = folded
    # bmm, then the bias in the pointwise op after it: baddbmm's CUDA kernel first copies the
    # broadcast bias into the whole output (an ATen copy kernel of the output's size), while
    # the addition fuses into the ReLU / the cast.
    h1 = torch.relu(torch.bmm(xr.to(l1.dtype), l1) + c1)
    out = (torch.bmm(h1, l2) + c2).float()
    if sparsity_threshold > 0:
        out = F.softshrink(out, sparsity_threshold)
    return out


def _spectral_planes(
    z: Tensor, folded: tuple[Tensor, Tensor, Tensor, Tensor], sparsity_threshold: float
) -> Tensor:
    """:func:`afno_spectral` on modes with channels first, ``(B, D, h, wf)``."""
    b, d, h, wf = z.shape
    nb, two_bs = folded[0].shape[0], folded[0].shape[1]
    bs = two_bs // 2
    zr = torch.view_as_real(z).reshape(b, nb, bs, h, wf, 2)
    xr = zr.permute(1, 0, 3, 4, 2, 5).reshape(nb, b * h * wf, two_bs)
    out = _spectral_mlp(xr, folded, sparsity_threshold)
    out = out.reshape(nb, b, h, wf, bs, 2).permute(1, 0, 4, 2, 3, 5).reshape(b, d, h, wf, 2)
    return torch.view_as_complex(out.contiguous())


def mlp_residual(
    x: Tensor,
    ln_weight: Tensor,
    ln_bias: Tensor,
    eps: float,
    fc1_weight: Tensor,
    fc1_bias: Tensor,
    pool_major: bool = False,
) -> Tensor:
    """``x + AvgPool_features(GELU(fc1(LayerNorm(x))))``: the second half of a FourierNetBlock.

    ``pool_major``: ``fc1_weight`` and ``fc1_bias`` are in :func:`pool_major_fc1`'s row order,
    so the hidden units pooled into one output feature lie ``D`` apart and the pooling reads
    whole rows of the product instead of runs of ``hidden // D`` neighbours.
    """
    d = x.shape[-1]
    y = F.layer_norm(x, (d,), ln_weight, ln_bias, eps)
    y = F.gelu(F.linear(y, fc1_weight, fc1_bias))
    hidden = y.shape[-1]
    if pool_major:
        return x + y.reshape(*y.shape[:-1], hidden // d, d).mean(dim=-2)
    if hidden % d == 0:
        # adaptive_avg_pool1d to d features averages d contiguous chunks of hidden // d; as a
        # reshape + mean it fuses (its ATen backward scatters with atomics instead).
        y = y.reshape(*y.shape[:-1], d, hidden // d).mean(dim=-1)
    else:
        y = F.adaptive_avg_pool1d(y, d)
    return x + y


SpectralLayout = Literal["planes", "dft"]
"""How :func:`afno_mix` computes its 2-D Fourier transforms (see there)."""

DftMatrices = tuple[Tensor, Tensor, Tensor, Tensor]

AfnoArgs = tuple[
    Tensor,  # skip weight (D, D, 1)
    Tensor,  # skip bias
    tuple[Tensor, Tensor, Tensor, Tensor],  # folded spectral weights (afno_fold)
    float,  # soft-shrink threshold
    SpectralLayout,
    DftMatrices | None,
]
"""What :func:`fourier_block` passes on to :func:`afno_mix` after the tokens and grid size."""


@functools.lru_cache(maxsize=32)
def dft_matrices(h: int, w: int, dtype: torch.dtype, device: torch.device) -> DftMatrices:
    """Real matrices of the orthonormal ``rfft2``/``irfft2`` over an ``(h, w)`` grid.

    Returns ``(fw, fh, ih, iw)`` in ``dtype`` (built in float64, angles reduced exactly), with
    ``wf = w // 2 + 1`` modes along ``w``:

    * ``fw`` ``(2*wf, w)``: real input along ``w`` to rows ``(r, k2)``, ``r`` = 0 real, 1 imaginary;
    * ``fh`` ``(2*h, 2*h)``: the complex DFT along ``h`` on rows ``(n1, r)`` to rows ``(k1, r)``;
    * ``ih`` ``(2*h, 2*h)``: its inverse;
    * ``iw`` ``(w, 2*wf)``: the half spectrum ``(r, k2)`` back to real values along ``w``
      (the ``c2r`` transform: the modes strictly between 0 and ``w/2`` count twice, the
      imaginary parts of mode 0 and of mode ``w/2`` are ignored, as ``irfft`` does).
    """

    def angles(n_rows: int, n_cols: int, period: int) -> Tensor:
        k = torch.arange(n_rows, dtype=torch.int64).reshape(-1, 1)
        n = torch.arange(n_cols, dtype=torch.int64).reshape(1, -1)
        return (2.0 * torch.pi / period) * ((k * n) % period).double()

    wf = w // 2 + 1
    aw = angles(wf, w, w)  # (wf, w)
    fw = torch.cat([aw.cos(), -aw.sin()]) / w**0.5
    weight = torch.full((wf, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    iw = torch.cat([weight * aw.cos(), -weight * aw.sin()]).T / w**0.5
    ah = angles(h, h, h)
    c, s = ah.cos() / h**0.5, ah.sin() / h**0.5
    # rows (k1, r_out), columns (n1, r_in)
    fh = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], 1).reshape(2 * h, 2 * h)
    ih = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], 1).reshape(2 * h, 2 * h)
    return tuple(m.to(device=device, dtype=dtype).contiguous() for m in (fw, fh, ih, iw))  # type: ignore[return-value]


def _spectral_dft(
    grid: Tensor,
    folded: tuple[Tensor, Tensor, Tensor, Tensor],
    sparsity_threshold: float,
    dft: DftMatrices,
) -> Tensor:
    """``irfft2(spectral(rfft2(grid)))`` on ``(B, h, w, D)``, as products in ``dft``'s dtype."""
    b, h, w, d = grid.shape
    fw, fh, ih, iw = dft
    nb, two_bs = folded[0].shape[0], folded[0].shape[1]
    bs, wf = two_bs // 2, w // 2 + 1
    a = torch.matmul(fw, grid.to(fw.dtype))  # (b, h, 2*wf, d): rows (r, k2)
    a = torch.matmul(fh, a.reshape(b, 2 * h, wf * d))  # rows (k1, r)
    # -> (nb, modes, interleaved (re, im) per channel of the block)
    z = a.reshape(b, h, 2, wf, nb, bs).permute(4, 0, 1, 3, 5, 2).reshape(nb, b * h * wf, two_bs)
    out = _spectral_mlp(z, folded, sparsity_threshold).to(fw.dtype)
    out = out.reshape(nb, b, h, wf, bs, 2).permute(1, 2, 5, 3, 0, 4).reshape(b, 2 * h, wf * d)
    y = torch.matmul(ih, out)  # rows (n1, r)
    return torch.matmul(iw, y.reshape(b, h, 2 * wf, d))  # (b, h, w, d)


def afno_mix(
    x: Tensor,
    h: int,
    w: int,
    skip_weight: Tensor,
    skip_bias: Tensor,
    folded: tuple[Tensor, Tensor, Tensor, Tensor],
    sparsity_threshold: float,
    layout: SpectralLayout = "planes",
    dft: DftMatrices | None = None,
) -> Tensor:
    """The AFNO token mixer on tokens ``x`` ``(B, h*w, D)``: what the ``filter`` module computes.

    ``skip_weight`` is the ``(D, D, 1)`` weight of the 1x1 ``Conv1d`` skip path (run as a
    ``linear``; passed whole, since a view of a parameter is not a leaf for ``torch.compile``'s
    guards); ``folded`` the spectral weights from :func:`afno_fold` (their dtype is the
    products' dtype). ``layout`` picks how the 2-D transforms run:

    * ``"planes"``: float32 FFTs (autocast off) over contiguous ``(h, w)`` planes per channel (the
      transposes fuse into the neighbouring kernels when compiled);
    * ``"dft"``: the transforms as four real matrix products with :func:`dft_matrices`
      (``dft``, whose dtype they run in: pass the products' dtype). On small grids this
      replaces the FFT kernels and the copies around complex tensors by small GEMMs that
      fuse with everything else in one compiled graph.
    """
    b, n, d = x.shape
    skip = F.linear(x, skip_weight.flatten(1), skip_bias)
    in_dtype = x.dtype
    with torch.autocast(device_type=x.device.type, enabled=False):
        if layout == "dft":
            if dft is None:
                raise ValueError("afno_mix(layout='dft') needs the dft matrices")
            grid = x.reshape(b, h, w, d)
            y = _spectral_dft(grid, folded, sparsity_threshold, dft).reshape(b, n, d)
        elif layout == "planes":
            planes = x.float().reshape(b, h, w, d).permute(0, 3, 1, 2).contiguous()
            z = torch.fft.rfft2(planes, dim=(2, 3), norm="ortho")
            z = _spectral_planes(z, folded, sparsity_threshold)
            y = torch.fft.irfft2(z, s=(h, w), dim=(2, 3), norm="ortho")
            y = y.permute(0, 2, 3, 1).reshape(b, n, d)
        else:
            raise ValueError(f"layout must be 'planes' or 'dft', got {layout!r}")
    return y.to(in_dtype) + skip


def pool_major_fc1(weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """``fc1``'s weight ``(hidden, D)`` and bias with their rows reordered so that hidden unit
    ``j * p + r`` (``p = hidden // D``) becomes row ``r * D + j``: the product's ``p`` units
    averaged into output feature ``j`` then lie ``D`` apart (:func:`mlp_residual`'s
    ``pool_major``). Differentiable."""
    hidden, d = weight.shape
    if hidden % d:
        raise ValueError(f"pool_major_fc1: hidden width {hidden} is not a multiple of D={d}")
    p = hidden // d
    w = weight.reshape(d, p, d).transpose(0, 1).reshape(hidden, d)
    return w, bias.reshape(d, p).transpose(0, 1).reshape(hidden)


def fourier_block(
    x: Tensor,
    h: int,
    w: int,
    ln1: tuple[Tensor, Tensor, float],
    afno: AfnoArgs,
    ln2: tuple[Tensor, Tensor, float],
    fc1: tuple[Tensor, Tensor],
    pool_major: bool = False,
) -> Tensor:
    """A whole FourierNetBlock: ``x + AFNO(LN1(x))``, then :func:`mlp_residual`.

    Args:
        x: Tokens ``(B, h*w, D)``.
        h: Token grid height.
        w: Token grid width.
        ln1: ``normlayer1`` weight, bias and eps.
        afno: The filter's skip weight ``(D, D, 1)`` and bias, folded spectral weights,
            soft-shrink threshold, transform layout and DFT matrices (see :func:`afno_mix`).
        ln2: ``normlayer2`` weight, bias and eps.
        fc1: ``mlp.fc1`` weight and bias.
        pool_major: ``fc1`` is in :func:`pool_major_fc1`'s order (see :func:`mlp_residual`).

    Compiled as one graph, the LayerNorms, casts, the spectral weight folding, the residual
    additions and the MLP's GELU and pooling fuse around the FFTs and matrix products; one
    graph serves every block of a given token shape (the parameters are inputs).
    """
    d = x.shape[-1]
    y = F.layer_norm(x, (d,), ln1[0], ln1[1], ln1[2])
    x = x + afno_mix(y, h, w, *afno)
    return mlp_residual(x, ln2[0], ln2[1], ln2[2], fc1[0], fc1[1], pool_major)


def lproj_matrices(weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """A transposed convolution whose kernel equals its stride (no overlap, no padding) as a
    matrix: weight ``(C_in, C_out, k, k)`` to ``(C_in, k*k*C_out)`` with columns ordered
    ``(a, b, o)`` (kernel row, kernel column, output channel), and the bias repeated per
    column. Differentiable."""
    cin, cout, kh, kw = weight.shape
    return weight.permute(0, 2, 3, 1).reshape(cin, kh * kw * cout), bias.repeat(kh * kw)


def lproj_gemm(
    z: Tensor,
    h: int,
    w: int,
    ln: tuple[Tensor, Tensor, float],
    layers: tuple[tuple[Tensor, Tensor, int], ...],
) -> Tensor:
    """``space.NO``'s head: LayerNorm of tokens ``z`` ``(N, h*w, D)``, then transposed
    convolutions whose kernel equals their stride (``lproj``: 2, 2 and ``patch/4``), tanh after
    all but the last, as matrix products; returns ``(N, C_out, h*K, w*K)`` with ``K`` the
    product of the kernels, channels-last (the layout the convolutions give the token map).

    Each layer is ``(matrix, bias, k)`` from :func:`lproj_matrices`. A non-overlapping
    transposed convolution maps every input pixel to its own ``k x k`` output block, so with
    the matrix columns ordered ``(a, b, o)`` the product's rows, read ``C_out`` at a time, are
    the output pixels in the order ``(pixel, a, b)``: the next layer multiplies them as they
    are, and only the last result is permuted into the image, in the pass that adds its bias.
    cuDNN runs these layers as implicit GEMMs with layout transforms and PyTorch adds each bias
    in its own pass. Intermediate results have the products' dtype (bf16 under autocast).
    """
    n, _, d = z.shape
    y = F.layer_norm(z, (d,), ln[0], ln[1], ln[2]).reshape(n * h * w, d)
    kernels: list[int] = []
    cout = d
    for i, (mat, bias, k) in enumerate(layers):
        cout = mat.shape[1] // (k * k)
        prod = y @ mat
        out = prod.float() + bias.float()
        if i < len(layers) - 1:
            out = torch.tanh(out)
        y = out.to(prod.dtype).reshape(-1, cout)
        kernels.append(k)
    levels = len(kernels)
    y = y.reshape(n, h, w, *[k for k in kernels for _ in range(2)], cout)
    rows = [3 + 2 * i for i in range(levels)]
    perm = [0, 1, *rows, 2, *[r + 1 for r in rows], 3 + 2 * levels]
    scale = math.prod(kernels)
    # Channels-last, as cuDNN's transposed convolution of the token map gives it (the rest of
    # the ``space`` branch and ``maps`` read it in that layout).
    return y.permute(perm).reshape(n, h * scale, w * scale, cout).permute(0, 3, 1, 2)


def bias_act(x: Tensor, bias: Tensor, other: Tensor | None = None, act: str = "") -> Tensor:
    """``act(x + bias + other)`` with ``bias`` per channel (dim 1): a convolution run without
    its bias, then what follows it (``other``: a second map added, e.g. a parallel branch;
    ``act``: ``""`` or ``"tanh"``), in one pass.

    Computed in float32, returned in the promoted dtype of ``x`` and ``other``. PyTorch adds a
    convolution's bias as a broadcast in-place add over the whole output, which ATen runs with
    its non-vectorised strided kernel; compiled, this is one vectorised kernel.
    """
    dtype = x.dtype if other is None else torch.promote_types(x.dtype, other.dtype)
    y = x.float() + bias.float().reshape(1, -1, *([1] * (x.dim() - 2)))
    if other is not None:
        y = y + other.float()
    if act == "tanh":
        y = torch.tanh(y)
    elif act:
        raise ValueError(f"bias_act: act must be '' or 'tanh', got {act!r}")
    return y.to(dtype)


def patch_tokens(y: Tensor, bias: Tensor, pos: Tensor) -> Tensor:
    """Patch-embedding output ``(N, D, h, w)`` (convolution without bias) to tokens
    ``(N, h*w, D)`` plus the bias and the position embedding ``(1, h*w, D)``, in one pass."""
    return _with_bias_and_position(y.flatten(2).transpose(1, 2), bias, pos)


def _with_bias_and_position(tokens: Tensor, bias: Tensor, pos: Tensor) -> Tensor:
    """``tokens + bias + pos`` in float32, in the promoted dtype of ``tokens`` and ``pos``."""
    dtype = torch.promote_types(tokens.dtype, pos.dtype)
    return (tokens.float() + bias.float() + pos.float()).to(dtype)


def patch_embed_gemm(x: Tensor, weight: Tensor, bias: Tensor, pos: Tensor) -> Tensor:
    """The patch embedding (a ``p x p`` convolution of stride ``p``, ``weight`` ``(D, C, p, p)``)
    of ``x`` ``(N, C, H, W)`` as one matrix product over the patches, plus the bias and the
    position embedding ``(1, H/p * W/p, D)``: tokens ``(N, H/p * W/p, D)``.

    The patches are laid out by one copy (compiled: fused with the autocast cast) and
    multiplied in one GEMM ``[N h w, C p p] x [C p p, D]`` (cuDNN runs this convolution as a
    "folded" layout transform and an implicit GEMM). Same values as
    ``patch_tokens(conv(x), ...)``.
    """
    n, c, height, width = x.shape
    d, _, p, _ = weight.shape
    h, w = height // p, width // p
    patches = x.reshape(n, c, h, p, w, p).permute(0, 2, 4, 1, 3, 5).reshape(n * h * w, c * p * p)
    tokens = F.linear(patches, weight.reshape(d, c * p * p)).reshape(n, h * w, d)
    return _with_bias_and_position(tokens, bias, pos)


FUSED: dict[str, Callable[..., Tensor]] = {
    "gn_lrelu": gn_lrelu,
    "gn_lrelu_branches": gn_lrelu_branches,
    "mlp_residual": mlp_residual,
    "fourier_block": fourier_block,
    "bias_act": bias_act,
    "patch_tokens": patch_tokens,
    "patch_embed_gemm": patch_embed_gemm,
    "lproj_gemm": lproj_gemm,
}
"""The fused functions by name, in their eager (reference) form; :func:`compiled` compiles them."""

_T = TypeVar("_T")


def derived_weights(
    owner: nn.Module,
    slot: str,
    params: tuple[Tensor, ...],
    extra: Hashable,
    build: Callable[[], _T],
) -> _T:
    """``build()`` (weights derived from ``params``), cached on ``owner`` while no grad is taken.

    With autograd recording and a parameter requiring grad, it is rebuilt every call (the
    gradient flows through ``build``). Otherwise the result is kept in ``owner.__dict__[slot]``
    (not a buffer: the state dict is unchanged), keyed on ``extra`` and on each parameter's
    storage and in-place version counter, so an optimizer step, ``load_state_dict`` or moving
    the module rebuilds it. Under tracing (``torch.export``, ``torch.compile``) it is built
    into the graph.
    """
    if torch.is_grad_enabled() and any(p.requires_grad for p in params):
        return build()
    if torch.compiler.is_compiling():  # traced (torch.export): part of the graph, not cached
        return build()
    key = (extra, *((p.data_ptr(), p._version) for p in params))
    cache = owner.__dict__.get(slot)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, build())
        owner.__dict__[slot] = cache
    value: _T = cache[1]
    return value


def compile_cache_dir() -> Path:
    """Directory Inductor caches compiled kernels in (set as ``TORCHINDUCTOR_CACHE_DIR``)."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "glonet-regions" / "inductor"


_COMPILED: dict[str, Callable[..., Tensor]] = {}


_TUNED: frozenset[str] = frozenset()


def configure(tuned: frozenset[str]) -> None:
    """Set the fused functions Inductor tunes by coordinate descent when they are first
    compiled (``GpuOptions.tuned()``; called by ``optimise_model``). Functions compiled
    before keep their form."""
    global _TUNED
    _TUNED = frozenset(tuned)


def compiled(name: str) -> Callable[..., Tensor]:
    """The ``torch.compile`` form of a fused function (created lazily, once).

    ``name`` is a key of :data:`FUSED`.

    Shapes are static (one small graph per shape; the network has about a dozen), the
    recompile limit is raised to fit them, and the on-disk cache directory is set before the
    first compilation so later runs reuse the kernels. Functions named by :func:`configure`
    get Inductor's coordinate-descent tuning (every generated kernel's launch configuration
    timed at compile time: a slower first compilation, cached with the kernels).
    """
    fn = _COMPILED.get(name)
    if fn is not None:
        return fn
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    import torch._dynamo.config as dynamo_config

    limit_name = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else None
    if limit_name is None:  # pragma: no cover - older torch
        limit_name = "cache_size_limit"
    setattr(dynamo_config, limit_name, max(int(getattr(dynamo_config, limit_name)), 64))
    if name not in FUSED:
        raise ValueError(f"unknown fused function {name!r}; known: {sorted(FUSED)}")
    options: dict[str, str | int | bool | Callable[..., Any]] | None = (
        {"coordinate_descent_tuning": True} if name in _TUNED else None
    )
    fn = _quiet_compile(torch.compile(FUSED[name], dynamic=False, fullgraph=True, options=options))
    _COMPILED[name] = fn
    return fn


def _quiet_compile(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Silence three of torch's compile-time notes that say nothing about our code.

    Complex operators (the FFTs' outputs) stay in ATen: that is the intended split, the FFTs
    and ``view_as_real`` run as ATen kernels and everything around them is generated.
    """

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Torchinductor does not support code generation for complex"
            )
            # The float32 products (the AFNO weight folding, float32 runs) stay float32 on
            # purpose; Inductor's hint to enable TF32 globally is not for a library to act on.
            warnings.filterwarnings(
                "ignore", message="TensorFloat32 tensor cores for float32 matrix multiplication"
            )
            # Dynamo reads ``.grad`` of every tensor input while tracing with autograd on,
            # activations and folded weights included (non-leaves, so torch warns).
            warnings.filterwarnings(
                "ignore", message="The .grad attribute of a Tensor that is not a leaf Tensor"
            )
            return fn(*args, **kwargs)

    return call
