"""The GLONET depth-group network: configuration, module and factory.

:class:`Glonet` maps the two days before a forecast start, ``(B, 2, C, H, W)`` in normalised
space, to the next two days with the same shape. Its module tree (``jump``, ``space``,
``maps``, ``dynamics``, ``mapsback``) follows the published TorchScript files so their state
dict loads by name (see :mod:`glonet_regions.model.weights`).

Any ``H, W`` are accepted: the input is padded up to a multiple of :attr:`GlonetConfig.
pad_multiple` and the output cropped back. Padding uses ``replicate`` by default: it works
for any pad width (``reflect`` needs the pad to be smaller than the grid and mirrors interior
structure across the open boundary), and continuing the edge values keeps the boundary
forcing smooth; land is already 0 in the normalised input, so no constant fill is needed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.model.blocks import Decoder, Encoder, FoTF, GFBlock, JumpBranch, TeDev

__all__ = ["GlonetConfig", "Glonet", "build_glonet", "count_parameters"]

PadMode = Literal["replicate", "reflect"]


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"GlonetConfig.{name} must be a positive integer, got {value!r}")


def _divisible(name: str, value: int, by: int, by_name: str) -> None:
    if value % by:
        raise ValueError(f"GlonetConfig.{name}={value} must be divisible by {by_name}={by}")


@dataclass(frozen=True)
class GlonetConfig:
    """Every hyperparameter of a GLONET depth-group network.

    Defaults are the published sizes. ``grid_shape`` is the (unpadded) grid the position
    embedding is built for; the network still runs on any other grid.

    Attributes:
        channels: Channels C per time step (5 surface, 40 intermediate/deep).
        grid_shape: ``(H, W)`` of the grid the model is built for.
        time_steps: Days T per input and output window.
        jump_hid_s, jump_hid_t, jump_n_s, jump_n_t: Widths and depths of the ``jump`` branch.
        hid_s, hid_t, n_s, n_t: Widths and depths of ``maps``/``dynamics``/``mapsback``.
        dynamics_blocks: Number of AFNO blocks in ``dynamics``.
        incep_kernels: Kernel sizes of the Inception branches.
        groups: Group count of the Inception grouped convolutions and their GroupNorm.
        norm_groups: GroupNorm groups of the encoder/decoder stages.
        patch_size: Patch size of ``space.NO`` (a multiple of 4).
        embed_dim: Token width of ``space.NO``.
        space_blocks: Number of AFNO blocks in ``space.NO``.
        num_heads: Heads of the (unused) attention modules.
        mlp_ratio: Hidden/width ratio of the block MLPs.
        afno_blocks: Diagonal blocks of every AFNO.
        num_interactions: Up/down interaction rounds of ``space``.
        lproj_mult: ``lproj`` widths as multiples of C (published: 16*C and 4*C).
        output_scale: Weight of the decoded branch (output = scale * decoded + jump).
        pad_mode: Padding used to reach :attr:`pad_multiple`.
        checkpoint_blocks: Recompute AFNO blocks and Inception stacks in backward.
    """

    channels: int
    grid_shape: tuple[int, int]
    time_steps: int = 2
    jump_hid_s: int = 16
    jump_hid_t: int = 256
    jump_n_s: int = 4
    jump_n_t: int = 8
    hid_s: int = 256
    hid_t: int = 128
    n_s: int = 2
    n_t: int = 8
    dynamics_blocks: int = 12
    incep_kernels: tuple[int, ...] = (3, 5, 7, 11)
    groups: int = 8
    norm_groups: int = 2
    patch_size: int = 16
    embed_dim: int = 768
    space_blocks: int = 12
    num_heads: int = 4
    mlp_ratio: int = 4
    afno_blocks: int = 2
    num_interactions: int = 3
    lproj_mult: tuple[int, int] = (16, 4)
    output_scale: float = 0.05
    pad_mode: PadMode = "replicate"
    checkpoint_blocks: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        grid = tuple(self.grid_shape)
        if len(grid) != 2:
            raise ValueError(f"GlonetConfig.grid_shape must be (H, W), got {self.grid_shape!r}")
        object.__setattr__(self, "grid_shape", (int(grid[0]), int(grid[1])))
        object.__setattr__(self, "incep_kernels", tuple(int(k) for k in self.incep_kernels))
        object.__setattr__(self, "lproj_mult", tuple(int(m) for m in self.lproj_mult))
        h, w = self.grid_shape
        _positive("grid_shape[0] (H)", h)
        _positive("grid_shape[1] (W)", w)
        for name in (
            "channels", "time_steps", "jump_hid_s", "jump_hid_t", "jump_n_s", "jump_n_t",
            "hid_s", "hid_t", "n_s", "n_t", "dynamics_blocks", "groups", "norm_groups",
            "patch_size", "embed_dim", "space_blocks", "num_heads", "mlp_ratio", "afno_blocks",
        ):  # fmt: skip
            _positive(name, getattr(self, name))
        if self.num_interactions < 0:
            raise ValueError(
                f"GlonetConfig.num_interactions must be >= 0, got {self.num_interactions}"
            )
        if not self.incep_kernels or any(k <= 0 or k % 2 == 0 for k in self.incep_kernels):
            raise ValueError(
                f"GlonetConfig.incep_kernels must be odd positive sizes, got {self.incep_kernels}"
            )
        if len(self.lproj_mult) != 2 or min(self.lproj_mult) <= 0:
            raise ValueError(
                f"GlonetConfig.lproj_mult must be 2 positive ints, got {self.lproj_mult}"
            )
        if self.jump_n_s < 2 or self.n_s < 2:
            raise ValueError("GlonetConfig.jump_n_s and n_s must be >= 2 (one stride-2 stage)")
        _divisible("patch_size", self.patch_size, 4, "4 (lproj upsamples by 2, 2, patch/4)")
        for name in ("jump_hid_s", "hid_s"):
            _divisible(name, getattr(self, name), self.norm_groups, "norm_groups")
        for name in ("jump_hid_t", "hid_t"):
            value = getattr(self, name)
            _divisible(name, value, 2 * self.groups, "2*groups (Inception hidden = width/2)")
        _divisible(
            "time_steps*jump_hid_s", self.time_steps * self.jump_hid_s, self.groups, "groups"
        )
        _divisible("time_steps*hid_s", self.time_steps * self.hid_s, self.groups, "groups")
        _divisible("embed_dim", self.embed_dim, self.afno_blocks, "afno_blocks")
        _divisible("embed_dim", self.embed_dim, self.num_heads, "num_heads")
        _divisible("hid_t", self.hid_t, self.afno_blocks, "afno_blocks")
        if self.output_scale <= 0 or not math.isfinite(self.output_scale):
            raise ValueError(f"GlonetConfig.output_scale must be > 0, got {self.output_scale}")
        if self.pad_mode not in ("replicate", "reflect"):
            raise ValueError(
                f"GlonetConfig.pad_mode must be 'replicate' or 'reflect', got {self.pad_mode!r}"
            )

    @property
    def pad_multiple(self) -> int:
        """H and W are padded to a multiple of this (patch size and encoder halvings)."""
        halvings = max(self.jump_n_s // 2, self.n_s // 2)
        return math.lcm(self.patch_size, 2**halvings)

    @property
    def padded_grid_shape(self) -> tuple[int, int]:
        """``grid_shape`` rounded up to :attr:`pad_multiple`."""
        return padded_shape(self.grid_shape, self.pad_multiple)

    @property
    def pos_hw(self) -> tuple[int, int]:
        """Patch grid of the position embedding."""
        ph, pw = self.padded_grid_shape
        return ph // self.patch_size, pw // self.patch_size

    def to_dict(self) -> dict[str, Any]:
        """Primitive dict (lists for tuples), safe for ``torch.load(weights_only=True)``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GlonetConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown GlonetConfig keys: {unknown}; valid keys: {sorted(names)}")
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**kwargs)

    def replace(self, **changes: Any) -> GlonetConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def padded_shape(shape: tuple[int, int], multiple: int) -> tuple[int, int]:
    """Round ``(H, W)`` up to multiples of ``multiple``."""
    return (-(-shape[0] // multiple) * multiple, -(-shape[1] // multiple) * multiple)


TINY_OVERRIDES: dict[str, Any] = {
    "jump_hid_s": 8,
    "jump_hid_t": 32,
    "jump_n_t": 2,
    "hid_s": 16,
    "hid_t": 16,
    "n_t": 2,
    "dynamics_blocks": 2,
    "incep_kernels": (3, 5),
    "patch_size": 8,
    "embed_dim": 32,
    "space_blocks": 2,
    "num_interactions": 1,
    "lproj_mult": (2, 1),
}
"""Overrides of the published sizes for the ``tiny`` preset (tests and CPU demos)."""


class Glonet(nn.Module):
    """One GLONET depth-group network.

    Args:
        config: The hyperparameters.

    Shapes:
        input ``(B, T, C, H, W)``, output the same, with any H, W.
    """

    def __init__(self, config: GlonetConfig) -> None:
        super().__init__()
        self.config = config
        c, t = config.channels, config.time_steps
        kernels, groups = config.incep_kernels, config.groups
        self.jump = JumpBranch(
            c, t, config.jump_hid_s, config.jump_hid_t, config.jump_n_s, config.jump_n_t,
            kernels, groups, config.norm_groups,
        )  # fmt: skip
        no = GFBlock(
            channels=c,
            embed_dim=config.embed_dim,
            patch_size=config.patch_size,
            depth=config.space_blocks,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
            afno_blocks=config.afno_blocks,
            lproj_channels=(config.lproj_mult[0] * c, config.lproj_mult[1] * c),
            pos_hw=config.pos_hw,
        )
        self.space = FoTF(c, config.num_interactions, no)
        self.maps = Encoder(c, config.hid_s, config.n_s, config.norm_groups)
        self.dynamics = TeDev(
            t * config.hid_s, config.hid_t, config.n_t, config.dynamics_blocks, kernels, groups,
            config.mlp_ratio, config.afno_blocks,
        )  # fmt: skip
        self.mapsback = Decoder(config.hid_s, c, config.n_s, config.norm_groups)
        self.set_checkpoint_blocks(config.checkpoint_blocks)

    def set_checkpoint_blocks(self, enabled: bool) -> None:
        """Turn activation checkpointing of AFNO blocks and Inception stacks on or off."""
        self.space.NO.use_checkpoint = enabled
        self.dynamics.use_checkpoint = enabled
        self.jump.mmb.use_checkpoint = enabled
        self.config = self.config.replace(checkpoint_blocks=enabled)

    def unused_parameter_names(self) -> list[str]:
        """Parameters kept only so the published weights load: ``attn`` and ``mlp.fc2``.

        They never receive gradients; freeze them or use ``find_unused_parameters`` in DDP.
        """
        return [
            name
            for name, _ in self.named_parameters()
            if ".attn.multihead_attn." in name or ".mlp.fc2." in name
        ]

    def resize_grid(self, grid_shape: tuple[int, int]) -> None:
        """Rebuild the position embedding for another grid (interpolated), updating the config.

        Use this before fine-tuning on a new grid so the embedding is trained at its size.
        """
        config = self.config.replace(grid_shape=tuple(grid_shape))
        self.space.NO.set_pos_hw(config.pos_hw)
        self.config = config

    def forward(self, x: Tensor) -> Tensor:
        """Predict the next ``T`` days from the previous ``T`` days.

        Args:
            x: ``(B, T, C, H, W)`` normalised input, land already 0.

        Returns:
            ``(B, T, C, H, W)`` prediction.
        """
        if x.ndim != 5:
            raise ValueError(f"Glonet expects (B, T, C, H, W), got shape {tuple(x.shape)}")
        b, t, c, h, w = x.shape
        cfg = self.config
        if t != cfg.time_steps or c != cfg.channels:
            raise ValueError(
                f"Glonet built for T={cfg.time_steps}, C={cfg.channels} got T={t}, C={c} "
                f"(input shape {tuple(x.shape)})"
            )
        hp, wp = padded_shape((h, w), cfg.pad_multiple)
        top, left = (hp - h) // 2, (wp - w) // 2
        if (hp, wp) != (h, w):
            pad = (left, wp - w - left, top, hp - h - top)
            x = F.pad(x.reshape(b * t, c, h, w), pad, mode=cfg.pad_mode).reshape(b, t, c, hp, wp)
        r = self.jump(x)
        s = self.space(x)
        latent, skip = self.maps(s.reshape(b * t, c, hp, wp))
        _, hid, hl, wl = latent.shape
        z = self.dynamics(latent.reshape(b, t, hid, hl, wl))
        y = self.mapsback(z.reshape(b * t, hid, hl, wl), skip)
        out: Tensor = cfg.output_scale * y.reshape(b, t, c, hp, wp) + r
        if (hp, wp) != (h, w):
            out = out[..., top : top + h, left : left + w]
        return out


def build_glonet(
    channels: int,
    size: Literal["full", "tiny"],
    grid_shape: tuple[int, int],
    *,
    checkpoint_blocks: bool = False,
    **overrides: Any,
) -> Glonet:
    """Build a GLONET depth-group network.

    Args:
        channels: 5 for the surface group, 40 for intermediate and deep.
        size: ``"full"`` (published sizes, ~133 M parameters for C=5) or ``"tiny"`` (same tree,
            small widths and depths, for tests and CPU demos).
        grid_shape: ``(H, W)`` the position embedding is built for.
        checkpoint_blocks: Activation checkpointing of AFNO blocks and Inception stacks.
        **overrides: Any other :class:`GlonetConfig` field.

    Returns:
        The network, on the current default device (use ``with torch.device("meta")`` to build
        it without allocating memory).
    """
    if size == "full":
        base: dict[str, Any] = {}
    elif size == "tiny":
        base = dict(TINY_OVERRIDES)
    else:
        raise ValueError(f"size must be 'full' or 'tiny', got {size!r}")
    base.update(overrides)
    config = GlonetConfig(
        channels=channels,
        grid_shape=tuple(grid_shape),  # type: ignore[arg-type]
        checkpoint_blocks=checkpoint_blocks,
        **base,
    )
    return Glonet(config)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters of ``module`` (works on the meta device)."""
    return sum(p.numel() for p in module.parameters())
