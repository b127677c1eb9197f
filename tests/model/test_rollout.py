"""The autoregressive rollout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from glonet_regions.model.network import Glonet
from glonet_regions.model.rollout import rollout


class Recorder(nn.Module):
    """Returns its input plus one and records every input it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.inputs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.inputs.append(x.detach().clone())
        return self.scale * x + 1.0


def test_shapes_masking_and_chaining() -> None:
    model = Recorder()
    x0 = torch.randn(2, 2, 3, 5, 6)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[0, :] = False
    out = rollout(model, x0, 3, ocean_mask=mask)
    assert out.shape == (2, 6, 3, 5, 6)
    assert len(model.inputs) == 3
    for seen in model.inputs:
        assert (seen[..., 0, :] == 0).all()
    torch.testing.assert_close(model.inputs[1], (out[:, 0:2] * mask))
    torch.testing.assert_close(model.inputs[2], (out[:, 2:4] * mask))
    # Outputs are returned unmasked.
    assert (out[:, :, :, 0, :] == 1.0).all()


def test_boundary_is_applied_and_fed_forward() -> None:
    model = Recorder()
    calls: list[int] = []

    def boundary(pred: Tensor, call: int) -> Tensor:
        calls.append(call)
        fixed = pred.clone()
        fixed[..., 0] = -5.0
        return fixed

    out = rollout(model, torch.zeros(1, 2, 1, 4, 4), 2, boundary=boundary)
    assert calls == [0, 1]
    assert (out[..., 0] == -5.0).all()
    assert (model.inputs[1][..., 0] == -5.0).all()


def test_gradients_flow_through_calls(tiny: Callable[..., Glonet]) -> None:
    model = tiny(5, (16, 24)).train()
    x0 = torch.randn(1, 2, 5, 16, 24, requires_grad=True)
    mask = torch.ones(16, 24)
    out = rollout(model, x0, 2, ocean_mask=mask)
    assert out.shape == (1, 4, 5, 16, 24)
    out[:, 2:].sum().backward()  # only the second call's output: grads pass through call 1
    assert x0.grad is not None and x0.grad.abs().sum() > 0


def test_no_grad_and_detach() -> None:
    model = Recorder()
    x0 = torch.randn(1, 2, 1, 3, 3, requires_grad=True)
    assert not rollout(model, x0, 2, grad=False).requires_grad
    out = rollout(model, x0, 2, detach_between_calls=True)
    out[:, 2:].sum().backward()
    assert x0.grad is not None and (x0.grad == 0).all()  # the graph was cut between calls
    assert model.scale.grad is not None


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="n_calls"):
        rollout(Recorder(), torch.zeros(1, 2, 1, 3, 3), 0)
    with pytest.raises(ValueError, match="ocean_mask"):
        rollout(Recorder(), torch.zeros(1, 2, 1, 3, 3), 1, ocean_mask=torch.ones(4, 4))
