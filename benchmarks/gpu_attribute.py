"""Which Python lines launch a kernel family: one fast forward of the full-size network on the
ibi36 grid, profiled with stacks, each kernel whose name matches a pattern traced to its CPU
operator, the operator's parents and the Python frames of this package (and of Inductor's
generated code).

    PYTHONPATH=src python benchmarks/gpu_attribute.py --out $OUT [--channels 40] \
        [--pattern 'elementwise_kernel<128, 4'] [--pattern ...]

Writes ``attribute_c<C>.txt``: per (pattern, operator, parents, frames) the kernel count and
total milliseconds, largest first.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from glonet_regions.model.gpu import optimise_model
from glonet_regions.model.network import build_glonet

GRID = (1081, 865)


def frames(stack: list[str]) -> tuple[str, ...]:
    """The innermost frames of this package, Inductor and its generated code (``/tmp``)."""
    keep = [s for s in stack if "glonet_regions" in s or "_inductor" in s or "/tmp/" in s]
    return tuple(re.sub(r".*/(src|site-packages)/", "", s) for s in keep[:6])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--channels", type=int, default=40)
    p.add_argument("--pattern", action="append", default=[])
    args = p.parse_args()
    patterns = args.pattern or ["elementwise_kernel<128, 4", "elementwise_kernel<128, 2"]
    torch.manual_seed(0)
    c = args.channels
    model = build_glonet(c, "full", GRID).cuda().eval()
    optimise_model(model, device="cuda", mode="fast", training=False)
    x = torch.randn(1, 2, c, *GRID, device="cuda")
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        for _ in range(2):
            model(x)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                     record_shapes=True, with_stack=True) as prof:  # fmt: skip
            model(x)
            torch.cuda.synchronize()
    Key = tuple[str, str, str, str, tuple[str, ...]]
    count: collections.Counter[Key] = collections.Counter()
    ms: collections.Counter[Key] = collections.Counter()
    total = 0.0
    for evt in prof.profiler.function_events:
        for k in getattr(evt, "kernels", []):
            total += k.duration / 1e3
            pat = next((q for q in patterns if q in k.name), None)
            if pat is None:
                continue
            ops: list[str] = []
            chain: list[str] = []
            parent = evt.cpu_parent
            while parent is not None:  # operators, then the Python frames (with_stack)
                (chain if ".py(" in parent.name else ops).append(parent.name)
                parent = parent.cpu_parent
            key: Key = (pat, evt.name, str(evt.input_shapes)[:160], " <- ".join(ops[:4]),
                   frames(chain + list(evt.stack or [])))  # fmt: skip
            count[key] += 1
            ms[key] += k.duration / 1e3
    lines = [f"kernel time attributed to CPU operators: {total:.1f} ms"]
    for key, n in sorted(count.items(), key=lambda kv: -ms[kv[0]]):
        pat, name, shapes, parents, fr = key
        lines.append(f"{ms[key]:8.2f} ms x{n:<4} [{pat}] {name} {shapes}")
        lines.append(f"    parents: {parents}")
        lines.extend(f"    at {f}" for f in fr)
    text = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"attribute_c{c}.txt").write_text(text + "\n")
    print(text[:6000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
