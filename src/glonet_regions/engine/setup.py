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
    channels = [(str(v), None if li is None else int(li)) for v, li in info["channel_variables"]]
    mean = np.asarray(stats.mean, dtype=np.float64)
    std = np.asarray(stats.std, dtype=np.float64)
    diff_std = np.asarray(stats.diff_std, dtype=np.float64)
    scale = np.clip(np.where(np.isfinite(diff_std), diff_std, std) / std, 1e-4, 1.0)
    normalisation: dict[str, Any] = {"kind": "region"}
    if cfg.normalisation == "published":
        pub = published_group_stats(cfg, group)
        from glonet_regions.model.published import published_stats_for_channels

        mean, pub_std = published_stats_for_channels(pub, _glonet_channels(channels, region))
        scale = np.clip(np.where(np.isfinite(diff_std), diff_std, std) / pub_std, 1e-4, 1.0)
        std = pub_std
        for ds in (train, val):
            ds.set_normalisation(mean, std)
        normalisation = {
            "kind": "published",
            "pairing": pub.pairing,
            "folder": pub.folder,
            "sources": list(pub.sources),
        }
    return GroupData(
        name=group,
        channels=channels,
        mean=mean,
        std=std,
        ocean_mask=reader.channel_mask(group),
        area_weights=reader.grid.area_weights(),
        train=train,
        val=val,
        depths_m=list(region.depth.levels.values),
        tendency_scale=scale,
        grid=reader.grid,
        normalisation=normalisation,
    )


def _glonet_channels(
    channels: list[tuple[str, int | None]], region: Region
) -> list[tuple[str, int | None]]:
    """The store's channels with their level as an index into GLONET's 21 levels.

    Raises:
        ConfigError: A level is not one of GLONET's (its statistics do not exist).
    """
    from glonet_regions.core.depth import GLONET_LEVELS
    from glonet_regions.core.errors import ValidationError

    out: list[tuple[str, int | None]] = []
    for var, li in channels:
        if li is None:
            out.append((var, None))
            continue
        depth = region.depth.levels[li]
        try:
            out.append((var, GLONET_LEVELS.index_of(depth)))
        except ValidationError:
            raise ConfigError(
                f"{var} at {depth} m is not one of GLONET's levels, so GLONET's statistics "
                "cannot normalise it; use normalisation: region"
            ) from None
    return out


def published_group_stats(cfg: FinetuneConfig, group: str) -> Any:
    """GLONET's released statistics of ``group``: from ``weights_dir`` or the asset cache.

    Raises:
        AssetError: A file is missing (named), or the cache is empty and offline.
    """
    from glonet_regions.model.published import fetch_published_stats, load_published_stats

    if cfg.weights_dir is not None:
        folder = Path(cfg.weights_dir)
    else:
        folder = fetch_published_stats(group, trust_weights=cfg.trust_weights)
    return load_published_stats(folder, group, cfg.stats_pairing)


def published_weights_file(cfg: FinetuneConfig, group: str) -> Path:
    """The published TorchScript file of ``group``: in ``weights_dir`` or the asset cache."""
    from glonet_regions.core.errors import AssetError
    from glonet_regions.model.published import PUBLISHED_WEIGHTS, fetch_published_weights

    if cfg.weights_dir is None:
        return fetch_published_weights(group, trust_weights=cfg.trust_weights)
    if group not in PUBLISHED_WEIGHTS:
        raise ConfigError(f"depth group {group!r} has no published weights")
    path = Path(cfg.weights_dir) / PUBLISHED_WEIGHTS[group]
    if not path.is_file():
        raise AssetError(
            f"weights_dir {cfg.weights_dir} has no {path.name} (the published {group} network); "
            "run `glonet-regions model fetch --out DIR` or copy the release there"
        )
    return path


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
        from glonet_regions.model.weights import import_torchscript

        path = published_weights_file(cfg, data.name)
        report = import_torchscript(
            net,
            path,
            strict=True,
            target_geometry=_patch_geometry(net, data),
            trust_weights=cfg.trust_weights,
        )
        log(
            f"[{data.name}] imported {path}: {len(report.matched)} tensors, "
            f"{len(report.resized)} resized" + "".join(f"; {n}" for n in report.notes)
        )
        norm = dict(data.normalisation or {"kind": "region"})
        log(
            f"[{data.name}] normalisation: {norm.get('kind')}"
            + (
                f" (GLONET's statistics, pairing {norm.get('pairing')})"
                if "pairing" in norm
                else ""
            )
        )
    else:
        residual = _init_from_checkpoint(net, init.removeprefix("checkpoint:"), data.name, log)
    return net, residual


def _patch_geometry(net: nn.Module, data: GroupData) -> Any:
    """Where ``net``'s patches are on the globe (None without a store grid)."""
    if data.grid is None:
        return None
    from glonet_regions.model.geo_embed import patch_geometry

    cfg = getattr(net, "config", None)
    if cfg is None:
        return None
    return patch_geometry(data.grid.lat, data.grid.lon, cfg.padded_grid_shape, cfg.patch_size)


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
