"""GLONET's Fourier blocks: the AFNO token mixer, its MLP, the patch embedding and GFBlock.

Split from :mod:`glonet_regions.model.blocks` (which re-exports every name); the attribute names
mirror the published TorchScript module tree and are part of the weight format, including the
misspelt :class:`AdativeFourierNeuralOperator`. Tokens are ``(N, L, D)`` with ``L = h * w`` in
row-major ``(h, w)`` order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

__all__ = [
    "AdativeFourierNeuralOperator",
    "FourierNetBlock",
    "GFBlock",
    "Mlp",
    "MultiHeadSelfAttention",
    "PatchEmbed",
    "maybe_checkpoint",
    "resize_pos_embed",
]


def maybe_checkpoint(fn: Callable[..., Tensor], *args: Any, enabled: bool) -> Tensor:
    """Call ``fn(*args)``, through activation checkpointing when ``enabled`` and grads are on.

    Args:
        fn: The module or function to run.
        *args: Its positional arguments.
        enabled: Whether to recompute activations in the backward pass instead of storing them.

    Returns:
        The output of ``fn``; identical with and without checkpointing.
    """
    if enabled and torch.is_grad_enabled():
        out = checkpoint(fn, *args, use_reentrant=False)
        assert isinstance(out, Tensor)
        return out
    return fn(*args)


def resize_pos_embed(
    tensor: Tensor, old_hw: tuple[int, int], new_hw: tuple[int, int], mode: str = "bicubic"
) -> Tensor:
    """Resize a patch position embedding to another patch grid, as in ViT fine-tuning.

    Args:
        tensor: Embedding of shape ``(1, old_h * old_w, D)`` in row-major patch order.
        old_hw: The patch grid ``(h, w)`` the embedding was made for.
        new_hw: The patch grid to interpolate it to.
        mode: ``"bicubic"`` (default) or ``"bilinear"``.

    Returns:
        A tensor of shape ``(1, new_h * new_w, D)`` with the input's dtype. The interpolation
        runs in float32 and is differentiable.

    Raises:
        ValueError: If the tensor's token count does not equal ``old_h * old_w``.
    """
    if tensor.ndim != 3 or tensor.shape[0] != 1:
        raise ValueError(f"pos_embed must have shape (1, L, D), got {tuple(tensor.shape)}")
    (oh, ow), (nh, nw) = old_hw, new_hw
    if tensor.shape[1] != oh * ow:
        raise ValueError(
            f"pos_embed has {tensor.shape[1]} tokens, which is not old_hw={old_hw} "
            f"({oh * ow} patches)"
        )
    if (oh, ow) == (nh, nw):
        return tensor
    dim = tensor.shape[2]
    grid = tensor.reshape(1, oh, ow, dim).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=(nh, nw), mode=mode, align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, nh * nw, dim).to(tensor.dtype)


# --------------------------------------------------------------------------------------------
# Convolutional blocks (SimVP family)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Fourier blocks (AFNO family)
# --------------------------------------------------------------------------------------------


class AdativeFourierNeuralOperator(nn.Module):
    """Adaptive Fourier neural operator token mixer (name misspelt as in the published file).

    A 1x1 ``Conv1d`` skip path plus a block-diagonal complex two-layer MLP applied at every
    retained rfft2 mode (all modes kept). Layer 2 reproduces the published quirk: the
    imaginary output uses the *updated* real part, ``I2 = R2 W2i + I1 W2r + b2i``. Soft
    shrinkage with the published threshold 0 is the identity and is only applied when
    ``sparsity_threshold > 0``. The FFT path always runs in float32, also under autocast.
    """

    def __init__(self, dim: int, num_blocks: int = 2, sparsity_threshold: float = 0.0) -> None:
        super().__init__()
        if dim % num_blocks:
            raise ValueError(f"AFNO dim {dim} is not divisible by num_blocks {num_blocks}")
        self.hidden_size = dim
        self.num_blocks = num_blocks
        self.block_size = dim // num_blocks
        self.sparsity_threshold = sparsity_threshold
        scale = 0.02
        bs, nb = self.block_size, num_blocks
        self.w1 = nn.Parameter(scale * torch.randn(2, nb, bs, bs))
        self.b1 = nn.Parameter(scale * torch.randn(2, nb, bs))
        self.w2 = nn.Parameter(scale * torch.randn(2, nb, bs, bs))
        self.b2 = nn.Parameter(scale * torch.randn(2, nb, bs))
        self.relu = nn.ReLU()
        self.bias = nn.Conv1d(dim, dim, kernel_size=1)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        """Mix tokens ``(B, h*w, D)`` globally in Fourier space; returns the same shape."""
        b, n, d = x.shape
        if n != h * w:
            raise ValueError(f"AFNO got {n} tokens for a {h}x{w} grid")
        skip = self.bias(x.transpose(1, 2)).transpose(1, 2)
        in_dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            z = torch.fft.rfft2(x.float().reshape(b, h, w, d), dim=(1, 2), norm="ortho")
            z = z.reshape(b, h, w // 2 + 1, self.num_blocks, self.block_size)
            w1, b1 = self.w1.float(), self.b1.float()
            w2, b2 = self.w2.float(), self.b2.float()
            re, im = z.real, z.imag
            eq = "...bi,bio->...bo"
            r1 = self.relu(torch.einsum(eq, re, w1[0]) - torch.einsum(eq, im, w1[1]) + b1[0])
            i1 = self.relu(torch.einsum(eq, re, w1[1]) + torch.einsum(eq, im, w1[0]) + b1[1])
            del re, im, z
            r2 = torch.einsum(eq, r1, w2[0]) - torch.einsum(eq, i1, w2[1]) + b2[0]
            i2 = torch.einsum(eq, r2, w2[1]) + torch.einsum(eq, i1, w2[0]) + b2[1]
            del r1, i1
            if self.sparsity_threshold > 0:
                r2 = F.softshrink(r2, self.sparsity_threshold)
                i2 = F.softshrink(i2, self.sparsity_threshold)
            z = torch.complex(r2, i2).reshape(b, h, w // 2 + 1, d)
            y = torch.fft.irfft2(z, s=(h, w), dim=(1, 2), norm="ortho").reshape(b, n, d)
        return y.to(in_dtype) + skip


class Mlp(nn.Module):
    """Published MLP: fc1, GELU, then average pooling of the hidden units back to ``dim``.

    ``fc2`` exists (so the published weights load) but is not used by the forward pass; ``fc3``
    is an ``AdaptiveAvgPool1d(dim)`` over the feature axis, which averages each run of
    ``hidden / dim`` consecutive hidden units.
    """

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.fc3 = nn.AdaptiveAvgPool1d(dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP to tokens ``(B, L, D)``."""
        x = self.drop(self.act(self.fc1(x)))
        x = self.fc3(x)
        out: Tensor = self.drop(x)
        return out


