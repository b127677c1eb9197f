"""The Triton grouped convolution, run on the CPU through Triton's interpreter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("triton", reason="Triton is a dev dependency on Linux x86_64")

from glonet_regions.model.gpu import triton_conv
from glonet_regions.model.gpu.conv import grouped_conv
from glonet_regions.model.gpu.options import GpuOptions

# tests/conftest.py turns Triton's interpreter on where there is no CUDA device.
interpreted = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1",
    reason="runs CPU tensors through Triton's interpreter",
)


@interpreted
@settings(max_examples=12, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 4, 8]),
    c_in_g=st.integers(1, 5),
    c_out_g=st.integers(1, 5),
    k=st.sampled_from([1, 3, 5]),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    batch=st.integers(1, 2),
    with_bias=st.booleans(),
    block_k=st.sampled_from([16, 32]),
    rows=st.sampled_from([1, 2, 3, 4]),
    seed=st.integers(0, 2**16),
)
def test_triton_grouped_conv_equals_conv2d(
    groups: int, c_in_g: int, c_out_g: int, k: int, h: int, w: int, batch: int,
    with_bias: bool, block_k: int, rows: int, seed: int,
) -> None:  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(groups * c_out_g, c_in_g, k, k, generator=gen)
    bias = torch.randn(groups * c_out_g, generator=gen) if with_bias else None
    x = torch.randn(batch, groups * c_in_g, h, w, generator=gen)
    ref = F.conv2d(x, weight, bias, padding=k // 2, groups=groups)
    packed = triton_conv.packed_weight(weight, groups, x.dtype)
    out = triton_conv.grouped_conv_nhwc(
        x, packed, bias, groups, block_m=16, block_k=block_k, rows=rows
    )
    assert out.shape == ref.shape
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@interpreted
@pytest.mark.parametrize("rows", [2, 3, 4])
def test_multi_row_kernel_on_ragged_tiles(rows: int) -> None:
    """Heights not a multiple of ``rows``, several column tiles, a reduction in 3 chunks."""
    gen = torch.Generator().manual_seed(rows)
    weight = torch.randn(6, 5, 7, 7, generator=gen)  # 2 groups of 5 -> 3, k=7: 35 per row
    bias = torch.randn(6, generator=gen)
    x = torch.randn(2, 10, 9, 37, generator=gen)
    ref = F.conv2d(x, weight, bias, padding=3, groups=2)
    packed = triton_conv.packed_weight(weight, 2, x.dtype)
    out = triton_conv.grouped_conv_nhwc(x, packed, bias, 2, block_m=16, block_k=16, rows=rows)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@interpreted
@pytest.mark.parametrize("rows", [1, 4])
def test_branches_in_one_kernel_are_branch_major_slices(rows: int) -> None:
    """Parallel branches (kernels 3, 5, 7) zero-padded into one kernel: branch b is the channel
    slice b of the output, bias included."""
    gen = torch.Generator().manual_seed(7 + rows)
    weights = [torch.randn(8, 3, k, k, generator=gen) for k in (3, 5, 7)]  # 2 groups, 3 -> 4
    biases = [torch.randn(8, generator=gen) for _ in weights]
    x = torch.randn(1, 6, 8, 11, generator=gen)
    packed = triton_conv.branch_packed_weight(weights, 2, x.dtype)
    assert packed.shape == (2, 7, 7, 3, 12)
    out = triton_conv.grouped_conv_nhwc(
        x, packed, torch.cat(biases), 2, block_m=16, block_k=16, rows=rows, branches=3
    )
    for b, (w, bias) in enumerate(zip(weights, biases, strict=True)):
        ref = F.conv2d(x, w, bias, padding=w.shape[-1] // 2, groups=2)
        torch.testing.assert_close(out[:, 8 * b : 8 * (b + 1)], ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="do not split into 5 branches"):
        triton_conv.grouped_conv_nhwc(x, packed, None, 2, branches=5)
    with pytest.raises(ValueError, match="must share"):
        triton_conv.branch_packed_weight([weights[0], torch.randn(4, 3, 3, 3)], 2, x.dtype)


@interpreted
def test_grouped_conv_triton_strategy_matches_and_caches_the_packed_weight() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=8)
    x = torch.randn(1, 16, 6, 5).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = grouped_conv(conv, x, "triton")
        packed = conv.__dict__["_triton_cache"][1]
        no_bias = grouped_conv(conv, x, "triton", with_bias=False)
        assert conv.__dict__["_triton_cache"][1] is packed
        ref = conv(x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert conv.bias is not None
    torch.testing.assert_close(no_bias, ref - conv.bias.reshape(1, -1, 1, 1), rtol=1e-5, atol=1e-5)


@interpreted
def test_grouped_conv_triton_refuses_what_it_cannot_compute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = torch.randn(1, 8, 6, 6)
    strided = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2)
    with torch.no_grad(), pytest.raises(ValueError, match="stride 1"):
        grouped_conv(strided, x, "triton")
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2)
    with pytest.raises(ValueError, match="inference-only"):
        grouped_conv(conv, x, "triton")  # gradients on: no backward
    monkeypatch.delenv("TRITON_INTERPRET")
    with torch.no_grad(), pytest.raises(ValueError, match="needs Triton and a CUDA device"):
        grouped_conv(conv, x, "triton")
    packed = triton_conv.packed_weight(conv.weight, 2, x.dtype)
    with pytest.raises(ValueError, match="does not fit"):
        triton_conv.grouped_conv_nhwc(x, packed, None, 4)
    with pytest.raises(ValueError, match="rows must be"):
        triton_conv.grouped_conv_nhwc(x, packed, None, 2, rows=5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_triton_grouped_conv_on_cuda_bf16() -> None:
    conv = torch.nn.Conv2d(64, 128, 11, padding=5, groups=8).cuda()
    x = torch.randn(1, 64, 68, 55, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        out = grouped_conv(conv, x, "triton")
        ref = grouped_conv(conv, x, "grouped")
    assert out.dtype == torch.bfloat16
    assert float((out.float() - ref.float()).norm() / ref.float().norm()) < 1e-2
    xb = x.to(torch.bfloat16)
    packed = triton_conv.packed_weight(conv.weight, 8, torch.bfloat16)
    bias = conv.bias.to(torch.bfloat16) if conv.bias is not None else None
    for rows in (2, 4):  # the multi-row variant compiles and agrees on the GPU
        multi = triton_conv.grouped_conv_nhwc(xb, packed, bias, 8, block_m=64, rows=rows)
        assert float((multi.float() - ref.float()).norm() / ref.float().norm()) < 1e-2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_combined_branches_on_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glonet_regions.model.gpu import conv as fast_conv

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fast_conv, "_CHOICES", {})
    monkeypatch.setattr(fast_conv, "_DISK", None)
    convs = [torch.nn.Conv2d(64, 128, k, padding=k // 2, groups=8).cuda() for k in (3, 5, 7, 11)]
    x = torch.randn(1, 64, 68, 55, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        y = fast_conv.combined_branches(torch.nn.Module(), convs, x)
        assert y is not None
        assert y.shape == (1, 512, 68, 55)
        for b, conv in enumerate(convs):
            ref = F.conv2d(x, conv.weight, None, padding=conv.padding, groups=8).float()
            got = y[:, 128 * b : 128 * (b + 1)].float()
            assert float((got - ref).norm() / ref.norm()) < 1e-2
    (rec,) = [r for r in fast_conv.choices() if r.get("combined_branches")]
    assert int(rec["choice"]) >= 0  # a configuration ran and was saved


def test_configurations_from_the_options() -> None:
    from glonet_regions.model.gpu import conv as fast_conv

    try:
        fast_conv.configure(GpuOptions(triton_configs=((64, 32, 4, 4), (128, 64, 8, 2))))
        assert triton_conv.configs() == ((64, 32, 4, 4), (128, 64, 8, 2))
    finally:
        fast_conv.configure(GpuOptions())
    assert triton_conv.configs() == triton_conv.CONFIGS
    env = {"GLONET_REGIONS_TRITON_CONFIGS": "64,32,4,4; 128,64,8,2"}
    assert GpuOptions().with_env(env).triton_configs == ((64, 32, 4, 4), (128, 64, 8, 2))
    with pytest.raises(ValueError, match="expected 'block_m,block_k,num_warps,rows'"):
        GpuOptions().with_env({"GLONET_REGIONS_TRITON_CONFIGS": "64,32,4"})
    with pytest.raises(ValueError, match="powers of two"):
        GpuOptions().with_env({"GLONET_REGIONS_TRITON_CONFIGS": "48,32,4,1"})


_AOT_SCRIPT = """
import json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from glonet_regions.model.gpu import triton_kernels as kernels

