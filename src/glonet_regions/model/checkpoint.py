"""Our own checkpoints: atomic writes, ``weights_only`` loading and exact RNG resumption.

A checkpoint is one ``torch.save`` file holding only tensors and primitive containers, so
``torch.load(path, weights_only=True)`` reads it without running any pickled code::

    {
        "format": "glonet-regions-checkpoint",
        "format_version": 1,
        "model_state": {name: tensor},
        "optimizer_state": {...} | None,
        "scheduler_state": {...} | None,
        "rng_state": {...} | None,        # see capture_rng_state()
        "extra": {...},                   # metadata, see below
    }

``extra`` carries what a forecast needs besides the weights. Recommended keys: ``region``
(name), ``lat``/``lon`` (1-D tensors), ``ocean_mask`` (bool tensor), ``variables`` (names),
``depths`` (metres), ``norm_mean``/``norm_std`` (tensors), ``model_config``
(:meth:`GlonetConfig.to_dict`). Numpy arrays and scalars are converted to tensors and Python
numbers on save; anything else that ``weights_only`` cannot read is refused at save time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import random
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from glonet_regions.core.errors import (
    CheckpointError,
    CheckpointIncompatibleError,
    CheckpointNotFoundError,
)
from glonet_regions.model.network import GlonetConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "capture_rng_state",
    "fsync_dir",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "glonet-regions-checkpoint"
FORMAT_VERSION = 1

_PRIMITIVES = (str, int, float, bool, type(None), torch.dtype, torch.device, torch.Size)


def _sanitise(obj: Any, where: str) -> Any:
    """Convert numpy values to torch/Python ones; refuse what ``weights_only`` cannot load."""
    if isinstance(obj, Tensor):
        return obj.detach()
    if isinstance(obj, _PRIMITIVES):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj).copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, GlonetConfig):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise CheckpointError(f"checkpoint key {where}[{k!r}] must be a str or int")
            out[k] = _sanitise(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, list | tuple):
        items = [_sanitise(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise CheckpointError(
        f"cannot store {where} of type {type(obj).__name__} in a checkpoint: only tensors, "
        "numbers, strings, None, numpy arrays and lists/tuples/dicts of them are allowed"
    )


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: The file it was read from.
        model_state: The model's state dict.
        optimizer_state: Optimizer state dict, if saved.
        scheduler_state: LR scheduler state dict, if saved.
        rng_state: RNG states from :func:`capture_rng_state`, if saved.
        extra: Metadata (region, grid, masks, variables, normalisation, model config, ...).
        format_version: Format version of the file.
    """

    path: Path
    model_state: dict[str, Tensor]
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    rng_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def region(self) -> str | None:
        """The region name stored in ``extra["region"]``, if any."""
        value = self.extra.get("region")
        return str(value) if value is not None else None

    @property
    def model_config(self) -> GlonetConfig | None:
        """The model configuration stored in ``extra["model_config"]``, if any."""
        data = self.extra.get("model_config")
        if data is None:
            return None
        try:
            return GlonetConfig.from_dict(dict(data))
        except (TypeError, ValueError) as exc:
            raise CheckpointIncompatibleError(
                f"{self.path}: stored model_config is not valid: {exc}"
            ) from exc

    def check_compatible(
        self, *, region: str | None = None, config: GlonetConfig | None = None
    ) -> None:
        """Raise if the checkpoint was made for another region or model configuration.

        Args:
            region: Expected region name (checked when the checkpoint stores one).
            config: Expected model config; compared field by field, ignoring
                ``checkpoint_blocks``.

        Raises:
            CheckpointIncompatibleError: Listing every difference.
        """
        problems: list[str] = []
        if region is not None and self.region is not None and self.region != region:
            problems.append(f"region: checkpoint {self.region!r}, expected {region!r}")
        stored = self.model_config
        if config is not None and stored is not None:
            for f in dataclasses.fields(GlonetConfig):
                if f.name == "checkpoint_blocks":
                    continue
                a, b = getattr(stored, f.name), getattr(config, f.name)
                if a != b:
                    problems.append(f"model_config.{f.name}: checkpoint {a!r}, expected {b!r}")
        if problems:
            raise CheckpointIncompatibleError(
                f"checkpoint {self.path} does not fit:\n  " + "\n  ".join(problems)
            )


