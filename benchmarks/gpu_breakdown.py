#!/usr/bin/env python
"""Where the fast forward's time goes, module by module, and what the hot operators cost.

Run on a CUDA machine from the repository root::

    PYTHONPATH=src python benchmarks/gpu_breakdown.py --out $OUT [--channels 5] [--part NAME]

Parts (each in its own fresh process unless ``--part`` names one):

* ``modules``: the full-size network on the whole ibi36 grid, fast path (``optimise_model``),
  eval mode, bf16 autocast. CUDA events recorded by forward hooks around every module down to
  depth 3 (``space.NO.blks`` and ``dynamics.blocks`` as wholes) give each module's GPU time,
  summed over its calls (``space.NO`` runs 7 times). The forward without hooks is timed in the
  same process for comparison (hooks add host work; GPU time only grows where the GPU waits).
* ``convs``: the convolutions the forward runs most, alone, on their real shapes (bf16,
  channels-last and contiguous), and the alternatives weighed against them (among them the
  Triton grouped kernel of ``model/gpu/triton_conv.py``, with its error against cuDNN).
* ``transforms``: which operators of the fast forward launch cuDNN's layout-transform
  kernels (NCHW <-> NHWC copies around a convolution), with their input shapes.
* ``ab``: the fast path with two round-5 changes switched off and on in one process (the
  split 1x1 projection of the decoder stages instead of a concatenation; channels-last
  Inception inputs): training step (first and steady) and forward time per variant.
* ``compiled``: the forward with the whole network under ``torch.compile`` (fused functions in
  their eager form, so Inductor sees every pointwise op): first-call (compile) time, forward
  time, relative L2 against the fast path.

Writes ``breakdown_<part>.json`` and prints one markdown table per part.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.model.gpu import blocks as fast
from glonet_regions.model.gpu import kernels as fast_kernels
from glonet_regions.model.gpu.conv import choices
from glonet_regions.model.gpu.optimise import fuse_blocks, optimise_model
from glonet_regions.model.network import build_glonet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu import timed as gpu_timed  # benchmarks/gpu.py's CUDA-event timer

GRID = (1081, 865)
PARTS = ("modules", "kernels", "convs", "compiled", "transforms", "ab")


def timed(fn: Callable[[], object], reps: int = 5, warmup: int = 2) -> float:
    """Median milliseconds of ``fn`` between CUDA events (``gpu.py``'s timer)."""
    return gpu_timed(fn, reps=reps, warmup=warmup)[0] * 1e3


def build(c: int) -> nn.Module:
    torch.manual_seed(c)
    return build_glonet(c, "full", GRID).cuda().eval()


def module_part(c: int) -> dict[str, Any]:
    model = optimise_model(build(c), device="cuda", mode="fast", training=False)
    x = torch.randn(1, 2, c, *GRID, device="cuda")

    def fwd() -> Tensor:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x)

    t0 = time.time()
    out = fwd().float()
    torch.cuda.synchronize()
    first_s = time.time() - t0
    plain_ms = timed(fwd)
    # Against a float32 eager forward of the same weights (TF32 off), as gpu.py reports it.
    ref_model = build(c)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        ref = ref_model(x)
    torch.backends.cudnn.allow_tf32 = True
    rel_l2 = float((out - ref).norm() / ref.norm())
    del ref_model, ref, out
    torch.cuda.empty_cache()
    pairs: dict[str, list[tuple[torch.cuda.Event, torch.cuda.Event]]] = defaultdict(list)
    open_events: dict[str, list[torch.cuda.Event]] = defaultdict(list)
    handles = []
    for name, mod in model.named_modules():
        depth = name.count(".") + 1 if name else 0
        if depth > 3:
            continue

        def pre(_m: nn.Module, _a: object, name: str = name) -> None:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            open_events[name].append(ev)

        def post(_m: nn.Module, _a: object, _o: object, name: str = name) -> None:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            pairs[name].append((open_events[name].pop(), ev))

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    fwd()
    torch.cuda.synchronize()
    pairs.clear()
    runs = 3
    for _ in range(runs):
        fwd()
    torch.cuda.synchronize()
    for h in handles:
        h.remove()
    ms = {name: sum(a.elapsed_time(b) for a, b in evs) / runs for name, evs in pairs.items()}
    calls = {name: len(evs) // runs for name, evs in pairs.items()}
    rows = sorted(ms.items(), key=lambda kv: -kv[1])
    head = f"C={c} (first call {first_s:.1f} s): forward without hooks {plain_ms:.1f} ms "
    head += f"(rel L2 vs fp32 eager {rel_l2:.2e}), "
    head += f"with hooks {ms.get('', 0):.1f} ms"
    lines = [head, "| module | ms | calls |", "|---|---|---|"]
    lines += [f"| {n or '(whole)'} | {v:.2f} | {calls[n]} |" for n, v in rows if v >= 0.5]
    print("\n".join(lines), flush=True)
    picked = choices()
    for row in picked:
        times = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if str(k).startswith("groups="))
        print(f"grouped conv {row['input']} w{row['weight']} (ms): {times} -> groups="
              f"{row['choice']}", flush=True)  # fmt: skip
    return {
        "channels": c, "plain_ms": plain_ms, "rel_l2_vs_fp32": rel_l2, "module_ms": ms,
        "calls": calls, "first_call_s": first_s,
        "conv_choices": [{k: str(v) for k, v in row.items()} for row in picked],
    }  # fmt: skip


