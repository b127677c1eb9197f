"""Open-boundary providers: how boundary data correct a prediction at every rollout step.

A provider owns a weight map ``w`` of shape ``(H, W)`` in ``[0, 1]``: 1 where the boundary
data fully replace the prediction, 0 where the prediction is kept. :meth:`BoundaryProvider.apply`
returns ``pred * (1 - w) + boundary * w``. Rows are south to north (row 0 is south) and
columns west to east, as :meth:`glonet_regions.core.region.OpenBoundaries.zone_mask` says.

- :class:`StripBoundary`: ``w = 1`` on an N-cell strip along each open edge (overwrite).
- :class:`RelaxationBoundary`: a Davies relaxation zone of width N, ``w`` falling smoothly from
  1 on the edge cell to 0 inside (a cosine-squared profile); corners take the max over edges.
- :class:`NoBoundary`: the identity (``w = 0``).

``import glonet_regions.boundary.providers`` stays light: torch is imported only inside the
methods that build or use tensors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glonet_regions.core.errors import ValidationError
from glonet_regions.core.region import EDGES, Edge, OpenBoundaries

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUILTIN_PROVIDERS",
    "BoundaryProvider",
    "NoBoundary",
    "RelaxationBoundary",
    "StripBoundary",
    "boundary_provider_names",
    "make_boundary_provider",
    "provider_for_region",
]


def _check_edges(edges: Iterable[str]) -> tuple[Edge, ...]:
    out = tuple(edges)
    bad = [e for e in out if e not in EDGES]
    if bad:
        raise ValidationError(f"Unknown open boundary edge(s) {bad}; expected some of {EDGES}")
    if len(set(out)) != len(out):
        raise ValidationError(f"Open boundary edges listed twice: {list(out)}")
    return out  # type: ignore[return-value]


def _edge_distance(shape: tuple[int, int], edge: str) -> np.ndarray:
    """Distance in cells from each cell to ``edge`` (0 on the edge row/column), ``(H, W)``."""
    h, w = shape
    rows = np.arange(h, dtype=np.float64)[:, None] * np.ones((1, w))
    cols = np.ones((h, 1)) * np.arange(w, dtype=np.float64)[None, :]
    if edge == "south":
        return rows
    if edge == "north":
        return (h - 1) - rows
    if edge == "west":
        return cols
    return (w - 1) - cols  # east


class BoundaryProvider:
    """Base class: a weight map on the open edges and its application to predictions.

    Args:
        edges: Open edges, some of ``west``, ``east``, ``south``, ``north``.
        width: Width of the boundary zone in cells (>= 0).
    """

    name = "base"

    def __init__(self, edges: Sequence[str], width: int) -> None:
        if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 0:
            raise ValidationError(f"Boundary zone width must be an integer >= 0, got {width!r}")
        self.edges: tuple[Edge, ...] = _check_edges(edges)
        self.width = int(width)
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._tensor_cache: dict[tuple[Any, ...], Any] = {}

    # -- profile --------------------------------------------------------------------------
    def profile(self, distance: np.ndarray) -> np.ndarray:
        """Weight as a function of the distance (cells) to one edge; 0 beyond the zone."""
        raise NotImplementedError

    def weights(self, shape: tuple[int, int]) -> np.ndarray:
        """The ``(H, W)`` float64 weight map in ``[0, 1]`` (max over the open edges)."""
        key = (int(shape[0]), int(shape[1]))
        if key not in self._cache:
            w = np.zeros(key, dtype=np.float64)
            if self.width > 0:
                for edge in self.edges:
                    w = np.maximum(w, self.profile(_edge_distance(key, edge)))
            self._cache[key] = np.clip(w, 0.0, 1.0)
        return self._cache[key].copy()

    def zone_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean ``(H, W)``: True inside the boundary zone (same as ``OpenBoundaries``)."""
        return OpenBoundaries(self.edges, self.width, "none").zone_mask(
            (int(shape[0]), int(shape[1]))
        )

    def interior_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean ``(H, W)``: True outside the zone (cells scored and trained on)."""
        return ~self.zone_mask(shape)

    # -- tensors --------------------------------------------------------------------------
    def weights_tensor(
        self, shape: tuple[int, int], *, device: Any = None, dtype: Any = None
    ) -> torch.Tensor:
        """:meth:`weights` as a torch tensor."""
        import torch

        dtype = dtype or torch.float32
        key = (shape, str(device), str(dtype))
        cached = self._tensor_cache.get(key)
        if cached is None:
            # Cached per shape/device/dtype: no host-to-device copy at every rollout step, which
            # also makes apply() safe inside a captured CUDA graph once warmed up.
            cached = torch.as_tensor(self.weights(shape), device=device, dtype=dtype)
            self._tensor_cache[key] = cached
        return cached

    def zone_tensor(self, shape: tuple[int, int], *, device: Any = None) -> torch.Tensor:
        """:meth:`zone_mask` as a cached boolean torch tensor."""
        import torch

        key = (shape, str(device), "zone")
        cached = self._tensor_cache.get(key)
        if cached is None:
            cached = torch.as_tensor(self.zone_mask(shape), device=device)
            self._tensor_cache[key] = cached
        return cached

    def apply(self, pred: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        """Blend boundary data into a prediction: ``pred * (1 - w) + boundary * w``.

        Args:
            pred: ``(..., H, W)`` prediction.
            boundary: Boundary data of the same shape (only the zone is read).

        Returns:
            A new tensor; cells outside the zone equal ``pred`` exactly.
        """
        if tuple(pred.shape) != tuple(boundary.shape):
            raise ValidationError(
                f"boundary data shape {tuple(boundary.shape)} differs from the prediction "
                f"shape {tuple(pred.shape)}"
            )
        if self.width == 0 or not self.edges:
            return pred
        import torch

        shape = (int(pred.shape[-2]), int(pred.shape[-1]))
        w = self.weights_tensor(shape, device=pred.device, dtype=pred.dtype)
        zone = self.zone_tensor(shape, device=pred.device)
        blended = pred * (1 - w) + boundary.to(pred.dtype) * w
        # Outside the zone the prediction is returned bit for bit.
        return torch.where(zone, blended, pred)

    def __call__(self, pred: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        return self.apply(pred, boundary)

    def to_dict(self) -> dict[str, Any]:
        """``{"provider", "width", "edges"}`` (stored in checkpoints)."""
        return {"provider": self.name, "width": self.width, "edges": list(self.edges)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(edges={list(self.edges)}, width={self.width})"


class StripBoundary(BoundaryProvider):
    """Overwrite an N-cell strip along each open edge with the boundary data."""

    name = "strip"

    def profile(self, distance: np.ndarray) -> np.ndarray:
        return (distance < self.width).astype(np.float64)


class RelaxationBoundary(BoundaryProvider):
    """Davies relaxation zone: ``w = cos^2(pi/2 * d / N)`` for ``d < N`` cells from the edge.

    The weight is 1 on the edge cell and decreases smoothly (zero slope at the edge) to
    ``cos^2(pi/2 * (N-1)/N)`` on the innermost zone cell; it is 0 beyond.
    """

    name = "relaxation"

    def profile(self, distance: np.ndarray) -> np.ndarray:
        n = self.width
        inside = distance < n
        w = np.cos(0.5 * np.pi * np.minimum(distance, n) / max(n, 1)) ** 2
        return np.where(inside, w, 0.0)


class NoBoundary(BoundaryProvider):
    """No correction: :meth:`apply` returns the prediction unchanged."""

    name = "none"

    def __init__(self, edges: Sequence[str] = (), width: int = 0) -> None:
        super().__init__(edges, width)

    def profile(self, distance: np.ndarray) -> np.ndarray:
        return np.zeros_like(distance, dtype=np.float64)

    def apply(self, pred: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        if tuple(pred.shape) != tuple(boundary.shape):
            raise ValidationError(
                f"boundary data shape {tuple(boundary.shape)} differs from the prediction "
                f"shape {tuple(pred.shape)}"
            )
        return pred


BUILTIN_PROVIDERS: dict[str, str] = {
    "strip": "glonet_regions.boundary.providers:StripBoundary",
    "relaxation": "glonet_regions.boundary.providers:RelaxationBoundary",
    "none": "glonet_regions.boundary.providers:NoBoundary",
}
"""Import strings of the built-in providers (the built-in plugin registers these names)."""


def _resolve(factory: Any) -> Callable[..., Any]:
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj  # type: ignore[return-value]
    if not callable(factory):
        raise ValidationError(f"boundary provider factory {factory!r} is not callable")
    return factory


def boundary_provider_names() -> list[str]:
    """Sorted names of the registered boundary providers."""
    from glonet_regions.registry.facade import get_registry

    return sorted(get_registry().names("boundary provider"))


def make_boundary_provider(
    name: str, edges: Sequence[str], width: int, **options: Any
) -> BoundaryProvider:
    """Build a registered boundary provider through the plugin registry.

    Args:
        name: Registered name (``strip``, ``relaxation``, ``none`` or a plugin's).
        edges: Open edges.
        width: Zone width in cells.
        **options: Passed to the factory.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the known names).
    """
    from glonet_regions.registry.facade import get_boundary_provider

    factory = _resolve(get_boundary_provider(name))
    provider = factory(tuple(edges), int(width), **options)
    return provider


def provider_for_region(
    open_boundaries: OpenBoundaries, *, name: str | None = None, width: int | None = None
) -> BoundaryProvider:
    """The provider a region declares (``open_boundaries.provider``), optionally overridden."""
    return make_boundary_provider(
        name or open_boundaries.provider,
        open_boundaries.edges,
        open_boundaries.width if width is None else width,
    )
