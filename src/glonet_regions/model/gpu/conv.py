"""Grouped convolutions run as cuDNN grouped kernels, or with fewer, wider groups.

The Inception branches of GLONET are grouped convolutions (8 groups of 8 -> 16 or 16 -> 32
channels, kernels 3 to 11). cuDNN runs such shapes through generic indexed kernels at a small
fraction of the tensor cores' rate. The same convolution can run with ``groups / m`` groups, each a
block-diagonal merge of ``m`` original groups (``m = groups``: one dense convolution): ``m``
times more arithmetic, but on wider groups that cuDNN's tensor-core kernels handle well. Which
grouping wins depends on the shape and the card, so :func:`grouped_conv` measures the forward
of every power-of-two merge the first time it meets a shape and remembers the fastest
(``strategy="auto"``); ``"grouped"`` and ``"dense"`` force the two ends. ``"triton"`` runs
the grouped sum as one Triton kernel (:mod:`~glonet_regions.model.gpu.triton_conv`; inference
only). Where no gradient is needed and Triton is installed, ``"auto"`` also times that kernel
in each configuration of :func:`~glonet_regions.model.gpu.triton_conv.configs` and uses it
where it is the fastest (the ``conv_triton`` fusion of
:class:`~glonet_regions.model.gpu.options.GpuOptions`; off, it is left out).

Every form computes the same sum: the merged weights hold exactly the grouped weights and
zeros, so the results differ only by the order of the float32 accumulation.

The measurements persist in a JSON file per card and software versions next to the Inductor
cache (:func:`choices_file`), so a later process on the same machine reuses them.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.model.gpu.kernels import compile_cache_dir, derived_weights
from glonet_regions.model.gpu.options import GpuOptions

__all__ = [
    "ConvStrategy",
    "block_diagonal",
    "choices",
    "choices_file",
    "combined_branches",
    "compile_threads",
    "configure",
    "grouped_conv",
    "load_choices",
    "measurement_seconds",
    "merge_candidates",
    "timed_candidates",
    "save_choices",
]

ConvStrategy = Literal["auto", "grouped", "dense", "triton"]

_CHOICES: dict[tuple[object, ...], dict[str, float | int]] = {}
_DISK: dict[str, dict[str, float | int]] | None = None  # the choices file, once read
_OPTIONS = GpuOptions()


def configure(options: GpuOptions) -> None:
    """Use ``options`` (the ``conv_triton`` fusion, the Triton configurations and compile threads)
    for the measurements from now on; called by ``optimise_model``."""
    global _OPTIONS
    from glonet_regions.model.gpu import triton_conv

    _OPTIONS = options
    triton_conv.set_configs(options.triton_configs)


_SPENT: dict[str, float] = dict.fromkeys(
    ("cudnn_merges", "triton_precompile", "triton_first_calls", "triton_timing"), 0.0
)


def measurement_seconds() -> dict[str, float]:
    """Wall-clock seconds this process spent measuring (what a first run pays before the
    choices are saved): ``cudnn_merges`` (every merge of each shape, cuDNN's own autotuning
    included), ``triton_precompile`` (the parallel compilations, :func:`compile_threads`),
    ``triton_first_calls`` (the first call of each Triton configuration: its JIT compilation
    where it was not compiled before) and ``triton_timing`` (the timed calls)."""
    return dict(_SPENT)


def choices_file(device: int | None = None) -> Path:
    """The JSON file measured choices persist in for this CUDA card and torch/cuDNN versions.

    Under :func:`~glonet_regions.model.gpu.kernels.compile_cache_dir`; the name holds the
    card's name and the versions, so another card or another torch measures afresh.
    """
    name = torch.cuda.get_device_name(device) if torch.cuda.is_available() else "cpu"
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    tag = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{name}-torch{torch.__version__}-cudnn{cudnn}")
    return compile_cache_dir() / f"glonet-regions-conv-choices-{tag}.json"


def load_choices(path: Path) -> dict[str, dict[str, float | int]]:
    """The choices saved in ``path`` (empty if it does not exist; a warning if unreadable)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("choice"), int) for v in data.values()
        ):
            raise ValueError("expected an object of {key: {..., 'choice': int}}")
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"ignoring the grouped-convolution choices file {path}: {exc}; measuring afresh",
            RuntimeWarning,
            stacklevel=2,
        )
        return {}
    return data


