"""Compile once, load in seconds: ahead-of-time compiled forwards next to a forecaster bundle.

``glonet-regions model compile BUNDLE --device cuda`` prepares each depth group's network on
the optimised path, runs it once (the convolution forms are measured then), exports one model
call (``(1, 2, C, H, W)`` normalised input to the next two days, under bf16 autocast on CUDA)
with ``torch.export`` and compiles it with AOTInductor into a package
(``torch._inductor.aoti_compile_and_package``). The packages, a manifest and the measured
convolution choices are stored in ``BUNDLE.compiled/``; the manifest keys them by the bundle's
sha256 and by the machine (card, torch, CUDA), because compiled kernels are only valid there.

:func:`load_packages` gives the loaded forwards (``aoti_load_package``) where the manifest
matches, and raises :class:`PackageMismatch` saying what differs otherwise; a forecast then says
so once and falls back to compiling or eager (:mod:`glonet_regions.model.gpu.plan`).

Where the optimised modules cannot be exported (a torch without support for a piece of them),
the export falls back to the same network with the Triton convolutions off, then to the plain
network (AOTInductor fuses it on its own); the manifest records which ``form`` each group got.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from glonet_regions.model.gpu.options import GpuOptions

__all__ = [
    "MANIFEST",
    "PackageMismatch",
    "compile_packages",
    "load_packages",
    "machine_key",
    "package_dir",
]

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class PackageMismatch(RuntimeError):
    """Compiled packages that do not fit this bundle or this machine (the message says why)."""


def package_dir(bundle_path: str | Path) -> Path:
    """Where the compiled packages of a bundle live: ``BUNDLE.compiled/`` beside it."""
    p = Path(bundle_path)
    return p.with_name(p.name + ".compiled")


def machine_key(device: torch.device | str) -> dict[str, str | None]:
    """What compiled kernels depend on: the card, torch and CUDA versions."""
    dev = torch.device(device)
    if dev.type == "cuda":
        card = torch.cuda.get_device_name(dev)
        capability = ".".join(map(str, torch.cuda.get_device_capability(dev)))
    else:
        import platform

        card, capability = f"cpu {platform.machine()}", None
    return {
        "device": dev.type,
        "card": card,
        "capability": capability,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


class _Step(nn.Module):
    """One model call as exported: under bf16 autocast on CUDA, float32 out."""

    def __init__(self, net: nn.Module, autocast: bool) -> None:
        super().__init__()
        self.net = net
        self.autocast = autocast

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out: Tensor = self.net(x)
        return out.float()


def _export(
    build: Callable[[], nn.Module],
    example: Tensor,
    device: torch.device,
    options: GpuOptions,
    package_path: Path,
    say: Callable[[str], None],
) -> str:
    """Export and compile one group; returns the form that worked (``fast``, ``fast-cudnn``
    or ``plain``). Raises the last error when none did."""
    from glonet_regions.model.gpu.optimise import optimise_model

    cudnn_only = options.replace(disable=(*options.disable, "conv_triton", "inception_combined"))
    forms: list[tuple[str, GpuOptions | None]] = [
        ("fast", options),
        ("fast-cudnn", cudnn_only),
        ("plain", None),
    ]
    cuda = device.type == "cuda"
    error: Exception | None = None
    for form, opts in forms:
        net = build()
        if opts is not None:
            # fused functions eager: AOTInductor compiles the whole graph itself
            net = optimise_model(
                net, device=device, mode="fast", training=False, options=opts,
                compile_fused=False,
            )  # fmt: skip
        else:
            net = net.to(device).eval()
        step = _Step(net, autocast=cuda).eval()
        try:
            with torch.no_grad():
                step(example)  # measures the convolution forms (inside the export they are known)
                program = torch.export.export(step, (example,))
            torch._inductor.aoti_compile_and_package(program, package_path=str(package_path))
            return form
        except Exception as exc:  # try the next, simpler form
            error = exc
            say(f"the {form} form did not export ({type(exc).__name__}: {str(exc)[:300]})")
            package_path.unlink(missing_ok=True)
    assert error is not None
    raise error


def compile_packages(
    bundle: Any,
    device: torch.device | str,
    *,
    options: GpuOptions | None = None,
    groups: Iterable[str] | None = None,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Compile each depth group of ``bundle`` ahead of time for ``device``; returns the folder.

    Args:
        bundle: A loaded forecaster bundle (``glonet_regions.model.bundle.Bundle``).
        device: Where the packages will run (``cuda`` for forecasts; ``cpu`` works too).
        options: GPU options (default: the bundle's saved ones with the environment's
            overrides).
        groups: Groups to compile (default: all the bundle holds).
        out: Folder (default :func:`package_dir` of the bundle); replaced atomically.
        progress: Called with one line per group.
    """
    say = progress or (lambda _m: None)
    dev = torch.device(device)
    if options is None:
        saved = dict(bundle.config or {}).get("gpu")
        options = GpuOptions.from_dict(saved if isinstance(saved, Mapping) else None).with_env()
    names = list(bundle.groups) if groups is None else list(groups)
    for name in names:
        bundle.group(name)  # a clear error for a group the bundle lacks
    folder = Path(out) if out is not None else package_dir(bundle.path)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "machine": machine_key(dev),
        "bundle_sha256": bundle.sha256,
        "options": options.to_dict(),
        "groups": {},
    }
    try:
        for name in names:
            state = bundle.group(name)
            c, h, w = (int(v) for v in state.ocean_mask.shape)
            example = torch.zeros((1, 2, c, h, w), device=dev)
            start = time.perf_counter()
            form = _export(
                functools.partial(bundle.build_model, name, dev), example, dev, options,
                tmp / f"{name}.pt2", functools.partial(_prefixed, say, name),
            )  # fmt: skip
            seconds = time.perf_counter() - start
            manifest["groups"][name] = {
                "file": f"{name}.pt2",
                "input_shape": [1, 2, c, h, w],
                "form": form,
                "compile_s": round(seconds, 2),
            }
            say(f"{name}: compiled ({form}) in {seconds:.1f} s")
        from glonet_regions.model.gpu.conv import choices

        manifest["conv_choices"] = json.loads(json.dumps(choices(), default=str))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _prefixed(say: Callable[[str], None], prefix: str, message: str) -> None:
    say(f"{prefix}: {message}")


