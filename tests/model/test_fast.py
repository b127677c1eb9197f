"""The fast execution paths give the eager network's outputs (CPU tiny; CUDA marked gpu)."""

from __future__ import annotations

import copy
import importlib.util
import os
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from glonet_regions.model.blocks import AdativeFourierNeuralOperator, FourierNetBlock, Inception
from glonet_regions.model.gpu.blocks import (
    FastAFNO,
    FastBasicConv2d,
    FastFoTF,
    FastGFBlock,
    FastInception,
)
from glonet_regions.model.gpu.kernels import (
    SpectralLayout,
    afno_mix,
    bias_act,
    compiled,
    dft_matrices,
    fourier_block,
    gn_lrelu,
    mlp_residual,
    patch_embed_gemm,
    patch_tokens,
    pool_major_fc1,
)
from glonet_regions.model.gpu.optimise import (
    fuse_blocks,
    optimise_model,
    resolve_mode,
    set_checkpoint_branches,
)
from glonet_regions.model.gpu.options import GpuOptions
from glonet_regions.model.gpu.runner import ForecastRunner
from glonet_regions.model.network import Glonet
from glonet_regions.model.rollout import rollout

# Inductor (torch 2.11) calls the deprecated torch.jit.script_method while compiling; the
# warning is torch's own, not ours, so it is ignored narrowly for the compiling tests.
inductor_warning = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


def rel(a: Tensor, b: Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


def set_fusion(model: torch.nn.Module, fusion: str, setting: str) -> None:
    """Turn ``fusion`` of every fused block of ``model`` on ("" or "1") or off ("0")."""
    opts = GpuOptions(disable=(fusion,) if setting == "0" else ())
    for m in model.modules():
        if hasattr(type(m), "options"):
            m.options = opts  # type: ignore[assignment]


def test_resolve_mode() -> None:
    assert resolve_mode("auto", "cpu") == "eager"
    assert resolve_mode("auto", "cuda") == "fast"
    assert resolve_mode("fast", "cpu") == "fast"
    with pytest.raises(ValueError, match="mode"):
        resolve_mode("turbo", "cpu")  # type: ignore[arg-type]


def test_fused_functions_match_modules() -> None:
    x = torch.randn(2, 16, 9, 7)
    norm = torch.nn.GroupNorm(4, 16)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    acc = torch.randn_like(x)
    ref = acc + torch.nn.functional.leaky_relu(norm(x), 0.2)
    out = gn_lrelu(x, norm.weight, norm.bias, 4, norm.eps, 0.2, acc)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)

    tokens = torch.randn(2, 11, 8)
    ln, fc1 = torch.nn.LayerNorm(8, eps=1e-6), torch.nn.Linear(8, 32)
    pool = torch.nn.AdaptiveAvgPool1d(8)
    ref = tokens + pool(torch.nn.functional.gelu(fc1(ln(tokens))))
    out = mlp_residual(tokens, ln.weight, ln.bias, ln.eps, fc1.weight, fc1.bias)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    # fc1's rows in the pooling-major order: same result.
    w, b = pool_major_fc1(fc1.weight, fc1.bias)
    out = mlp_residual(tokens, ln.weight, ln.bias, ln.eps, w, b, True)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="not a multiple of D=8"):
        pool_major_fc1(torch.zeros(12, 8), torch.zeros(12))