def save_choices(path: Path, entries: dict[str, dict[str, float | int]]) -> None:
    """Write ``entries`` to ``path`` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs a measurement next time
        warnings.warn(f"could not save {path}: {exc}", RuntimeWarning, stacklevel=2)
        tmp.unlink(missing_ok=True)


def block_diagonal(weight: Tensor, groups: int, into: int = 1) -> Tensor:
    """A grouped ``(C_out, C_in/groups, k, k)`` weight as the weight of ``into`` wider groups.

    Each of the ``into`` result groups merges ``m = groups / into`` consecutive original
    groups into one block-diagonal weight: its original group ``g``'s output channels see only
    group ``g``'s input channels, with the grouped weights; every other entry is zero. With
    ``into=1`` (the default) the result is the dense ``(C_out, C_in, k, k)`` weight of an
    ungrouped convolution; with ``into=groups`` it is ``weight`` itself. Differentiable (the
    gradient of the merged weight's diagonal blocks flows back to ``weight``).
    """
    c_out, c_in_g, kh, kw = weight.shape
    if c_out % groups:
        raise ValueError(f"{c_out} output channels do not split into {groups} groups")
    if into < 1 or groups % into:
        raise ValueError(f"{groups} groups do not merge into {into} groups")
    m = groups // into
    per = weight.reshape(into, m, c_out // groups, c_in_g, kh, kw)
    # (j, o, i, kh, kw, m) -> diagonal over the last two dims: (j, o, i, kh, kw, m, m)
    diag = torch.diag_embed(per.permute(0, 2, 3, 4, 5, 1))
    # -> (j, m_out, o, m_in, i, kh, kw)
    merged = diag.permute(0, 5, 1, 6, 2, 3, 4)
    return merged.reshape(c_out, m * c_in_g, kh, kw)


def merge_candidates(groups: int) -> list[int]:
    """Group counts a ``groups``-group convolution can run with: ``groups``, halved down to 1."""
    out = [groups]
    while out[-1] % 2 == 0:
        out.append(out[-1] // 2)
    if out[-1] != 1:
        out.append(1)
    return out


def timed_candidates(groups: int) -> list[int]:
    """The group counts ``"auto"`` times: :func:`merge_candidates` without ``groups`` itself
    where at least two merges remain: cuDNN's grouped kernels never beat a merged form on a
    GLONET shape, and autotuning them is the slowest part of a first run's measurements."""
    merges = merge_candidates(groups)
    if len(merges) < 3:
        return merges
    return merges[1:]


def _compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype a convolution of ``x`` runs in: autocast's when it is on, else ``x``'s."""
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


def _merged_weight(conv: nn.Conv2d, x: Tensor, into: int) -> Tensor:
    """The weight for ``into`` groups in ``x``'s layout and compute dtype (cached without grad)."""
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    dtype = _compute_dtype(x)
    w = conv.weight
    if torch.is_grad_enabled() and w.requires_grad:  # the cast is left to autocast
        return block_diagonal(w, conv.groups, into).contiguous(memory_format=fmt)
    return derived_weights(
        conv, "_dense_cache", (w,), (dtype, channels_last, into),
        lambda: block_diagonal(w, conv.groups, into).to(dtype, memory_format=fmt),
    )  # fmt: skip


def _run(conv: nn.Conv2d, x: Tensor, run_groups: int, with_bias: bool = True) -> Tensor:
    """The convolution with ``run_groups`` groups (``conv.groups``: its own weight)."""
    padding = conv.padding
    if isinstance(padding, str) or conv.padding_mode != "zeros":
        raise ValueError(
            f"grouped_conv needs numeric zero padding, got padding={padding!r}, "
            f"padding_mode={conv.padding_mode!r}"
        )
    bias = conv.bias if with_bias else None
    weight = conv.weight if run_groups == conv.groups else _merged_weight(conv, x, run_groups)
    return F.conv2d(x, weight, bias, conv.stride, padding, conv.dilation, run_groups)


def _median_ms(fn: Callable[[], object], reps: int = 3, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _measure(conv: nn.Conv2d, x: Tensor) -> dict[str, float | int]:
    """Time every merge's forward on a copy of the inputs, outside any autograd graph.

    Returns the milliseconds per group count (keys ``"groups=<n>"``) and the fastest count
    (key ``"choice"``).
    """
    start = time.perf_counter()
    xd = x.detach()
    probe = copy.deepcopy(conv).requires_grad_(False)  # same weights, same memory layout
    out: dict[str, float | int] = {}
    best: tuple[float, int] | None = None
    with torch.no_grad():
        for run_groups in timed_candidates(conv.groups):
            ms = _median_ms(lambda n=run_groups: _run(probe, xd, n))  # type: ignore[misc]
            out[f"groups={run_groups}"] = ms
            if best is None or ms < best[0]:
                best = (ms, run_groups)
    _SPENT["cudnn_merges"] += time.perf_counter() - start
    assert best is not None
    out["choice"] = best[1]
    return out


def _triton_label(config: tuple[int, int, int, int]) -> str:
    """The record key of a Triton configuration's timing, e.g. ``"triton=m64k32w4r1"``."""
    block_m, block_k, num_warps, rows = config
    return f"triton=m{block_m}k{block_k}w{num_warps}r{rows}"


def _time_configs(
    rec: dict[str, float | int],
    run: Callable[[int], object],
    what: str,
    fallback: str,
    precompile: Callable[[list[tuple[int, int, int, int]]], object] | None = None,
) -> None:
    """Add to ``rec`` the milliseconds of ``run(i)`` for each configuration ``i`` of
    :func:`~glonet_regions.model.gpu.triton_conv.configs` it lacks (keys from
    :func:`_triton_label`), without gradients. Unless :func:`compile_threads` is 0,
    ``precompile`` first gets the missing configurations (compiled in parallel,
    :func:`~glonet_regions.model.gpu.triton_conv.precompile`).

    A configuration that fails to compile or run (another Triton or card) is recorded as
    infinitely slow, so it is never chosen, with the warning ``"Triton <what> (<error>);
    <fallback>"``, ``what`` formatted with the configuration (``{config}``).
    """
    from glonet_regions.model.gpu import triton_conv

    missing = [c for c in triton_conv.configs() if _triton_label(c) not in rec]
    with torch.no_grad():
        if precompile is not None and missing and compile_threads() > 0:
            start = time.perf_counter()
            precompile(missing)
            _SPENT["triton_precompile"] += time.perf_counter() - start
        for i, config in enumerate(triton_conv.configs()):
            if _triton_label(config) in rec:
                continue
            try:
                start = time.perf_counter()
                run(i)  # the first call compiles
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                mid = time.perf_counter()
                ms = _median_ms(lambda i=i: run(i), warmup=1)  # type: ignore[misc]
                _SPENT["triton_first_calls"] += mid - start
                _SPENT["triton_timing"] += time.perf_counter() - mid
            except Exception as exc:  # any compiler or launch error: not this configuration
                warnings.warn(
                    f"Triton {what.format(config=config)} ({type(exc).__name__}: {exc}); "
                    f"{fallback}",
                    RuntimeWarning,
                    stacklevel=4,
                )
                ms = math.inf
            rec[_triton_label(config)] = ms


def _measure_triton(conv: nn.Conv2d, x: Tensor, rec: dict[str, float | int]) -> None:
    """Add the Triton kernel's timings to ``rec`` (:func:`_time_configs`); a configuration
    that fails leaves the shape to cuDNN."""
    from glonet_regions.model.gpu import triton_conv

    xd = x.detach()
    probe = copy.deepcopy(conv).requires_grad_(False)
    what = (
        f"grouped convolution {{config}} failed on input {tuple(x.shape)}, "
        f"weight {tuple(conv.weight.shape)}"
    )

    def precompile(missing: list[tuple[int, int, int, int]]) -> bool:
        xt, packed, bias = _triton_args(probe, xd, True)
        return triton_conv.precompile(
            xt, packed, bias, probe.groups, missing, threads=compile_threads()
        )

    _time_configs(
        rec, lambda i: _run_triton(probe, xd, True, i), what, "using cuDNN for it", precompile
    )


def compile_threads() -> int:
    """Threads that compile the Triton configurations of a shape in parallel before they are
    timed (:func:`~glonet_regions.model.gpu.triton_conv.precompile`): the options'
    ``compile_threads``, by default the CPU count up to 8; ``0`` compiles each configuration
    on its first call, one after another. Parallel compilation changes when kernels are
    compiled, not what runs; where Triton cannot do it, ``precompile`` steps aside.
    """
    threads = _OPTIONS.compile_threads
    return min(8, os.cpu_count() or 1) if threads is None else threads


def _triton_candidate(conv: nn.Conv2d, x: Tensor) -> bool:
    """Whether ``"auto"`` weighs the Triton kernel for this call (inference, CUDA, Triton)."""
    if not _OPTIONS.enabled("conv_triton"):
        return False
    from glonet_regions.model.gpu import triton_conv

    # supports() first: it refuses calls that need gradients (every training call) cheaply.
    return triton_conv.supports(conv, x) is None and triton_conv.available(x.device)


def _key(conv: nn.Conv2d, x: Tensor) -> tuple[object, ...]:
    layout = x.is_contiguous(memory_format=torch.channels_last)
    return (
        tuple(x.shape), _compute_dtype(x), layout, tuple(conv.weight.shape), conv.groups,
        conv.stride, conv.padding, x.device.index,
    )  # fmt: skip


def _choose(conv: nn.Conv2d, x: Tensor) -> tuple[int, int | None]:
    """``"auto"``: the group count, or Triton configuration, measured fastest for this shape.

    Returns ``(groups, None)`` for cuDNN with ``groups`` groups, ``(groups, i)`` for the
    Triton kernel with configuration ``i``. Measured on first meeting, on the forward only,
    also when gradients are on: timing the backward of every merge costs cuDNN's autotuning of
    each one's two backward convolutions (minutes on a cold training step), for the same
    ranking in most shapes. The Triton kernel is timed (and used) only
    in calls that need no gradient; a shape met first in training gets its Triton timings
    added when an inference call meets it.
    """
    if x.device.type != "cuda":
        return conv.groups, None
    with_triton = _triton_candidate(conv, x)
    key = _key(conv, x)
    rec = _CHOICES.get(key)
    if rec is None or (with_triton and not _has_triton(rec)):
        rec = _saved(key, x.device.index)
        if rec is not None and rec["choice"] not in merge_candidates(conv.groups):
            rec = None  # a foreign record: measure afresh
        if rec is None or (with_triton and not _has_triton(rec)):
            if torch.cuda.is_current_stream_capturing():  # no timing inside a graph capture
                return (conv.groups if rec is None else int(rec["choice"])), None
            if rec is None:
                rec = _measure(conv, x)
            if with_triton:
                _measure_triton(conv, x, rec)
            _save(key, rec, x.device.index)
        _CHOICES[key] = rec
    return int(rec["choice"]), (_triton_choice(rec) if with_triton else None)


def _saved(key: tuple[object, ...], device: int | None) -> dict[str, float | int] | None:
    """The record of ``key`` in this card's choices file (read once per process), if any."""
    global _DISK
    if _DISK is None:
        _DISK = load_choices(choices_file(device))
    return _DISK.get(repr(key))


def _save(key: tuple[object, ...], rec: dict[str, float | int], device: int | None) -> None:
    assert _DISK is not None  # read by _saved first
    _DISK[repr(key)] = rec
    save_choices(choices_file(device), _DISK)


def combined_branches(owner: nn.Module, convs: Sequence[nn.Conv2d], x: Tensor) -> Tensor | None:
    """Parallel branch convolutions of ``x`` (an Inception's) as one Triton kernel, no biases.

    The branches must share groups and widths; their odd kernels are zero-padded to the
    largest (:func:`~glonet_regions.model.gpu.triton_conv.branch_packed_weight`, cached on
    ``owner`` while the weights do not change). Returns the branches' outputs side by side,
    branch-major (branch ``b`` is the channel slice ``[b * C_out, (b + 1) * C_out)``); or
    ``None`` where the kernel cannot serve (gradients needed, no Triton, a convolution it does
    not support, a CUDA graph being captured before the configuration was measured) or, on
    CUDA, where it is slower than the branches run separately: the fastest of
    :func:`~glonet_regions.model.gpu.triton_conv.configs` is measured against them once per shape
    and saved with the other choices.

    One kernel reads the input once for all branches and fills 4x wider output tiles, at the
    cost of the zero taps (2.4x the arithmetic for kernels 3, 5, 7 and 11).
    """
    from glonet_regions.model.gpu import triton_conv

    first = convs[0]
    if not triton_conv.available(x.device) or any(
        triton_conv.supports(c, x) is not None
        or c.groups != first.groups
        or c.weight.shape[:2] != first.weight.shape[:2]
        for c in convs
    ):
        return None
    dtype = _compute_dtype(x)
    weights = tuple(c.weight for c in convs)
    packed = derived_weights(
        owner, "_combined_cache", weights, dtype,
        lambda: triton_conv.branch_packed_weight(weights, first.groups, dtype),
    )  # fmt: skip

    def separately() -> None:
        for c in convs:
            grouped_conv(c, x, "auto", with_bias=False)

    config = _combined_config(packed, x, first.groups, len(convs), separately)
    if config is None:
        return None
    return _triton_launch(x.to(dtype), packed, None, first.groups, config, len(convs))


def _triton_launch(
    x: Tensor, weight: Tensor, bias: Tensor | None, groups: int, config: int, branches: int
) -> Tensor:
    """Run configuration ``config`` of the Triton kernel."""
    from glonet_regions.model.gpu import triton_conv

    block_m, block_k, num_warps, rows = triton_conv.configs()[config]
    return triton_conv.grouped_conv_nhwc(
        x, weight, bias, groups, block_m=block_m, block_k=block_k, num_warps=num_warps,
        rows=rows, branches=branches,
    )  # fmt: skip


def _combined_config(
    packed: Tensor, x: Tensor, groups: int, branches: int, separately: Callable[[], None]
) -> int | None:
    """The fastest configuration for :func:`combined_branches` on this shape, or ``None`` where
    the branches run faster ``separately`` (each with its own ``"auto"`` choice). CUDA:
    measured once and saved; elsewhere the first configuration."""
    if x.device.type != "cuda":
        return 0
    from glonet_regions.model.gpu import triton_conv

    layout = x.is_contiguous(memory_format=torch.channels_last)
    key = (
        "branches", tuple(x.shape), _compute_dtype(x), layout, tuple(packed.shape), groups,
        branches, x.device.index,
    )  # fmt: skip
    rec = _CHOICES.get(key) or _saved(key, x.device.index)
    if rec is None or "separate" not in rec or not _has_triton(rec):
        if torch.cuda.is_current_stream_capturing():
            return None
        xd = x.detach().to(packed.dtype)
        with torch.no_grad():
            separately()  # each branch measures its own choice first
            rec = {"separate": _median_ms(separately)}

        def run(i: int) -> Tensor:
            return _triton_launch(xd, packed, None, groups, i, branches)

        what = f"combined branches {{config}} failed on input {tuple(x.shape)}"

        def precompile(missing: list[tuple[int, int, int, int]]) -> bool:
            return triton_conv.precompile(
                xd, packed, None, groups, missing, branches=branches, threads=compile_threads()
            )

        _time_configs(rec, run, what, "running the branches separately", precompile)
        rec["choice"] = _fastest(rec)
        _save(key, rec, x.device.index)
    _CHOICES[key] = rec
    return _combined_choice(rec)


def _combined_choice(rec: dict[str, float | int]) -> int | None:
    """The fastest configuration in ``rec`` if it beats the branches run separately (from the
    timings: a saved index may predate a changed ``CONFIGS``)."""
    return _fastest_under(rec, float(rec["separate"]))


def _fastest_under(rec: dict[str, float | int], baseline_ms: float) -> int | None:
    """Index of the fastest Triton configuration timed in ``rec`` if it is faster than
    ``baseline_ms``, else ``None``."""
    from glonet_regions.model.gpu import triton_conv

    best = _fastest(rec)
    if best < 0 or float(rec[_triton_label(triton_conv.configs()[best])]) >= baseline_ms:
        return None
    return best


def _fastest(rec: dict[str, float | int]) -> int:
    """Index of the fastest configuration of ``CONFIGS`` timed in ``rec``; -1 if none ran."""
    from glonet_regions.model.gpu import triton_conv

    times = [float(rec[_triton_label(c)]) for c in triton_conv.configs()]
    best = min(range(len(times)), key=times.__getitem__)
    return best if math.isfinite(times[best]) else -1


def _has_triton(rec: dict[str, float | int] | None) -> bool:
    """Whether ``rec`` holds a timing for every configuration of
    :func:`~glonet_regions.model.gpu.triton_conv.configs` (records are keyed by configuration, so
    a changed list only measures what is new)."""
    if rec is None:
        return False
    from glonet_regions.model.gpu import triton_conv

    return all(_triton_label(c) in rec for c in triton_conv.configs())


def _triton_choice(rec: dict[str, float | int]) -> int | None:
    """The index of the fastest Triton configuration if it beats every cuDNN form in ``rec``."""
    return _fastest_under(rec, min(float(v) for k, v in rec.items() if k.startswith("groups=")))


def _run_triton(conv: nn.Conv2d, x: Tensor, with_bias: bool, config: int = 0) -> Tensor:
    """The convolution through :func:`~glonet_regions.model.gpu.triton_conv.grouped_conv_nhwc`.

    ``config`` indexes :func:`~glonet_regions.model.gpu.triton_conv.configs`.
    """
    from glonet_regions.model.gpu import triton_conv

    if not triton_conv.available(x.device):
        raise ValueError(
            f"grouped_conv(strategy='triton') needs Triton and a CUDA device (or "
            f"TRITON_INTERPRET=1), got a {x.device.type} input"
        )
    reason = triton_conv.supports(conv, x)
    if reason is not None:
        raise ValueError(f"grouped_conv(strategy='triton') {reason}")
    xt, packed, bias = _triton_args(conv, x, with_bias)
    return _triton_launch(xt, packed, bias, conv.groups, config, 1)


def _triton_args(
    conv: nn.Conv2d, x: Tensor, with_bias: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The input, packed weight (cached on ``conv``) and bias of the Triton kernel, in the
    compute dtype."""
    from glonet_regions.model.gpu import triton_conv

    dtype = _compute_dtype(x)
    w = conv.weight
    packed = derived_weights(
        conv, "_triton_cache", (w,), dtype,
        lambda: triton_conv.packed_weight(w, conv.groups, dtype),
    )  # fmt: skip
    bias = conv.bias.to(dtype) if with_bias and conv.bias is not None else None
    return x.to(dtype), packed, bias


def grouped_conv(
    conv: nn.Conv2d, x: Tensor, strategy: ConvStrategy = "auto", *, with_bias: bool = True
) -> Tensor:
    """``conv(x)`` for a grouped ``conv``, with its own groups, merged groups or dense.

    Args:
        conv: A ``Conv2d`` (with ``groups == 1`` it is simply called).
        x: Its input.
        strategy: ``"grouped"`` (cuDNN grouped kernels), ``"dense"`` (one block-diagonal dense
            convolution), ``"triton"`` (one Triton kernel, inference only) or ``"auto"``: on
            CUDA, measure every power-of-two merge of the groups on this shape once (forward;
            without gradients also the Triton kernel's configurations) and use the fastest;
            off CUDA, or while a CUDA graph is being captured, ``"auto"`` means ``"grouped"``.
        with_bias: Add the convolution's bias (``False``: the caller folds it in later, see
            :func:`~glonet_regions.model.gpu.kernels.gn_lrelu`).
    """
    if strategy == "triton":
        return _run_triton(conv, x, with_bias)
    if strategy == "grouped" or conv.groups == 1:
        run_groups = conv.groups
    elif strategy == "dense":
        run_groups = 1
    elif strategy == "auto":
        run_groups, triton = _choose(conv, x)
        if triton is not None:
            return _run_triton(conv, x, with_bias, triton)
    else:
        raise ValueError(
            f"strategy must be 'auto', 'grouped', 'dense' or 'triton', got {strategy!r}"
        )
    return _run(conv, x, run_groups, with_bias)


def choices() -> list[dict[str, object]]:
    """What ``"auto"`` measured and chose so far in this process (for benchmarks and logs)."""
    rows: list[dict[str, object]] = []
    for key, rec in _CHOICES.items():
        combined = key[0] == "branches"  # combined_branches: a tag, then the same fields
        shape, dtype, channels_last, weight, groups = key[1:6] if combined else key[:5]
        rows.append(
            {
                **({"combined_branches": True} if combined else {}),
                "input": shape, "weight": weight, "groups": groups, "dtype": str(dtype),
                "channels_last": channels_last, **rec,
            }
        )  # fmt: skip
    return rows
