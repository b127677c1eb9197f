"""Inference on the GPU: graph-captured rollouts, one stream per depth group.

:class:`ForecastRunner` runs the autoregressive rollout of one depth group under bf16 autocast,
captured once in a CUDA graph and replayed; :func:`forecast_groups` runs several groups, each
on its own CUDA stream, with inputs and outputs copied through pinned host memory. Both fall
back to plain eager PyTorch on the CPU, so tests and CPU runs take the same code path.
:class:`PreparedGroup` is what a forecast keeps per network between start dates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from glonet_regions.model.rollout import BoundaryFn, rollout

__all__ = ["ForecastRunner", "PreparedGroup", "forecast_groups"]


class ForecastRunner:
    """Runs ``n_calls`` autoregressive calls of one network, replaying a captured CUDA graph.

    On CUDA with ``use_graph`` the first call with a given input shape warms up (cuDNN
    autotuning, lazy compilation) and captures the whole rollout into a graph with static input
    and output buffers; later calls copy the input in (``non_blocking``, so pinned host input
    overlaps) and replay it. Without a graph (CPU, or ``use_graph=False``) it is plain
    :func:`~glonet_regions.model.rollout.rollout`.

    Args:
        model: The network, already on its device (see :func:`optimise_model`).
        n_calls: Calls per forecast (5 for 10 days).
        ocean_mask: Passed to :func:`rollout`.
        boundary: Passed to :func:`rollout`; under a graph it must be capturable (tensor ops
            on the device only, no host synchronisation).
        use_graph: Capture a CUDA graph (default: on CUDA).
        device: Where to run (default: where the model's parameters are, else CPU).
        autocast_dtype: Autocast dtype on CUDA (``None`` runs in float32).

    Note:
        With a graph, the returned tensor is the runner's static output buffer: the next call
        overwrites it. Copy it (e.g. into pinned host memory) before calling again.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[Tensor], Tensor],
        *,
        n_calls: int = 5,
        ocean_mask: Tensor | None = None,
        boundary: BoundaryFn | None = None,
        use_graph: bool | None = None,
        autocast_dtype: torch.dtype | None = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.model = model
        params = model.parameters() if isinstance(model, nn.Module) else iter(())
        param = next(params, None)
        if device is not None:
            self.device = torch.device(device)
        else:
            self.device = param.device if param is not None else torch.device("cpu")
        self.n_calls = n_calls
        self.ocean_mask = None if ocean_mask is None else ocean_mask.to(self.device)
        self.boundary = boundary
        cuda = self.device.type == "cuda"
        self.use_graph = cuda if use_graph is None else (use_graph and cuda)
        self.autocast_dtype = autocast_dtype if cuda else None
        self.stream: torch.cuda.Stream | None = torch.cuda.Stream(self.device) if cuda else None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_in: Tensor | None = None
        self._static_out: Tensor | None = None

    def _rollout(self, x0: Tensor) -> Tensor:
        enabled = self.autocast_dtype is not None
        dtype = self.autocast_dtype or torch.float32
        with torch.autocast(self.device.type, dtype=dtype, enabled=enabled):
            out = rollout(
                self.model,  # type: ignore[arg-type]
                x0, self.n_calls, ocean_mask=self.ocean_mask, boundary=self.boundary, grad=False,
            )  # fmt: skip
        return out.float()

    def capture(self, x0: Tensor) -> None:
        """Warm up on ``x0`` and capture the rollout for its shape (done on first call)."""
        self._graph = None
        static_in = torch.empty(x0.shape, dtype=torch.float32, device=self.device)
        static_in.copy_(x0)
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            self._rollout(static_in)  # cuDNN autotuning and compilation happen here
        current.wait_stream(side)
        current.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._rollout(static_in)
        self._graph, self._static_in, self._static_out = graph, static_in, static_out

    def __call__(self, x0: Tensor) -> Tensor:
        """Forecast from ``x0`` ``(B, T, C, H, W)`` (host or device); returns float32 on device."""
        if not self.use_graph:
            return self._rollout(x0.to(self.device, non_blocking=True).float())
        static_in = self._static_in
        if self._graph is None or static_in is None or static_in.shape != x0.shape:
            try:
                self.capture(x0)
            except RuntimeError as exc:
                if isinstance(self.model, nn.Module):
                    raise
                # A compiled package that cannot be captured runs without a graph.
                warnings.warn(
                    f"the compiled package could not be captured in a CUDA graph ({exc}); "
                    "running it without one",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.use_graph, self._graph = False, None
                torch.cuda.synchronize(self.device)
                return self._rollout(x0.to(self.device, non_blocking=True).float())
        else:
            static_in.copy_(x0, non_blocking=True)
        assert self._graph is not None and self._static_out is not None
        self._graph.replay()
        return self._static_out

    def pinned_output(self, x0_shape: Sequence[int]) -> Tensor:
        """A pinned float32 host buffer shaped like the forecast of an input of ``x0_shape``."""
        b, t, c, h, w = x0_shape
        shape = (b, t * self.n_calls, c, h, w)
        return torch.empty(shape, dtype=torch.float32, pin_memory=self.device.type == "cuda")


def forecast_groups(
    runners: Mapping[str, ForecastRunner],
    inputs: Mapping[str, Tensor],
    *,
    concurrent: bool = True,
    host_outputs: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """Forecast several depth groups, each on its own CUDA stream when ``concurrent``.

    Args:
        runners: One runner per group name.
        inputs: The initial window per group; pinned host tensors copy asynchronously, so one
            group's copy overlaps another's compute.
        concurrent: Put each group on its runner's stream (else all on the current stream).
        host_outputs: Optional pinned host buffers (:meth:`ForecastRunner.pinned_output`) per
            group: the forecast is copied there asynchronously on the group's stream.

    Returns:
        The forecast per group (device tensors, or the host buffers when given). All work is
        finished when this returns.
    """
    missing = set(runners) - set(inputs)
    if missing:
        raise ValueError(f"no input for groups {sorted(missing)}")
    results: dict[str, Tensor] = {}
    cuda_streams: list[torch.cuda.Stream] = []
    for name, runner in runners.items():
        stream = runner.stream if concurrent else None
        if stream is None:
            out = runner(inputs[name])
            if host_outputs is not None:
                host_outputs[name].copy_(out, non_blocking=True)
                out = host_outputs[name]
            results[name] = out
            continue
        stream.wait_stream(torch.cuda.current_stream(runner.device))
        with torch.cuda.stream(stream):
            out = runner(inputs[name])
            if host_outputs is not None:
                host_outputs[name].copy_(out, non_blocking=True)
                out = host_outputs[name]
        results[name] = out
        cuda_streams.append(stream)
    for stream in cuda_streams:
        stream.synchronize()
    if torch.cuda.is_available() and any(r.device.type == "cuda" for r in runners.values()):
        torch.cuda.synchronize()
    return results


@dataclass
class PreparedGroup:
    """What a forecast keeps per depth-group network between start dates.

    Attributes:
        runner: The network's runner (its CUDA graph captured on the first start date).
        boundary: The static device buffer the boundary function reads (refilled for every
            start date, so a captured graph sees each start's boundary data), or ``None``
            without boundary forcing.
        n_calls: Model calls per forecast the runner was prepared for.
        forced: Whether the runner blends boundary data after every call.
        path: How the network runs: ``eager``, ``fast`` (compiled in this process) or
            ``package`` (a compiled package loaded from disk).
    """

    runner: ForecastRunner
    boundary: Tensor | None
    n_calls: int
    forced: bool
    path: str = "eager"

    def fits(self, n_calls: int, forced: bool) -> bool:
        """Whether this preparation serves a forecast of ``n_calls`` calls, ``forced`` or not."""
        return self.n_calls == n_calls and self.forced == forced
