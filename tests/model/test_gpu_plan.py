"""``auto`` never makes the user wait longer than eager would: the forecast path choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glonet_regions.model.gpu.plan import (
    REFERENCE_COSTS,
    REFERENCE_PIXELS,
    PathCosts,
    plan_forecast,
    record_costs,
    recorded_costs,
)

COSTS = PathCosts(eager_s=6.0, fast_s=0.5, compile_s=30.0)  # compile repaid after 6 starts


def test_explicit_modes_and_cpu() -> None:
    assert plan_forecast("eager", "cuda", 100, 3, costs=COSTS).path == "eager"
    assert plan_forecast("auto", "cpu", 100, 3, costs=COSTS).path == "eager"
    assert plan_forecast("fast", "cpu", 1, 3).path == "fast"
    assert plan_forecast("fast", "cuda", 1, 3, costs=COSTS).path == "fast"
    with pytest.raises(ValueError, match="exec_mode"):
        plan_forecast("quick", "cuda", 1, 1)


def test_a_usable_package_is_always_taken() -> None:
    plan = plan_forecast("auto", "cuda", 1, 3, costs=COSTS, package="usable")
    assert plan.path == "package" and plan.exec_mode == "fast"
    assert "compiled packages match" in plan.reason


@pytest.mark.parametrize(
    ("starts", "path"), [(1, "eager"), (5, "eager"), (6, "fast"), (52, "fast")]
)
def test_auto_compiles_only_when_the_campaign_repays_it(starts: int, path: str) -> None:
    plan = plan_forecast("auto", "cuda", starts, 3, costs=COSTS, package="none compiled")
    assert plan.path == path
    assert "none compiled" in plan.reason and f"{starts} start date(s)" in plan.reason
    if path == "eager":
        assert "model compile" in plan.reason  # says how to get the fast path cheaply


@given(
    eager=st.floats(0.01, 100), fast=st.floats(0.001, 100), compile_s=st.floats(0, 1000),
    starts=st.integers(1, 400), groups=st.integers(1, 4),
)  # fmt: skip
def test_auto_is_never_slower_than_eager(
    eager: float, fast: float, compile_s: float, starts: int, groups: int
) -> None:
    costs = PathCosts(eager, fast, compile_s)
    plan = plan_forecast("auto", "cuda", starts, groups, costs=costs)
    chosen = (
        groups * (compile_s + starts * fast) if plan.path == "fast" else groups * starts * eager
    )
    assert chosen <= groups * starts * eager + 1e-9


def test_costs_are_recorded_per_shape(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    base = recorded_costs(path, 5, 1088, 880)
    assert base == REFERENCE_COSTS
    small = recorded_costs(path, 5, 544, 440)
    assert small.eager_s == pytest.approx(REFERENCE_COSTS.eager_s * 544 * 440 / REFERENCE_PIXELS)
    record_costs(path, 5, 100, 80, eager_s=2.0)
    record_costs(path, 5, 100, 80, fast_s=0.2, compile_s=12.0)
    assert recorded_costs(path, 5, 100, 80) == PathCosts(2.0, 0.2, 12.0)
    path.write_text("{not json")
    assert recorded_costs(path, 5, 100, 80) == REFERENCE_COSTS.scaled(100 * 80 / REFERENCE_PIXELS)
    with pytest.raises(ValueError, match="unknown cost"):
        record_costs(path, 5, 100, 80, warm_s=1.0)
    with pytest.raises(ValueError, match="eager_s"):
        PathCosts(-1.0, 0.1, 1.0)
