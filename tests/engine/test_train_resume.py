"""The loop end to end on fake data: checkpoints, exact resume, metrics, LoRA and freezing."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from engine_fakes import make_group_data, tiny_config

from glonet_regions.engine.distributed import DistContext
from glonet_regions.engine.run import train_groups
from glonet_regions.model.bundle import load_bundle


def _loader_fn(cfg):
    from glonet_regions.data.loader import make_loader

    def fn(dataset, *, shuffle, epoch):
        return make_loader(
            dataset,
            batch_size=cfg.batch_size,
            shuffle=shuffle,
            seed=cfg.seed,
            epoch=epoch,
            drop_last=shuffle,
        )

    return fn


def _run(cfg, grid, provider, groups=("surface",), log=lambda _m: None):
    data = {g: make_group_data(g, k=2 * cfg.max_calls) for g in groups}
    return train_groups(
        cfg,
        groups=list(groups),
        group_data=data.__getitem__,
        provider=provider,
        ctx=DistContext(),
        loader_fn=_loader_fn(cfg),
        region_name="fake",
        grid=grid,
        log=log,
    )


def test_resume_after_interruption_is_bitwise_identical(tmp_path: Path, grid, provider) -> None:
    groups = ("surface", "other")
    full = _run(tiny_config(tmp_path / "a"), grid, provider, groups)
    assert full.finished
    cfg_b = tiny_config(tmp_path / "b", stop_after_epochs=2)
    part = _run(cfg_b, grid, provider, groups)
    assert not part.finished
    assert (tmp_path / "b" / "checkpoints" / "last.pt").exists()
    # Resume twice: stop again inside the second group, then finish.
    part2 = _run(cfg_b.replace(resume=True, stop_after_epochs=2), grid, provider, groups)
    assert not part2.finished
    done = _run(cfg_b.replace(resume=True, stop_after_epochs=None), grid, provider, groups)
    assert done.finished
    for g in groups:
        for key, value in full.final_weights[g].items():
            assert torch.equal(value, done.final_weights[g][key]), (g, key)
    assert full.metrics == done.metrics  # bitwise equal floats
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert {r["variable"] for r in metrics["rows"]} == {"zos", "thetao", "so", "uo", "vo"}
    assert [r["lead_day"] for r in metrics["rows"][:2]] == [1, 2]
    assert all(r["persistence_rmse"] > 0 for r in metrics["rows"])


def test_checkpoints_are_bundles_that_rebuild_the_model(tmp_path: Path, grid, provider) -> None:
    cfg = tiny_config(
        tmp_path,
        epochs=2,
        lora={"rank": 2, "alpha": 4.0},
        freeze=["jump"],
        rollout=[[0, 1], [1, 2]],
    )
    messages: list[str] = []
    result = _run(cfg, grid, provider, log=messages.append)
    # Default targets: attn wraps nothing, mlp.fc2 is never called by the published network.
    (line,) = [m for m in messages if "LoRA on" in m]
    assert "on layers the published network never calls" in line, line
    best = load_bundle(tmp_path / "checkpoints" / "best.pt")
    assert best.region_name == "fake" and best.grid == grid
    assert best.boundary == {"provider": "relaxation", "width": 2, "edges": ["west", "south"]}
    assert len(best.sha256) == 64
    model = best.build_model("surface")
    state = best.groups["surface"]
    assert not any("lora" in k for k in state.state_dict)
    for key, value in result.final_weights["surface"].items():
        assert torch.equal(value, state.state_dict[key])
    x = torch.randn(1, 2, 5, 16, 20)
    assert model(x).shape == x.shape
    # The frozen branch did not move; LoRA changed the adapted layers only through merging.
    from glonet_regions.engine.setup import init_network

    data = make_group_data()
    init, _ = init_network(cfg, data, seed=cfg.seed, log=lambda _m: None)
    for key, value in init.state_dict().items():
        if key.startswith("jump."):
            assert torch.equal(value, state.state_dict[key]), key
