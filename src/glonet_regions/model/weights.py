"""Import of published GLONET TorchScript weights into :class:`~glonet_regions.model.Glonet`.

The published files are ``torch.nn.Sequential(Glonet, SelectiveFilterLayer)`` saved as
TorchScript, so every key starts with ``0.``. We read the state dict, strip the prefix and map
tensors into our module by name and shape. The position embedding, tied to the grid, is cut
from the global one at the region's place and interpolated to its patch grid
(:func:`~glonet_regions.model.geo_embed.geographic_pos_embed`) when the region's geometry is
known, else resized whole (:func:`~glonet_regions.model.blocks.resize_pos_embed`).

A TorchScript archive runs code when it is loaded and called. Only files whose sha256 is
pinned in the asset registry of the published release (or in the user's pins) load without
asking; any other archive needs ``trust_weights=True`` (``--trust-weights`` on the command
line). The filter module (``model[1]``) is kept, and applied by :class:`FilteredGlonet`.

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
from glonet_regions.model.geo_embed import PatchGeometry

__all__ = [
    "EXPECTED_FILTER",
    "POS_EMBED_KEY",
    "PUBLISHED_GRID",
    "FilterCheck",
    "FilteredGlonet",
    "ImportReport",
    "UntrustedWeightsError",
    "check_filter",
    "describe_filter",
    "pinned_asset_name",
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

EXPECTED_FILTER = "SelectiveFilterLayer"
"""``original_name`` of the published files' second module."""

Shape = tuple[int, ...]


class UntrustedWeightsError(CheckpointError):
    """A TorchScript archive that is not a pinned published file, without ``trust_weights``."""


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
        filter: The file's filter module (``model[1]``), kept when the file was loaded.
        filter_check: Whether that module is the published filter (see :func:`check_filter`).
    """

    source: str
    matched: list[str] = field(default_factory=list)
    resized: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    filter: Any = None
    filter_check: FilterCheck | None = None

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
        if self.filter_check is not None:
            lines.append(f"  filter: {self.filter_check.describe()}")
        return "\n".join(lines)


@contextmanager
def _quiet_jit_deprecation() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning
        )
        yield


def pinned_asset_name(path: str | Path) -> str | None:
    """The published asset a file is, by its sha256 (registry or user pins), else None."""
    from glonet_regions.data.assets import GLONET_ASSETS, file_sha256

    digest = file_sha256(path)
    for name in GLONET_ASSETS.names:
        if name.endswith(".pt") and GLONET_ASSETS.resolved_hash(name) == digest:
            return name
    return None


def load_torchscript(path: str | Path, *, trust_weights: bool = False) -> torch.jit.ScriptModule:
    """Load a TorchScript file on the CPU, if it is a pinned published file or trusted.

    Args:
        path: The archive.
        trust_weights: Load it even if its sha256 is not pinned (TorchScript runs code).

    Raises:
        CheckpointNotFoundError: If the file does not exist.
        UntrustedWeightsError: Not pinned and ``trust_weights`` is False.
        CheckpointError: If it is not a readable TorchScript archive.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"weight file not found: {path}")
    if not trust_weights and pinned_asset_name(path) is None:
        from glonet_regions.data.assets import file_sha256

        raise UntrustedWeightsError(
            f"{path} is a TorchScript archive, which runs code when loaded, and its sha256 "
            f"{file_sha256(path)} is not one of the pinned published GLONET files; pass "
            "--trust-weights (trust_weights=True) only if you trust where it came from"
        )
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


def read_torchscript_state_dict(
    path: str | Path, prefix: str = "0.", *, trust_weights: bool = False
) -> dict[str, Tensor]:
    """The state dict of a TorchScript file with the wrapper ``prefix`` stripped."""
    module = load_torchscript(path, trust_weights=trust_weights)
    return strip_prefix({k: v.detach().clone() for k, v in module.state_dict().items()}, prefix)


