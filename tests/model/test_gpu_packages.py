"""Compiled packages beside a bundle: refused with a clear message when they do not fit,
round-tripped on a tiny network (CPU AOTInductor, slow)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from glonet_regions.model.gpu.packages import (
    MANIFEST,
    PackageMismatch,
    compile_packages,
    load_packages,
    machine_key,
    package_dir,
)
from glonet_regions.model.network import Glonet


def _write_manifest(bundle: Path, **changes: Any) -> Path:
    folder = package_dir(bundle)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": 1,
        "machine": machine_key("cpu"),
        "bundle_sha256": "a" * 64,
        "groups": {"surface": {"file": "surface.pt2", "input_shape": [1, 2, 5, 8, 8]}},
        **changes,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_package_dir_is_beside_the_bundle(tmp_path: Path) -> None:
    assert package_dir(tmp_path / "best.pt") == tmp_path / "best.pt.compiled"


def test_missing_packages_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageMismatch, match="no compiled packages"):
        load_packages(tmp_path / "best.pt", "a" * 64, "cpu", ["surface"])


def test_another_machine_is_refused_with_what_differs(tmp_path: Path) -> None:
    bundle = tmp_path / "best.pt"
    other = {**machine_key("cpu"), "card": "NVIDIA H100 80GB HBM3", "torch": "2.11.0+cu130"}
    _write_manifest(bundle, machine=other)
    with pytest.raises(PackageMismatch) as err:
        load_packages(bundle, "a" * 64, "cpu", ["surface"])
    message = str(err.value)
    assert "NVIDIA H100 80GB HBM3 (torch 2.11.0+cu130" in message
    assert "card, torch differ" in message


def test_another_bundle_and_a_missing_group_are_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "best.pt"
    _write_manifest(bundle)
    with pytest.raises(PackageMismatch, match="built from another bundle"):
        load_packages(bundle, "b" * 64, "cpu", ["surface"])
    with pytest.raises(PackageMismatch, match="no compiled package for group 'deep'"):
        load_packages(bundle, "a" * 64, "cpu", ["deep"])
    _write_manifest(bundle, format=99)
    with pytest.raises(PackageMismatch, match="model compile"):
        load_packages(bundle, "a" * 64, "cpu", ["surface"])


def test_a_forecast_on_cpu_runs_eager_and_says_why(tmp_path: Path) -> None:
    from glonet_regions.model.gpu import start_forecast

    bundle = SimpleNamespace(
        path=tmp_path / "best.pt", sha256="a" * 64, config={"gpu": {"disable": ["patch_gemm"]}},
        groups={"surface": SimpleNamespace(ocean_mask=np.ones((5, 8, 8), bool))},
    )  # fmt: skip
    said: list[str] = []
    session = start_forecast(bundle, "cpu", "auto", 3, ["surface"], say=said.append)
    assert session.plan.path == "eager" and session.exec_mode == "eager"
    assert session.options.disable == ("patch_gemm",)  # the bundle's saved options
    assert len(said) == 1 and "path: eager" in said[0] and "patch_gemm" in said[0]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the C++ compilation: ~15 minutes on 2 busy cores
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_compile_and_load_round_trip_on_cpu(tmp_path: Path, tiny: Callable[..., Glonet]) -> None:
    """A tiny network compiled with AOTInductor on the CPU (the C++ compiler) loads from the
    bundle's folder and computes what the network computes."""
    torch.manual_seed(0)
    model = tiny(channels=5, grid=(16, 24))
    path = tmp_path / "best.pt"
    path.write_bytes(b"bundle")
    bundle = SimpleNamespace(
        path=path, sha256="c" * 64, config={},
        groups={"surface": SimpleNamespace(ocean_mask=np.ones((5, 16, 24), bool))},
        group=lambda name: bundle.groups[name],
        build_model=lambda name, device: Glonet(model.config).eval().to(device),
    )  # fmt: skip
    state = model.state_dict()
    bundle.build_model = lambda name, device: _loaded(model, state, device)
    said: list[str] = []
    folder = compile_packages(bundle, "cpu", progress=said.append)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["groups"]["surface"]["form"] in ("fast", "fast-cudnn", "plain")
    assert manifest["machine"] == machine_key("cpu") and said
    loaded = load_packages(path, "c" * 64, "cpu", ["surface"])
    x = torch.randn(1, 2, 5, 16, 24)
    with torch.no_grad():
        ref = model(x)
    out = loaded["surface"](x)
    assert float((out - ref).norm() / ref.norm()) < 1e-4
    with pytest.raises(PackageMismatch, match="takes input"):
        loaded["surface"](torch.randn(1, 2, 5, 8, 8))


def _loaded(model: Glonet, state: dict[str, torch.Tensor], device: str) -> Glonet:
    net = Glonet(model.config).eval()
    net.load_state_dict(state)
    return net.to(device)


def test_the_runner_takes_a_compiled_forward() -> None:
    """A loaded package is a plain callable: the runner rolls it out like a network."""
    from glonet_regions.model.gpu import ForecastRunner, PreparedGroup

    runner = ForecastRunner(lambda x: x * 0.5, n_calls=2)
    assert runner.device == torch.device("cpu") and not runner.use_graph
    out = runner(torch.ones(1, 2, 3, 4, 5))
    assert out.shape == (1, 4, 3, 4, 5)
    torch.testing.assert_close(out[:, 2:], torch.full((1, 2, 3, 4, 5), 0.25))
    prepared = PreparedGroup(runner, None, 2, False, "package")
    assert prepared.fits(2, False) and not prepared.fits(3, False)


def test_a_forecast_records_its_costs_for_the_next_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a CUDA forecast measured (compilation, steady step; eager step) feeds the next
    run's ``auto`` choice."""
    from glonet_regions.model.gpu import ForecastPlan, GpuOptions, session
    from glonet_regions.model.gpu.plan import recorded_costs

    costs = tmp_path / "costs.json"
    monkeypatch.setattr(session, "_costs_path", lambda _device: costs)
    shape = (5, 100, 80)
    fast = session.ForecastSession(
        GpuOptions(), ForecastPlan("fast", "test"), {}, "cuda", {"surface": shape}
    )
    for seconds in (40.0, 0.5, 0.4):
        fast.took("surface", seconds)
    fast.record()
    assert recorded_costs(costs, *shape).fast_s == pytest.approx(0.4)
    assert recorded_costs(costs, *shape).compile_s == pytest.approx(39.6)
    eager = session.ForecastSession(
        GpuOptions(), ForecastPlan("eager", "test"), {}, "cuda", {"surface": shape}
    )
    eager.took("surface", 3.0)
    eager.record()
    assert recorded_costs(costs, *shape).eager_s == pytest.approx(3.0)
    cpu = session.ForecastSession(GpuOptions(), ForecastPlan("eager", "t"), {}, "cpu", {})
    cpu.took("surface", 1.0)
    cpu.record()  # nothing recorded off CUDA
    assert recorded_costs(costs, *shape).eager_s == pytest.approx(3.0)