def save_checkpoint(
    path: str | Path,
    *,
    model_state: Mapping[str, Tensor],
    optimizer_state: Mapping[str, Any] | None = None,
    scheduler_state: Mapping[str, Any] | None = None,
    rng_state: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any],
) -> Path:
    """Write a checkpoint atomically.

    The payload goes to a temporary file in the same directory, is flushed and fsynced, then
    renamed over ``path`` with :func:`os.replace`. On any failure the temporary file is
    removed and an existing ``path`` is left untouched.

    Args:
        path: Destination file (parent directories are created).
        model_state: ``model.state_dict()``.
        optimizer_state: ``optimizer.state_dict()``.
        scheduler_state: ``scheduler.state_dict()``.
        rng_state: :func:`capture_rng_state` output.
        extra: Metadata (see the module docstring).

    Returns:
        The path written.

    Raises:
        CheckpointError: If a value cannot be stored in ``weights_only`` form.
    """
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "model_state": _sanitise(dict(model_state), "model_state"),
        "optimizer_state": _sanitise(optimizer_state, "optimizer_state"),
        "scheduler_state": _sanitise(scheduler_state, "scheduler_state"),
        "rng_state": _sanitise(rng_state, "rng_state"),
        "extra": _sanitise(dict(extra), "extra"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


def fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        CheckpointNotFoundError: The file does not exist.
        CheckpointError: The file is truncated, corrupt or holds non-tensor objects.
        CheckpointIncompatibleError: It is not one of our checkpoints or is from a newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run the file's code:
        # never repeat that to a user.
        raise CheckpointError(
            f"{path} is not a glonet-regions checkpoint: not an archive of tensors and plain "
            "values (random bytes, another program's file, or a pickle holding code, which "
            "glonet-regions never loads)"
        ) from None
    except Exception as exc:  # torch raises many types for a file that is not its archive
        if zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path} is truncated or corrupt: a damaged torch archive ({type(exc).__name__})"
            ) from None
        raise CheckpointError(
            f"{path} is not a glonet-regions checkpoint, or is truncated: it is not a complete "
            "torch archive"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointIncompatibleError(
            f"{path} is not a glonet-regions checkpoint (no 'format': {CHECKPOINT_FORMAT!r}); "
            "published TorchScript weights are imported with model.weights.import_torchscript"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointIncompatibleError(
            f"{path} has checkpoint format version {version!r}; this glonet-regions reads "
            f"versions 1..{FORMAT_VERSION}"
        )
    if not isinstance(payload.get("model_state"), dict):
        raise CheckpointIncompatibleError(f"{path} has no model_state")
    return Checkpoint(
        path=path,
        model_state=payload["model_state"],
        optimizer_state=payload.get("optimizer_state"),
        scheduler_state=payload.get("scheduler_state"),
        rng_state=payload.get("rng_state"),
        extra=payload.get("extra") or {},
        format_version=version,
    )


def capture_rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy (global) and Python ``random`` states.

    Everything is stored as tensors, ints, floats and strings, so it survives a
    ``weights_only`` round trip. Restore with :func:`restore_rng_state`.
    """
    # The legacy global state is what library code seeded with np.random.seed() uses.
    np_state = np.random.get_state(legacy=True)  # noqa: NPY002
    assert isinstance(np_state, tuple)
    name, keys, pos, has_gauss, cached = np_state
    version, py_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore states captured by :func:`capture_rng_state` (missing parts are skipped)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        s = state["numpy"]
        np.random.set_state(  # noqa: NPY002
            (
                s["bit_generator"],
                s["keys"].cpu().numpy().astype(np.uint32),
                int(s["pos"]),
                int(s["has_gauss"]),
                float(s["cached_gaussian"]),
            )
        )
    if "python" in state:
        s = state["python"]
        random.setstate(
            (int(s["version"]), tuple(int(v) for v in s["state"].tolist()), s["gauss_next"])
        )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