@dataclass(frozen=True)
class FilterCheck:
    """Whether a weight file's second module is GLONET's published filter.

    Attributes:
        applied: True when the filter is present, named as published and holds no tensors.
        reason: Why it is not applied (empty when applied).
        name: The module's ``original_name`` (None when absent).
    """

    applied: bool
    reason: str = ""
    name: str | None = None

    def describe(self) -> str:
        if self.applied:
            return f"{self.name} kept and applied after the network"
        return f"not applied: {self.reason}"

    def attrs(self) -> dict[str, str]:
        """Attributes for a forecast file (``glonet_filter``)."""
        return {"glonet_filter": "applied" if self.applied else f"not applied: {self.reason}"}


def _original_name(module: Any) -> str:
    return str(getattr(module, "original_name", type(module).__name__))


def check_filter(module: Any) -> FilterCheck:
    """Compare a TorchScript file's top module with ``Sequential(Glonet, SelectiveFilterLayer)``.

    Returns a :class:`FilterCheck`; the reason names the difference (no second module, another
    module type, a filter holding tensors, extra modules).
    """
    children = dict(module.named_children())
    if "1" not in children:
        top = _original_name(module)
        return FilterCheck(
            False,
            f"the file has no filter module (its top module is {top}, not "
            f"Sequential(Glonet, {EXPECTED_FILTER}))",
        )
    filt = children["1"]
    kind = _original_name(filt)
    if kind != EXPECTED_FILTER:
        return FilterCheck(False, f"module 1 is {kind}, not the published {EXPECTED_FILTER}", kind)
    n_tensors = len(filt.state_dict())
    if n_tensors:
        return FilterCheck(
            False, f"{kind} holds {n_tensors} tensors; the published one holds none", kind
        )
    if len(children) > 2:
        return FilterCheck(False, f"the file has {len(children)} modules, the published 2", kind)
    return FilterCheck(True, "", kind)


def describe_filter(filt: Any) -> str:
    """The TorchScript code and attributes of a filter module (for ``model inspect``)."""
    lines = [f"filter module: {_original_name(filt)}"]
    code = _module_code(filt)
    lines.append(code if code is not None else "(no forward code)")
    attrs: list[str] = []
    with contextlib.suppress(Exception):  # private API; best effort only
        ctype = filt._c._type()
        for i in range(ctype.numAttributes()):
            n = ctype.getAttributeName(i)
            if n in ("training",):
                continue
            attrs.append(f"  {n} = {filt._c.getattr(n)!r}")
    lines.append("attributes:" if attrs else "attributes: (none besides training)")
    lines += attrs
    return "\n".join(lines)


class FilteredGlonet(nn.Module):
    """Our network followed by a published file's filter module, as ``Sequential`` does.

    Attributes:
        net: The :class:`~glonet_regions.model.Glonet`.
        filter: The TorchScript filter module (called on the network's output).
    """

    def __init__(self, net: nn.Module, filt: Any) -> None:
        super().__init__()
        self.net = net
        self.filter = filt

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.filter(self.net(x))
        return out


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


def _geographic(
    key: str,
    src: Tensor,
    dst_shape: Shape,
    model: nn.Module,
    target: PatchGeometry | None,
    notes: list[str],
) -> Tensor | None:
    """The geographic crop of a global embedding, or None when it does not apply."""
    if key != POS_EMBED_KEY or target is None:
        return None
    from glonet_regions.model.geo_embed import GLOBAL_PATCHES, geographic_pos_embed

    nr, nc = GLOBAL_PATCHES.hw
    if src.ndim != 3 or src.shape[1] != nr * nc or src.shape[2] != dst_shape[2]:
        return None
    if target.hw[0] * target.hw[1] != dst_shape[1] or target.patch != _gf_block(model).patch_size:
        notes.append(f"target geometry {target.hw} does not fit the model's pos_embed; ignored")
        return None
    out = geographic_pos_embed(src, target)
    if out is not src:
        notes.append(
            f"pos_embed cut from the global {nr}x{nc} patch grid at the region's place "
            f"(first patch centre {target.centres()[0][0]:.2f}N "
            f"{target.centres()[1][0]:.2f}E) and interpolated to {target.hw[0]}x{target.hw[1]}"
        )
    return out


