"""The training loop of one depth-group network.

The network (:mod:`glonet_regions.model.network`), the rollout
(:func:`glonet_regions.model.rollout.rollout`) and this loop are separate pieces: the loop
draws batches, rolls the model out for the curriculum's number of calls with the boundary
provider correcting every call, and optimises the masked, area-weighted MSE. It validates,
tracks the best weights, stops early, and hands its state to a checkpoint callback at the end of
every epoch.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from glonet_regions.core.errors import ConfigError, DataError
from glonet_regions.data.batch import Batch
from glonet_regions.engine.config import FinetuneConfig
from glonet_regions.engine.distributed import DistContext, unwrap, wrap_ddp
from glonet_regions.engine.freeze import freeze_unused
from glonet_regions.engine.logging import RunLogger
from glonet_regions.engine.lora import lora_modules, merged_state_dict
from glonet_regions.engine.losses import channel_weights, loss_weight_map, weighted_mse
from glonet_regions.engine.metrics import RmseAccumulator
from glonet_regions.engine.schedule import RolloutCurriculum, warmup_cosine
from glonet_regions.model.rollout import rollout

__all__ = ["CheckpointFn", "GroupData", "GroupTrainer", "LoaderFn", "TrainState", "unwrap"]

LoaderFn = Callable[..., Iterable[Batch]]
"""``loader_fn(dataset, *, shuffle, epoch)`` -> :class:`~glonet_regions.data.batch.Batch`es."""


@dataclass
class GroupData:
    """What the loop needs to know about one depth group's data.

    Attributes:
        name: Group name.
        channels: ``(variable, level index or None)`` per channel.
        mean, std: ``(C,)`` normalisation statistics.
        ocean_mask: ``(C, H, W)`` bool.
        area_weights: ``(H, W)`` cell-area weights.
        train, val: Datasets whose items hold ``x`` (2, C, H, W), ``y`` (K, C, H, W),
            ``boundary`` (K, C, H, W) in normalised units.
        depths_m: The region's level depths (for reports), indexed by level index.
        tendency_scale: ``(C,)`` typical day-to-day change in normalised units; with a
            residual forecaster the loss of each channel is divided by its square.
        grid: The store's :class:`~glonet_regions.core.grid.Grid` (places the position
            embedding of published weights); None when unknown.
        normalisation: What ``mean``/``std`` are (``region`` or a description of GLONET's).
    """

    name: str
    channels: list[tuple[str, int | None]]
    mean: np.ndarray
    std: np.ndarray
    ocean_mask: np.ndarray
    area_weights: np.ndarray
    train: Any
    val: Any
    depths_m: Sequence[float] | None = None
    tendency_scale: np.ndarray | None = None
    grid: Any = None
    normalisation: Mapping[str, Any] | None = None

    @property
    def grid_shape(self) -> tuple[int, int]:
        return (int(self.ocean_mask.shape[-2]), int(self.ocean_mask.shape[-1]))


@dataclass
class TrainState:
    """Loop counters, saved for resuming."""

    epoch: int = 0
    step: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    bad_validations: int = 0
    finished: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "bad_validations": self.bad_validations,
            "finished": self.finished,
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainState:
        return cls(
            epoch=int(data["epoch"]),
            step=int(data["step"]),
            best_val=float(data["best_val"]),
            best_epoch=int(data["best_epoch"]),
            bad_validations=int(data["bad_validations"]),
            finished=bool(data["finished"]),
            history=[dict(h) for h in data.get("history", [])],
        )


CheckpointFn = Callable[["GroupTrainer", bool], bool]
"""``on_epoch_end(trainer, is_best) -> stop``: writes checkpoints; True interrupts the run."""


class GroupTrainer:
    """Fine-tunes one depth-group network.

    Args:
        model: The network (adapters and freezing already applied), on ``ctx.device``.
        cfg: The resolved configuration.
        data: The group's data.
        provider: Boundary provider (``apply(pred, boundary)``, ``interior_mask(shape)``).
        ctx: Distributed context.
        logger: Run logger.
        loader_fn: Builds a loader for a dataset and epoch (deterministic per epoch).
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: FinetuneConfig,
        data: GroupData,
        provider: Any,
        ctx: DistContext,
        logger: RunLogger,
        loader_fn: LoaderFn,
        residual: bool = False,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.provider = provider
        self.ctx = ctx
        self.logger = logger
        self.loader_fn = loader_fn
        self.device = ctx.device
        from glonet_regions.model.gpu import optimise_model

        # The optimised path on CUDA (fused blocks, channels-last, selective checkpointing),
        # the plain network elsewhere or with exec_mode "eager"; parameters are unchanged.
        # The environment's GLONET_REGIONS_* overrides are read here, once.
        gpu = cfg.gpu.with_env()
        if ctx.is_main:
            logger.echo(f"{data.name}: {gpu.describe()}")
        model = optimise_model(
            model,
            device=self.device,
            training=True,
            options=gpu,
            checkpoint=None if cfg.grad_checkpointing else (),
        )
        self.module = model
        freeze_unused(model)  # never receive gradients: no unused-parameter search in DDP
        self.model = wrap_ddp(model, ctx)
        self.curriculum = RolloutCurriculum(cfg.rollout)
        self.state = TrainState()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("no trainable parameter left (check freeze and lora settings)")
        self.optimizer = torch.optim.AdamW(
            params,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            fused=self.device.type == "cuda",
        )
        self.steps_per_epoch = len(self.loader_fn(data.train, shuffle=True, epoch=0))  # type: ignore[arg-type]
        if self.steps_per_epoch == 0:
            raise DataError(
                f"group {data.name}: the training split yields no batch of {cfg.batch_size}"
            )
        total = cfg.n_epochs * self.steps_per_epoch
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        self.total_steps = total
        self.scheduler = warmup_cosine(
            self.optimizer,
            warmup_steps=min(cfg.n_warmup_steps, max(total - 1, 0)),
            total_steps=total,
        )
        shape = data.grid_shape
        interior = provider.interior_mask(shape)
        cw = channel_weights(data.channels, cfg.variable_weights)
        if residual and data.tendency_scale is not None:
            inv = 1.0 / np.asarray(data.tendency_scale, dtype=np.float64) ** 2
            cw = cw * inv / inv.mean()
        self.loss_weight = torch.as_tensor(
            loss_weight_map(
                area_weights=data.area_weights,
                ocean_mask=data.ocean_mask,
                interior_mask=interior,
                channel_weight=cw,
            ),
            dtype=torch.float32,
            device=self.device,
        )
        self.score_weight = torch.as_tensor(
            loss_weight_map(
                area_weights=data.area_weights, ocean_mask=data.ocean_mask, interior_mask=interior
            ),
            dtype=torch.float64,
            device=self.device,
        )
        self.ocean = torch.as_tensor(
            np.asarray(data.ocean_mask, dtype=np.float32), device=self.device
        )
        self.best_state: dict[str, Tensor] | None = None

    # -- state ----------------------------------------------------------------------------
    @property
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def net(self) -> nn.Module:
        """The Glonet inside a residual wrapper (or the module itself)."""
        inner = getattr(self.module, "net", None)
        return inner if isinstance(inner, nn.Module) else self.module

    @property
    def has_lora(self) -> bool:
        return bool(lora_modules(self.module))

    def plain_state_dict(self) -> dict[str, Tensor]:
        """Current weights as a plain Glonet state dict (adapters merged), on CPU."""
        return {k: v.cpu() for k, v in merged_state_dict(self.net).items()}

    def adapter_state_dict(self) -> dict[str, Tensor] | None:
        """The training module's own state dict when it differs from the plain one (LoRA)."""
        return {k: v.cpu() for k, v in self.net.state_dict().items()} if self.has_lora else None

    def resume_state(self) -> dict[str, Any]:
        """Optimizer, scheduler and loop state (the model weights are saved separately)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "loop": self.state.to_dict(),
        }

    def load_resume_state(
        self,
        *,
        net_state: Mapping[str, Tensor],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any],
        loop: Mapping[str, Any],
        best_state: Mapping[str, Tensor] | None,
    ) -> None:
        """Restore weights (plain or adapter state of the Glonet), optimiser, schedule, loop."""
        self.net.load_state_dict(dict(net_state))
        self.optimizer.load_state_dict(dict(optimizer))
        self.scheduler.load_state_dict(dict(scheduler))
        self.state = TrainState.from_dict(loop)
        self.best_state = None if best_state is None else dict(best_state)

    # -- steps ----------------------------------------------------------------------------
    def _batch(self, batch: Batch, n_days: int) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(batch, Batch):
            raise DataError(
                f"group {self.data.name}: the loader yielded a {type(batch).__name__}; expected "
                "a glonet_regions.data.batch.Batch (collate with collate_samples)"
            )
        if batch.n_target < n_days:
            raise DataError(
                f"group {self.data.name}: samples hold {batch.n_target} target days but the "
                f"rollout needs {n_days}"
            )
        on = batch.to(self.device, non_blocking=True)
        x = torch.nan_to_num(on.x)
        y = on.y
        b = torch.zeros_like(y) if on.boundary is None else torch.nan_to_num(on.boundary)
        return x, torch.nan_to_num(y[:, :n_days]), b[:, :n_days]

    def _rollout(self, model: nn.Module, x: Tensor, bnd: Tensor, calls: int, grad: bool) -> Tensor:
        t = x.shape[1]

        def boundary(pred: Tensor, call: int) -> Tensor:
            out: Tensor = self.provider.apply(
                pred, bnd[:, t * call : t * (call + 1)].to(pred.dtype)
            )
            return out

        with self.autocast:
            return rollout(model, x, calls, ocean_mask=self.ocean, boundary=boundary, grad=grad)

    def train_step(self, batch: Batch, calls: int) -> float:
        x, y, b = self._batch(batch, 2 * calls)
        self.model.train()
        pred = self._rollout(self.model, x, b, calls, grad=True)
        loss = weighted_mse(pred, y, self.loss_weight)
        if not torch.isfinite(loss):
            raise DataError(f"group {self.data.name}: non-finite loss at step {self.state.step}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(
                [p for p in self.module.parameters() if p.requires_grad], self.cfg.grad_clip
            )
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module | None = None, *, max_batches: int | None = None
    ) -> tuple[float, RmseAccumulator]:
        """Validation loss and RMSE accumulators (all-reduced over ranks)."""
        model = model if model is not None else self.module
        was_training = model.training
        model.eval()
        calls = self.cfg.validation_calls
        acc = RmseAccumulator(
            self.score_weight,
            torch.as_tensor(np.asarray(self.data.mean, dtype=np.float64)),
            torch.as_tensor(np.asarray(self.data.std, dtype=np.float64)),
        )
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        for i, batch in enumerate(self.loader_fn(self.data.val, shuffle=False, epoch=0)):
            if max_batches is not None and i >= max_batches:
                break
            x, y, b = self._batch(batch, 2 * calls)
            pred = self._rollout(model, x, b, calls, grad=False).float()
            total[0] += weighted_mse(pred, y, self.loss_weight).double() * x.shape[0]
            total[1] += x.shape[0]
            acc.update(pred, y, x[:, -1])
        if self.ctx.enabled:
            import torch.distributed as dist

            dist.all_reduce(total)
        acc.all_reduce()
        model.train(was_training)
        if total[1] == 0:
            raise DataError(f"group {self.data.name}: the validation split yields no sample")
        return float(total[0] / total[1]), acc

    # -- loop -----------------------------------------------------------------------------
    def fit(self, on_epoch_end: CheckpointFn) -> bool:
        """Train until the epochs, ``max_steps`` or early stopping end it.

        Returns:
            False when ``on_epoch_end`` asked to stop (interrupted run), else True.
        """
        cfg, st = self.cfg, self.state
        while not st.finished:
            epoch = st.epoch
            calls = self.curriculum.calls(epoch)
            loader = self.loader_fn(self.data.train, shuffle=True, epoch=epoch)
            self.logger.start_epoch(
                self.steps_per_epoch, f"{self.data.name} epoch {epoch + 1}/{cfg.n_epochs}"
            )
            t0, losses = time.perf_counter(), []
            for batch in loader:
                loss = self.train_step(batch, calls)
                losses.append(loss)
                st.step += 1
                self.logger.update(loss)
                if st.step % cfg.log_every == 0:
                    self.logger.scalars(
                        "train",
                        {
                            "group": self.data.name,
                            "epoch": epoch,
                            "step": st.step,
                            "loss": loss,
                            "lr": self.scheduler.get_last_lr()[0],
                            "rollout_calls": calls,
                        },
                        step=st.step,
                        tag=f"{self.data.name}/train",
                    )
                if cfg.max_steps is not None and st.step >= cfg.max_steps:
                    st.finished = True
                    break
            self.logger.end_epoch()
            st.epoch += 1
            if st.epoch >= cfg.n_epochs:
                st.finished = True
            train_loss = self.ctx.all_reduce_mean(float(np.mean(losses)) if losses else math.nan)
            is_best = False
            record: dict[str, Any] = {
                "group": self.data.name,
                "epoch": st.epoch,
                "step": st.step,
                "train_loss": train_loss,
                "seconds": time.perf_counter() - t0,
            }
            if st.epoch % cfg.val_every == 0 or st.finished:
                val_loss, _ = self.evaluate(max_batches=cfg.max_val_batches)
                record["val_loss"] = val_loss
                if val_loss < st.best_val:
                    st.best_val, st.best_epoch, st.bad_validations = val_loss, st.epoch, 0
                    self.best_state = self.plain_state_dict()
                    is_best = True
                else:
                    st.bad_validations += 1
                    patience = cfg.early_stopping_patience
                    if patience is not None and st.bad_validations >= patience:
                        st.finished = True
                        record["early_stopped"] = True
                self.logger.scalars(
                    "val",
                    {
                        k: record.get(k)
                        for k in ("group", "epoch", "step", "train_loss", "val_loss")
                    },
                    step=st.step,
                    tag=f"{self.data.name}/val",
                )
            st.history.append(record)
            self.logger.echo(
                f"[{self.data.name}] epoch {st.epoch}: train loss {train_loss:.4g}"
                + (f", val loss {record['val_loss']:.4g}" if "val_loss" in record else "")
                + (" (best)" if is_best else "")
                + f" [{record['seconds']:.1f} s]"
            )
            if on_epoch_end(self, is_best):
                return False
        return True