for kernel, consts in json.loads(sys.argv[1]):
    fn = getattr(kernels, kernel)
    constexprs = {"GROUPS": 8, "K": 11, "BLOCK_K": 32, "BLOCK_CO": 16, "HAS_BIAS": True,
                  "BRANCHES": 1, **consts}
    signature = {n: "constexpr" if n in constexprs else ("*bf16" if n.endswith("_ptr") else "i32")
                 for n in fn.arg_names}
    aligned = [n for n in ("x_ptr", "w_ptr", "b_ptr", "y_ptr", "c_in", "c_out") if n in signature]
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    src = ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs)
    out = triton.compile(src, target=GPUTarget("cuda", 90, 32),
                         options={"num_warps": 4, "num_stages": 3})
    assert "wgmma" in out.asm["ptx"], (kernel, consts, "no warpgroup MMA")
    assert out.asm["cubin"], (kernel, consts, "no machine code")
    print("compiled", kernel, consts)
"""


def test_kernels_compile_for_hopper(tmp_path: Path) -> None:
    """Ahead-of-time compilation of the kernels to sm_90 machine code with Triton's bundled
    ptxas, in a process without the interpreter: catches what the interpreter accepts and the
    compiler does not, without a GPU (Hopper's warpgroup MMA expected)."""
    import json
    import subprocess
    import sys

    import triton

    if not (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas").exists():
        pytest.skip("this Triton build has no NVIDIA backend")
    cases = [
        # jump.mmb's 16 -> 32 groups; dynamics.dec.7's 8 -> 64; dynamics' four branches as one
        # (branch-major store); the multi-row variant on dynamics' 8 -> 16 groups and combined.
        ("grouped_conv_kernel", {"CIN_G": 16, "COUT_G": 32, "BLOCK_M": 64, "BLOCK_CO": 32}),
        ("grouped_conv_kernel", {"CIN_G": 8, "COUT_G": 64, "BLOCK_M": 128, "BLOCK_CO": 64}),
        ("grouped_conv_kernel",
         {"CIN_G": 8, "COUT_G": 64, "BLOCK_M": 64, "BLOCK_CO": 64, "BRANCHES": 4}),
        ("grouped_conv_rows_kernel", {"CIN_G": 8, "COUT_G": 16, "BLOCK_W": 64, "ROWS": 4}),
        ("grouped_conv_rows_kernel",
         {"CIN_G": 8, "COUT_G": 64, "BLOCK_W": 64, "BLOCK_CO": 64, "ROWS": 2, "BRANCHES": 4}),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(TRITON_CACHE_DIR=str(tmp_path), TRITON_DEFAULT_FP_FUSION="1")
    done = subprocess.run(
        [sys.executable, "-c", _AOT_SCRIPT, json.dumps(cases)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("compiled") == len(cases)


class _FakeKernel:
    """Records launches (``kernel[grid](...)``) and warm-ups (``kernel.warmup(...)``)."""

    def __init__(self, log: list[tuple[str, tuple[object, ...], dict[str, object]]]) -> None:
        self.log = log

    def __getitem__(self, grid: tuple[int, ...]) -> object:
        def launch(*args: object, **kw: object) -> None:
            self.log.append(("launch", (grid, *args), kw))

        return launch

    def warmup(self, *args: object, grid: tuple[int, ...], **kw: object) -> None:
        from triton.runtime import _async_compile

        assert _async_compile.active_mode.get() is not None  # inside AsyncCompileMode
        if kw.get("BLOCK_K") == 64:
            raise RuntimeError("PassManager::run failed")
        self.log.append(("warmup", (grid, *args), kw))


def test_precompile_warms_up_exactly_what_the_launch_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``precompile`` hands Triton's warm-up the launch's own arguments (same specialisation,
    so the timed calls find the kernels compiled), one per configuration, under Triton's
    asynchronous compilation; an error there makes it step aside (returns False)."""
    pytest.importorskip("triton.runtime._async_compile")
    log: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    class Kernels:
        grouped_conv_kernel = _FakeKernel(log)
        grouped_conv_rows_kernel = _FakeKernel(log)

    monkeypatch.setattr(triton_conv, "_kernels", lambda: Kernels)
    x = torch.randn(1, 16, 6, 5).contiguous(memory_format=torch.channels_last)
    weight = triton_conv.packed_weight(torch.randn(32, 2, 3, 3), 8, torch.float32)
    bias = torch.randn(32)
    configs = [(64, 32, 4, 1), (64, 32, 4, 4)]
    assert not triton_conv.precompile(x, weight, bias, 8, configs)  # CPU: nothing to compile
    monkeypatch.setattr(triton_conv, "_can_precompile", lambda _x: True)
    assert triton_conv.precompile(x, weight, bias, 8, configs, threads=2)
    warmed = [(args[0], args[5:], kw) for what, args, kw in log if what == "warmup"]
    assert len(warmed) == 2 and not [e for e in log if e[0] == "launch"]
    for (block_m, block_k, num_warps, rows), (grid, ints, kw) in zip(configs, warmed, strict=True):
        log.clear()
        triton_conv.grouped_conv_nhwc(
            x, weight, bias, 8, block_m=block_m, block_k=block_k, num_warps=num_warps, rows=rows
        )
        ((_, launched, launch_kw),) = log
        assert (launched[0], launched[5:], launch_kw) == (grid, ints, kw)
    assert not triton_conv.precompile(x, weight, bias, 8, [(64, 64, 4, 1)])  # compile error


def test_time_configs_precompiles_the_missing_configurations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from glonet_regions.model.gpu import conv as fast_conv

    configs = ((64, 32, 4, 1), (64, 32, 4, 4), (128, 32, 8, 2))
    monkeypatch.setattr(triton_conv, "CONFIGS", configs)
    monkeypatch.setattr(fast_conv, "_median_ms", lambda fn, **_: (fn(), 0.5)[1])
    asked: list[list[tuple[int, int, int, int]]] = []
    rec: dict[str, float | int] = {fast_conv._triton_label(configs[0]): 1.0}
    monkeypatch.setattr(fast_conv, "_OPTIONS", GpuOptions(compile_threads=0))
    fast_conv._time_configs(dict(rec), lambda i: None, "x {config}", "y", asked.append)
    assert asked == []  # switched off
    monkeypatch.setattr(fast_conv, "_OPTIONS", GpuOptions())
    assert 1 <= fast_conv.compile_threads() <= 8  # on by default
    monkeypatch.setattr(fast_conv, "_OPTIONS", GpuOptions(compile_threads=4))
    assert fast_conv.compile_threads() == 4
    fast_conv._time_configs(rec, lambda i: None, "x {config}", "y", asked.append)
    assert asked == [list(configs[1:])]
    assert rec[fast_conv._triton_label(configs[2])] == 0.5
    with pytest.raises(ValueError, match="GLONET_REGIONS_TRITON_COMPILE_THREADS"):
        GpuOptions().with_env({"GLONET_REGIONS_TRITON_COMPILE_THREADS": "many"})