def _describe(key: Mapping[str, Any]) -> str:
    return f"{key.get('card')} (torch {key.get('torch')}, CUDA {key.get('cuda')})"


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a package folder (``PackageMismatch`` if absent or unreadable)."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PackageMismatch(f"no compiled packages in {folder}") from None
    except (OSError, ValueError) as exc:
        raise PackageMismatch(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise PackageMismatch(
            f"{path} has format {data.get('format') if isinstance(data, dict) else '?'}, "
            f"expected {FORMAT_VERSION}: run `glonet-regions model compile` again"
        )
    return data


def check_manifest(
    manifest: Mapping[str, Any], folder: Path, bundle_sha256: str, device: torch.device | str
) -> None:
    """Raise :class:`PackageMismatch` unless the packages were built from this bundle for this
    machine (card, torch and CUDA versions)."""
    if manifest.get("bundle_sha256") != bundle_sha256:
        raise PackageMismatch(
            f"the compiled packages in {folder} were built from another bundle (sha256 "
            f"{str(manifest.get('bundle_sha256'))[:12]}..., this one {bundle_sha256[:12]}...)"
        )
    here = machine_key(device)
    built = manifest.get("machine") or {}
    differs = [k for k in ("device", "card", "torch", "cuda") if built.get(k) != here.get(k)]
    if differs:
        raise PackageMismatch(
            f"the compiled packages in {folder} were built for {_describe(built)}, this machine "
            f"is {_describe(here)} ({', '.join(differs)} differ)"
        )


def load_packages(
    bundle_path: str | Path,
    bundle_sha256: str,
    device: torch.device | str,
    groups: Iterable[str],
) -> dict[str, Callable[[Tensor], Tensor]]:
    """The compiled forward of each of ``groups`` from the bundle's package folder.

    Raises:
        PackageMismatch: No packages, another bundle, another machine, a group or input shape
            missing, or a package that does not load; the message says which.
    """
    folder = package_dir(bundle_path)
    manifest = read_manifest(folder)
    check_manifest(manifest, folder, bundle_sha256, device)
    entries = manifest.get("groups") or {}
    loaded: dict[str, Callable[[Tensor], Tensor]] = {}
    for name in groups:
        entry = entries.get(name)
        if not isinstance(entry, Mapping):
            raise PackageMismatch(f"{folder} holds no compiled package for group {name!r}")
        path = folder / str(entry.get("file"))
        try:
            loaded[name] = _Loaded(
                torch._inductor.aoti_load_package(str(path)), tuple(entry["input_shape"])
            )
        except Exception as exc:  # any loader error means: do not use it
            raise PackageMismatch(f"{path} does not load ({type(exc).__name__}: {exc})") from None
    return loaded


class _Loaded:
    """A loaded package as a forward ``x -> y`` that checks the input shape first."""

    def __init__(self, runner: Callable[..., Any], input_shape: tuple[int, ...]) -> None:
        self.runner = runner
        self.input_shape = input_shape

    def __call__(self, x: Tensor) -> Tensor:
        if tuple(x.shape) != self.input_shape:
            raise PackageMismatch(
                f"the compiled package takes input {list(self.input_shape)}, got {list(x.shape)}"
            )
        out = self.runner(x.float().contiguous())
        result: Tensor = out[0] if isinstance(out, (list, tuple)) else out
        return result
