"""Autoregressive rollout of a GLONET network.

Each call takes the last ``T`` days, multiplies them by the ocean mask (land = 0 in
normalised space), predicts the next ``T`` days, optionally corrects them at the open
boundaries, and appends them. The network, the rollout and the training loop are separate:
this module only chains calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["BoundaryFn", "rollout"]

BoundaryFn = Callable[[Tensor, int], Tensor]
"""``boundary(pred, call_index) -> corrected pred``, with ``pred`` of shape (B, T, C, H, W)."""


def rollout(
    model: nn.Module,
    x0: Tensor,
    n_calls: int,
    *,
    ocean_mask: Tensor | None = None,
    boundary: BoundaryFn | None = None,
    grad: bool = True,
    detach_between_calls: bool = False,
) -> Tensor:
    """Chain ``n_calls`` model calls from the initial window ``x0``.

    Args:
        model: Maps ``(B, T, C, H, W)`` to ``(B, T, C, H, W)``.
        x0: Initial window ``(B, T, C, H, W)``, normalised (its last ``T`` days are used).
        n_calls: Number of calls (a 10-day forecast with T=2 is 5 calls).
        ocean_mask: Ocean mask broadcastable to ``(B, T, C, H, W)`` (e.g. ``(H, W)``,
            ``(C, H, W)`` or ``(1, 1, C, H, W)``), bool or 0/1 float. The input of every call
            is multiplied by it; outputs are returned unmasked.
        boundary: Called as ``boundary(pred, call_index)`` (0-based) after each call; returns
            the corrected prediction, which is both kept and fed to the next call.
        grad: ``False`` runs under :func:`torch.no_grad` (inference); ``True`` follows the
            ambient grad mode so a training loop can backpropagate through the whole rollout.
        detach_between_calls: Cut the graph between calls (truncated backpropagation, for
            a cheaper rollout curriculum).

    Returns:
        ``(B, T * n_calls, C, H, W)``: the predicted days in order.
    """
    if n_calls < 1:
        raise ValueError(f"n_calls must be >= 1, got {n_calls}")
    if x0.ndim != 5:
        raise ValueError(f"x0 must be (B, T, C, H, W), got shape {tuple(x0.shape)}")
    mask: Tensor | None = None
    if ocean_mask is not None:
        mask = ocean_mask.to(device=x0.device, dtype=x0.dtype)
        try:
            torch.broadcast_shapes(mask.shape, x0.shape)
        except RuntimeError as exc:
            raise ValueError(
                f"ocean_mask of shape {tuple(mask.shape)} does not broadcast to the input "
                f"shape {tuple(x0.shape)}"
            ) from exc
    steps = x0.shape[1]
    ctx = contextlib.nullcontext() if grad else torch.no_grad()
    outputs: list[Tensor] = []
    window = x0
    with ctx:
        for call in range(n_calls):
            inp = window[:, -steps:]
            if mask is not None:
                inp = inp * mask
            pred = model(inp)
            if boundary is not None:
                pred = boundary(pred, call)
            outputs.append(pred)
            window = pred.detach() if detach_between_calls else pred
        return torch.cat(outputs, dim=1)
