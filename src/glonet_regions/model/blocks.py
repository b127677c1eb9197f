"""Building blocks of the GLONET network.

Every class and attribute name here mirrors the module tree of the published TorchScript
files (see ``GLONET_SPEC.md``), because the published state dict is loaded by name: the
attribute names (``conv``, ``norm``, ``act``, ``activate``, ``lls``, ``filter``, ``attn``,
``multihead_attn``, ``fc1``..``fc3``, ...) are part of the weight format and must not be
renamed, including the misspelt :class:`AdativeFourierNeuralOperator`.

Tensors are laid out as ``(N, C, H, W)`` for convolutions and ``(N, L, D)`` for tokens, where
``L = h * w`` in row-major ``(h, w)`` order with channels last.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from glonet_regions.model.fourier_blocks import (
    AdativeFourierNeuralOperator,
    FourierNetBlock,
    GFBlock,
    Mlp,
    MultiHeadSelfAttention,
    PatchEmbed,
    maybe_checkpoint,
    resize_pos_embed,
)

__all__ = [
    "AdativeFourierNeuralOperator",
    "BasicConv2d",
    "ConvSC",
    "Decoder",
    "Encoder",
    "FoTF",
    "FourierNetBlock",
    "GFBlock",
    "GroupConv2d",
    "Inception",
    "JumpBranch",
    "LocalCNNBranch",
    "MMB",
    "Mlp",
    "MultiHeadSelfAttention",
    "PatchEmbed",
    "TeDev",
    "maybe_checkpoint",
    "resize_pos_embed",
    "stride_pattern",
]


def stride_pattern(n_stages: int, *, reverse: bool = False) -> list[int]:
    """Strides of an encoder with ``n_stages`` stages: 1, 2, 1, 2, ... (reversed for decoders)."""
    strides = [1, 2] * ((n_stages + 1) // 2)
    strides = strides[:n_stages]
    return list(reversed(strides)) if reverse else strides


class BasicConv2d(nn.Module):
    """3x3 convolution (or stride-2 transposed convolution), GroupNorm(2) and LeakyReLU(0.2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        transpose: bool = False,
        norm_groups: int = 2,
    ) -> None:
        super().__init__()
        self.conv: nn.Module
        if transpose:
            self.conv = nn.ConvTranspose2d(
                in_channels,
                out_channels,
                kernel_size=3,
                stride=stride,
                padding=1,
                output_padding=stride // 2,
            )
        else:
            self.conv = nn.Conv2d(
                in_channels, out_channels, kernel_size=3, stride=stride, padding=1
            )
        self.norm = nn.GroupNorm(norm_groups, out_channels)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Apply conv, norm and activation."""
        return self.act(self.norm(self.conv(x)))


class ConvSC(nn.Module):
    """One encoder/decoder stage: a :class:`BasicConv2d` (transposed only at stride 2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        transpose: bool = False,
        norm_groups: int = 2,
    ) -> None:
        super().__init__()
        self.conv = BasicConv2d(
            in_channels,
            out_channels,
            stride,
            transpose=transpose and stride != 1,
            norm_groups=norm_groups,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the stage."""
        out: Tensor = self.conv(x)
        return out


class GroupConv2d(nn.Module):
    """k x k grouped convolution with ``same`` padding, GroupNorm and LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups
        )
        self.norm = nn.GroupNorm(groups, out_channels)
        self.activate = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Apply conv, norm and activation."""
        return self.activate(self.norm(self.conv(x)))


class Inception(nn.Module):
    """1x1 convolution followed by the *sum* of multi-kernel grouped-conv branches (``lls``)."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        kernels: Sequence[int] = (3, 5, 7, 11),
        groups: int = 8,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden_channels, kernel_size=1)
        self.lls = nn.Sequential(
            *[GroupConv2d(hidden_channels, out_channels, k, groups) for k in kernels]
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the 1x1 projection and sum the branches."""
        x = self.conv1(x)
        out: Tensor | None = None
        for branch in self.lls:
            y = branch(x)
            out = y if out is None else out + y
        assert out is not None
        return out

    def forward_concat(self, x: Tensor, skip: Tensor) -> Tensor:
        """``forward(cat([x, skip], dim=1))``: a U-net decoder stage with its skip connection."""
        return self(torch.cat([x, skip], dim=1))


class Encoder(nn.Module):
    """Stack of :class:`ConvSC` stages with strides 1, 2, 1, 2, ...

    ``forward`` returns ``(latent, skip)`` where ``skip`` is the full-resolution output of the
    first stage.
    """

    def __init__(self, in_channels: int, hidden: int, n_stages: int, norm_groups: int = 2) -> None:
        super().__init__()
        strides = stride_pattern(n_stages)
        self.enc = nn.Sequential(
            ConvSC(in_channels, hidden, strides[0], norm_groups=norm_groups),
            *[ConvSC(hidden, hidden, s, norm_groups=norm_groups) for s in strides[1:]],
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Encode ``(N, C, H, W)`` into the latent and the first-stage skip."""
        skip = self.enc[0](x)
        latent = skip
        for i in range(1, len(self.enc)):
            latent = self.enc[i](latent)
        return latent, skip


class Decoder(nn.Module):
    """Mirror of :class:`Encoder`; the last stage sees ``[features, skip]`` concatenated."""

    def __init__(self, hidden: int, out_channels: int, n_stages: int, norm_groups: int = 2) -> None:
        super().__init__()
        strides = stride_pattern(n_stages, reverse=True)
        self.dec = nn.Sequential(
            *[
                ConvSC(hidden, hidden, s, transpose=True, norm_groups=norm_groups)
                for s in strides[:-1]
            ],
            ConvSC(2 * hidden, hidden, strides[-1], transpose=True, norm_groups=norm_groups),
        )
        self.readout = nn.Conv2d(hidden, out_channels, kernel_size=1)

    def forward(self, hid: Tensor, skip: Tensor) -> Tensor:
        """Decode the latent back to full resolution and project to the output channels."""
        for i in range(len(self.dec) - 1):
            hid = self.dec[i](hid)
        hid = self.dec[-1](torch.cat([hid, skip], dim=1))
        out: Tensor = self.readout(hid)
        return out


def _unet_inceptions(
    in_channels: int,
    hidden: int,
    out_channels: int,
    depth: int,
    kernels: Sequence[int],
    groups: int,
) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder and decoder Inception stacks of the U-shaped mixing blocks (MMB and TeDev)."""
    half = hidden // 2
    enc = [Inception(in_channels, half, hidden, kernels, groups)]
    enc += [Inception(hidden, half, hidden, kernels, groups) for _ in range(depth - 1)]
    dec = [Inception(hidden, half, hidden, kernels, groups)]
    dec += [Inception(2 * hidden, half, hidden, kernels, groups) for _ in range(depth - 2)]
    if depth > 1:
        dec.append(Inception(2 * hidden, half, out_channels, kernels, groups))
    else:  # depth 1: the single decoder stage must produce the output width itself.
        dec = [Inception(hidden, half, out_channels, kernels, groups)]
    return nn.Sequential(*enc), nn.Sequential(*dec)


def _run_unet_encoder(
    stack: nn.Sequential, z: Tensor, use_checkpoint: bool
) -> tuple[Tensor, list[Tensor]]:
    skips: list[Tensor] = []
    n = len(stack)
    for i, layer in enumerate(stack):
        z = maybe_checkpoint(layer, z, enabled=use_checkpoint)
        if i < n - 1:
            skips.append(z)
    return z, skips


def _run_unet_decoder(
    stack: nn.Sequential, z: Tensor, skips: list[Tensor], use_checkpoint: bool
) -> Tensor:
    z = maybe_checkpoint(stack[0], z, enabled=use_checkpoint)
    for i in range(1, len(stack)):
        stage = stack[i]
        assert isinstance(stage, Inception)
        z = maybe_checkpoint(stage.forward_concat, z, skips[-i], enabled=use_checkpoint)
    return z


class MMB(nn.Module):
    """U-shaped stack of Inceptions of the jump branch (no Fourier core, no residual)."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        depth: int,
        kernels: Sequence[int] = (3, 5, 7, 11),
        groups: int = 8,
    ) -> None:
        super().__init__()
        self.enc, self.dec = _unet_inceptions(
            in_channels, hidden, in_channels, depth, kernels, groups
        )
        self.use_checkpoint = False

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, T, C, H, W)`` to the same shape, mixing time in channels."""
        b, t, c, h, w = x.shape
        z, skips = _run_unet_encoder(self.enc, x.reshape(b, t * c, h, w), self.use_checkpoint)
        z = _run_unet_decoder(self.dec, z, skips, self.use_checkpoint)
        return z.reshape(b, t, c, h, w)


class JumpBranch(nn.Module):
    """The ``jump`` sub-network (``residual`` in the published tree): Encoder, MMB, Decoder."""

    def __init__(
        self,
        channels: int,
        time_steps: int,
        hid_s: int,
        hid_t: int,
        n_s: int,
        n_t: int,
        kernels: Sequence[int],
        groups: int,
        norm_groups: int,
    ) -> None:
        super().__init__()
        self.maps = Encoder(channels, hid_s, n_s, norm_groups)
        self.mmb = MMB(time_steps * hid_s, hid_t, n_t, kernels, groups)
        self.mapsback = Decoder(hid_s, channels, n_s, norm_groups)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, T, C, H, W)`` to the same shape."""
        b, t, c, h, w = x.shape
        latent, skip = self.maps(x.reshape(b * t, c, h, w))
        _, hid, hl, wl = latent.shape
        latent = self.mmb(latent.reshape(b, t, hid, hl, wl))
        y: Tensor = self.mapsback(latent.reshape(b * t, hid, hl, wl), skip)
        return y.reshape(b, t, c, h, w)


