"""The GPU options: validated, overridden once by the environment, saved with the run."""

from __future__ import annotations

import pytest

from glonet_regions.core.errors import ConfigError
from glonet_regions.engine.config import FinetuneConfig
from glonet_regions.model.gpu.options import FUSED_NAMES, FUSIONS, GpuOptions


def test_defaults_and_round_trip() -> None:
    opts = GpuOptions()
    assert opts.exec_mode == "auto" and all(opts.enabled(f) for f in FUSIONS)
    custom = GpuOptions(
        exec_mode="fast", disable=("patch_gemm", "fast_glue"), tune=("gn_lrelu",),
        triton_configs=((64, 32, 4, 4),), compile_threads=0,
    )  # fmt: skip
    assert custom.disable == ("fast_glue", "patch_gemm")  # canonical order
    assert not custom.enabled("patch_gemm") and custom.enabled("pool_major")
    assert GpuOptions.from_dict(custom.to_dict()) == custom
    assert "off: fast_glue,patch_gemm" in custom.describe()
    assert GpuOptions(tune=("all",)).tuned() == frozenset(FUSED_NAMES)


def test_fused_names_are_the_kernels() -> None:
    from glonet_regions.model.gpu.kernels import FUSED

    assert set(FUSED) == set(FUSED_NAMES)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exec_mode": "quick"}, "exec_mode"),
        ({"disable": ("glue2",)}, "unknown fusions"),
        ({"tune": ("gn_relu",)}, "unknown fused functions"),
        ({"triton_configs": ((48, 32, 4, 1),)}, "powers of two"),
        ({"compile_threads": -1}, "compile_threads"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GpuOptions(**kwargs)  # type: ignore[arg-type]


def test_environment_overrides() -> None:
    base = GpuOptions(disable=("pool_major",))
    env = {
        "GLONET_REGIONS_EXEC_MODE": "eager",
        "GLONET_REGIONS_PATCH_GEMM": "0",
        "GLONET_REGIONS_POOL_MAJOR": "1",
        "GLONET_REGIONS_TUNE_FUSED": " gn_lrelu, fourier_block ",
        "GLONET_REGIONS_TRITON_COMPILE_THREADS": "3",
    }
    got = base.with_env(env)
    assert got.exec_mode == "eager"
    assert got.disable == ("patch_gemm",)
    assert got.tune == ("fourier_block", "gn_lrelu")
    assert got.compile_threads == 3
    assert base.with_env({}) == base
    with pytest.raises(ValueError, match="GLONET_REGIONS_CONV_TRITON must be 0 or 1"):
        base.with_env({"GLONET_REGIONS_CONV_TRITON": "off"})
    with pytest.raises(ValueError, match=r"GLONET_REGIONS_TUNE_FUSED|unknown fused"):
        base.with_env({"GLONET_REGIONS_TUNE_FUSED": "gn_relu"})


def test_options_live_in_the_finetune_config() -> None:
    cfg = FinetuneConfig.from_mapping({"gpu": {"exec_mode": "eager", "disable": ["patch_gemm"]}})
    assert cfg.gpu == GpuOptions(exec_mode="eager", disable=("patch_gemm",))
    assert cfg.to_dict()["gpu"]["disable"] == ["patch_gemm"]
    again = FinetuneConfig.from_mapping(cfg.to_dict())
    assert again.gpu == cfg.gpu
    merged = cfg.merged({"gpu": {"exec_mode": "fast"}})
    assert merged.gpu.exec_mode == "fast" and merged.gpu.disable == ("patch_gemm",)
    legacy = FinetuneConfig.from_mapping({"exec_mode": "fast"})  # earlier files, checkpoints
    assert legacy.gpu.exec_mode == "fast"
    with pytest.raises(ConfigError, match=r"gpu.*unknown fusions"):
        FinetuneConfig.from_mapping({"gpu": {"disable": ["nope"]}}, source="run.yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        FinetuneConfig.from_mapping({"gpu": {"threads": 2}})