class MultiHeadSelfAttention(nn.Module):
    """Wrapper holding ``multihead_attn``; present in the published GF blocks but not called."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        """Self-attention over tokens ``(B, L, D)`` (not used by :class:`FourierNetBlock`)."""
        out, _ = self.multihead_attn(x, x, x, need_weights=False)
        return out


class FourierNetBlock(nn.Module):
    """Pre-norm block: ``x + AFNO(LN1(x))`` then ``x + Mlp(LN2(x))``.

    With ``num_heads`` set the block also owns an ``attn`` module, as the published GF blocks
    do; like them it never calls it.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: int = 4,
        num_blocks: int = 2,
        num_heads: int | None = None,
    ) -> None:
        super().__init__()
        self.normlayer1 = nn.LayerNorm(dim, eps=1e-6)
        self.filter = AdativeFourierNeuralOperator(dim, num_blocks)
        self.drop_path = nn.Identity()
        if num_heads is not None:
            self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.normlayer2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        """Apply the block to tokens ``(B, h*w, D)``."""
        x = x + self.drop_path(self.filter(self.normlayer1(x), h, w))
        x = x + self.drop_path(self.mlp(self.normlayer2(x)))
        return x


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection ``(N, C, H, W) -> (N, H/p * W/p, D)``."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(
            in_channels, embed_dim, kernel_size=patch_size, stride=patch_size
        )
        self.norm = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Project patches to tokens in row-major order."""
        out: Tensor = self.norm(self.projection(x).flatten(2).transpose(1, 2))
        return out


class GFBlock(nn.Module):
    """Global Fourier branch (``space.NO``, ``GF_Block`` in the published tree).

    Patch embedding, position embedding, AFNO+MLP blocks, LayerNorm and a transposed-conv
    projection (``lproj``) back to full resolution. The position embedding is a parameter for
    the patch grid ``pos_hw`` the model was built for; on another grid it is interpolated at
    forward time (see :func:`resize_pos_embed`).
    """

    def __init__(
        self,
        channels: int,
        embed_dim: int,
        patch_size: int,
        depth: int,
        num_heads: int,
        mlp_ratio: int,
        afno_blocks: int,
        lproj_channels: tuple[int, int],
        pos_hw: tuple[int, int],
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.pos_hw = pos_hw
        self.use_checkpoint = False
        self.patch_embed = PatchEmbed(channels, embed_dim, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_hw[0] * pos_hw[1], embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(0.0)
        self.blks = nn.ModuleList(
            [
                FourierNetBlock(embed_dim, mlp_ratio, afno_blocks, num_heads=num_heads)
                for _ in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        c1, c2 = lproj_channels
        self.lproj = nn.Sequential(
            OrderedDict(
                [
                    ("transposeconv1", nn.ConvTranspose2d(embed_dim, c1, 2, stride=2)),
                    ("act1", nn.Tanh()),
                    ("transposeconv2", nn.ConvTranspose2d(c1, c2, 2, stride=2)),
                    ("act2", nn.Tanh()),
                    (
                        "transposeconv3",
                        nn.ConvTranspose2d(c2, channels, patch_size // 4, stride=patch_size // 4),
                    ),
                ]
            )
        )
        self.final_dropout = nn.Identity()

    def set_pos_hw(self, new_hw: tuple[int, int]) -> None:
        """Resize the position-embedding parameter in place to another patch grid."""
        with torch.no_grad():
            resized = resize_pos_embed(self.pos_embed.data, self.pos_hw, new_hw)
        self.pos_embed = nn.Parameter(resized.contiguous())
        self.pos_hw = new_hw

    def position_embedding(self, hw: tuple[int, int]) -> Tensor:
        """The position embedding for patch grid ``hw`` (interpolated if it is not ``pos_hw``)."""
        if hw == self.pos_hw:
            return self.pos_embed
        return resize_pos_embed(self.pos_embed, self.pos_hw, hw)

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Map frames ``(N, C, H, W)`` (H, W multiples of the patch size) to the same shape."""
        n, _, height, width = x.shape
        h, w = height // self.patch_size, width // self.patch_size
        if pos is None:
            pos = self.position_embedding((h, w))
        z = self.pos_drop(self.patch_embed(x) + pos)
        for blk in self.blks:
            z = maybe_checkpoint(blk, z, h, w, enabled=self.use_checkpoint)
        z = self.norm(z)
        z = z.transpose(1, 2).reshape(n, -1, h, w)
        out: Tensor = self.final_dropout(self.lproj(z))
        return out