class LocalCNNBranch(nn.Module):
    """Local branch (``space.NN``): a per-frame 1x1 transposed convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.upconv = nn.ConvTranspose2d(channels, channels, kernel_size=1, stride=1)

    def forward(self, x: Tensor) -> Tensor:
        """Mix channels pointwise on frames ``(N, C, H, W)``."""
        out: Tensor = self.upconv(x)
        return out


class FoTF(nn.Module):
    """The ``space`` branch: global (``NO``) and local (``NN``) branches with interactions."""

    def __init__(self, channels: int, num_interactions: int, no: GFBlock) -> None:
        super().__init__()
        self.num_interactions = num_interactions
        self.NN = LocalCNNBranch(channels)
        self.NO = no
        self.up = nn.ConvTranspose2d(channels, channels, kernel_size=3, stride=1, padding=1)
        self.down = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1)
        self.conv1x1 = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, T, C, H, W)`` to the same shape."""
        b, t, c, h, w = x.shape
        frames = x.reshape(b * t, c, h, w)
        pos = self.NO.position_embedding((h // self.NO.patch_size, w // self.NO.patch_size))
        g, loc = self.NO(frames, pos), self.NN(frames)
        for _ in range(self.num_interactions):
            u = self.up(g) + self.conv1x1(loc)
            g, loc = self.NO(u, pos), self.NN(u)
            d = self.down(g) + self.conv1x1(loc)
            g, loc = self.NO(d, pos), self.NN(d)
        return (g + loc).reshape(b, t, c, h, w)


class TeDev(nn.Module):
    """The ``dynamics`` block: Inception U-net with an AFNO core at the bottleneck, residual."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        depth: int,
        n_blocks: int,
        kernels: Sequence[int],
        groups: int,
        mlp_ratio: int,
        afno_blocks: int,
    ) -> None:
        super().__init__()
        self.use_checkpoint = False
        self.norm = nn.LayerNorm(hidden, eps=1e-6)
        self.enc, self.dec = _unet_inceptions(
            in_channels, hidden, in_channels, depth, kernels, groups
        )
        self.blocks = nn.ModuleList(
            [FourierNetBlock(hidden, mlp_ratio, afno_blocks) for _ in range(n_blocks)]
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, T, C, H, W)`` latents to the same shape (output = evolved + input)."""
        b, t, c, h, w = x.shape
        z, skips = _run_unet_encoder(self.enc, x.reshape(b, t * c, h, w), self.use_checkpoint)
        d = z.shape[1]
        z = z.permute(0, 2, 3, 1).reshape(b, h * w, d)
        for blk in self.blocks:
            z = maybe_checkpoint(blk, z, h, w, enabled=self.use_checkpoint)
        z = self.norm(z)
        z = z.reshape(b, h, w, d).permute(0, 3, 1, 2)
        z = _run_unet_decoder(self.dec, z, skips, self.use_checkpoint)
        return z.reshape(b, t, c, h, w) + x
