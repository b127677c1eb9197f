"""The fine-tuning configuration: one frozen dataclass, loaded from YAML or TOML.

Every ``glonet-regions finetune`` option is a key; command-line values override file values.
A file starts with ``schema_version: 1``; unknown keys and wrong types are refused with the
file and key named. The resolved configuration is written to ``RUN_DIR/config.yaml``.

Keys left ``null`` are resolved from the region and the ``sample`` flag by :meth:`resolved`:
``groups`` (surface with ``--sample``, else all), ``model_size`` (tiny with ``--sample``,
else full), ``init`` (random with ``--sample``, else published), ``epochs`` and
``warmup_steps`` (:data:`TRAINING_DEFAULTS`: 10 and 30 with ``--sample``, else 4 and 10),
``store`` (``RUN_DIR/store``), ``boundary_provider`` (the region's ``open_boundaries``);
a ``null`` ``boundary_width`` becomes the region's zone measured on the store grid
(``Region.boundary_width_on``) when training starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from glonet_regions.core.errors import ConfigError
from glonet_regions.model.gpu.options import GpuOptions

__all__ = [
    "SCHEMA_VERSION",
    "TRAINING_DEFAULTS",
    "FinetuneConfig",
    "LoraConfig",
    "load_config_file",
    "save_config",
]

SCHEMA_VERSION = 1

#: Values of ``epochs`` and ``warmup_steps`` left null: without and with ``sample``.
TRAINING_DEFAULTS: dict[bool, dict[str, int]] = {
    False: {"epochs": 4, "warmup_steps": 10},
    True: {"epochs": 10, "warmup_steps": 30},
}


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapters; ``rank: 0`` turns them off (full fine-tuning of unfrozen weights).

    Attributes:
        rank: Adapter rank (0 = no adapters).
        alpha: Scale (the update is multiplied by alpha / rank).
        targets: Regular expressions searched in layer names (``attn``, ``mlp.fc1``,
            ``mlp.fc2``; add ``filter.bias`` for the AFNO 1x1 Conv1d).
    """

    rank: int = 0
    alpha: float = 16.0
    targets: tuple[str, ...] = ("attn", "mlp.fc1", "mlp.fc2")


