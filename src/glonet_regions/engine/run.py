"""A whole fine-tuning run: every depth group, checkpoints, resume and the final scores.

Files under ``RUN_DIR``::

    config.yaml              the resolved configuration
    checkpoints/last.pt      bundle + resume state, written at the end of every epoch
    checkpoints/best.pt      bundle of the best weights by validation loss (per group)
    logs/train.csv, logs/val.csv, tensorboard/
    metrics.json             validation RMSE of the model and persistence (see metrics.py)

The checkpoints of an epoch form one unit: a new best is first written as
``checkpoints/best.next.pt``, then ``last.pt`` is replaced by one atomic rename (the commit; its
resume state names the set), then ``best.next.pt`` is renamed to ``best.pt``. ``--resume``
finishes an interrupted set (renames ``best.next.pt`` when ``last.pt`` names it) or drops a
set that was never committed, so a kill at any moment resumes exactly the run that a
run without the kill would have made.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from glonet_regions.core.errors import ConfigError, GlonetRegionsError, StoreError
from glonet_regions.engine.config import FinetuneConfig, save_config
from glonet_regions.engine.distributed import (
    DistContext,
    setup_distributed,
    teardown_distributed,
)
from glonet_regions.engine.freeze import unused_parameter_names
from glonet_regions.engine.logging import RunLogger
from glonet_regions.engine.metrics import CONVENTION, records
from glonet_regions.engine.trainer import GroupData, GroupTrainer, LoaderFn
from glonet_regions.model.checkpoint import fsync_dir

__all__ = ["CRASH_POINTS", "FinetuneResult", "run_finetune", "train_groups"]

GroupDataFn = Callable[[str], GroupData]

CRASH_POINTS = ("best-written", "last-written", "best-renamed")
"""The write boundaries of a checkpoint set, where tests inject a crash (see _crash_hook)."""

_crash_hook: Callable[[str], None] | None = None
"""Tests set this to a function that raises at a named point of :data:`CRASH_POINTS`."""

_PENDING_BEST = "best.next.pt"


def _crash_point(name: str) -> None:
    if _crash_hook is not None:
        _crash_hook(name)


def _logged_before(resume: dict[str, Any]) -> Callable[[dict[str, str]], bool]:
    """Which log rows the checkpoint resumed from had already seen (the others are replayed)."""
    done = {str(g) for g in resume.get("groups_done", [])}
    group = resume.get("group")
    step = int(dict(resume.get("loop") or {}).get("step", 0))

    def keep(row: dict[str, str]) -> bool:
        name = row.get("group")
        if name in done:
            return True
        try:
            return name == group and int(row.get("step") or 0) <= step
        except ValueError:
            return False

    return keep


def _write_checkpoint_set(
    ckpt_dir: Path,
    save_bundle: Callable[..., Path],
    set_id: str,
    last: dict[str, Any],
    best: dict[str, Any] | None,
) -> None:
    """Write last.pt (and best.pt) as one unit: best.next.pt, then last.pt (commit), rename."""
    pending = ckpt_dir / _PENDING_BEST
    if best is not None:
        fields = {k: v for k, v in best.items() if k != "extra"}
        user = {**dict(best.get("extra") or {}), "checkpoint_set": set_id}
        save_bundle(pending, extra=user, **fields)
        _crash_point("best-written")
    resume = {**dict(last["resume"]), "checkpoint_set": set_id}
    save_bundle(ckpt_dir / "last.pt", **{**last, "resume": resume})
    _crash_point("last-written")
    if best is not None:
        os.replace(pending, ckpt_dir / "best.pt")
        fsync_dir(ckpt_dir)
        _crash_point("best-renamed")


def _recover_checkpoint_set(ckpt_dir: Path, log: Callable[[str], None]) -> None:
    """Finish or drop a checkpoint set a crash left half-written (see the module docstring)."""
    from glonet_regions.model.bundle import load_bundle

    for tmp in ckpt_dir.glob(".*.tmp"):  # a write cut short: never renamed, never read
        tmp.unlink(missing_ok=True)
    pending = ckpt_dir / _PENDING_BEST
    if not pending.exists():
        return
    committed = (load_bundle(ckpt_dir / "last.pt").resume or {}).get("checkpoint_set")
    try:
        written = load_bundle(pending).extra.get("checkpoint_set")
    except GlonetRegionsError:
        written = None  # cut short: it was never committed
    if written is not None and written == committed:
        os.replace(pending, ckpt_dir / "best.pt")
        fsync_dir(ckpt_dir)
        log(f"completed the interrupted checkpoint write ({ckpt_dir / 'best.pt'})")
    else:
        pending.unlink()
        log(f"dropped {pending}: its epoch was not committed to last.pt")


@dataclass
class FinetuneResult:
    """What a run produced."""

    run_dir: Path
    finished: bool
    groups: list[str]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    final_weights: dict[str, dict[str, Tensor]] = field(default_factory=dict)

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.json"


def _write_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train_groups(
    cfg: FinetuneConfig,
    *,
    groups: list[str],
    group_data: GroupDataFn,
    provider: Any,
    ctx: DistContext,
    loader_fn: LoaderFn,
    region_name: str,
    grid: Any,
    log: Callable[[str], None],
) -> FinetuneResult:
    """Train the groups in order with checkpoints and exact resume; score them at the end.

    This is the store-independent core of :func:`run_finetune` (tests call it with in-memory
    datasets).
    """
    from glonet_regions.engine.setup import build_group_model
    from glonet_regions.model.bundle import GroupState, load_bundle, save_bundle
    from glonet_regions.model.checkpoint import capture_rng_state, restore_rng_state

    t0 = time.perf_counter()
    run_dir = Path(cfg.run_dir or ".")
    ckpt_dir = run_dir / "checkpoints"
    last_path, best_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
    logger = RunLogger(
        run_dir,
        enabled=ctx.is_main,
        tensorboard=cfg.tensorboard,
        progress=cfg.progress,
        append=cfg.resume,
    )
    done: dict[str, GroupState] = {}
    done_metrics: dict[str, list[dict[str, Any]]] = {}
    histories: dict[str, list[dict[str, Any]]] = {}
    resume: dict[str, Any] | None = None
    last_bundle = None
    if cfg.resume:
        if ctx.is_main:
            _recover_checkpoint_set(ckpt_dir, log)
        ctx.barrier()
        last_bundle = load_bundle(last_path)
        if last_bundle.region_name != region_name or last_bundle.grid != grid:
            raise ConfigError(
                f"--resume: {last_path} was trained for region {last_bundle.region_name!r} "
                f"on a {last_bundle.grid.shape} grid, not {region_name!r} on {grid.shape}"
            )
        resume = dict(last_bundle.resume or {})
        for name in resume.get("groups_done", []):
            done[name] = last_bundle.groups[name]
        done_metrics = {k: list(v) for k, v in dict(resume.get("done_metrics", {})).items()}
        histories = {k: list(v) for k, v in dict(resume.get("histories", {})).items()}
        logger.keep_rows(_logged_before(resume))
        log(f"resuming from {last_path} (groups done: {sorted(done) or 'none'})")
    epochs_run = 0
    interrupted = False
    # Every bundle of the run carries the same region, grid, boundary and config.
    save_run_bundle = functools.partial(
        save_bundle,
        region_name=region_name,
        grid=grid,
        boundary=provider.to_dict(),
        train_config=cfg.replace(stop_after_epochs=None).to_dict(),
    )

    def bundle_groups(current: tuple[str, GroupState] | None) -> dict[str, GroupState]:
        out = {g: done[g] for g in groups if g in done}
        if current is not None:
            out[current[0]] = current[1]
        return out

    try:
        for gi, group in enumerate(groups):
            if group in done:
                continue
            data = group_data(group)
            module, residual, info = build_group_model(
                cfg, data, ctx, seed=cfg.seed + 1000 * gi, log=log
            )
            if info["frozen"] or info["lora"]:
                dead = unused_parameter_names(module) or set()
                # Adapter names are relative to the network, dead names to the (wrapped) module.
                idle = [n for n in info["lora"] if any(f".{n}." in f".{d}" for d in dead)]
                log(
                    f"[{group}] frozen {len(info['frozen'])} tensors, LoRA on "
                    f"{len(info['lora'])} layers"
                    + (
                        f" ({len(idle)} of them on layers the published network never calls, "
                        "e.g. mlp.fc2: those adapters stay frozen and change nothing)"
                        if idle
                        else ""
                    )
                )
            trainer = GroupTrainer(
                module, cfg, data, provider, ctx, logger, loader_fn, residual=residual is not None
            )

            def state_of(
                weights: dict[str, Tensor],
                data: GroupData = data,
                trainer: GroupTrainer = trainer,
                residual: np.ndarray | None = residual,
            ) -> GroupState:
                return GroupState(
                    config=getattr(trainer.net, "config").to_dict(),  # noqa: B009
                    state_dict=weights,
                    channels=data.channels,
                    mean=data.mean,
                    std=data.std,
                    ocean_mask=np.asarray(data.ocean_mask, dtype=bool),
                    residual_scale=residual,
                )

            if resume is not None and resume.get("group") == group and last_bundle is not None:
                best_state = None
                if best_path.exists():
                    best_bundle = load_bundle(best_path)
                    if group in best_bundle.groups:
                        best_state = dict(best_bundle.groups[group].state_dict)
                adapter = resume.get("adapter_state")
                trainer.load_resume_state(
                    net_state=adapter
                    if adapter is not None
                    else dict(last_bundle.groups[group].state_dict),
                    optimizer=last_bundle.optimizer_state or {},
                    scheduler=last_bundle.scheduler_state or {},
                    loop=resume["loop"],
                    best_state=best_state,
                )
                if last_bundle.rng_state is not None:
                    restore_rng_state(last_bundle.rng_state)
                log(f"[{group}] resumed at epoch {trainer.state.epoch}, step {trainer.state.step}")

            def on_epoch_end(
                tr: GroupTrainer,
                is_best: bool,
                group: str = group,
                state_of: Callable[..., GroupState] = state_of,
            ) -> bool:
                nonlocal epochs_run
                ctx.barrier()
                if ctx.is_main:
                    rng = capture_rng_state()
                    resume_state = {
                        "group": group,
                        "groups_done": [g for g in groups if g in done],
                        "loop": tr.state.to_dict(),
                        "adapter_state": tr.adapter_state_dict(),
                        "done_metrics": done_metrics,
                        "histories": histories,
                        "data_order": {
                            "seed": cfg.seed,
                            "next_epoch": tr.state.epoch,
                            "start_step": 0,
                        },
                    }
                    rs = tr.resume_state()
                    _write_checkpoint_set(
                        ckpt_dir,
                        save_run_bundle,
                        f"{group}:{tr.state.epoch}",
                        last=dict(
                            groups=bundle_groups((group, state_of(tr.plain_state_dict()))),
                            optimizer_state=rs["optimizer"],
                            scheduler_state=rs["scheduler"],
                            rng_state=rng,
                            resume=resume_state,
                        ),
                        best=dict(
                            groups=bundle_groups((group, state_of(tr.best_state))),
                            extra={
                                "best_epoch": tr.state.best_epoch,
                                "best_val_loss": tr.state.best_val,
                            },
                        )
                        if is_best and tr.best_state is not None
                        else None,
                    )
                ctx.barrier()
                epochs_run += 1
                return cfg.stop_after_epochs is not None and epochs_run >= cfg.stop_after_epochs

            if not trainer.fit(on_epoch_end) and not trainer.state.finished:
                interrupted = True
                break
            # The group is finished: keep its best weights and score them.
            best = trainer.best_state or trainer.plain_state_dict()
            done[group] = state_of(best)
            histories[group] = trainer.state.history
            eval_model = _plain_model(done[group], ctx.device)
            _, acc = trainer.evaluate(eval_model)
            lead_days = list(range(1, 2 * cfg.validation_calls + 1))
            done_metrics[group] = records(
                group, data.channels, data.depths_m, acc.rmse(), lead_days
            )
            if interrupted or (
                cfg.stop_after_epochs is not None
                and epochs_run >= cfg.stop_after_epochs
                and gi < len(groups) - 1
            ):
                interrupted = True
                _write_group_boundary(
                    ctx,
                    last_path,
                    save_run_bundle,
                    bundle_groups(None),
                    groups,
                    done,
                    done_metrics,
                    histories,
                )
                break
    finally:
        logger.close()

    rows = [r for g in groups for r in done_metrics.get(g, [])]
    result = FinetuneResult(
        run_dir,
        not interrupted,
        list(groups),
        rows,
        time.perf_counter() - t0,
        {g: dict(s.state_dict) for g, s in done.items()},
    )
    if interrupted:
        log(f"stopped after {epochs_run} epoch(s); continue with --resume")
        return result
    if ctx.is_main:
        ctx_groups = bundle_groups(None)
        final_resume = {
            "finished": True,
            "groups_done": list(ctx_groups),
            "done_metrics": done_metrics,
            "histories": histories,
        }
        _write_checkpoint_set(
            ckpt_dir,
            save_run_bundle,
            "final",
            last=dict(
                groups=ctx_groups,
                resume=final_resume,
            ),
            best=dict(
                groups=ctx_groups,
                extra={"histories": histories},
            ),
        )
        _write_json(
            result.metrics_path,
            {
                "region": region_name,
                "groups": list(groups),
                "convention": CONVENTION,
                "units": "physical (as stored: m, degC, PSU, m/s)",
                "lead_days": list(range(1, 2 * cfg.validation_calls + 1)),
                "rows": rows,
                "history": histories,
                "checkpoint": str(best_path),
            },
        )
    ctx.barrier()
    return result


def _write_group_boundary(
    ctx: DistContext,
    last_path: Path,
    save_bundle: Any,
    groups_state: Any,
    groups: list[str],
    done: Any,
    done_metrics: Any,
    histories: Any,
) -> None:
    """A last.pt between two groups (no optimiser state: the next group starts fresh)."""
    from glonet_regions.model.checkpoint import capture_rng_state

    ctx.barrier()
    if ctx.is_main:
        save_bundle(
            last_path,
            groups=groups_state,
            rng_state=capture_rng_state(),
            resume={
                "group": None,
                "groups_done": [g for g in groups if g in done],
                "done_metrics": done_metrics,
                "histories": histories,
            },
        )
    ctx.barrier()


def _plain_model(state: Any, device: torch.device) -> torch.nn.Module:
    from glonet_regions.model.bundle import ResidualForecaster
    from glonet_regions.model.network import Glonet

    net = Glonet(state.glonet_config)
    net.load_state_dict(dict(state.state_dict))
    model: torch.nn.Module = net
    if state.residual_scale is not None:
        model = ResidualForecaster(net, state.residual_scale)
    return model.to(device).eval()


# -- the command's entry point --------------------------------------------------------------
def _ensure_store(cfg: FinetuneConfig, region: Any, log: Callable[[str], None]) -> Path:
    """The store path; with ``sample`` the sample is generated and prepared if missing."""
    from glonet_regions.data.store import is_store, read_attrs

    store = Path(cfg.store or "")
    if is_store(store) and read_attrs(store).get("complete", False):
        return store
    if not cfg.sample:
        raise StoreError(
            f"training store {store} does not exist or is incomplete; build it with "
            f"`glonet-regions data prepare` or pass --sample"
        )
    t0 = time.perf_counter()
    log(f"preparing the synthetic sample store at {store} ...")
    from glonet_regions.data.prepare import prepare_sample_store

    prepare_sample_store(region, store, command="glonet-regions finetune --sample", log=log)
    log(f"sample store ready in {time.perf_counter() - t0:.0f} s")
    return store


def _check_store_region(store: Path, region: str) -> None:
    """Refuse a store prepared for another region."""
    from glonet_regions.data.store import read_attrs

    theirs = read_attrs(store).get("region")
    if theirs is not None and theirs != region:
        raise StoreError(
            f"store {store} was prepared for region {theirs!r}, not {region!r}: train "
            f"{theirs} with it, or prepare a store for {region}"
        )


def _check_run_region(run_dir: Path, region: str) -> None:
    """Refuse to resume a run folder of another region (its config and its last.pt)."""
    from glonet_regions.engine.config import load_config_file
    from glonet_regions.model.bundle import load_bundle

    saved = run_dir / "config.yaml"
    theirs = load_config_file(saved).region if saved.is_file() else None
    if theirs is None:
        theirs = load_bundle(run_dir / "checkpoints" / "last.pt").region_name
    if theirs != region:
        raise ConfigError(
            f"--resume: run folder {run_dir} is a run of region {theirs!r}, not {region!r}; "
            f"resume it as {theirs} or choose another --run-dir"
        )


def run_finetune(
    cfg: FinetuneConfig, *, log: Callable[[str], None] | None = None
) -> FinetuneResult:
    """Run ``glonet-regions finetune`` with a configuration (CLI overrides already merged)."""
    from glonet_regions.boundary.providers import NoBoundary, make_boundary_provider
    from glonet_regions.registry.facade import get_region

    ctx = setup_distributed(cfg.device)
    say = log if (log is not None and ctx.is_main) else (lambda _m: None)
    try:
        if cfg.region is None:
            raise ConfigError("no region given (argument REGION or key 'region')")
        region = get_region(cfg.region)
        surface_only_default = cfg.sample and cfg.groups is None
        cfg = cfg.resolved(open_boundaries=region.open_boundaries)
        run_dir = Path(cfg.run_dir or "")
        last = run_dir / "checkpoints" / "last.pt"
        if cfg.resume and not last.exists():
            raise ConfigError(f"--resume: no checkpoint {last} to resume from")
        if not cfg.resume and last.exists():
            raise ConfigError(
                f"run folder {run_dir} already holds {last}; pass --resume to continue it or "
                "choose another --run-dir"
            )
        if cfg.resume:
            _check_run_region(run_dir, region.name)
        torch.manual_seed(cfg.seed)
        if ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            store = _ensure_store(cfg, region, say)
            _check_store_region(store, region.name)
            # stop_after_epochs belongs to one invocation: never saved with the run.
            save_config(cfg.replace(stop_after_epochs=None), run_dir / "config.yaml")
        ctx.barrier()
        store = Path(cfg.store or "")
        from glonet_regions.data.store import StoreReader

        reader = StoreReader(store)
        _check_store_region(store, region.name)
        available = list(reader.group_names)
        groups = available if cfg.groups in ("all", None) else list(cfg.groups)
        unknown = [g for g in groups if g not in available]
        if unknown:
            raise ConfigError(f"key groups: {unknown} not in store {store} (has {available})")
        if reader.has_boundary:
            provider = make_boundary_provider(
                cfg.boundary_provider or region.open_boundaries.provider,
                region.open_boundaries.edges,
                int(
                    cfg.boundary_width
                    if cfg.boundary_width is not None
                    else region.boundary_width_on(reader.grid)
                ),
            )
        else:
            say("the store holds no boundary data: open boundaries are not forced")
            provider = NoBoundary(region.open_boundaries.edges, 0)
        from glonet_regions.engine.setup import make_loader_fn, store_group_data

        say(
            f"fine-tuning {region.name}: groups {groups}, model {cfg.model_size}, init "
            f"{cfg.init}, {cfg.n_epochs} epochs, device {ctx.device}, world size {ctx.world_size}"
        )
        if surface_only_default and len(groups) < len(available):
            say(
                "--sample trains only the surface group by default (zos, thetao, so, uo, vo at "
                "0.5 m) so the CPU demo stays within minutes; the intermediate and deep groups "
                "(40 channels each) need --groups all and much more time"
            )
        result = train_groups(
            cfg,
            groups=groups,
            group_data=lambda g: store_group_data(store, g, cfg, region),
            provider=provider,
            ctx=ctx,
            loader_fn=make_loader_fn(cfg, ctx),
            region_name=region.name,
            grid=reader.grid,
            log=say,
        )
        return result
    finally:
        teardown_distributed(ctx)
