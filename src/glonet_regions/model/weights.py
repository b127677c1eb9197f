"""Import of published GLONET TorchScript weights into :class:`~glonet_regions.model.Glonet`.

The published files are ``torch.nn.Sequential(Glonet, SelectiveFilterLayer)`` saved as
TorchScript, so every key starts with ``0.``. We read the state dict, strip the prefix and map
tensors into our module by name and shape. The position embedding, tied to the grid, is
interpolated to our grid (:func:`~glonet_regions.model.blocks.resize_pos_embed`).

TorchScript is deprecated in recent PyTorch and ``torch.jit.load`` warns about it; the
published format gives us no choice, so that one warning is silenced where we load.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from glonet_regions.core.errors import (
    CheckpointError,
    CheckpointIncompatibleError,
    CheckpointNotFoundError,
)
from glonet_regions.model.blocks import GFBlock, resize_pos_embed

__all__ = [
    "POS_EMBED_KEY",
    "PUBLISHED_GRID",
    "ImportReport",
    "describe_torchscript",
    "import_state_dict",
    "import_torchscript",
    "load_torchscript",
    "read_torchscript_state_dict",
    "strip_prefix",
]

POS_EMBED_KEY = "space.NO.pos_embed"
PUBLISHED_GRID: tuple[int, int] = (672, 1440)
"""Global 1/4 degree grid the published weights were trained on (42 x 90 patches of 16)."""

Shape = tuple[int, ...]


@dataclass
class ImportReport:
    """What happened to every tensor of an imported state dict.

    Attributes:
        source: Where the tensors came from (a path or a label).
        matched: Keys copied unchanged.
        resized: ``(key, source shape, our shape)`` for tensors interpolated to our grid.
        missing: Our keys that the source lacks (left at their current values).
        unexpected: Source keys we have no place for.
        shape_mismatch: ``(key, source shape, our shape)`` for tensors that could not be used.
        notes: Free-text remarks (for example the grid assumed for the source embedding).
    """

    source: str
    matched: list[str] = field(default_factory=list)
    resized: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every tensor of the model was filled and every source tensor was used."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def problems(self) -> list[str]:
        """One line per missing, unexpected or mismatching tensor."""
        lines = [f"missing in file: {k}" for k in self.missing]
        lines += [f"unexpected in file: {k}" for k in self.unexpected]
        lines += [
            f"shape mismatch: {k}: file {list(src)} vs model {list(dst)}"
            for k, src, dst in self.shape_mismatch
        ]
        return lines

    def format(self, max_items: int = 20) -> str:
        """A readable multi-line summary (at most ``max_items`` names per list)."""

        def block(title: str, items: list[str]) -> list[str]:
            if not items:
                return []
            shown = [f"    {s}" for s in items[:max_items]]
            if len(items) > max_items:
                shown.append(f"    ... and {len(items) - max_items} more")
            return [f"  {title} ({len(items)}):", *shown]

        lines = [
            f"Weight import from {self.source}: {'OK' if self.ok else 'INCOMPLETE'}",
            f"  matched: {len(self.matched)}",
        ]
        lines += block("resized", [f"{k}: {list(s)} -> {list(d)}" for k, s, d in self.resized])
        lines += block("missing in file", self.missing)
        lines += block("unexpected in file", self.unexpected)
        lines += block(
            "shape mismatch",
            [f"{k}: file {list(s)} vs model {list(d)}" for k, s, d in self.shape_mismatch],
        )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@contextmanager
def _quiet_jit_deprecation() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning
        )
        yield


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """Load a TorchScript file on the CPU.

    Raises:
        CheckpointNotFoundError: If the file does not exist.
        CheckpointError: If it is not a readable TorchScript archive.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"weight file not found: {path}")
    try:
        with _quiet_jit_deprecation():
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError/ValueError variants
        raise CheckpointError(
            f"{path} is not a TorchScript file (torch.jit.load failed: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})"
        ) from exc
    return module