@dataclass(frozen=True)
class FinetuneConfig:
    """Every option of a fine-tuning run (see ``examples/finetune-ibi36-sample.yaml``).

    Attributes:
        schema_version: Must be 1.
        region: Registered region name.
        sample: Train on the embedded synthetic sample (generated and prepared if needed).
        store: Training store folder (default ``RUN_DIR/store``).
        run_dir: Output folder (checkpoints, logs, metrics).
        resume: Continue from ``RUN_DIR/checkpoints/last.pt``.
        groups: Depth groups to train, or ``all`` (the store's groups); default ``all``, but
            only ``surface`` with ``--sample`` (so the CPU demo fits in 10 minutes).
        model_size: ``tiny`` or ``full``.
        init: ``published``, ``random`` or ``checkpoint:PATH`` (a bundle or checkpoint).
        weights_dir: Folder holding the published release (``glonet_p{1,2,3}.pt`` and
            ``L*/<var>_{mean,std}.npy``) for ``init: published``; default: the asset cache
            filled by ``glonet-regions model fetch``.
        trust_weights: Load TorchScript weights whose sha256 is not pinned (they run code).
        normalisation: ``published`` (GLONET's released statistics; the default with
            ``init: published``) or ``region`` (the store's; the default otherwise).
        stats_pairing: How channels pair with the released statistics: ``published``
            (as GLONET's operational inference, level folders sorted as strings) or
            ``depth`` (each channel its own level).
        allow_region_normalisation: Accept ``init: published`` with ``normalisation:
            region`` (the network then sees inputs scaled unlike its training).
        freeze: Submodule name prefixes whose parameters are frozen.
        lora: LoRA settings.
        lr: Peak learning rate (AdamW).
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps, then cosine decay to 5% of ``lr`` (default 10, 30
            with ``--sample``).
        epochs: Epochs per group (default 4, 10 with ``--sample``).
        max_steps: Stop a group after this many optimiser steps (None: no limit).
        batch_size: Samples per step (per process).
        rollout: Curriculum ``[[first_epoch, model_calls], ...]`` (a call predicts 2 days).
        val_calls: Model calls of validation rollouts (default: the curriculum's maximum).
        max_val_batches: Cap on validation batches per evaluation (None: all).
        variable_weights: Loss weight per variable name (default 1).
        boundary_provider: ``strip``, ``relaxation``, ``none`` or a plugin's (default: region).
        boundary_width: Zone width in cells of the store grid (default: the region's zone
            on the store grid, see ``Region.boundary_width_on``).
        amp: bf16 autocast (CUDA only; ignored on CPU).
        gpu: How the network runs on the GPU (``exec_mode`` and the optimised path's
            switches; see the ``gpu`` table). A file's top-level ``exec_mode`` key is read as
            ``gpu.exec_mode``.
        grad_checkpointing: Activation checkpointing of the AFNO and Inception blocks.
        grad_clip: Max global gradient norm (None: no clipping).
        early_stopping_patience: Validations without improvement before a group stops.
        num_workers: DataLoader workers.
        seed: Seed of everything (model init, data order, dropout).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        log_every: Steps between train-log rows.
        val_every: Epochs between validations (and best-checkpoint checks).
        tensorboard: Write TensorBoard events.
        progress: Show progress bars.
        stop_after_epochs: Stop the whole run after this many epochs of this invocation
            (simulates an interruption; checkpoints are written as usual). Never saved with
            the run: a later ``--resume`` runs on unless it is given again.
    """

    schema_version: int = SCHEMA_VERSION
    region: str | None = None
    sample: bool = False
    store: str | None = None
    run_dir: str | None = None
    resume: bool = False
    groups: tuple[str, ...] | str | None = None
    model_size: Literal["tiny", "full"] | None = None
    init: str | None = None
    weights_dir: str | None = None
    trust_weights: bool = False
    normalisation: Literal["published", "region"] | None = None
    stats_pairing: Literal["published", "depth"] = "published"
    allow_region_normalisation: bool = False
    freeze: tuple[str, ...] = ()
    lora: LoraConfig = field(default_factory=LoraConfig)
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int | None = None
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int = 4
    rollout: tuple[tuple[int, int], ...] = ((0, 1),)
    val_calls: int | None = None
    max_val_batches: int | None = None
    variable_weights: Mapping[str, float] = field(default_factory=dict)
    boundary_provider: str | None = None
    boundary_width: int | None = None
    amp: bool = True
    gpu: GpuOptions = field(default_factory=GpuOptions)
    grad_checkpointing: bool = False
    grad_clip: float | None = 1.0
    early_stopping_patience: int | None = 5
    num_workers: int = 0
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    val_every: int = 1
    tensorboard: bool = True
    progress: bool = True
    stop_after_epochs: int | None = None

    def __post_init__(self) -> None:
        _check_values(self, "<config>")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<config>") -> FinetuneConfig:
        """Build from a plain mapping, checking keys and types.

        Raises:
            ConfigError: Naming ``source`` and the key at fault.
        """
        data = dict(data)
        if "exec_mode" in data:  # the key of earlier files and checkpoints
            gpu = data.get("gpu")
            gpu = dict(gpu) if isinstance(gpu, Mapping) else {}
            gpu.setdefault("exec_mode", data.pop("exec_mode"))
            data["gpu"] = gpu
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"{source}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})"
            )
        kwargs = _convert_fields(cls, data, source, prefix="")
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def merged(
        self, overrides: Mapping[str, Any], *, source: str = "command line"
    ) -> FinetuneConfig:
        """A copy with ``overrides`` applied (``None`` values are ignored; ``lora`` and ``gpu``
        merge)."""
        data = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            if key in ("lora", "gpu") and isinstance(value, Mapping):
                data[key] = {**data[key], **{k: v for k, v in value.items() if v is not None}}
            else:
                data[key] = value
        return FinetuneConfig.from_mapping(data, source=source)

    def replace(self, **changes: Any) -> FinetuneConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-friendly dict (tuples become lists)."""
        return _plain(dataclasses.asdict(self))

    # -- resolution -----------------------------------------------------------------------
    @property
    def rollout_stages(self) -> list[tuple[int, int]]:
        return [tuple(s) for s in self.rollout]  # type: ignore[misc]

    @property
    def n_epochs(self) -> int:
        """``epochs``, or its default when null (see :data:`TRAINING_DEFAULTS`)."""
        if self.epochs is not None:
            return self.epochs
        return TRAINING_DEFAULTS[bool(self.sample)]["epochs"]

    @property
    def n_warmup_steps(self) -> int:
        """``warmup_steps``, or its default when null (see :data:`TRAINING_DEFAULTS`)."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return TRAINING_DEFAULTS[bool(self.sample)]["warmup_steps"]

    @property
    def max_calls(self) -> int:
        return max(c for _, c in self.rollout)

    @property
    def validation_calls(self) -> int:
        return self.val_calls or self.max_calls

    def resolved(self, *, open_boundaries: Any | None = None) -> FinetuneConfig:
        """Fill the ``null`` keys that have a derived default (see the module docstring)."""
        if self.region is None:
            raise ConfigError("no region given (argument REGION or key 'region')")
        changes: dict[str, Any] = {}
        if self.run_dir is None:
            changes["run_dir"] = str(Path("runs") / self.region)
        run_dir = str(changes.get("run_dir", self.run_dir))
        if self.store is None:
            changes["store"] = str(Path(run_dir) / "store")
        if self.groups is None:
            changes["groups"] = ("surface",) if self.sample else "all"
        if self.model_size is None:
            changes["model_size"] = "tiny" if self.sample else "full"
        if self.init is None:
            changes["init"] = "random" if self.sample else "published"
        init = changes.get("init", self.init)
        if self.normalisation is None:
            changes["normalisation"] = "published" if init == "published" else "region"
        elif (
            init == "published"
            and self.normalisation == "region"
            and not self.allow_region_normalisation
        ):
            raise ConfigError(
                "key normalisation: region with init: published normalises GLONET's inputs "
                "unlike its training; use normalisation: published, or set "
                "allow_region_normalisation: true to do it anyway"
            )
        if self.epochs is None:
            changes["epochs"] = self.n_epochs
        if self.warmup_steps is None:
            changes["warmup_steps"] = self.n_warmup_steps
        if open_boundaries is not None and self.boundary_provider is None:
            changes["boundary_provider"] = open_boundaries.provider
        return dataclasses.replace(self, **changes)


