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

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "afno_spectral",
    "compile_cache_dir",
    "compiled",
    "gn_lrelu",
    "mlp_residual",
]


def gn_lrelu(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    groups: int,
    eps: float,
    slope: float,
    acc: Tensor | None,
) -> Tensor:
    """``acc + LeakyReLU(GroupNorm(x))`` (``acc`` optional), statistics in float32.

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
    mean_c = mean_c.reshape(n, groups, cg)
    var_c = var_c.reshape(n, groups, cg)
    mean_g = mean_c.mean(dim=-1, keepdim=True)
    var_g = var_c.mean(dim=-1, keepdim=True) + (mean_c - mean_g).square().mean(-1, keepdim=True)
    rstd_g = torch.rsqrt(var_g + eps)
    scale = (weight.float().reshape(1, groups, cg) * rstd_g).reshape(n, c)
    shift = bias.float().reshape(1, c) - (mean_g * scale.reshape(n, groups, cg)).reshape(n, c)
    view = (n, c) + (1,) * len(spatial)
    y = xf * scale.reshape(view) + shift.reshape(view)
    y = F.leaky_relu(y, slope).to(x.dtype)
    return y if acc is None else acc + y


def afno_spectral(
    z: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    num_blocks: int,
    sparsity_threshold: float,
    mm_dtype: torch.dtype,
) -> Tensor:
    """The AFNO block-diagonal complex MLP on rfft2 modes ``z`` ``(..., D)`` (complex64).

    Computes what :class:`~glonet_regions.model.blocks.AdativeFourierNeuralOperator` computes
    between its FFTs, including the published layer-2 quirk ``I2 = R2 W2i + I1 W2r + b2i``.
    That quirk is linear in ``(R1, I1)``, so layer 2 folds into one real matrix:
    ``R2 = R1 W2r - I1 W2i + b2r`` and
    ``I2 = R1 (W2r W2i) + I1 (W2r - W2i W2i) + (b2r W2i + b2i)``.

    Each mode's block ``i`` is kept as interleaved ``(re, im)`` pairs, which is the memory
    layout of ``torch.view_as_real``, so each layer is one ``baddbmm`` over the ``num_blocks``
    blocks with a ``(2*bs, 2*bs)`` real weight per block: no separate real/imag copies and
    no complex assembly. Products run in ``mm_dtype`` (float32 accumulation on CUDA); the
    result is complex64 of ``z``'s shape.
    """
    shape = z.shape
    d = shape[-1]
    nb = num_blocks
    bs = d // nb
    m = z.numel() // d
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

    xr = torch.view_as_real(z.contiguous()).reshape(m, nb, 2 * bs).transpose(0, 1)
    xr = xr.to(mm_dtype)  # (nb, m, 2bs), strided view of the interleaved modes
    h1 = torch.relu(torch.baddbmm(c1.to(mm_dtype), xr, l1.to(mm_dtype)))
    out = torch.baddbmm(c2.to(mm_dtype), h1, l2.to(mm_dtype))  # (nb, m, 2bs)
    out = out.transpose(0, 1).to(torch.float32, memory_format=torch.contiguous_format)
    if sparsity_threshold > 0:
        out = F.softshrink(out, sparsity_threshold)
    return torch.view_as_complex(out.reshape(*shape, 2))


def mlp_residual(
    x: Tensor,
    ln_weight: Tensor,
    ln_bias: Tensor,
    eps: float,
    fc1_weight: Tensor,
    fc1_bias: Tensor,
) -> Tensor:
    """``x + AvgPool_features(GELU(fc1(LayerNorm(x))))``: the second half of a FourierNetBlock."""
    d = x.shape[-1]
    y = F.layer_norm(x, (d,), ln_weight, ln_bias, eps)
    y = F.gelu(F.linear(y, fc1_weight, fc1_bias))
    hidden = y.shape[-1]
    if hidden % d == 0:
        # adaptive_avg_pool1d to d features averages d contiguous chunks of hidden // d; as a
        # reshape + mean it fuses (its ATen backward scatters with atomics instead).
        y = y.reshape(*y.shape[:-1], d, hidden // d).mean(dim=-1)
    else:
        y = F.adaptive_avg_pool1d(y, d)
    return x + y


def compile_cache_dir() -> Path:
    """Directory Inductor caches compiled kernels in (set as ``TORCHINDUCTOR_CACHE_DIR``)."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "glonet-regions" / "inductor"


_COMPILED: dict[str, Callable[..., Tensor]] = {}


def compiled(name: str) -> Callable[..., Tensor]:
    """The ``torch.compile`` form of ``gn_lrelu`` or ``mlp_residual`` (created lazily, once).

    Shapes are static (one small graph per shape; the network has about a dozen), the
    recompile limit is raised to fit them, and the on-disk cache directory is set before the
    first compilation so later runs reuse the kernels.
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
    funcs: dict[str, Callable[..., Any]] = {"gn_lrelu": gn_lrelu, "mlp_residual": mlp_residual}
    if name not in funcs:
        raise ValueError(f"unknown fused function {name!r}; known: {sorted(funcs)}")
    fn = torch.compile(funcs[name], dynamic=False, fullgraph=True)
    _COMPILED[name] = fn
    return fn