def strip_prefix(state_dict: Mapping[str, Tensor], prefix: str = "0.") -> dict[str, Tensor]:
    """Remove ``prefix`` from the keys that have it; other keys are kept unchanged.

    If no key has the prefix the mapping is returned as a plain dict (a bare Glonet file).
    """
    if not any(k.startswith(prefix) for k in state_dict):
        return dict(state_dict)
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def read_torchscript_state_dict(path: str | Path, prefix: str = "0.") -> dict[str, Tensor]:
    """The state dict of a TorchScript file with the wrapper ``prefix`` stripped."""
    module = load_torchscript(path)
    return strip_prefix({k: v.detach().clone() for k, v in module.state_dict().items()}, prefix)


def _guess_patch_grid(n_tokens: int, target_hw: tuple[int, int]) -> tuple[int, int]:
    """The factorisation ``h * w = n_tokens`` whose aspect ratio is closest to ``target_hw``."""
    target = math.log(target_hw[0] / target_hw[1])
    best: tuple[float, tuple[int, int]] | None = None
    for h in range(1, n_tokens + 1):
        if n_tokens % h:
            continue
        w = n_tokens // h
        score = abs(math.log(h / w) - target)
        if best is None or score < best[0]:
            best = (score, (h, w))
    assert best is not None
    return best[1]


def _gf_block(model: nn.Module) -> GFBlock:
    no = getattr(getattr(model, "space", None), "NO", None)
    if not isinstance(no, GFBlock):
        raise CheckpointIncompatibleError(
            f"{type(model).__name__} has no space.NO GF block: not a Glonet model"
        )
    return no


