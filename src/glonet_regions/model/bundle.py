"""The forecaster bundle: one checkpoint file holding every trained depth group of a region.

A bundle is a :func:`~glonet_regions.model.checkpoint.save_checkpoint` file (atomic,
``torch.load(weights_only=True)``-safe). Its ``model_state`` is flat, keyed
``"{group}/{parameter}"``; ``extra`` holds::

    {
        "kind": "glonet-regions-bundle", "bundle_version": 1,
        "region": str, "grid": Grid.to_dict(),
        "groups": {group: {"config": GlonetConfig.to_dict(),
                           "channels": [[var, level_index or None], ...],
                           "mean": tensor (C,), "std": tensor (C,),
                           "ocean_mask": bool tensor (C, H, W)}},
        "boundary": {"provider", "width", "edges"},
        "train_config": {...}, "resume": {...} | None, "user": {...},
    }

Evaluation needs only :func:`load_bundle` and :meth:`Bundle.build_model`. Optimiser,
scheduler and RNG states ride in the checkpoint's own slots, for resuming a training run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from glonet_regions.core.errors import CheckpointError, CheckpointIncompatibleError
from glonet_regions.core.grid import Grid
from glonet_regions.model.checkpoint import load_checkpoint, save_checkpoint
from glonet_regions.model.network import Glonet, GlonetConfig

__all__ = [
    "BUNDLE_KIND",
    "BUNDLE_VERSION",
    "Bundle",
    "GroupState",
    "ResidualForecaster",
    "load_bundle",
    "save_bundle",
]

BUNDLE_KIND = "glonet-regions-bundle"
BUNDLE_VERSION = 1


@dataclass
class GroupState:
    """Everything needed to run one depth-group network.

    Attributes:
        config: :meth:`GlonetConfig.to_dict` of the network.
        state_dict: Plain :class:`Glonet` weights (LoRA adapters merged).
        channels: ``(variable, level index or None)`` per channel, in channel order.
        mean: Normalisation mean per channel, ``(C,)``.
        std: Normalisation standard deviation per channel, ``(C,)``.
        ocean_mask: Boolean ``(C, H, W)`` ocean mask on the bundle's grid.
        residual_scale: ``(C,)`` when the network predicts scaled tendencies (see
            :class:`ResidualForecaster`); None when it predicts states (published GLONET).
    """

    config: dict[str, Any]
    state_dict: Mapping[str, Tensor]
    channels: list[tuple[str, int | None]]
    mean: np.ndarray
    std: np.ndarray
    ocean_mask: np.ndarray
    residual_scale: np.ndarray | None = None

    @property
    def glonet_config(self) -> GlonetConfig:
        return GlonetConfig.from_dict(dict(self.config))


class ResidualForecaster(nn.Module):
    """Persistence plus a scaled network update: ``out[:, t] = x[:, -1] + scale * net(x)[:, t]``.

    Used when a network is trained from scratch on a region: with the network's readouts
    zero-initialised it starts as persistence, and ``scale`` (per channel, the typical
    day-to-day change in normalised units) puts every channel's update on the same footing.
    Input and output are ``(B, T, C, H, W)`` in normalised space, like :class:`Glonet`.

    Args:
        net: The :class:`Glonet`.
        scale: ``(C,)`` per-channel scale.
    """

    def __init__(self, net: nn.Module, scale: np.ndarray | Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer(
            "scale", torch.as_tensor(np.asarray(scale), dtype=torch.float32).reshape(1, 1, -1, 1, 1)
        )

    @property
    def config(self) -> GlonetConfig:
        config: GlonetConfig = getattr(self.net, "config")  # noqa: B009
        return config

    def forward(self, x: Tensor) -> Tensor:
        update = self.net(x)
        out: Tensor = x[:, -1:] + self.scale.to(update.dtype) * update
        return out


@dataclass
class Bundle:
    """A loaded forecaster bundle.

    Attributes:
        path: File it was read from.
        region_name: Region the groups were trained for.
        grid: The grid (unpadded) of the masks and of training.
        groups: Group name -> :class:`GroupState`.
        boundary: ``{"provider", "width", "edges"}``.
        config: The training configuration (a plain dict).
        resume: Training-loop state for ``--resume`` (None in a finished bundle).
        optimizer_state, scheduler_state, rng_state: Resume states, if stored.
        extra: Free metadata.
    """

    path: Path
    region_name: str
    grid: Grid
    groups: dict[str, GroupState]
    boundary: dict[str, Any]
    config: dict[str, Any]
    resume: dict[str, Any] | None = None
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    rng_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _sha256: str | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        """SHA-256 of the file (provenance)."""
        if self._sha256 is None:
            h = hashlib.sha256()
            with open(self.path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            self._sha256 = h.hexdigest()
        return self._sha256

    def group(self, name: str) -> GroupState:
        if name not in self.groups:
            raise CheckpointIncompatibleError(
                f"{self.path} holds no depth group {name!r}; it has {sorted(self.groups)}"
            )
        return self.groups[name]

    def build_model(self, group: str, device: str | torch.device = "cpu") -> nn.Module:
        """The group's forecaster with weights loaded, in eval mode, on ``device``.

        A :class:`Glonet`, or a :class:`ResidualForecaster` around one when the group was
        trained in residual mode; either maps normalised ``(B, 2, C, H, W)`` to the next 2 days.
        """
        state = self.group(group)
        try:
            model = Glonet(state.glonet_config)
            missing, unexpected = model.load_state_dict(dict(state.state_dict), strict=False)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointIncompatibleError(
                f"{self.path}: group {group!r} weights do not fit its config: {exc}"
            ) from exc
        if missing or unexpected:
            raise CheckpointIncompatibleError(
                f"{self.path}: group {group!r} weights do not fit its config: missing "
                f"{missing[:5]}, unexpected {unexpected[:5]}"
            )
        out: nn.Module = model
        if state.residual_scale is not None:
            out = ResidualForecaster(model, state.residual_scale)
        return out.to(device).eval()


def _group_extra(state: GroupState) -> dict[str, Any]:
    mask = np.asarray(state.ocean_mask, dtype=bool)
    mean = np.asarray(state.mean, dtype=np.float64).reshape(-1)
    std = np.asarray(state.std, dtype=np.float64).reshape(-1)
    n = len(state.channels)
    if mean.size != n or std.size != n or mask.ndim != 3 or mask.shape[0] != n:
        raise CheckpointIncompatibleError(
            f"group state has {n} channels but mean {mean.shape}, std {std.shape}, "
            f"ocean_mask {mask.shape} (expected (C,), (C,), (C, H, W))"
        )
    return {
        "config": dict(state.config),
        "channels": [[str(v), None if li is None else int(li)] for v, li in state.channels],
        "mean": mean,
        "std": std,
        "ocean_mask": mask,
        "residual_scale": None
        if state.residual_scale is None
        else np.asarray(state.residual_scale, dtype=np.float64).reshape(-1),
    }


def save_bundle(
    path: str | Path,
    *,
    region_name: str,
    grid: Grid,
    groups: Mapping[str, GroupState],
    boundary: Mapping[str, Any],
    train_config: Mapping[str, Any],
    optimizer_state: Mapping[str, Any] | None = None,
    scheduler_state: Mapping[str, Any] | None = None,
    rng_state: Mapping[str, Any] | None = None,
    resume: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a bundle atomically (see the module docstring for the layout).

    Raises:
        CheckpointIncompatibleError: A group's metadata is inconsistent.
        CheckpointError: A value cannot be stored in ``weights_only`` form.
    """
    model_state: dict[str, Tensor] = {}
    groups_extra: dict[str, Any] = {}
    for name, state in groups.items():
        if "/" in name:
            raise CheckpointIncompatibleError(f"depth group name {name!r} must not contain '/'")
        groups_extra[name] = _group_extra(state)
        for key, value in state.state_dict.items():
            model_state[f"{name}/{key}"] = value.detach().cpu()
    payload_extra = {
        "kind": BUNDLE_KIND,
        "bundle_version": BUNDLE_VERSION,
        "region": region_name,
        "grid": grid.to_dict(),
        "groups": groups_extra,
        "boundary": dict(boundary),
        "train_config": dict(train_config),
        "resume": None if resume is None else dict(resume),
        "user": dict(extra or {}),
    }
    return save_checkpoint(
        path,
        model_state=model_state,
        optimizer_state=optimizer_state,
        scheduler_state=scheduler_state,
        rng_state=rng_state,
        extra=payload_extra,
    )


