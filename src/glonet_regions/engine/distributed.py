"""Distributed data parallel setup from ``torchrun`` environment variables.

Under ``torchrun`` (``WORLD_SIZE`` > 1) :func:`setup_distributed` initialises the default
process group: ``nccl`` with device ``cuda:LOCAL_RANK`` when CUDA is available, ``gloo`` on
CPU. NCCL reads ``NCCL_*`` variables itself (``NCCL_NVLS_ENABLE=0`` is left as set). Rank 0
logs, prints and writes checkpoints; everybody meets at :meth:`DistContext.barrier` around
checkpoint writes.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from glonet_regions.engine.freeze import unused_parameter_names

__all__ = [
    "DistContext",
    "has_trainable_unused",
    "setup_distributed",
    "teardown_distributed",
    "unwrap",
    "wrap_ddp",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, device and backend."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled and dist.is_initialized():
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def all_reduce_mean(self, value: float) -> float:
        """Mean of a float over ranks (the value itself when not distributed)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``."""
    if requested == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def setup_distributed(device: str = "auto", *, timeout_s: float = 1800) -> DistContext:
    """Initialise the process group from ``torchrun``'s variables, if any.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun, ``cuda`` means
            ``cuda:LOCAL_RANK``).
        timeout_s: Collective timeout.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world <= 1:
        return DistContext(device=dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"timeout": dt.timedelta(seconds=timeout_s)}
        if backend == "nccl":
            kwargs["device_id"] = dev
        dist.init_process_group(backend=backend, **kwargs)
    return DistContext(rank, local_rank, world, dev, backend)


def teardown_distributed(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, ctx: DistContext) -> nn.Module:
    """Wrap in DDP when distributed.

    DDP searches for unused parameters after every forward only while a parameter the network
    never uses is still trainable (see :func:`~glonet_regions.engine.freeze.freeze_unused`,
    which the trainer applies first: then there is no search).
    """
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # cuDNN returns channels-last gradients for some convolution weights whose dims of size 1
    # make the two layouts the same memory (1x1 kernels, depthwise (O, 1, k, k)); DDP's reducer
    # compares all strides and warns once per process that they differ from its bucket view.
    # The copy into the bucket is made either way (tens of KB): a false alarm, so silenced.
    warnings.filterwarnings(
        "ignore", message="Grad strides do not match bucket view strides", category=UserWarning
    )
    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return DDP(model, device_ids=ids, find_unused_parameters=has_trainable_unused(model))


def has_trainable_unused(model: nn.Module) -> bool:
    """Whether a parameter the network never uses in its forward still requires a gradient.

    Models that do not say which parameters they leave unused (no ``unused_parameter_names``)
    count as having some.
    """
    dead = unused_parameter_names(model)
    if dead is None:
        return True
    return any(p.requires_grad for n, p in model.named_parameters() if n in dead)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the model itself)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model