def _source_pos_hw(
    n_tokens: int, model: nn.Module, source_grid: tuple[int, int] | None, notes: list[str]
) -> tuple[int, int]:
    no = _gf_block(model)
    patch, ours = no.patch_size, no.pos_hw
    if source_grid is not None:
        hw = (-(-source_grid[0] // patch), -(-source_grid[1] // patch))
        if hw[0] * hw[1] == n_tokens:
            return hw
        notes.append(
            f"source_grid {source_grid} gives {hw[0]}x{hw[1]} patches, not the file's "
            f"{n_tokens}; guessing the patch grid instead"
        )
    pub = (PUBLISHED_GRID[0] // patch, PUBLISHED_GRID[1] // patch)
    if pub[0] * pub[1] == n_tokens:
        hw = pub
        notes.append(f"assumed the published {PUBLISHED_GRID} grid for the file's pos_embed")
    else:
        hw = _guess_patch_grid(n_tokens, ours)
        notes.append(
            f"file pos_embed patch grid guessed as {hw[0]}x{hw[1]} from its {n_tokens} tokens; "
            "pass source_grid to be sure"
        )
    return hw


def import_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, Tensor],
    *,
    strict: bool = False,
    source: str = "<state dict>",
    source_grid: tuple[int, int] | None = None,
) -> ImportReport:
    """Copy tensors into ``model`` by name and shape; resize the position embedding.

    Args:
        model: A :class:`~glonet_regions.model.Glonet`.
        state_dict: Source tensors, keys already without the ``0.`` wrapper prefix.
        strict: Raise instead of importing partially when anything does not match.
        source: Label used in messages.
        source_grid: ``(H, W)`` the source embedding was made for; guessed when omitted
            (the published 672 x 1440 grid if the token count fits).

    Returns:
        The :class:`ImportReport`. Nothing is copied when ``strict`` and there is a problem.

    Raises:
        CheckpointIncompatibleError: With ``strict=True``, listing every mismatch.
    """
    report = ImportReport(source=source)
    own = model.state_dict()
    to_copy: dict[str, Tensor] = {}
    for key, src in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
            continue
        dst = own[key]
        src_shape, dst_shape = tuple(src.shape), tuple(dst.shape)
        if src_shape == dst_shape:
            report.matched.append(key)
            to_copy[key] = src
        elif (
            key == POS_EMBED_KEY
            and src.ndim == 3
            and src_shape[0] == 1
            and src_shape[2] == dst_shape[2]
        ):
            old_hw = _source_pos_hw(src_shape[1], model, source_grid, report.notes)
            to_copy[key] = resize_pos_embed(src, old_hw, _gf_block(model).pos_hw)
            report.resized.append((key, src_shape, dst_shape))
        else:
            report.shape_mismatch.append((key, src_shape, dst_shape))
    report.missing = [k for k in own if k not in state_dict]
    if strict and not report.ok:
        problems = "\n  ".join(report.problems())
        raise CheckpointIncompatibleError(
            f"{source} does not fit the model ({len(report.problems())} problems):\n  {problems}"
        )
    with torch.no_grad():
        for key, value in to_copy.items():
            own[key].copy_(value.to(dtype=own[key].dtype))
    return report


def import_torchscript(
    model: nn.Module,
    path: str | Path,
    *,
    strict: bool = False,
    prefix: str = "0.",
    source_grid: tuple[int, int] | None = None,
) -> ImportReport:
    """Load a published (or published-like) TorchScript weight file into ``model``.

    Args:
        model: The :class:`~glonet_regions.model.Glonet` to fill.
        path: The ``.pt`` TorchScript file.
        strict: Raise :class:`CheckpointIncompatibleError` on any missing, unexpected or
            mismatching tensor (resized position embeddings are fine).
        prefix: Wrapper prefix to strip (``0.`` for ``Sequential(Glonet, filter)``).
        source_grid: Grid the file was trained on, for the position embedding.

    Raises:
        CheckpointNotFoundError: Missing file.
        CheckpointError: Not a TorchScript file.
        CheckpointIncompatibleError: ``strict`` and the tensors do not fit.
    """
    state = read_torchscript_state_dict(path, prefix)
    return import_state_dict(model, state, strict=strict, source=str(path), source_grid=source_grid)


def _module_code(module: Any) -> str | None:
    try:
        code = module.code
    except Exception:  # modules without a forward, or compiled-away methods
        return None
    return str(code) if code else None


def describe_torchscript(path: str | Path, *, max_code_chars: int = 20000) -> str:
    """A text description of a TorchScript file, to settle the spec's open points.

    Lists the module tree types, every state-dict tensor with shape and dtype, the parameter
    total, and the TorchScript ``.code`` of the top module and of the first submodule of each
    type (with the attributes of modules that hold no tensors, e.g. ``SelectiveFilterLayer``).

    Raises:
        CheckpointNotFoundError: Missing file.
        CheckpointError: Not a TorchScript file.
    """
    module = load_torchscript(path)
    out: list[str] = [f"TorchScript file: {path}"]
    top_type = getattr(module, "original_name", type(module).__name__)
    out.append(f"top module: {top_type}")
    children = [
        f"  {name}: {getattr(child, 'original_name', type(child).__name__)}"
        for name, child in module.named_children()
    ]
    out += ["children:", *children]

    state = module.state_dict()
    total = sum(v.numel() for v in state.values())
    out.append(f"\nstate dict: {len(state)} tensors, {total:,} elements")
    for key, value in state.items():
        out.append(f"  {key} {list(value.shape)} {str(value.dtype).replace('torch.', '')}")

    out.append("\ncode (top module and first module of each type):")
    seen: set[str] = set()
    for name, sub in module.named_modules():
        kind = getattr(sub, "original_name", type(sub).__name__)
        if name and kind in seen:
            continue
        seen.add(kind)
        code = _module_code(sub)
        has_tensors = any(True for _ in sub.parameters()) or any(True for _ in sub.buffers())
        if code is None and has_tensors:
            continue
        out.append(f"--- {name or '<top>'} ({kind}) ---")
        if code is not None:
            out.append(code if len(code) <= max_code_chars else code[:max_code_chars] + "\n...")
        if not has_tensors:
            with contextlib.suppress(Exception):  # private API; best effort only
                out.append(sub._c.dump_to_str(False, True, False))
    return "\n".join(out)
