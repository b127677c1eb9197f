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
    """
    y = F.group_norm(x.float(), groups, weight.float(), bias.float(), eps)
    y = F.leaky_relu(y, slope).to(x.dtype)
    return y if acc is None else acc + y


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