def _np(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.cpu().numpy()
    return np.asarray(value)


def _check_finite(path: str | Path, groups: Mapping[str, GroupState]) -> None:
    """Refuse weights holding NaN or infinity (they would forecast NaN everywhere)."""
    for name, state in groups.items():
        bad = [
            key
            for key, t in state.state_dict.items()
            if torch.is_floating_point(t) and not bool(torch.isfinite(t).all())
        ]
        if bad:
            raise CheckpointError(
                f"{path}: group {name!r} has NaN or infinite weights in {len(bad)} of "
                f"{len(state.state_dict)} tensors (first: {bad[0]}); the training diverged or "
                "the file is damaged: use an earlier checkpoint"
            )


def load_bundle(path: str | Path, *, map_location: str | torch.device = "cpu") -> Bundle:
    """Read a bundle written by :func:`save_bundle`.

    Raises:
        CheckpointNotFoundError: Missing file.
        CheckpointError: Corrupt or unsafe file, or weights holding NaN or infinity.
        CheckpointIncompatibleError: Not a bundle, or a newer bundle version.
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    extra = ckpt.extra
    if extra.get("kind") != BUNDLE_KIND:
        raise CheckpointIncompatibleError(
            f"{path} is a glonet-regions checkpoint but not a forecaster bundle "
            f"(extra['kind'] = {extra.get('kind')!r}, expected {BUNDLE_KIND!r})"
        )
    version = extra.get("bundle_version")
    if not isinstance(version, int) or not 1 <= version <= BUNDLE_VERSION:
        raise CheckpointIncompatibleError(
            f"{path} has bundle version {version!r}; this glonet-regions reads 1..{BUNDLE_VERSION}"
        )
    groups: dict[str, GroupState] = {}
    for name, g in dict(extra.get("groups") or {}).items():
        prefix = f"{name}/"
        state = {k[len(prefix) :]: v for k, v in ckpt.model_state.items() if k.startswith(prefix)}
        groups[name] = GroupState(
            config=dict(g["config"]),
            state_dict=state,
            channels=[(str(v), None if li is None else int(li)) for v, li in g["channels"]],
            mean=_np(g["mean"]),
            std=_np(g["std"]),
            ocean_mask=_np(g["ocean_mask"]).astype(bool),
            residual_scale=None if g.get("residual_scale") is None else _np(g["residual_scale"]),
        )
    _check_finite(path, groups)
    grid_dict = dict(extra["grid"])
    grid = Grid.from_dict({k: _np(v) if isinstance(v, Tensor) else v for k, v in grid_dict.items()})
    return Bundle(
        path=Path(path),
        region_name=str(extra.get("region")),
        grid=grid,
        groups=groups,
        boundary=dict(extra.get("boundary") or {}),
        config=dict(extra.get("train_config") or {}),
        resume=extra.get("resume"),
        optimizer_state=ckpt.optimizer_state,
        scheduler_state=ckpt.scheduler_state,
        rng_state=ckpt.rng_state,
        extra=dict(extra.get("user") or {}),
    )
