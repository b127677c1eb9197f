"""Unit tests of the engine's parts: config, LoRA, freezing, schedule, losses, bundle."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from glonet_regions.core.errors import CheckpointIncompatibleError, ConfigError
from glonet_regions.engine.config import FinetuneConfig, load_config_file, save_config
from glonet_regions.engine.distributed import has_trainable_unused
from glonet_regions.engine.freeze import freeze_prefixes, freeze_unused
from glonet_regions.engine.lora import (
    LoRAConv1d,
    LoRALinear,
    apply_lora,
    merge_lora,
    merged_state_dict,
    unmerge_lora,
)
from glonet_regions.engine.losses import channel_weights, loss_weight_map, weighted_mse
from glonet_regions.engine.schedule import RolloutCurriculum, warmup_cosine_factor
from glonet_regions.model.network import build_glonet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "finetune-ibi36-sample.yaml"


# -- config ------------------------------------------------------------------------------------
def test_yaml_and_toml_files_load_and_round_trip(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text(
        "schema_version: 1\nregion: ibi36\nlr: 0.01\nlora: {rank: 4}\nrollout: [[0, 1], [2, 3]]\n"
    )
    t = tmp_path / "c.toml"
    t.write_text(
        'schema_version = 1\nregion = "ibi36"\nlr = 0.01\nrollout = [[0, 1], [2, 3]]\n'
        "[lora]\nrank = 4\n"
    )
    a, b = load_config_file(y), load_config_file(t)
    assert a == b and a.lora.rank == 4 and a.max_calls == 3
    save_config(a, tmp_path / "out.yaml")
    assert load_config_file(tmp_path / "out.yaml") == a


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("schema_version: 1\nlearning_rate: 1\n", "unknown key.*learning_rate"),
        ("schema_version: 1\nlr: fast\n", "key lr: expected a number"),
        ("schema_version: 1\nlora: {rnk: 2}\n", "lora.rnk"),
        ("schema_version: 2\n", "schema_version 2"),
        ("region: x\n", "missing key schema_version"),
        ("schema_version: 1\nrollout: [[1, 2]]\n", "epoch 0"),
        ("schema_version: 1\ninit: magic\n", "key init"),
    ],
)
def test_bad_config_files_name_the_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config_file(path)
    assert "bad.yaml" in str(info.value)


def test_cli_values_override_file_values_and_defaults_resolve() -> None:
    cfg = FinetuneConfig.from_mapping({"region": "r", "lr": 0.1, "sample": True})
    merged = cfg.merged({"lr": 0.2, "epochs": None, "lora": {"rank": 2, "alpha": None}})
    assert merged.lr == 0.2 and merged.epochs == cfg.epochs and merged.lora.rank == 2
    r = merged.resolved()
    assert (r.model_size, r.init, r.run_dir) == ("tiny", "random", "runs/r")
    assert r.store == "runs/r/store"
    assert FinetuneConfig(region="r").resolved().init == "published"
    # Epochs and warm-up left null take the --sample defaults (the CPU demo) or the general ones.
    assert (r.epochs, r.warmup_steps) == (10, 30) == (merged.n_epochs, merged.n_warmup_steps)
    plain = FinetuneConfig(region="r").resolved()
    assert (plain.epochs, plain.warmup_steps) == (4, 10)
    assert FinetuneConfig(region="r", sample=True, epochs=3).resolved().epochs == 3


def test_example_config_is_valid() -> None:
    cfg = load_config_file(EXAMPLE)
    assert cfg.region == "ibi36" and cfg.sample


# -- LoRA and freezing -----------------------------------------------------------------------
def test_lora_linear_starts_identical_and_merges_exactly() -> None:
    torch.manual_seed(0)
    base = nn.Linear(6, 4)
    x = torch.randn(3, 6)
    ref = base(x)
    lora = LoRALinear(base, rank=2, alpha=4.0)
    assert torch.equal(lora(x), ref)
    with torch.no_grad():
        lora.lora_B.normal_()
    out = lora(x)
    assert not torch.allclose(out, ref)
    lora.merge()
    torch.testing.assert_close(lora(x), out)
    lora.unmerge()
    torch.testing.assert_close(lora(x), out)
    torch.testing.assert_close(base.weight + 0, lora.base.weight)


def test_lora_conv1d_matches_its_merged_weight() -> None:
    conv = nn.Conv1d(4, 4, 1)
    lora = LoRAConv1d(conv, rank=2)
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(2, 4, 7)
    out = lora(x)
    lora.merge()
    torch.testing.assert_close(lora(x), out)


def test_apply_lora_on_glonet_keeps_outputs_and_merges_to_plain_keys() -> None:
    torch.manual_seed(0)
    net = build_glonet(5, "tiny", (16, 20))
    plain_keys = set(net.state_dict())
    x = torch.randn(1, 2, 5, 16, 20)
    ref = net(x)
    names = apply_lora(
        net, rank=2, alpha=2.0, targets=("attn", "mlp.fc1", "mlp.fc2", "filter.bias")
    )
    assert any("mlp.fc1" in n for n in names) and any("filter.bias" in n for n in names)
    assert not any("multihead_attn" in n for n in names)  # read directly by attention
    torch.testing.assert_close(net(x), ref)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert (
        any("lora_A" in n for n in trainable)
        and "space.NO.blks.0.mlp.fc1.base.weight" not in trainable
    )
    for p in net.parameters():
        if p.requires_grad and p.dim() == 2 and p.shape[0] > 2:
            with torch.no_grad():
                p.add_(0.01)
    out = net(x)
    merged = merged_state_dict(net)
    assert set(merged) == plain_keys
    fresh = build_glonet(5, "tiny", (16, 20))
    fresh.load_state_dict(merged)
    torch.testing.assert_close(fresh(x), out, rtol=1e-4, atol=1e-5)
    merge_lora(net)
    torch.testing.assert_close(net(x), out, rtol=1e-4, atol=1e-5)
    unmerge_lora(net)
    with pytest.raises(ConfigError, match="nomatch"):
        apply_lora(build_glonet(5, "tiny", (16, 20)), rank=2, alpha=1, targets=("nomatch",))


def test_freeze_prefixes() -> None:
    net = build_glonet(5, "tiny", (16, 20))
    frozen = freeze_prefixes(net, ["jump", "space.NO"])
    assert frozen and all(n.startswith(("jump.", "space.NO.")) for n in frozen)
    assert all(not p.requires_grad for n, p in net.named_parameters() if n.startswith("jump."))
    assert any(p.requires_grad for n, p in net.named_parameters() if n.startswith("maps."))
    with pytest.raises(ConfigError, match="'spaec'"):
        freeze_prefixes(net, ["spaec"])


@pytest.mark.parametrize("wrap", ["plain", "residual", "lora"])
def test_freeze_unused_leaves_every_trainable_parameter_used(wrap: str) -> None:
    """After freeze_unused, every trainable parameter gets a gradient from one forward: the
    condition for DDP without ``find_unused_parameters`` (which the trainer then uses)."""
    from glonet_regions.model.bundle import ResidualForecaster

    torch.manual_seed(0)
    net = build_glonet(5, "tiny", (16, 20))
    model: nn.Module = net
    if wrap == "residual":
        model = ResidualForecaster(net, np.ones(5, dtype=np.float32))
    if wrap == "lora":
        apply_lora(net, rank=2, alpha=2.0)
    assert has_trainable_unused(model)
    frozen = freeze_unused(model)
    assert frozen and not has_trainable_unused(model)
    assert all(".attn." in n or ".mlp.fc2." in n for n in frozen)
    model(torch.randn(1, 2, 5, 16, 20)).square().mean().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert freeze_unused(model) == []  # idempotent
    assert has_trainable_unused(nn.Linear(2, 2))  # a model that does not say: assume some


# -- schedule and losses ----------------------------------------------------------------------
def test_warmup_then_cosine() -> None:
    f = [warmup_cosine_factor(s, warmup_steps=4, total_steps=20) for s in range(25)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(f[4:]))
    assert f[-1] == pytest.approx(0.05)


def test_rollout_curriculum() -> None:
    cur = RolloutCurriculum([[0, 1], [2, 2], [5, 4]])
    assert [cur.calls(e) for e in range(7)] == [1, 1, 2, 2, 2, 4, 4]
    assert cur.max_calls == 4
    with pytest.raises(ConfigError):
        RolloutCurriculum([[0, 1], [0, 2]])


def test_weighted_mse_ignores_land_and_boundary_and_weights_area() -> None:
    ocean = np.ones((2, 4, 5), dtype=bool)
    ocean[:, 0, 0] = False
    interior = np.ones((4, 5), dtype=bool)
    interior[:, -1] = False
    area = np.linspace(0.5, 1.5, 4)[:, None] * np.ones((4, 5))
    w = loss_weight_map(
        area_weights=area,
        ocean_mask=ocean,
        interior_mask=interior,
        channel_weight=channel_weights([("a", None), ("b", 0)], {"b": 3.0}),
    )
    assert w[0, 0, 0] == 0 and w[1, 2, -1] == 0 and w[1, 2, 1] == pytest.approx(3 * area[2, 1])
    wt = torch.as_tensor(w)
    pred, target = torch.zeros(2, 2, 2, 4, 5), torch.zeros(2, 2, 2, 4, 5)
    pred[..., 0, 0] = 100.0  # land
    pred[..., :, -1] = 100.0  # boundary zone
    assert weighted_mse(pred, target, wt) == 0
    pred[...] = 2.0
    assert weighted_mse(pred, target, wt).item() == pytest.approx(4.0)
    with pytest.raises(ConfigError, match="'c'"):
        channel_weights([("a", None)], {"c": 1.0})


# -- bundle -----------------------------------------------------------------------------------
def test_bundle_round_trip_and_errors(tmp_path: Path) -> None:
    from glonet_regions.core.grid import Grid
    from glonet_regions.model.bundle import GroupState, load_bundle, save_bundle
    from glonet_regions.model.checkpoint import save_checkpoint

    grid = Grid.regular(lon0=-10, lat0=40, dlon=0.25, dlat=0.25, nlon=20, nlat=16)
    net = build_glonet(5, "tiny", (16, 20))
    state = GroupState(
        config=net.config.to_dict(),
        state_dict=net.state_dict(),
        channels=[("zos", None), ("thetao", 0), ("so", 0), ("uo", 0), ("vo", 0)],
        mean=np.arange(5.0),
        std=np.ones(5),
        ocean_mask=np.ones((5, 16, 20), dtype=bool),
        residual_scale=np.full(5, 0.1),
    )
    path = save_bundle(
        tmp_path / "b.pt",
        region_name="r",
        grid=grid,
        groups={"surface": state},
        boundary={"provider": "strip", "width": 2, "edges": ["west"]},
        train_config={"lr": 1.0},
    )
    assert torch.load(path, weights_only=True)["format"] == "glonet-regions-checkpoint"
    b = load_bundle(path)
    assert (
        b.grid == grid
        and b.config == {"lr": 1.0}
        and b.groups["surface"].channels[1] == ("thetao", 0)
    )
    np.testing.assert_array_equal(b.groups["surface"].mean, np.arange(5.0))
    model = b.build_model("surface")
    x = torch.randn(1, 2, 5, 16, 20)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x[:, -1:] + 0.1 * net.eval()(x))
    with pytest.raises(CheckpointIncompatibleError, match="deep"):
        b.build_model("deep")
    save_checkpoint(tmp_path / "plain.pt", model_state=net.state_dict(), extra={})
    with pytest.raises(CheckpointIncompatibleError, match="not a forecaster bundle"):
        load_bundle(tmp_path / "plain.pt")
