"""Grouped convolutions as dense block-diagonal ones: same values, same gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from glonet_regions.model.gpu import conv as fast_conv
from glonet_regions.model.gpu.conv import _run as run_with_groups
from glonet_regions.model.gpu.conv import (
    block_diagonal,
    choices,
    choices_file,
    grouped_conv,
    load_choices,
    merge_candidates,
    save_choices,
)


@settings(max_examples=25, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 4]),
    c_in_g=st.integers(1, 3),
    c_out_g=st.integers(1, 3),
    k=st.sampled_from([1, 3, 5]),
    seed=st.integers(0, 2**16),
)
def test_block_diagonal_conv_equals_grouped_conv(
    groups: int, c_in_g: int, c_out_g: int, k: int, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(groups * c_out_g, c_in_g, k, k, generator=gen, dtype=torch.float64)
    x = torch.randn(2, groups * c_in_g, 7, 6, generator=gen, dtype=torch.float64)
    dense = block_diagonal(weight, groups)
    assert dense.shape == (groups * c_out_g, groups * c_in_g, k, k)
    # Off-diagonal blocks are zero, diagonal blocks are the grouped weights, exactly.
    for g in range(groups):
        rows = slice(g * c_out_g, (g + 1) * c_out_g)
        for h in range(groups):
            block = dense[rows, h * c_in_g : (h + 1) * c_in_g]
            expected = weight[rows] if g == h else torch.zeros_like(weight[rows])
            assert torch.equal(block, expected)
    ref = F.conv2d(x, weight, padding=k // 2, groups=groups)
    out = F.conv2d(x, dense, padding=k // 2)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    log_groups=st.integers(1, 3),
    data=st.data(),
    c_in_g=st.integers(1, 3),
    c_out_g=st.integers(1, 3),
    k=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_merged_groups_equal_grouped_conv(
    log_groups: int, data: st.DataObject, c_in_g: int, c_out_g: int, k: int, seed: int
) -> None:
    groups = 2**log_groups
    into = data.draw(st.sampled_from(merge_candidates(groups)))
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(groups * c_out_g, c_in_g, k, k, generator=gen, dtype=torch.float64)
    x = torch.randn(2, groups * c_in_g, 6, 5, generator=gen, dtype=torch.float64)
    merged = block_diagonal(weight, groups, into)
    m = groups // into
    assert merged.shape == (groups * c_out_g, m * c_in_g, k, k)
    # Merged group j's block (a, b) is original group j*m + a's weight when a == b, else zero.
    for g in range(groups):
        j, a = divmod(g, m)
        rows = slice(g * c_out_g, (g + 1) * c_out_g)
        for b in range(m):
            block = merged[rows, b * c_in_g : (b + 1) * c_in_g]
            expected = weight[rows] if a == b else torch.zeros_like(weight[rows])
            assert torch.equal(block, expected), (g, j, b)
    ref = F.conv2d(x, weight, padding=k // 2, groups=groups)
    out = F.conv2d(x, merged, padding=k // 2, groups=into)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    if into == groups:
        assert torch.equal(merged, weight)


def test_merge_candidates() -> None:
    assert merge_candidates(8) == [8, 4, 2, 1]
    assert merge_candidates(6) == [6, 3, 1]
    assert merge_candidates(3) == [3, 1]
    assert merge_candidates(1) == [1]


def test_timed_candidates() -> None:
    from glonet_regions.model.gpu.conv import timed_candidates

    assert timed_candidates(8) == [4, 2, 1]
    assert timed_candidates(6) == [3, 1]
    assert timed_candidates(3) == [3, 1]  # a single merge: the native form stays a candidate
    assert timed_candidates(1) == [1]


def test_merged_gradient_reaches_grouped_weight() -> None:
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, groups=4).double()
    x = torch.randn(1, 8, 7, 7, dtype=torch.float64)
    run_with_groups(conv, x, 4).square().sum().backward()
    assert conv.weight.grad is not None
    ref = conv.weight.grad.clone()
    conv.zero_grad()
    run_with_groups(conv, x, 2).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, ref, rtol=1e-10, atol=1e-10)


def test_block_diagonal_gradient_reaches_grouped_weight() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 12, 3, padding=1, groups=4).double()
    x = torch.randn(1, 8, 9, 9, dtype=torch.float64)
    grouped_conv(conv, x, "grouped").square().sum().backward()
    assert conv.weight.grad is not None and conv.bias is not None and conv.bias.grad is not None
    ref_w, ref_b = conv.weight.grad.clone(), conv.bias.grad.clone()
    conv.zero_grad()
    grouped_conv(conv, x, "dense").square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, ref_w, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(conv.bias.grad, ref_b, rtol=1e-10, atol=1e-10)


def test_dense_keeps_channels_last_and_stride() -> None:
    conv = torch.nn.Conv2d(8, 16, 5, stride=2, padding=2, groups=8)
    x = torch.randn(2, 8, 13, 11).contiguous(memory_format=torch.channels_last)
    out = grouped_conv(conv, x, "dense")
    torch.testing.assert_close(out, conv(x), rtol=1e-5, atol=1e-5)


def test_auto_off_cuda_is_grouped_and_records_nothing() -> None:
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, groups=2)
    x = torch.randn(1, 4, 6, 6)
    before = len(choices())
    torch.testing.assert_close(grouped_conv(conv, x, "auto"), conv(x), rtol=0, atol=0)
    assert len(choices()) == before


def test_unknown_strategy_is_refused() -> None:
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, groups=2)
    with pytest.raises(ValueError, match="strategy"):
        grouped_conv(conv, torch.randn(1, 4, 6, 6), "fastest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="groups"):
        block_diagonal(torch.randn(6, 2, 3, 3), 4)
    with pytest.raises(ValueError, match="merge into 3"):
        block_diagonal(torch.randn(8, 2, 3, 3), 4, into=3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("grad", [False, True])
def test_cuda_auto_measures_once_and_matches(
    grad: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fast_conv, "_CHOICES", {})
    monkeypatch.setattr(fast_conv, "_DISK", None)
    conv = torch.nn.Conv2d(16, 32, 5, padding=2, groups=8).cuda().requires_grad_(grad)
    x = torch.randn(1, 16, 64, 48, device="cuda")
    with torch.set_grad_enabled(grad):
        out = grouped_conv(conv, x, "auto")
        again = grouped_conv(conv, x, "auto")
        ref = conv(x)
    rows = choices()
    assert len(rows) == 1  # measured once (on the forward, with or without gradients)
    assert rows[0]["choice"] in (4, 2, 1)
    assert {f"groups={n}" for n in (4, 2, 1)} <= set(rows[0])
    assert "groups=8" not in rows[0]  # the native form is not timed (timed_candidates)
    assert torch.equal(out, again)
    # The dense kernels may use TF32 (cuDNN's default for float32 convolutions).
    assert float((out - ref).detach().norm() / ref.detach().norm()) < 5e-3
    if grad:
        (g,) = torch.autograd.grad(out.square().sum(), [conv.weight])
        (g_ref,) = torch.autograd.grad(ref.square().sum(), [conv.weight])
        assert float((g - g_ref).norm() / g_ref.norm()) < 5e-3


def test_dense_weight_is_cached_without_grad_and_rebuilt_after_an_update() -> None:
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, groups=2)
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        first = grouped_conv(conv, x, "dense")
        cached = conv.__dict__["_dense_cache"][1]
        grouped_conv(conv, x, "dense")
        assert conv.__dict__["_dense_cache"][1] is cached
        conv.weight.mul_(2.0)  # in-place update: version counter moves
        second = grouped_conv(conv, x, "dense")
    assert conv.__dict__["_dense_cache"][1] is not cached
    assert conv.bias is not None
    bias = conv.bias.reshape(1, -1, 1, 1)
    torch.testing.assert_close(second - bias, 2 * (first - bias), rtol=1e-5, atol=1e-5)


def test_choices_file_roundtrip_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "choices.json"
    assert load_choices(path) == {}
    entries: dict[str, dict[str, float | int]] = {
        "k": {"groups=8": 1.5, "groups=1": 0.5, "choice": 1}
    }
    save_choices(path, entries)
    assert load_choices(path) == entries
    assert [p.name for p in path.parent.iterdir()] == ["choices.json"]  # no temporary left
    path.write_text('{"k": {"choice": "dense"}}')  # an older or foreign format
    with pytest.warns(RuntimeWarning, match="choices.json.*measuring afresh"):
        assert load_choices(path) == {}
    path.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="measuring afresh"):
        assert load_choices(path) == {}


def test_choices_file_is_under_the_compile_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    path = choices_file()
    assert path.parent == tmp_path
    assert path.name.startswith("glonet-regions-conv-choices-") and path.suffix == ".json"
    assert torch.__version__.split("+")[0] in path.name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_choices_persist_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fast_conv, "_CHOICES", {})
    monkeypatch.setattr(fast_conv, "_DISK", None)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=8).cuda()
    x = torch.randn(1, 16, 32, 40, device="cuda")
    with torch.no_grad():
        first = grouped_conv(conv, x, "auto")
    saved = load_choices(choices_file())
    assert len(saved) == 1
    # A new process: nothing in memory, the file read back, nothing measured again.
    monkeypatch.setattr(fast_conv, "_CHOICES", {})
    monkeypatch.setattr(fast_conv, "_DISK", None)

    def no_measure(*_a: object) -> None:
        raise AssertionError("measured again")

    monkeypatch.setattr(fast_conv, "_measure", no_measure)
    with torch.no_grad():
        assert torch.equal(grouped_conv(conv, x, "auto"), first)


def test_saved_triton_timings_are_keyed_by_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from glonet_regions.model.gpu import triton_conv

    a, b = (64, 32, 4, 1), (64, 32, 4, 4)
    monkeypatch.setattr(triton_conv, "CONFIGS", (a, b))
    assert fast_conv._triton_label(b) == "triton=m64k32w4r4"
    assert not fast_conv._has_triton(None)
    rec: dict[str, float | int] = {"groups=8": 1.0, "groups=1": 0.8, "choice": 1}
    assert not fast_conv._has_triton(rec)  # measured in training: no Triton yet
    rec[fast_conv._triton_label(a)] = 0.9
    assert not fast_conv._has_triton(rec)  # a configuration added since: measure it
    rec[fast_conv._triton_label(b)] = 0.5
    assert fast_conv._has_triton(rec)
    assert fast_conv._triton_choice(rec) == 1  # b beats cuDNN's best (0.8)
    rec[fast_conv._triton_label(b)] = 0.85
    assert fast_conv._triton_choice(rec) is None  # cuDNN's 0.8 wins
    monkeypatch.setattr(triton_conv, "CONFIGS", (b,))  # a removed: b is index 0 now
    rec[fast_conv._triton_label(b)] = 0.5
    assert fast_conv._triton_choice(rec) == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_auto_weighs_triton_in_inference_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("triton")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fast_conv, "_CHOICES", {})
    monkeypatch.setattr(fast_conv, "_DISK", None)
    conv = torch.nn.Conv2d(128, 256, 7, padding=3, groups=8).cuda()
    x = torch.randn(1, 128, 48, 40, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        trained = grouped_conv(conv, x, "auto")  # gradients on: cuDNN forms only
    trained.float().sum().backward()
    assert conv.weight.grad is not None
    (rec,) = fast_conv._CHOICES.values()
    assert not any(k.startswith("triton") for k in rec)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        ref = grouped_conv(conv, x, "grouped").float()
        out = grouped_conv(conv, x, "auto").float()  # adds the Triton timings to the record
    assert float((out - ref).norm() / ref.norm()) < 1e-2
    (rec,) = fast_conv._CHOICES.values()
    from glonet_regions.model.gpu import triton_conv

    assert {fast_conv._triton_label(c) for c in triton_conv.CONFIGS} <= rec.keys()
    assert load_choices(choices_file())[repr(next(iter(fast_conv._CHOICES)))] == rec
    # Force the Triton choice: "auto" then runs the kernel, in inference only.
    for c in triton_conv.CONFIGS:
        rec[fast_conv._triton_label(c)] = 1.0 if c != triton_conv.CONFIGS[1] else 1e-6
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        forced = grouped_conv(conv, x, "auto")
        direct = fast_conv._run_triton(conv, x, True, 1)
    assert torch.equal(forced, direct)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        again = grouped_conv(conv, x, "auto")
    assert again.requires_grad  # cuDNN, differentiable


def test_a_failing_triton_configuration_falls_back_to_cudnn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from glonet_regions.model.gpu import triton_conv

    configs = ((64, 32, 4, 1), (64, 32, 4, 4))
    monkeypatch.setattr(triton_conv, "CONFIGS", configs)
    monkeypatch.setattr(fast_conv, "_median_ms", lambda fn, **_: (fn(), 0.5)[1])

    def run_triton(_conv: object, _x: object, _bias: bool, config: int) -> None:
        if config == 1:
            raise RuntimeError("PassManager::run failed")  # e.g. a compiler error

    monkeypatch.setattr(fast_conv, "_run_triton", run_triton)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=8)
    rec: dict[str, float | int] = {"groups=8": 1.0, "groups=1": 0.8, "choice": 1}
    before = fast_conv.measurement_seconds()
    with pytest.warns(RuntimeWarning, match=r"\(64, 32, 4, 4\) failed.*PassManager.*cuDNN"):
        fast_conv._measure_triton(conv, torch.randn(1, 16, 5, 5), rec)
    after = fast_conv.measurement_seconds()  # the working configuration's calls are counted
    assert after["triton_first_calls"] > before["triton_first_calls"]
    assert after["triton_timing"] > before["triton_timing"]
    assert rec[fast_conv._triton_label(configs[1])] == float("inf")
    assert fast_conv._triton_choice(rec) == 0  # the working configuration, faster than cuDNN
    path = tmp_path / "choices.json"
    save_choices(path, {"k": rec})
    assert load_choices(path) == {"k": rec}  # infinity survives the file


def test_combined_branches_only_where_faster_than_separate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from glonet_regions.model.gpu import triton_conv

    a, b = (64, 32, 4, 1), (64, 32, 4, 4)
    monkeypatch.setattr(triton_conv, "CONFIGS", (a, b))
    la, lb = fast_conv._triton_label(a), fast_conv._triton_label(b)
    assert fast_conv._combined_choice({"separate": 2.0, la: 1.5, lb: 1.2, "choice": 0}) == 1
    assert fast_conv._combined_choice({"separate": 1.0, la: 1.5, lb: 1.2, "choice": 1}) is None
    inf = float("inf")
    assert fast_conv._combined_choice({"separate": 9.0, la: inf, lb: inf, "choice": -1}) is None