def import_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, Tensor],
    *,
    strict: bool = False,
    source: str = "<state dict>",
    source_grid: tuple[int, int] | None = None,
    target_geometry: PatchGeometry | None = None,
) -> ImportReport:
    """Copy tensors into ``model`` by name and shape; fit the position embedding to its grid.

    Args:
        model: A :class:`~glonet_regions.model.Glonet`.
        state_dict: Source tensors, keys already without the ``0.`` wrapper prefix.
        strict: Raise instead of importing partially when anything does not match.
        source: Label used in messages.
        source_grid: ``(H, W)`` the source embedding was made for; guessed when omitted
            (the published 672 x 1440 grid if the token count fits).
        target_geometry: Where the model's patches are on the globe; with it, a global
            embedding is cut at the region's place (:func:`geographic_pos_embed`), even when
            the token counts agree; without it, the embedding is resized whole.

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
        geo = _geographic(key, src, dst_shape, model, target_geometry, report.notes)
        if geo is not None:
            to_copy[key] = geo
            if tuple(geo.shape) == src_shape and geo is src:
                report.matched.append(key)
            else:
                report.resized.append((key, src_shape, dst_shape))
        elif src_shape == dst_shape:
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
    target_geometry: PatchGeometry | None = None,
    trust_weights: bool = False,
) -> ImportReport:
    """Load a published (or published-like) TorchScript weight file into ``model``.

    Args:
        model: The :class:`~glonet_regions.model.Glonet` to fill.
        path: The ``.pt`` TorchScript file.
        strict: Raise :class:`CheckpointIncompatibleError` on any missing, unexpected or
            mismatching tensor (resized position embeddings are fine).
        prefix: Wrapper prefix to strip (``0.`` for ``Sequential(Glonet, filter)``).
        source_grid: Grid the file was trained on, for the position embedding.
        target_geometry: Where ``model``'s patches are (geographic embedding crop).
        trust_weights: Load an archive whose sha256 is not pinned.

    Returns:
        The report, with the file's filter module (``report.filter``) and its check.

    Raises:
        CheckpointNotFoundError: Missing file.
        UntrustedWeightsError: Not a pinned published file and not ``trust_weights``.
        CheckpointError: Not a TorchScript file.
        CheckpointIncompatibleError: ``strict`` and the tensors do not fit.
    """
    module = load_torchscript(path, trust_weights=trust_weights)
    state = strip_prefix({k: v.detach().clone() for k, v in module.state_dict().items()}, prefix)
    report = import_state_dict(
        model,
        state,
        strict=strict,
        source=str(path),
        source_grid=source_grid,
        target_geometry=target_geometry,
    )
    report.filter_check = check_filter(module)
    if report.filter_check.applied:
        report.filter = dict(module.named_children())["1"]
    else:
        warnings.warn(
            f"{path}: the GLONET filter layer is not applied ({report.filter_check.reason})",
            UserWarning,
            stacklevel=2,
        )
    return report


def _module_code(module: Any) -> str | None:
    try:
        code = module.code
    except Exception:  # modules without a forward, or compiled-away methods
        return None
    return str(code) if code else None


def describe_torchscript(
    path: str | Path, *, max_code_chars: int = 20000, trust_weights: bool = False
) -> str:
    """A text description of a TorchScript file, to settle the spec's open points.

    Lists the module tree types, every state-dict tensor with shape and dtype, the parameter
    total, and the TorchScript ``.code`` of the top module and of the first submodule of each
    type (with the attributes of modules that hold no tensors, e.g. ``SelectiveFilterLayer``).

    Raises:
        CheckpointNotFoundError: Missing file.
        CheckpointError: Not a TorchScript file.
    """
    module = load_torchscript(path, trust_weights=trust_weights)
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
    check = check_filter(module)
    out.append(f"\nfilter: {check.describe()}")
    modules = dict(module.named_children())
    if "1" in modules:
        out.append(describe_filter(modules["1"]))
    return "\n".join(out)
