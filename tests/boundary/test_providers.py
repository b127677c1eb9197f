"""Open-boundary providers: weights, zones and apply (property tests)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from glonet_regions.boundary import (
    NoBoundary,
    RelaxationBoundary,
    StripBoundary,
    boundary_provider_names,
    make_boundary_provider,
)
from glonet_regions.core.errors import UnknownNameError, ValidationError
from glonet_regions.core.region import EDGES, OpenBoundaries

edges_st = st.lists(st.sampled_from(EDGES), unique=True, max_size=4)
shape_st = st.tuples(st.integers(4, 24), st.integers(4, 24))
width_st = st.integers(0, 6)
kind_st = st.sampled_from([StripBoundary, RelaxationBoundary])
SETTINGS = settings(deadline=None, max_examples=40)


@SETTINGS
@given(kind=kind_st, edges=edges_st, width=width_st, shape=shape_st, seed=st.integers(0, 99))
def test_apply_leaves_cells_outside_the_zone_untouched(kind, edges, width, shape, seed) -> None:
    p = kind(edges, width)
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, 3, *shape, generator=g)
    bnd = torch.randn(2, 3, *shape, generator=g)
    out = p.apply(pred, bnd)
    inside = torch.as_tensor(p.interior_mask(shape))
    assert torch.equal(out[..., inside], pred[..., inside])
    zone = OpenBoundaries(tuple(edges), width, "none" if width == 0 else "strip").zone_mask(shape)
    np.testing.assert_array_equal(~p.interior_mask(shape), zone)


@SETTINGS
@given(kind=kind_st, edges=edges_st, width=width_st, shape=shape_st)
def test_weights_in_unit_interval_and_non_increasing_inwards(kind, edges, width, shape) -> None:
    p = kind(edges, width)
    w = p.weights(shape)
    assert w.shape == shape
    assert np.all((w >= 0) & (w <= 1))
    assert np.all(w[p.interior_mask(shape)] == 0)
    for edge in edges:
        # Along each edge's inward normal the weight never increases (up to the middle of
        # the grid, beyond which the opposite edge's zone may rise again).
        profile = {"south": w, "north": w[::-1], "west": w.T, "east": w.T[::-1]}[edge]
        half = profile[: (profile.shape[0] + 1) // 2]
        assert np.all(np.diff(half, axis=0) <= 1e-12)
        assert np.all(profile[0] == 1.0) or width == 0


@SETTINGS
@given(edges=edges_st, width=width_st, shape=shape_st, seed=st.integers(0, 99))
def test_strip_is_exactly_the_boundary_inside_the_zone(edges, width, shape, seed) -> None:
    p = StripBoundary(edges, width)
    g = torch.Generator().manual_seed(seed)
    pred, bnd = torch.randn(3, *shape, generator=g), torch.randn(3, *shape, generator=g)
    out = p.apply(pred, bnd)
    zone = torch.as_tensor(~p.interior_mask(shape))
    assert torch.equal(out[..., zone], bnd[..., zone])


@SETTINGS
@given(edges=edges_st, width=width_st, shape=shape_st, seed=st.integers(0, 99))
def test_none_is_the_identity(edges, width, shape, seed) -> None:
    p = NoBoundary(edges, width)
    g = torch.Generator().manual_seed(seed)
    pred, bnd = torch.randn(2, *shape, generator=g), torch.randn(2, *shape, generator=g)
    assert torch.equal(p.apply(pred, bnd), pred)
    assert np.all(p.weights(shape) == 0)


def test_relaxation_blends_smoothly_and_corners_take_the_max() -> None:
    p = RelaxationBoundary(["west", "south"], 4)
    w = p.weights((10, 12))
    np.testing.assert_allclose(
        w[5, :5], [1.0, np.cos(np.pi / 8) ** 2, 0.5, np.cos(3 * np.pi / 8) ** 2, 0]
    )
    assert w[1, 2] == max(w[1, 5], w[5, 2])
    pred, bnd = torch.zeros(1, 10, 12), torch.ones(1, 10, 12)
    out = p.apply(pred, bnd)
    torch.testing.assert_close(out[0], torch.as_tensor(w, dtype=torch.float32))


def test_registry_builds_the_builtin_providers_and_rejects_unknown_names() -> None:
    assert {"strip", "relaxation", "none"} <= set(boundary_provider_names())
    assert isinstance(make_boundary_provider("strip", ["west"], 2), StripBoundary)
    assert isinstance(make_boundary_provider("relaxation", ["east"], 3), RelaxationBoundary)
    assert isinstance(make_boundary_provider("none", ["east"], 3), NoBoundary)
    with pytest.raises(UnknownNameError, match="nope"):
        make_boundary_provider("nope", ["west"], 2)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValidationError, match="edge"):
        StripBoundary(["up"], 2)
    with pytest.raises(ValidationError, match="width"):
        StripBoundary(["west"], -1)
    with pytest.raises(ValidationError, match="shape"):
        StripBoundary(["west"], 1).apply(torch.zeros(3, 4), torch.zeros(4, 3))


def test_importing_the_module_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, glonet_regions.boundary.providers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