@inductor_warning
@pytest.mark.parametrize("impl", ["eager", "compiled"])
def test_fast_fourier_block_pool_major_fc1(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast block with fc1 in the pooling-major order (the default) equals the module,
    values and gradients (fc1's included); in inference the reordered weights are cached and
    rebuilt after a weight update; the ``pool_major`` fusion off keeps the published order."""
    torch.manual_seed(12)
    block = FourierNetBlock(16, mlp_ratio=4, num_blocks=2)
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.2)
    fast = copy.deepcopy(block)
    fuse_blocks(fast, impl)  # type: ignore[arg-type]
    x = torch.randn(2, 6 * 5, 16, requires_grad=True)
    ref = block(x, 6, 5)
    g_ref = torch.autograd.grad(ref.square().sum(), [x, block.mlp.fc1.weight])
    for setting in ("", "0"):
        set_fusion(fast, "pool_major", setting)
        out = fast(x, 6, 5)
        assert rel(out, ref) < 1e-5
        g = torch.autograd.grad(out.square().sum(), [x, fast.mlp.fc1.weight])
        for a, b in zip(g, g_ref, strict=True):
            assert rel(a, b) < 1e-4
    set_fusion(fast, "pool_major", "")
    with torch.no_grad():
        fast(x, 6, 5)
        assert "_pool_major_cache" in fast.mlp.__dict__
        fast.mlp.fc1.weight.mul_(2.0)
        block.mlp.fc1.weight.mul_(2.0)
        assert rel(fast(x, 6, 5), block(x, 6, 5)) < 1e-5


def test_gn_lrelu_folds_the_convolution_bias() -> None:
    torch.manual_seed(4)
    x = torch.randn(2, 16, 9, 7)
    conv_bias = torch.randn(16) * 3  # unequal within groups, so it changes the statistics
    norm = torch.nn.GroupNorm(4, 16)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    ref = torch.nn.functional.leaky_relu(norm(x + conv_bias.reshape(1, 16, 1, 1)), 0.2)
    out = gn_lrelu(x, norm.weight, norm.bias, 4, norm.eps, 0.2, None, conv_bias)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_gn_lrelu_split_statistics_channels_last_and_offset() -> None:
    # Channel means far from zero and unequal: the per-channel -> per-group combination must
    # still give GroupNorm's statistics (no E[x^2] - E[x]^2 cancellation).
    x = torch.randn(2, 16, 33, 20) * 3 + torch.linspace(-20, 20, 16).reshape(1, 16, 1, 1)
    x = x.contiguous(memory_format=torch.channels_last)
    norm = torch.nn.GroupNorm(4, 16)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    ref = torch.nn.functional.leaky_relu(norm(x), 0.1)
    out = gn_lrelu(x, norm.weight, norm.bias, 4, norm.eps, 0.1, None)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hw", [(10, 7), (6, 8)])
@pytest.mark.parametrize("layout", ["planes", "dft"])
@pytest.mark.parametrize("threshold", [0.0, 0.01])
def test_fast_afno_matches_eager(
    threshold: float, layout: SpectralLayout, hw: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    ref_mod = AdativeFourierNeuralOperator(48, num_blocks=3, sparsity_threshold=threshold)
    for p in ref_mod.parameters():  # larger than the 0.02 init so layer 2 matters
        torch.nn.init.normal_(p, std=0.2)
    fast_mod = copy.deepcopy(ref_mod)
    fast_mod.__class__ = FastAFNO
    assert isinstance(fast_mod, FastAFNO)
    fast_mod.fft_layout = layout
    h, w = hw
    x = torch.randn(2, h * w, 48)
    ref, out = ref_mod(x, h, w), fast_mod(x, h, w)
    assert rel(out, ref) < 1e-5
    ref.square().sum().backward()
    out.square().sum().backward()
    grads = dict(ref_mod.named_parameters())
    for name, p in fast_mod.named_parameters():
        assert p.grad is not None and grads[name].grad is not None, name
        assert rel(p.grad, grads[name].grad) < 1e-4, name


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_dft_matrices_are_rfft2_and_irfft2(h: int, w: int, seed: int) -> None:
    """The four real matrices compute torch.fft.rfft2 / irfft2 (ortho), Nyquist modes included."""
    gen = torch.Generator().manual_seed(seed)
    fw, fh, ih, iw = dft_matrices(h, w, torch.float64, torch.device("cpu"))
    wf = w // 2 + 1
    x = torch.randn(3, h, w, generator=gen, dtype=torch.float64)  # (channels, h, w)
    ref = torch.fft.rfft2(x, norm="ortho")  # (3, h, wf)
    a = fh @ (fw @ x.permute(1, 2, 0)).reshape(2 * h, wf * 3)  # rows (k1, r), cols (k2, c)
    got = a.reshape(h, 2, wf, 3)
    torch.testing.assert_close(got[:, 0].permute(2, 0, 1), ref.real, rtol=0, atol=1e-12)
    torch.testing.assert_close(got[:, 1].permute(2, 0, 1), ref.imag, rtol=0, atol=1e-12)
    # Inverse of an arbitrary (not Hermitian) half spectrum, as irfft2 reads it.
    z = torch.randn(3, h, wf, 2, generator=gen, dtype=torch.float64)
    ref_x = torch.fft.irfft2(torch.view_as_complex(z), s=(h, w), norm="ortho")
    zr = z.permute(1, 3, 2, 0).reshape(2 * h, wf * 3)  # rows (k1, r), cols (k2, c)
    y = (ih @ zr).reshape(h, 2 * wf, 3)
    back = iw @ y  # (h, w, c)
    torch.testing.assert_close(back.permute(2, 0, 1), ref_x, rtol=0, atol=1e-12)


def test_fast_afno_layout_is_chosen_by_grid_size() -> None:
    mod = FastAFNO.__new__(FastAFNO)
    mod.fft_layout = None
    assert mod.layout_for(68 * 55) == "dft"
    assert mod.layout_for(544 * 440) == "dft"
    assert mod.layout_for(1088 * 880) == "planes"
    mod.fft_layout = "planes"
    assert mod.layout_for(68 * 55) == "planes"


def test_fast_afno_inference_cache_follows_weight_updates() -> None:
    torch.manual_seed(2)
    ref_mod = AdativeFourierNeuralOperator(16, num_blocks=2)
    for p in ref_mod.parameters():
        torch.nn.init.normal_(p, std=0.2)
    fast_mod = copy.deepcopy(ref_mod)
    fast_mod.__class__ = FastAFNO
    x = torch.randn(1, 6 * 4, 16)
    with torch.no_grad():
        assert rel(fast_mod(x, 6, 4), ref_mod(x, 6, 4)) < 1e-5
        for mod in (ref_mod, fast_mod):
            mod.w2.mul_(-1.5)  # in place, as an optimizer step or load_state_dict would
        assert rel(fast_mod(x, 6, 4), ref_mod(x, 6, 4)) < 1e-5


def test_afno_mix_bf16_error_is_bounded() -> None:
    # The bf16 products (as on CUDA under autocast) vs the float32 ones, the token mixer alone.
    torch.manual_seed(1)
    mod = AdativeFourierNeuralOperator(64, num_blocks=2)
    mod.__class__ = FastAFNO
    assert isinstance(mod, FastAFNO)
    x = torch.randn(2, 12 * 7, 64)
    with torch.no_grad():
        ref = afno_mix(x, 12, 7, *mod.fused_args(torch.float32, 12, 7, x.device))
        out = afno_mix(x, 12, 7, *mod.fused_args(torch.bfloat16, 12, 7, x.device))
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert rel(out, ref) < 1e-2


@pytest.mark.parametrize("channels", [5, 40])
def test_fast_forward_matches_eager_on_cpu(tiny: Callable[..., Glonet], channels: int) -> None:
    model = tiny(channels=channels, grid=(30, 45))
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=False)
    assert any(isinstance(m, FastBasicConv2d) for m in fast.modules())
    assert any(isinstance(m, FastInception) for m in fast.modules())
    assert isinstance(fast, Glonet)
    assert isinstance(fast.space, FastFoTF) and isinstance(fast.space.NO, FastGFBlock)
    x = torch.randn(1, 2, channels, 30, 45)
    with torch.no_grad():
        ref, out = model(x), fast(x)
    # Same operations in float32, only the memory layout and op grouping differ.
    assert rel(out, ref) < 1e-5


def test_fast_forward_with_dense_grouped_convs(tiny: Callable[..., Glonet]) -> None:
    model = tiny(channels=5, grid=(30, 45))
    fast = optimise_model(
        copy.deepcopy(model), device="cpu", mode="fast", training=False, conv_strategy="dense"
    )
    assert {m.conv_strategy for m in fast.modules() if isinstance(m, FastInception)} == {"dense"}
    x = torch.randn(1, 2, 5, 30, 45)
    with torch.no_grad():
        assert rel(fast(x), model(x)) < 1e-5


def _fourier_block_args(
    block: FourierNetBlock, layout: SpectralLayout = "planes"
) -> tuple[object, ...]:
    fast = copy.deepcopy(block)
    fuse_blocks(fast, "eager")
    f = fast.filter
    assert isinstance(f, FastAFNO)
    f.fft_layout = layout
    ln1, ln2, fc1 = fast.normlayer1, fast.normlayer2, fast.mlp.fc1
    return (
        (ln1.weight, ln1.bias, ln1.eps), f.fused_args(torch.float32, 6, 5, torch.device("cpu")),
        (ln2.weight, ln2.bias, ln2.eps), (fc1.weight, fc1.bias),
    )  # fmt: skip


@inductor_warning
@pytest.mark.parametrize("layout", ["planes", "dft"])
def test_compiled_fourier_block_matches_module(layout: SpectralLayout) -> None:
    # The whole block as one Inductor graph (CPU backend here; CUDA in the product): same
    # outputs and gradients as the eager module, FFTs and complex views included.
    torch.manual_seed(0)
    block = FourierNetBlock(16, mlp_ratio=4, num_blocks=2)
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(2, 6 * 5, 16, requires_grad=True)
    ref = block(x, 6, 5)
    (gx_ref,) = torch.autograd.grad(ref.square().sum(), [x])
    args = _fourier_block_args(block, layout)
    assert rel(fourier_block(x, 6, 5, *args), ref) < 1e-5  # type: ignore[arg-type]
    out = compiled("fourier_block")(x, 6, 5, *args)
    assert rel(out, ref) < 1e-5
    (gx,) = torch.autograd.grad(out.square().sum(), [x])
    assert rel(gx, gx_ref) < 1e-4


def test_state_dict_is_unchanged(tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimise_model(model, device="cpu", mode="fast", training=True)
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert after[key].shape == value.shape
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    # And an eager model loads it strictly.
    fresh = tiny()
    fresh.load_state_dict(after, strict=True)


def test_auto_on_cpu_is_eager(tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    out = optimise_model(model, device="cpu", training=False)
    assert out is model
    assert not any(isinstance(m, FastBasicConv2d) for m in model.modules())
    assert not model.training


def test_fast_training_gradients_match(tiny: Callable[..., Glonet]) -> None:
    model = tiny().train()
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=True)
    assert isinstance(fast, Glonet)
    assert isinstance(fast.space, FastFoTF) and isinstance(fast.space.NO, FastGFBlock)
    assert fast.space.NO.use_checkpoint and fast.dynamics.use_checkpoint
    assert not fast.jump.mmb.use_checkpoint
    x = torch.randn(1, 2, 5, 32, 48)
    model(x).square().mean().backward()
    fast(x).square().mean().backward()
    grads = dict(model.named_parameters())
    for name, p in fast.named_parameters():
        g_ref = grads[name].grad
        if g_ref is None:
            assert p.grad is None, name
            continue
        assert p.grad is not None, name
        assert rel(p.grad, g_ref) < 1e-4, name


def test_fast_path_keeps_lora_wrapped_layers_exact(tiny: Callable[..., Glonet]) -> None:
    # The fused blocks read fc1's and the AFNO skip's weights directly; with LoRA adapters
    # around them those blocks stay eager (and the adapters keep training).
    from glonet_regions.engine.lora import LoRAConv1d, LoRALinear, apply_lora

    model = tiny().train()
    apply_lora(model, rank=2, alpha=4.0, targets=(r"blocks\.0\.mlp\.fc1", r"blks\.1\.filter\.bias"))
    for module in model.modules():
        if isinstance(module, LoRALinear | LoRAConv1d):
            torch.nn.init.normal_(module.lora_B)  # a non-zero update, so it shows
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=True)
    assert type(fast.dynamics.blocks[0]) is FourierNetBlock
    assert type(fast.space.NO.blks[1].filter) is AdativeFourierNeuralOperator
    assert any(isinstance(m, FastAFNO) for m in fast.modules())
    x = torch.randn(1, 2, 5, 32, 48)
    ref, out = model(x), fast(x)
    assert rel(out, ref) < 1e-5
    out.square().mean().backward()
    adapter = fast.dynamics.blocks[0].mlp.fc1
    assert isinstance(adapter, LoRALinear) and adapter.lora_B.grad is not None


def test_fast_path_keeps_inception_with_wrapped_conv_eager(tiny: Callable[..., Glonet]) -> None:
    class Wrapped(torch.nn.Module):  # any wrapper around a convolution (an adapter, a hook)
        def __init__(self, conv: torch.nn.Conv2d) -> None:
            super().__init__()
            self.inner = conv

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.inner(x)
            return out

    model = tiny().eval()
    stage = model.dynamics.dec[1]
    stage.conv1 = Wrapped(stage.conv1)  # type: ignore[assignment]
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=False)
    assert type(fast.dynamics.dec[1]) is Inception
    assert isinstance(fast.dynamics.dec[0], FastInception)
    x = torch.randn(1, 2, 5, 32, 48)
    with torch.no_grad():
        assert rel(fast(x), model(x)) < 1e-5


def test_set_checkpoint_branches_validates(tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    set_checkpoint_branches(model, ["jump"])
    assert model.jump.mmb.use_checkpoint and not model.space.NO.use_checkpoint
    with pytest.raises(ValueError, match="unknown checkpoint"):
        set_checkpoint_branches(model, ["nope"])


def test_fuse_blocks_is_idempotent(tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    first = fuse_blocks(model, "eager")
    assert first > 0
    assert fuse_blocks(model, "eager") == first


def test_forecast_runner_on_cpu_is_rollout(tiny: Callable[..., Glonet]) -> None:
    model = tiny()
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=False)
    mask = torch.rand(32, 48) > 0.3
    x0 = torch.randn(1, 2, 5, 32, 48)
    runner = ForecastRunner(fast, n_calls=3, ocean_mask=mask)
    assert not runner.use_graph
    out = runner(x0)
    ref = rollout(model, x0, 3, ocean_mask=mask, grad=False)
    assert out.shape == (1, 6, 5, 32, 48)
    assert rel(out, ref) < 1e-5


# ------------------------------------------------------------------------------------------
# CUDA (run on a GPU machine: pytest -m gpu tests/model/test_fast.py)
# ------------------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
@inductor_warning
def test_cuda_fast_forward_within_bf16_bounds(tiny: Callable[..., Glonet]) -> None:
    model = tiny(channels=40, grid=(64, 80)).cuda()
    fast = optimise_model(copy.deepcopy(model), device="cuda", training=False)
    x = torch.randn(1, 2, 40, 64, 80, device="cuda")
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = fast(x)
            base = model(x)
    # bf16 autocast: eager and fast both land near 1e-2 of the float32 output, not further.
    assert rel(out, ref) < 3e-2
    assert rel(out, ref) < 2 * rel(base, ref) + 1e-3


@pytest.mark.gpu
@cuda
@inductor_warning
def test_cuda_graph_runner_matches_no_graph(tiny: Callable[..., Glonet]) -> None:
    model = optimise_model(tiny(grid=(64, 80)), device="cuda", training=False)
    mask = torch.rand(64, 80, device="cuda") > 0.3
    graph = ForecastRunner(model, n_calls=3, ocean_mask=mask)
    plain = ForecastRunner(model, n_calls=3, ocean_mask=mask, use_graph=False)
    for _ in range(2):  # fresh inputs through the same captured graph
        x0 = torch.randn(1, 2, 5, 64, 80, device="cuda")
        out = graph(x0).clone()
        ref = plain(x0)
        assert torch.isfinite(out).all()
        assert rel(out, ref) < 1e-3


@pytest.mark.gpu
@cuda
@inductor_warning
def test_cuda_fast_training_step_runs(tiny: Callable[..., Glonet]) -> None:
    model = optimise_model(tiny(grid=(64, 80)), device="cuda", training=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    x = torch.randn(1, 2, 5, 64, 80, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x).float().square().mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_inception_concat_without_cat(channels_last: bool) -> None:
    """The decoder stage's split 1x1 projection equals the projection of the concatenation."""
    torch.manual_seed(4)
    ref = Inception(24, 8, 16, (3, 5), 4)
    fast_mod = copy.deepcopy(ref)
    fast_mod.__class__ = FastInception
    x = torch.randn(2, 12, 9, 7, requires_grad=True)
    skip = torch.randn(2, 12, 9, 7, requires_grad=True)
    if channels_last:
        fast_mod.conv1.weight.data = fast_mod.conv1.weight.data.contiguous(
            memory_format=torch.channels_last
        )
    want = ref.forward_concat(x, skip)
    got = fast_mod.forward_concat(x, skip)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert rel(got, want) < 1e-5
    gw = torch.autograd.grad(want.square().sum(), [x, skip, ref.conv1.weight])
    gg = torch.autograd.grad(got.square().sum(), [x, skip, fast_mod.conv1.weight])
    for a, b in zip(gg, gw, strict=True):
        assert rel(a, b) < 1e-4


def _record_fused_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fused functions the fast modules call from now on (in call order)."""
    from glonet_regions.model.gpu import blocks as fast_module

    calls: list[str] = []
    real = fast_module._fn

    def recording(impl: object, name: str) -> object:
        fn = real(impl, name)  # type: ignore[arg-type]

        def call(*args: object, **kw: object) -> object:
            calls.append(name)
            return fn(*args, **kw)  # type: ignore[operator]

        return call

    monkeypatch.setattr(fast_module, "_fn", recording)
    return calls


def _inception_pair(seed: int) -> tuple[Inception, FastInception]:
    """A small Inception and its fast copy with ``"auto"`` convolutions (same weights)."""
    torch.manual_seed(seed)
    ref = Inception(12, 8, 16, (3, 5, 7), 4)
    fast_mod = copy.deepcopy(ref)
    fast_mod.__class__ = FastInception
    assert isinstance(fast_mod, FastInception)
    fast_mod.conv_strategy = "auto"
    return ref, fast_mod


@pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1" or importlib.util.find_spec("triton") is None,
    reason="runs the Triton kernel on CPU tensors through Triton's interpreter",
)
def test_fast_inception_combined_branches_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-kernel branches equal the per-branch path, in inference only; the
    ``inception_combined`` fusion off turns them off."""
    ref, fast_mod = _inception_pair(5)
    x = torch.randn(2, 12, 9, 7)
    with torch.no_grad():
        want = ref(x)
        got = fast_mod(x)
        assert "_combined_cache" in fast_mod.__dict__  # the combined kernel ran
    assert rel(got, want) < 1e-5
    fast_mod.__dict__.pop("_combined_cache")
    got_grad = fast_mod(x)  # gradients on: the per-branch path
    assert "_combined_cache" not in fast_mod.__dict__
    assert rel(got_grad, want) < 1e-5
    set_fusion(fast_mod, "inception_combined", "0")
    with torch.no_grad():
        got_off = fast_mod(x)
    assert "_combined_cache" not in fast_mod.__dict__
    assert rel(got_off, want) < 1e-5


@inductor_warning
@pytest.mark.parametrize("impl", ["eager", "compiled"])
def test_fast_inception_branches_normalised_together(
    impl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branches' GroupNorms, LeakyReLUs and sum in one function (the default) equal the
    eager Inception, values and gradients, as the per-branch chain does
    (the ``gn_branches`` fusion off); the function is called once per Inception."""
    ref, fast_mod = _inception_pair(11)
    fast_mod.conv_strategy = "grouped"
    fast_mod.fused_impl = impl  # type: ignore[assignment]
    x = torch.randn(2, 12, 9, 7, requires_grad=True)
    want = ref(x)
    g_want = torch.autograd.grad(want.square().sum(), [x, ref.lls[1].norm.weight])
    calls = _record_fused_calls(monkeypatch)
    for setting, name, count in (("", "gn_lrelu_branches", 1), ("0", "gn_lrelu", 3)):
        set_fusion(fast_mod, "gn_branches", setting)
        calls.clear()
        got = fast_mod(x)
        assert calls.count(name) == count
        assert rel(got, want) < 1e-5
        g = torch.autograd.grad(got.square().sum(), [x, fast_mod.lls[1].norm.weight])
        for a, b in zip(g, g_want, strict=True):
            assert rel(a, b) < 1e-4


@inductor_warning
@pytest.mark.parametrize("impl", ["eager", "compiled"])
def test_fast_gf_block_head_as_gemms(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``space.NO``'s LayerNorm and ``lproj`` as matrix products (the default) equal the
    module, values and gradients, as the per-convolution form does
    (the ``lproj_gemm`` fusion off); a ``lproj`` with overlapping kernels keeps the
    convolutions."""
    from glonet_regions.model.blocks import GFBlock
    from glonet_regions.model.gpu.blocks import _is_unpatch

    torch.manual_seed(13)
    block = GFBlock(3, 16, 8, 1, 2, 2, 2, (6, 4), (2, 3))
    fast = copy.deepcopy(block)
    fuse_blocks(fast, impl)  # type: ignore[arg-type]
    x = torch.randn(2, 3, 16, 24, requires_grad=True)
    ref = block(x)
    g_ref = torch.autograd.grad(ref.square().sum(), [x, block.lproj[2].weight, block.norm.weight])
    for setting in ("", "0"):
        set_fusion(fast, "lproj_gemm", setting)
        fast.__dict__.pop("_lproj_cache", None)
        out = fast(x)
        assert out.shape == ref.shape
        assert out.is_contiguous(memory_format=torch.channels_last)  # as the convolutions give
        assert rel(out, ref) < 1e-5
        g = torch.autograd.grad(out.square().sum(), [x, fast.lproj[2].weight, fast.norm.weight])
        for a, b in zip(g, g_ref, strict=True):
            assert rel(a, b) < 1e-4
    set_fusion(fast, "lproj_gemm", "")
    with torch.no_grad():
        fast(x)
        assert "_lproj_cache" in fast.__dict__
    assert not _is_unpatch(torch.nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1))
    assert _is_unpatch(torch.nn.ConvTranspose2d(4, 4, 2, stride=2))


def test_gn_lrelu_branches_needs_a_branch() -> None:
    from glonet_regions.model.gpu.kernels import gn_lrelu_branches

    with pytest.raises(ValueError, match="at least one branch"):
        gn_lrelu_branches([], [], [], 2, 1e-5, 0.2, [])


def test_tuned_fused_functions_from_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """``compiled()`` hands coordinate-descent tuning to torch.compile for the functions the
    options name (``configure``), only."""
    from glonet_regions.model.gpu import kernels as fast_kernels

    assert set(fast_kernels.FUSED) == set(GpuOptions(tune=("all",)).tuned())
    seen: dict[str, object] = {}

    def fake_compile(fn: Callable[..., Tensor], **kwargs: object) -> Callable[..., Tensor]:
        seen[fn.__name__] = kwargs.get("options")
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(fast_kernels, "_COMPILED", {})
    monkeypatch.setattr(fast_kernels, "_TUNED", frozenset())
    fast_kernels.configure(GpuOptions(tune=("gn_lrelu",)).tuned())
    fast_kernels.compiled("gn_lrelu")
    fast_kernels.compiled("mlp_residual")
    assert seen == {"gn_lrelu": {"coordinate_descent_tuning": True}, "mlp_residual": None}


def test_bias_act_and_patch_tokens_match_the_modules() -> None:
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(6, 5, 3, padding=1)
    x, other = torch.randn(2, 6, 9, 7), torch.randn(2, 5, 9, 7)
    y = torch.nn.functional.conv2d(x, conv.weight, None, padding=1)
    torch.testing.assert_close(bias_act(y, conv.bias), conv(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        bias_act(y, conv.bias, other, "tanh"), torch.tanh(conv(x) + other), rtol=1e-6, atol=1e-6
    )
    out = bias_act(y.bfloat16(), conv.bias, other)  # promoted like ``bf16 + fp32`` in eager
    assert out.dtype == torch.float32
    with pytest.raises(ValueError, match="act must be"):
        bias_act(y, conv.bias, act="relu")
    pos = torch.randn(1, 63, 5)
    ref = conv(x).flatten(2).transpose(1, 2) + pos
    torch.testing.assert_close(patch_tokens(y, conv.bias, pos), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("second", [False, True])
def test_pointwise_projection_is_the_1x1_convolution(second: bool) -> None:
    from glonet_regions.model.gpu.blocks import _pointwise

    torch.manual_seed(4)
    conv = torch.nn.Conv2d(10, 6, 1)
    x = torch.randn(2, 4, 5, 7).contiguous(memory_format=torch.channels_last)
    skip = torch.randn(2, 6, 5, 7).contiguous(memory_format=torch.channels_last)
    cat = torch.cat([x, skip], 1) if second else torch.cat([x, torch.zeros_like(skip)], 1)
    ref = conv(cat)
    w = conv.weight
    out = _pointwise(x, w[:, :4], conv.bias, *((skip, w[:, 4:]) if second else ()))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_fast_space_branch_folds_the_local_branch(tiny: Callable[..., Glonet]) -> None:
    """FoTF's conv1x1(NN(.)) as one convolution: same output, and the folded weights follow
    an in-place update of either layer (no stale cache)."""
    model = tiny()
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=False)
    assert isinstance(fast, Glonet) and isinstance(fast.space, FastFoTF)
    x = torch.randn(1, 2, 5, 32, 48)
    with torch.no_grad():
        assert rel(fast.space(x), model.space(x)) < 1e-5
        for m in (model, fast):
            m.space.conv1x1.weight.mul_(1.5)
            m.space.NN.upconv.bias.add_(0.1)
        assert rel(fast.space(x), model.space(x)) < 1e-5


def test_fast_glue_can_be_turned_off(
    tiny: Callable[..., Glonet], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny()
    fast = optimise_model(
        copy.deepcopy(model), device="cpu", mode="fast", training=False,
        options=GpuOptions(disable=("fast_glue",)),
    )  # fmt: skip
    assert isinstance(fast, Glonet)
    assert type(fast.space) is not FastFoTF and type(fast.space.NO) is not FastGFBlock
    x = torch.randn(1, 2, 5, 32, 48)
    with torch.no_grad():
        assert rel(fast(x), model(x)) < 1e-5


@inductor_warning
def test_compiled_bias_functions_match_eager_with_gradients() -> None:
    """``bias_act`` and ``patch_tokens`` as Inductor graphs (CPU backend here; CUDA in the
    product): same values and gradients as their eager form, bf16 inputs included."""
    torch.manual_seed(6)
    y = torch.randn(2, 5, 6, 4, requires_grad=True)
    other = torch.randn(2, 5, 6, 4, requires_grad=True)
    bias = torch.randn(5, requires_grad=True)
    pos = torch.randn(1, 24, 5, requires_grad=True)
    for fn, args in (
        ("bias_act", (y, bias, other, "tanh")),
        ("bias_act", (y.bfloat16(), bias)),
        ("patch_tokens", (y, bias, pos)),
    ):
        ref = {"bias_act": bias_act, "patch_tokens": patch_tokens}[fn](*args)
        out = compiled(fn)(*args)
        assert out.dtype == ref.dtype
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        leaves = [y] + [a for a in (bias, other, pos) if any(a is b for b in args)]
        g_ref = torch.autograd.grad(ref.float().square().sum(), leaves, allow_unused=True)
        g_out = torch.autograd.grad(out.float().square().sum(), leaves, allow_unused=True)
        for a, b in zip(g_out, g_ref, strict=True):
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_pointwise_projection_under_autocast_with_gradients() -> None:
    """The in-place accumulation of the second product works under bf16 autocast with
    autograd (training path): gradients within bf16 bounds of the float32 convolution's."""
    from glonet_regions.model.gpu.blocks import _pointwise

    torch.manual_seed(7)
    conv = torch.nn.Conv2d(12, 8, 1)
    x = torch.randn(2, 4, 5, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    skip = torch.randn(2, 8, 5, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    ref = conv(torch.cat([x, skip], 1))
    g_ref = torch.autograd.grad(ref.square().sum(), [x, skip, conv.weight, conv.bias])
    w = conv.weight
    with torch.autocast("cpu", torch.bfloat16):
        out = _pointwise(x, w[:, :4], conv.bias, skip, w[:, 4:])
    assert out.dtype == torch.bfloat16
    assert rel(out, ref) < 2e-2
    g = torch.autograd.grad(out.float().square().sum(), [x, skip, conv.weight, conv.bias])
    for a, b in zip(g, g_ref, strict=True):
        assert rel(a, b) < 3e-2


@inductor_warning
def test_patch_embedding_as_one_gemm(
    tiny: Callable[..., Glonet], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GEMM patch embedding (the default) equals the strided convolution's, eager and
    compiled (values and gradients), and the fast network with it, or with the convolution
    (the ``patch_gemm`` fusion off), equals the eager network."""
    torch.manual_seed(8)
    conv = torch.nn.Conv2d(3, 7, 4, stride=4)
    x = torch.randn(2, 3, 8, 12, requires_grad=True)
    pos = torch.randn(1, 6, 7)
    ref = conv(x).flatten(2).transpose(1, 2) + pos
    (g_ref,) = torch.autograd.grad(ref.square().sum(), [x])
    for fn in (patch_embed_gemm, compiled("patch_embed_gemm")):
        out = fn(x, conv.weight, conv.bias, pos)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        (g,) = torch.autograd.grad(out.square().sum(), [x])
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4)
    model = tiny()
    fast = optimise_model(copy.deepcopy(model), device="cpu", mode="fast", training=False)
    x5 = torch.randn(1, 2, 5, 32, 48)
    calls = _record_fused_calls(monkeypatch)
    for setting, expected in (("", "patch_embed_gemm"), ("0", "patch_tokens")):
        set_fusion(fast, "patch_gemm", setting)
        calls.clear()
        with torch.no_grad():
            assert rel(fast(x5), model(x5)) < 1e-5
        assert expected in calls
        assert {"patch_embed_gemm", "patch_tokens"} - {expected} - set(calls)
