"""The GPU path's options: one frozen dataclass, saved with a run, overridden by the environment.

Importing this module needs no torch (the fine-tuning configuration embeds :class:`GpuOptions`).
The ``GLONET_REGIONS_*`` environment variables only override fields of the options, read once
when a run starts (:meth:`GpuOptions.with_env`), never while the network runs:

==========================================  ====================================================
variable                                    effect
==========================================  ====================================================
``GLONET_REGIONS_EXEC_MODE``                ``exec_mode``
``GLONET_REGIONS_<FUSION>=0`` / ``=1``      adds the fusion to ``disable`` / removes it; one
                                            variable per name of :data:`FUSIONS`, upper case
                                            (``GLONET_REGIONS_PATCH_GEMM=0``, ...)
``GLONET_REGIONS_TUNE_FUSED``               ``tune`` (comma-separated, or ``all``)
``GLONET_REGIONS_TRITON_CONFIGS``           ``triton_configs`` (``m,k,warps,rows;...``)
``GLONET_REGIONS_TRITON_COMPILE_THREADS``   ``compile_threads``
==========================================  ====================================================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from glonet_regions.core.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "FUSED_NAMES",
    "FUSIONS",
    "ExecMode",
    "GpuOptions",
    "parse_triton_configs",
]

ExecMode = Literal["auto", "eager", "fast"]

ENV_PREFIX = "GLONET_REGIONS_"

FUSIONS: dict[str, str] = {
    "fast_glue": "the convolutions between the fused blocks as matrix products with fused biases",
    "gn_branches": "an Inception's branch GroupNorms, activations and sum in one pass",
    "inception_combined": "an Inception's branch convolutions as one Triton kernel",
    "lproj_gemm": "space.NO's final LayerNorm and lproj head as matrix products",
    "patch_gemm": "the patch embedding as one matrix product",
    "pool_major": "fc1's rows in pooling order",
    "conv_triton": "the Triton grouped convolution among the measured convolution forms",
}
"""Fusions of the optimised path (all on by default), by name: what ``disable`` can turn off."""

FUSED_NAMES: tuple[str, ...] = (
    "bias_act", "fourier_block", "gn_lrelu", "gn_lrelu_branches", "lproj_gemm", "mlp_residual",
    "patch_embed_gemm", "patch_tokens",
)  # fmt: skip
"""The compiled fused functions (``glonet_regions.model.gpu.kernels.FUSED``): what ``tune``
can name."""

TritonConfig = tuple[int, int, int, int]


@dataclass(frozen=True)
class GpuOptions:
    """How a network runs on the GPU (saved with a run's configuration and its bundle).

    Attributes:
        exec_mode: ``auto`` (the optimised path on CUDA, eager elsewhere; a forecast without a
            compiled package runs eager when too few start dates repay the compilation),
            ``fast`` (always the optimised path) or ``eager`` (the plain network).
        disable: Fusions of the optimised path turned off (names of ``FUSIONS``: ``fast_glue``,
            ``gn_branches``, ``inception_combined``, ``lproj_gemm``, ``patch_gemm``,
            ``pool_major``, ``conv_triton``), for comparisons; every fusion is on by default.
        tune: Compiled fused functions whose kernels Inductor tunes by coordinate descent on
            the first compilation (names, or ``all``; slower first run).
        triton_configs: ``[block_m, block_k, num_warps, rows]`` configurations of the Triton
            grouped convolution to time (empty: the built-in three).
        compile_threads: Threads compiling the Triton configurations in parallel on a first
            run (null: the CPU count up to 8; 0: one after another on first use).
    """

    exec_mode: ExecMode = "auto"
    disable: tuple[str, ...] = ()
    tune: tuple[str, ...] = ()
    triton_configs: tuple[tuple[int, int, int, int], ...] = ()
    compile_threads: int | None = None

    def __post_init__(self) -> None:
        if self.exec_mode not in ("auto", "eager", "fast"):
            raise ConfigError(f"gpu.exec_mode must be auto, fast or eager, got {self.exec_mode!r}")
        unknown = sorted(set(self.disable) - set(FUSIONS))
        if unknown:
            raise ConfigError(f"gpu.disable: unknown fusions {unknown}; known: {sorted(FUSIONS)}")
        unknown = sorted(set(self.tune) - set(FUSED_NAMES) - {"all"})
        if unknown:
            raise ConfigError(
                f"gpu.tune: unknown fused functions {unknown}; known: {list(FUSED_NAMES)} or all"
            )
        for config in self.triton_configs:
            _check_config(tuple(config), "gpu.triton_configs")
        if self.compile_threads is not None and self.compile_threads < 0:
            raise ConfigError(f"gpu.compile_threads must be >= 0, got {self.compile_threads}")
        # canonical order, so equal options compare (and print) equal
        object.__setattr__(self, "disable", tuple(sorted(set(self.disable))))
        object.__setattr__(self, "tune", tuple(sorted(set(self.tune))))

    def enabled(self, fusion: str) -> bool:
        """Whether ``fusion`` (a name of :data:`FUSIONS`) is on."""
        if fusion not in FUSIONS:
            raise KeyError(f"unknown fusion {fusion!r}; known: {sorted(FUSIONS)}")
        return fusion not in self.disable

    def tuned(self) -> frozenset[str]:
        """The fused functions to tune (``all`` expanded)."""
        return frozenset(FUSED_NAMES) if "all" in self.tune else frozenset(self.tune)

    def replace(self, **changes: Any) -> GpuOptions:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-friendly dict (tuples become lists)."""
        return {
            "exec_mode": self.exec_mode,
            "disable": list(self.disable),
            "tune": list(self.tune),
            "triton_configs": [list(c) for c in self.triton_configs],
            "compile_threads": self.compile_threads,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> GpuOptions:
        """The options of :meth:`to_dict`'s form (unknown keys refused)."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"gpu options: unknown key(s) {unknown}; valid: {sorted(names)}")
        if "disable" in data:
            data["disable"] = tuple(data["disable"])
        if "tune" in data:
            data["tune"] = tuple(data["tune"])
        if "triton_configs" in data:
            data["triton_configs"] = tuple(tuple(int(v) for v in c) for c in data["triton_configs"])
        return cls(**data)

    def with_env(self, environ: Mapping[str, str] | None = None) -> GpuOptions:
        """These options with the ``GLONET_REGIONS_*`` overrides of ``environ`` (default: the
        process environment) applied; see the module docstring. Raises ``ConfigError`` naming
        the variable for a malformed value."""
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        mode = env.get(ENV_PREFIX + "EXEC_MODE", "").strip()
        if mode:
            if mode not in ("auto", "eager", "fast"):
                raise ConfigError(
                    f"{ENV_PREFIX}EXEC_MODE must be auto, fast or eager, got {mode!r}"
                )
            changes["exec_mode"] = mode
        disable = set(self.disable)
        for fusion in FUSIONS:
            name = ENV_PREFIX + fusion.upper()
            raw = env.get(name, "").strip()
            if raw == "0":
                disable.add(fusion)
            elif raw == "1":
                disable.discard(fusion)
            elif raw:
                raise ConfigError(f"{name} must be 0 or 1, got {raw!r}")
        changes["disable"] = tuple(disable)
        raw = env.get(ENV_PREFIX + "TUNE_FUSED", "").strip()
        if raw:
            changes["tune"] = tuple(n.strip() for n in raw.split(",") if n.strip())
        raw = env.get(ENV_PREFIX + "TRITON_CONFIGS", "").strip()
        if raw:
            changes["triton_configs"] = parse_triton_configs(raw)
        raw = env.get(ENV_PREFIX + "TRITON_COMPILE_THREADS", "").strip()
        if raw:
            try:
                threads = int(raw)
            except ValueError:
                threads = -1
            if threads < 0:
                raise ConfigError(
                    f"{ENV_PREFIX}TRITON_COMPILE_THREADS must be a whole number >= 0, got {raw!r}"
                )
            changes["compile_threads"] = threads
        try:
            return dataclasses.replace(self, **changes)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}* environment override: {exc}") from None

    def describe(self) -> str:
        """One line for a run's log."""
        parts = [f"exec_mode={self.exec_mode}"]
        parts.append("fusions: all on" if not self.disable else f"off: {','.join(self.disable)}")
        if self.tune:
            parts.append(f"tuned: {','.join(self.tune)}")
        if self.triton_configs:
            parts.append(
                f"triton configs: {';'.join(','.join(map(str, c)) for c in self.triton_configs)}"
            )
        if self.compile_threads is not None:
            parts.append(f"compile threads: {self.compile_threads}")
        return "GPU options: " + "; ".join(parts)


def _check_config(config: tuple[int, ...], where: str) -> TritonConfig:
    if len(config) != 4:
        raise ConfigError(f"{where}: expected [block_m, block_k, num_warps, rows], got {config!r}")
    block_m, block_k, num_warps, rows = (int(v) for v in config)
    pow2 = all(v >= 16 and v & (v - 1) == 0 for v in (block_m, block_k))
    if not pow2 or num_warps not in (1, 2, 4, 8, 16) or rows not in (1, 2, 3, 4):
        raise ConfigError(
            f"{where}: {list(config)} needs block_m and block_k powers of two >= 16, "
            "num_warps in 1, 2, 4, 8, 16 and rows in 1-4"
        )
    return block_m, block_k, num_warps, rows


def parse_triton_configs(raw: str) -> tuple[TritonConfig, ...]:
    """``"m,k,warps,rows;..."`` as configuration tuples (``ConfigError`` naming the item)."""
    where = ENV_PREFIX + "TRITON_CONFIGS"
    out = []
    for item in raw.split(";"):
        try:
            values = tuple(int(v) for v in item.split(","))
            if len(values) != 4:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"{where}: expected 'block_m,block_k,num_warps,rows' tuples separated by ';', "
                f"got {item!r}"
            ) from None
        out.append(_check_config(values, where))
    return tuple(out)
