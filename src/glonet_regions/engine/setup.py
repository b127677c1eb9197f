"""Building what a group's training needs: its data view and its initialised network."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from glonet_regions.core.errors import CheckpointError, CheckpointIncompatibleError, ConfigError
from glonet_regions.core.region import Region
from glonet_regions.engine.config import FinetuneConfig
from glonet_regions.engine.distributed import DistContext
from glonet_regions.engine.freeze import freeze_prefixes
from glonet_regions.engine.lora import apply_lora
from glonet_regions.engine.trainer import GroupData

__all__ = ["build_group_model", "init_network", "make_loader_fn", "store_group_data"]


def store_group_data(store: Path, group: str, cfg: FinetuneConfig, region: Region) -> GroupData:
    """A :class:`GroupData` over a prepared store (train and validation splits)."""
    from glonet_regions.data.loader import GlonetStoreDataset
    from glonet_regions.data.store import StoreReader

    reader = StoreReader(store)
    info = reader.group_info(group)
    stats = reader.stats(group)
    with_b = reader.has_boundary
    train = GlonetStoreDataset(
        store, group, "train", n_input=2, n_target=2 * cfg.max_calls, with_boundary=with_b
    )
    val = GlonetStoreDataset(
        store,
        group,
        "validation",
        n_input=2,
        n_target=2 * cfg.validation_calls,
        with_boundary=with_b,
    )
    std = np.asarray(stats.std, dtype=np.float64)
    diff_std = np.asarray(stats.diff_std, dtype=np.float64)
    scale = np.clip(np.where(np.isfinite(diff_std), diff_std, std) / std, 1e-4, 1.0)
    return GroupData(
        name=group,
        channels=[(str(v), None if li is None else int(li)) for v, li in info["channel_variables"]],
        mean=np.asarray(stats.mean, dtype=np.float64),
        std=std,
        ocean_mask=reader.channel_mask(group),
        area_weights=reader.grid.area_weights(),
        train=train,
        val=val,
        depths_m=list(region.depth.levels.values),
        tendency_scale=scale,
    )


def make_loader_fn(cfg: FinetuneConfig, ctx: DistContext) -> Callable[..., Iterable[Any]]:
    """``loader_fn(dataset, *, shuffle, epoch)`` over ``make_loader``.

    The order of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees the batches
    the uninterrupted run would have seen.
    """
    from glonet_regions.data.loader import make_loader

    def loader_fn(dataset: Any, *, shuffle: bool, epoch: int) -> Iterable[Any]:
        return make_loader(
            dataset,
            batch_size=cfg.batch_size,
            shuffle=shuffle,
            seed=cfg.seed,
            num_workers=cfg.num_workers,
            pin_memory=ctx.device.type == "cuda",
            drop_last=shuffle,
            rank=ctx.rank,
            world_size=ctx.world_size,
            epoch=epoch,
        )

    return loader_fn


def _zero_readouts(net: nn.Module) -> None:
    """Zero the 1x1 readouts so a residual forecaster starts as persistence."""
    for name in ("jump.mapsback.readout", "mapsback.readout"):
        try:
            layer = net.get_submodule(name)
        except AttributeError:
            continue
        with torch.no_grad():
            for p in layer.parameters():
                p.zero_()


def init_network(
    cfg: FinetuneConfig, data: GroupData, *, seed: int, log: Callable[[str], None]
) -> tuple[nn.Module, np.ndarray | None]:
    """The group's :class:`Glonet` initialised per ``cfg.init``, and its residual scale.

    Returns:
        ``(net, residual_scale)``; ``residual_scale`` is None for networks that predict
        states (published or imported weights), the per-channel tendency scale otherwise.

    Raises:
        AssetError: ``published`` weights cannot be fetched (offline).
        CheckpointError: ``checkpoint:PATH`` cannot be used.
    """
    from glonet_regions.model.network import build_glonet

    torch.manual_seed(seed)
    c = len(data.channels)
    size = cfg.model_size or "full"
    net = build_glonet(c, size, data.grid_shape, checkpoint_blocks=cfg.grad_checkpointing)
    init = cfg.init or "published"
    residual: np.ndarray | None = None
    if init == "random":
        residual = data.tendency_scale
        _zero_readouts(net)
    elif init == "published":
        from glonet_regions.model.published import fetch_published_weights
        from glonet_regions.model.weights import import_torchscript

        path = fetch_published_weights(data.name)
        report = import_torchscript(net, path, strict=True)
        log(
            f"[{data.name}] imported {path}: {len(report.matched)} tensors, "
            f"{len(report.resized)} resized"
        )
    else:
        residual = _init_from_checkpoint(net, init.removeprefix("checkpoint:"), data.name, log)
    return net, residual


def _init_from_checkpoint(
    net: nn.Module, path: str, group: str, log: Callable[[str], None]
) -> np.ndarray | None:
    from glonet_regions.model.bundle import load_bundle
    from glonet_regions.model.checkpoint import load_checkpoint
    from glonet_regions.model.weights import import_state_dict

    try:
        bundle = load_bundle(path)
    except CheckpointIncompatibleError:
        bundle = None
    if bundle is not None:
        state = bundle.group(group)
        # The bundle may come from another region (e.g. glo4 initialising ibi36): its position
        # embedding is resized from the patch grid it was trained on (not guessed).
        src_cfg = state.glonet_config
        src_hw = src_cfg.pos_hw
        report = import_state_dict(
            net,
            state.state_dict,
            strict=True,
            source=path,
            source_grid=(src_hw[0] * src_cfg.patch_size, src_hw[1] * src_cfg.patch_size),
        )
        resized = f", {len(report.resized)} resized" if report.resized else ""
        log(
            f"[{group}] initialised from bundle {path} of region {bundle.region_name} "
            f"({len(report.matched)} tensors{resized})"
        )
        return state.residual_scale
    ckpt = load_checkpoint(path)
    report = import_state_dict(net, ckpt.model_state, strict=True, source=path)
    log(f"[{group}] initialised from checkpoint {path} ({len(report.matched)} tensors)")
    return None


def build_group_model(
    cfg: FinetuneConfig,
    data: GroupData,
    ctx: DistContext,
    *,
    seed: int,
    log: Callable[[str], None],
) -> tuple[nn.Module, np.ndarray | None, dict[str, Any]]:
    """Initialised network, wrapped for residual mode, frozen and adapted, on the device.

    Returns:
        ``(module, residual_scale, info)`` where ``info`` lists frozen and adapted layers.
    """
    from glonet_regions.model.bundle import ResidualForecaster

    try:
        net, residual = init_network(cfg, data, seed=seed, log=log)
    except ValueError as exc:
        if isinstance(exc, CheckpointError | ConfigError):
            raise
        raise ConfigError(f"cannot build the {data.name} model: {exc}") from exc
    frozen = freeze_prefixes(net, cfg.freeze) if cfg.freeze else []
    adapted: list[str] = []
    if cfg.lora.rank > 0:
        adapted = apply_lora(
            net, rank=cfg.lora.rank, alpha=cfg.lora.alpha, targets=cfg.lora.targets
        )
    module: nn.Module = net if residual is None else ResidualForecaster(net, residual)
    info: Mapping[str, Any] = {"frozen": frozen, "lora": adapted}
    return module.to(ctx.device), residual, dict(info)