# -- type checking -------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return str(tp).replace("typing.", "").replace("collections.abc.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (converting lists to tuples)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _convert(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} items, got {value!r}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {
            _convert(k, args[0], f"{where} key"): _convert(v, args[1], f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        source, _, key = where.rpartition(": key ")
        try:
            return tp(**_convert_fields(tp, value, source, prefix=f"{key}."))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}: unsupported type {_describe(tp)}")  # pragma: no cover


def _convert_fields(cls: Any, data: Mapping[str, Any], source: str, *, prefix: str) -> dict:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + str(k) for k in unknown)}; "
            f"valid keys: {', '.join(names)}"
        )
    return {k: _convert(v, hints[k], f"{source}: key {prefix}{k}") for k, v in data.items()}


def _check_values(cfg: FinetuneConfig, source: str) -> None:
    def positive(name: str, allow_none: bool = False) -> None:
        value = getattr(cfg, name)
        if value is None and allow_none:
            return
        if value is None or value <= 0:
            raise ConfigError(f"key {name} must be > 0, got {value!r}")

    for name in ("batch_size", "log_every", "val_every"):
        positive(name)
    for name in (
        "epochs",
        "max_steps",
        "val_calls",
        "max_val_batches",
        "early_stopping_patience",
        "stop_after_epochs",
        "grad_clip",
    ):
        positive(name, allow_none=True)
    for name, value in (
        ("lr", cfg.lr),
        ("weight_decay", cfg.weight_decay),
        ("grad_clip", cfg.grad_clip),
        ("lora.alpha", cfg.lora.alpha),
        *((f"variable_weights.{k}", v) for k, v in dict(cfg.variable_weights).items()),
    ):
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"key {name} must be a finite number, got {value}")
    if cfg.lr <= 0:
        raise ConfigError(f"key lr must be > 0, got {cfg.lr}")
    if (cfg.warmup_steps or 0) < 0 or cfg.num_workers < 0 or cfg.weight_decay < 0:
        raise ConfigError("keys warmup_steps, num_workers and weight_decay must be >= 0")
    if cfg.boundary_width is not None and cfg.boundary_width < 0:
        raise ConfigError(f"key boundary_width must be >= 0, got {cfg.boundary_width}")
    if cfg.lora.rank < 0:
        raise ConfigError(f"key lora.rank must be >= 0, got {cfg.lora.rank}")
    if cfg.init is not None and not (
        cfg.init in ("published", "random") or cfg.init.startswith("checkpoint:")
    ):
        raise ConfigError(
            f"key init must be 'published', 'random' or 'checkpoint:PATH', got {cfg.init!r}"
        )
    from glonet_regions.engine.schedule import RolloutCurriculum

    RolloutCurriculum(cfg.rollout)
    if isinstance(cfg.groups, str) and cfg.groups != "all":
        raise ConfigError(f"key groups must be 'all' or a list of group names, got {cfg.groups!r}")


# -- files ---------------------------------------------------------------------------------
def load_config_file(path: str | Path) -> FinetuneConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) configuration file.

    Raises:
        ConfigError: Unreadable file, bad syntax, unknown key, wrong type (file and key named).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            raise ConfigError(f"config file {path}: expected a .yaml, .yml or .toml file")
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"config file {path} cannot be parsed: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    if "schema_version" not in data:
        raise ConfigError(f"config file {path}: missing key schema_version (expected 1)")
    return FinetuneConfig.from_mapping(data, source=str(path))


def save_config(cfg: FinetuneConfig, path: str | Path) -> Path:
    """Write the configuration as YAML, atomically."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(cfg.to_dict(), fh, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