def top_kernels(call: Callable[[], object], n: int) -> tuple[list[tuple[str, float, int]], float]:
    """The ``n`` CUDA kernels of one ``call`` with the most device time (name, ms, calls),
    and the total kernel milliseconds."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    events = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)
    rows = [(e.key[:100], e.device_time_total / 1e3, e.count) for e in events[:n]]
    return rows, sum(e.device_time_total for e in events) / 1e3


def kernel_part(c: int) -> dict[str, Any]:
    """Top CUDA kernels of single blocks of the fast path (one call each, after warm-up)."""
    model = optimise_model(build(c), device="cuda", mode="fast", training=False)
    hp, wp = 1088, 880
    ph, pw, lh, lw = hp // 16, wp // 16, hp // 2, wp // 2
    nets: dict[str, tuple[nn.Module, tuple[Any, ...]]] = {
        "space.NO.blks.0": (model.space.NO.blks[0], (torch.randn(2, ph * pw, 768), ph, pw)),
        "dynamics.blocks.0": (model.dynamics.blocks[0], (torch.randn(1, lh * lw, 128), lh, lw)),
        "dynamics.enc.1": (model.dynamics.enc[1], (torch.randn(1, 128, hp // 2, wp // 2),)),
        "jump.mmb.enc.1": (model.jump.mmb.enc[1], (torch.randn(1, 256, hp // 8, wp // 8),)),
    }  # fmt: skip
    res: dict[str, Any] = {}
    for name, (mod, args) in nets.items():
        args = tuple(a.cuda() if isinstance(a, Tensor) else a for a in args)
        if args[0].dim() == 4:
            args = (args[0].contiguous(memory_format=torch.channels_last),)

        def call(mod: nn.Module = mod, args: tuple[Any, ...] = args) -> None:
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                mod(*args)

        ms = timed(call, reps=10, warmup=3)
        rows, total = top_kernels(call, 14)
        res[name] = {"ms": ms, "kernel_ms": total, "top": rows}
        print(f"== {name}: {ms:.3f} ms per call, kernels {total:.3f} ms", flush=True)
        for key, t, n in rows:
            print(f"   {t:8.3f} ms x{n:<4} {key}", flush=True)
    res["mlp_pool"] = mlp_pool_ab()
    return res


def mlp_pool_ab() -> dict[str, Any]:
    """``space.NO``'s MLP half with the 4-to-1 feature pooling over contiguous chunks (as
    now) against the same with fc1's rows reordered so each pooled feature averages four
    slices ``d`` apart (contiguous loads), the reorder inside the graph or done beforehand."""
    d, hidden = 768, 3072
    r = hidden // d
    x = torch.randn(2, 68 * 55, d, device="cuda")
    ln_w, ln_b = torch.randn(d, device="cuda"), torch.randn(d, device="cuda")
    w1, b1 = torch.randn(hidden, d, device="cuda") / d**0.5, torch.randn(hidden, device="cuda")

    def reorder(w: Tensor) -> Tensor:  # row j*r + i -> i*d + j
        return w.reshape(d, r, *w.shape[1:]).transpose(0, 1).reshape(w.shape)

    def strided_pre(x: Tensor, lw: Tensor, lb: Tensor, w: Tensor, b: Tensor) -> Tensor:
        y = F.gelu(F.linear(F.layer_norm(x, (d,), lw, lb, 1e-6), w, b))
        return x + y.reshape(*y.shape[:-1], r, d).mean(dim=-2)

    def strided_in(x: Tensor, lw: Tensor, lb: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return strided_pre(x, lw, lb, reorder(w), reorder(b))

    def chunks(x: Tensor, lw: Tensor, lb: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return fast_kernels.mlp_residual(x, lw, lb, 1e-6, w, b)

    variants = {
        "chunks (now)": (chunks, (w1, b1)),
        "strided, reorder in graph": (strided_in, (w1, b1)),
        "strided, reordered before": (strided_pre, (reorder(w1), reorder(b1))),
    }
    out: dict[str, Any] = {}
    ref = None
    for name, (fn, (w, b)) in variants.items():
        cfn = torch.compile(fn, dynamic=False)

        def call(cfn: Any = cfn, w: Tensor = w, b: Tensor = b) -> Tensor:
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                result: Tensor = cfn(x, ln_w, ln_b, w, b)
            return result

        y = call().float()
        ref = y if ref is None else ref
        ms = timed(call, reps=20, warmup=3)
        top, _ = top_kernels(call, 6)
        err = float((y - ref).norm() / ref.norm())
        out[name] = {"ms": ms, "rel_diff": err, "top": top}
        print(f"== mlp {name}: {ms:.3f} ms, rel diff {err:.1e}", flush=True)
        for key, t, n in top:
            print(f"   {t:8.3f} ms x{n:<4} {key}", flush=True)
    return out


# (block_m, block_k, num_warps, rows) tried for the Triton grouped kernel; rows > 1 is the
# multi-row variant (block_m columns of `rows` output rows per program).
TRITON_CONFIGS = [
    (64, 32, 4, 1), (128, 32, 4, 1), (128, 64, 4, 1), (128, 64, 8, 1), (256, 32, 8, 1),
    (64, 64, 4, 1), (64, 32, 4, 2), (64, 32, 4, 4), (128, 32, 8, 2), (128, 32, 8, 4),
    (64, 64, 8, 4), (32, 32, 4, 4),
]  # fmt: skip


def conv_part() -> dict[str, Any]:
    torch.backends.cudnn.benchmark = True
    res: dict[str, Any] = {}
    cases: list[tuple[str, tuple[int, ...], Callable[[Tensor], Tensor]]] = []

    def conv(cin: int, cout: int, k: int, groups: int = 1, stride: int = 1) -> nn.Module:
        return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups).cuda()

    for k in (3, 5, 7, 11):
        cases.append((f"dyn branch 64->128 g8 k{k}", (1, 64, 544, 440), conv(64, 128, k, 8)))
        cases.append((f"mmb branch 128->256 g8 k{k}", (1, 128, 272, 220), conv(128, 256, k, 8)))
    cases.append(("dyn dec.7 branch 64->512 g8 k11", (1, 64, 544, 440), conv(64, 512, 11, 8)))
    cases.append(("dyn 4 branches as one k11 64->512 g8", (1, 64, 544, 440), conv(64, 512, 11, 8)))
    cases.append(("dyn conv1 512->64 1x1", (1, 512, 544, 440), conv(512, 64, 1)))
    cases.append(("dyn conv1 256->64 1x1", (1, 256, 544, 440), conv(256, 64, 1)))
    cases.append(("maps.enc.0 5->256 3x3 full", (2, 5, 1088, 880), conv(5, 256, 3)))
    cases.append(("maps.enc.1 256->256 3x3 s2", (2, 256, 1088, 880), conv(256, 256, 3, 1, 2)))
    cases.append(("mapsback.dec.1 512->256 3x3 full", (2, 512, 1088, 880), conv(512, 256, 3)))
    ct = nn.ConvTranspose2d(256, 256, 3, 2, 1, output_padding=1).cuda()
    cases.append(("mapsback.dec.0 convT 256->256 s2", (2, 256, 544, 440), ct))
    cases.append(("mapsback.readout 256->5 1x1", (2, 256, 1088, 880), conv(256, 5, 1)))
    cases.append(("space.down 5->5 3x3 full", (2, 5, 1088, 880), conv(5, 5, 3)))
    up = nn.ConvTranspose2d(5, 5, 3, 1, 1).cuda()
    cases.append(("space.up convT 5->5 3x3 full", (2, 5, 1088, 880), up))
    cases.append(("space.conv1x1 5->5 full", (2, 5, 1088, 880), conv(5, 5, 1)))
    t3 = nn.ConvTranspose2d(20, 5, 4, 4).cuda()
    cases.append(("lproj.transposeconv3 20->5 k4s4", (2, 20, 272, 220), t3))
    cases.append(("patch_embed 5->768 k16s16", (2, 5, 1088, 880), nn.Conv2d(5, 768, 16, 16).cuda()))
    for name, shape, mod in cases:
        rec: dict[str, float] = {}
        for layout in ("contiguous", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            m = copy.deepcopy(mod).to(memory_format=fmt)
            x = torch.randn(shape, device="cuda").to(memory_format=fmt)
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                xb = x.to(torch.bfloat16)
                rec[layout] = timed(lambda m=m, xb=xb: m(xb), reps=10, warmup=3)
        res[name] = rec
        print(f"| {name} | {rec['contiguous']:.3f} | {rec['channels_last']:.3f} |", flush=True)
    # The Triton grouped kernel (model/gpu/triton_conv.py) against cuDNN on the grouped shapes.
    try:
        from glonet_regions.model.gpu import conv as fast_conv
        from glonet_regions.model.gpu import triton_conv

        for name, shape, mod in cases:
            if not isinstance(mod, nn.Conv2d) or mod.groups == 1:
                continue
            x = torch.randn(shape, device="cuda").to(torch.bfloat16)
            x = x.contiguous(memory_format=torch.channels_last)
            m = copy.deepcopy(mod).to(memory_format=torch.channels_last)
            packed = triton_conv.packed_weight(m.weight, m.groups, torch.bfloat16)
            bias = m.bias.to(torch.bfloat16) if m.bias is not None else None
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                ref = m(x).float()
                for run_groups in fast_conv.merge_candidates(m.groups):
                    ms = timed(
                        lambda m=m, x=x, rg=run_groups: fast_conv._run(m, x, rg), reps=10, warmup=3
                    )
                    res[name][f"cudnn_g{run_groups}"] = ms
                    print(f"| {name} | cuDNN {run_groups} groups | {ms:.3f} ms |", flush=True)
            for block_m, block_k, warps, rows in TRITON_CONFIGS:
                tag = f"triton_m{block_m}_k{block_k}_w{warps}_r{rows}"
                kw = {"block_m": block_m, "block_k": block_k, "num_warps": warps, "rows": rows}
                with torch.no_grad():
                    out = triton_conv.grouped_conv_nhwc(x, packed, bias, m.groups, **kw)
                    ms = timed(
                        lambda x=x, p=packed, b=bias, g=m.groups, kw=kw: (
                            triton_conv.grouped_conv_nhwc(x, p, b, g, **kw)
                        ),
                        reps=10,
                        warmup=3,
                    )
                err = float((out.float() - ref).norm() / ref.norm())
                res[name][tag] = ms
                res[name][f"{tag}_rel_l2"] = err
                print(f"| {name} | {tag} | {ms:.3f} ms | rel L2 {err:.1e} |", flush=True)
    except Exception as exc:  # report, keep the other measurements
        res["triton_error"] = repr(exc)
        print(f"triton grouped conv failed: {exc!r}", flush=True)
    # A 5-channel 3x3 convolution as nine shifted pointwise products (Inductor fuses them).
    w = torch.randn(5, 5, 3, 3, device="cuda")

    def stencil(x: Tensor, w: Tensor) -> Tensor:
        xp = F.pad(x, (1, 1, 1, 1))
        h, wd = x.shape[-2:]
        out = None
        for dy in range(3):
            for dx in range(3):
                tap = xp[..., dy : dy + h, dx : dx + wd]
                t = torch.einsum("oi,nihw->nohw", w[:, :, dy, dx], tap)
                out = t if out is None else out + t
        assert out is not None
        return out

    cstencil = torch.compile(stencil, dynamic=False)
    x = torch.randn(2, 5, 1088, 880, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        ref = F.conv2d(x.float(), w, padding=1)
        err = float((cstencil(x.float(), w) - ref).norm() / ref.norm())
        res["space.down as compiled stencil"] = {
            "bf16": timed(lambda: cstencil(x, w.to(torch.bfloat16)), reps=10, warmup=3),
            "rel_l2_fp32": err,
        }
    print(f"stencil: {res['space.down as compiled stencil']}", flush=True)
    return res


def transforms_part(c: int) -> dict[str, Any]:
    """Operators and the CUDA kernels they launch, by input shapes (one forward).

    For each ATen operator that launches kernels directly: calls, milliseconds in
    layout-transform kernels, milliseconds in all its kernels; sorted by the transforms.
    """
    from torch.profiler import ProfilerActivity, profile

    model = optimise_model(build(c), device="cuda", mode="fast", training=False)
    x = torch.randn(1, 2, c, *GRID, device="cuda")

    def fwd() -> None:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    fwd()
    torch.cuda.synchronize()
    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
    with profile(activities=activities, record_shapes=True) as prof:
        fwd()
        torch.cuda.synchronize()
    marks = ("ToNchw", "ToNhwc", "nhwcAddPadding", "nhwcSliceC", "foldedNhwc")
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for evt in prof.events():
        kernels = list(getattr(evt, "kernels", []))
        if not kernels or not evt.name.startswith("aten::"):
            continue
        moved = [k for k in kernels if any(m in k.name for m in marks)]
        key = f"{evt.name} {evt.input_shapes[:2]}"
        row = rows[key]
        row[0] += 1
        row[1] += sum(k.duration for k in moved) / 1e3
        row[2] += sum(k.duration for k in kernels) / 1e3
    out = sorted(rows.items(), key=lambda kv: -kv[1][1])
    total = sum(r[1] for _, r in out)
    print(f"C={c}: layout-transform kernels {total:.2f} ms per forward", flush=True)
    print("| op (input shapes) | calls | transform ms | all kernels ms |\n|---|---|---|---|")
    for key, (n, moved_ms, all_ms) in out[:40]:
        print(f"| {key} | {n:.0f} | {moved_ms:.3f} | {all_ms:.3f} |", flush=True)
    return {"transform_ms": total, "ops": {k: v for k, v in out}}


def ab_part(c: int) -> dict[str, Any]:
    """Training step and forward per variant of the Inception changes (same process)."""
    from glonet_regions.model.blocks import Inception
    from glonet_regions.model.gpu import conv as fast_conv
    from glonet_regions.model.gpu.blocks import FastInception

    split_concat, nhwc = FastInception.forward_concat, fast._nhwc
    measure, measured_s = fast_conv._measure, [0.0]

    def timed_measure(*args: Any) -> Any:  # time spent choosing grouped-conv forms
        t = time.time()
        out = measure(*args)
        measured_s[0] += time.time() - t
        return out

    fast_conv._measure = timed_measure  # type: ignore[assignment]
    model = optimise_model(build(c).train(), device="cuda", mode="fast", training=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    y = torch.randn_like(x)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            pred = model(x)
        F.mse_loss(pred.float(), y).backward()
        opt.step()

    def fwd() -> None:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    res: dict[str, Any] = {}
    for name, split, to_nhwc in (
        ("split + nhwc (round 5)", True, True),
        ("cat + nhwc", False, True),
        ("split, as is", True, False),
        ("cat, as is (round 4)", False, False),
    ):
        FastInception.forward_concat = split_concat if split else Inception.forward_concat  # type: ignore[method-assign]
        fast._nhwc = nhwc if to_nhwc else (lambda t: t)
        t0 = time.time()
        step()
        torch.cuda.synchronize()
        first = time.time() - t0
        train_ms = timed(step, reps=5, warmup=1)
        model.eval()
        fwd_ms = timed(fwd, reps=5, warmup=2)
        model.train()
        res[name] = {"first_step_s": first, "train_ms": train_ms, "forward_ms": fwd_ms}
        if not res.get("compile"):
            from torch._dynamo.utils import compile_times, counters

            res["compile"] = {
                "conv_choice_s": measured_s[0],
                "unique_graphs": counters["stats"]["unique_graphs"],
                "compile_times": compile_times(repr="str", aggregate=True),
            }
            print(f"first variant: {res['compile']['unique_graphs']} graphs, grouped-conv "
                  f"measurements {measured_s[0]:.1f} s\n{res['compile']['compile_times']}",
                  flush=True)  # fmt: skip
        print(f"C={c} {name}: first step {first:.1f} s, train {train_ms:.1f} ms, "
              f"forward {fwd_ms:.1f} ms", flush=True)  # fmt: skip
    FastInception.forward_concat, fast._nhwc = split_concat, nhwc  # type: ignore[method-assign]
    fast_conv._measure = measure
    return res


def compiled_part(c: int) -> dict[str, Any]:
    model = optimise_model(build(c), device="cuda", mode="fast", training=False)
    x = torch.randn(1, 2, c, *GRID, device="cuda")

    def run(m: nn.Module) -> Tensor:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return m(x)

    fast_ms = timed(lambda: run(model))
    ref = run(model).float()
    whole = copy.deepcopy(model)
    fuse_blocks(whole, "eager")
    cmodel = torch.compile(whole, dynamic=False)
    t = time.time()
    out = run(cmodel)
    torch.cuda.synchronize()
    first_s = time.time() - t
    err = float((out.float() - ref).norm() / ref.norm())
    comp_ms = timed(lambda: run(cmodel))
    res = {"fast_ms": fast_ms, "compiled_ms": comp_ms, "compile_s": first_s, "rel_l2": err}
    print(f"C={c} compiled whole model: {res}", flush=True)
    return res


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.environ.get("OUT", "benchmarks/out"))
    p.add_argument("--channels", type=int, default=5)
    p.add_argument("--part", choices=PARTS)
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument(
        "--dft-max-tokens",
        type=int,
        default=None,
        help="AFNO transforms as matrix products up to this many tokens (0: never; "
        "default: glonet_regions.model.gpu.blocks.DFT_MAX_TOKENS)",
    )
    p.add_argument("--tag", default="", help="suffix of the output file names")
    p.add_argument(
        "--max-autotune", action="store_true", help="Inductor max-autotune for the fused graphs"
    )
    args = p.parse_args()
    if args.max_autotune:
        import torch._inductor.config as inductor_config

        inductor_config.max_autotune = True
        inductor_config.max_autotune_gemm = True
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.part is None:
        for part in args.parts.split(","):
            cmd = [sys.executable, __file__, "--out", str(out), "--part", part,
                   "--channels", str(args.channels)]  # fmt: skip
            cmd += ["--max-autotune"] if args.max_autotune else []
            if args.dft_max_tokens is not None:
                cmd += ["--dft-max-tokens", str(args.dft_max_tokens)]
            cmd += ["--tag", args.tag] if args.tag else []
            subprocess.run(cmd, check=False)
        return 0
    if args.dft_max_tokens is not None:
        fast.DFT_MAX_TOKENS = args.dft_max_tokens
    print(f"DFT_MAX_TOKENS={fast.DFT_MAX_TOKENS}", flush=True)
    print(f"== {args.part} on {torch.cuda.get_device_name()} torch {torch.__version__}", flush=True)
    if args.part == "modules":
        res = module_part(args.channels)
    elif args.part == "kernels":
        res = kernel_part(args.channels)
    elif args.part == "convs":
        res = conv_part()
    elif args.part == "transforms":
        res = transforms_part(args.channels)
    elif args.part == "ab":
        res = ab_part(args.channels)
    else:
        res = compiled_part(args.channels)
    name = f"breakdown_{args.part}_c{args.channels}{args.tag}.json"
    (out / name).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
