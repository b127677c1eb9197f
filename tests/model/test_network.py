"""The GLONET network: shapes, published sizes and names, gradients, memory options."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from glonet_regions.model.blocks import AdativeFourierNeuralOperator, Mlp, resize_pos_embed
from glonet_regions.model.network import Glonet, GlonetConfig, build_glonet, count_parameters

GLOBAL_GRID = (672, 1440)


@pytest.fixture(scope="module")
def full5() -> Glonet:
    with torch.device("meta"):
        return build_glonet(5, "full", GLOBAL_GRID)


@pytest.fixture(scope="module")
def full40() -> Glonet:
    with torch.device("meta"):
        return build_glonet(40, "full", GLOBAL_GRID)


@pytest.mark.parametrize(
    ("channels", "grid", "built_for"),
    [
        (5, (37, 53), (37, 53)),
        (5, (64, 64), (64, 64)),
        (5, (30, 41), (64, 64)),  # runs on another grid than it was built for
        (40, (24, 40), (24, 40)),
    ],
)
def test_tiny_forward_shapes(
    tiny: Callable[..., Glonet],
    channels: int,
    grid: tuple[int, int],
    built_for: tuple[int, int],
) -> None:
    model = tiny(channels, built_for)
    x = torch.randn(2, 2, channels, *grid)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_tiny_is_small(tiny: Callable[..., Glonet]) -> None:
    assert count_parameters(tiny(5, (64, 64))) < 150_000
    assert count_parameters(tiny(40, (128, 160))) < 400_000


def test_full_parameter_counts(full5: Glonet, full40: Glonet) -> None:
    n5, n40 = count_parameters(full5), count_parameters(full40)
    assert n5 == 132_680_155  # the spec's count for the re-implementation's tree
    assert abs(n5 - 132.68e6) / 132.68e6 < 0.02
    assert abs(n40 - 142e6) / 142e6 < 0.02
    assert len(full5.state_dict()) == 1033
    assert len(full40.state_dict()) == 1033


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("jump.maps.enc.0.conv.conv.weight", (16, 5, 3, 3)),
        ("jump.maps.enc.3.conv.norm.bias", (16,)),
        ("jump.mmb.enc.0.conv1.weight", (128, 32, 1, 1)),
        ("jump.mmb.enc.5.lls.2.conv.weight", (256, 16, 7, 7)),
        ("jump.mmb.dec.3.conv1.weight", (128, 512, 1, 1)),
        ("jump.mmb.dec.7.lls.3.conv.weight", (32, 16, 11, 11)),
        ("jump.mapsback.dec.0.conv.conv.weight", (16, 16, 3, 3)),
        ("jump.mapsback.dec.3.conv.conv.weight", (16, 32, 3, 3)),
        ("jump.mapsback.readout.weight", (5, 16, 1, 1)),
        ("space.NN.upconv.weight", (5, 5, 1, 1)),
        ("space.NO.pos_embed", (1, 3780, 768)),
        ("space.NO.patch_embed.projection.weight", (768, 5, 16, 16)),
        ("space.NO.blks.0.filter.w1", (2, 2, 384, 384)),
        ("space.NO.blks.11.filter.b2", (2, 2, 384)),
        ("space.NO.blks.3.filter.bias.weight", (768, 768, 1)),
        ("space.NO.blks.5.attn.multihead_attn.in_proj_weight", (2304, 768)),
        ("space.NO.blks.5.attn.multihead_attn.out_proj.weight", (768, 768)),
        ("space.NO.blks.7.mlp.fc1.weight", (3072, 768)),
        ("space.NO.blks.7.mlp.fc2.weight", (768, 3072)),
        ("space.NO.norm.weight", (768,)),
        ("space.NO.lproj.transposeconv1.weight", (768, 80, 2, 2)),
        ("space.NO.lproj.transposeconv2.weight", (80, 20, 2, 2)),
        ("space.NO.lproj.transposeconv3.weight", (20, 5, 4, 4)),
        ("space.up.weight", (5, 5, 3, 3)),
        ("space.down.weight", (5, 5, 3, 3)),
        ("space.conv1x1.weight", (5, 5, 1, 1)),
        ("maps.enc.1.conv.conv.weight", (256, 256, 3, 3)),
        ("dynamics.norm.weight", (128,)),
        ("dynamics.enc.0.conv1.weight", (64, 512, 1, 1)),
        ("dynamics.enc.4.lls.1.conv.weight", (128, 8, 5, 5)),
        ("dynamics.blocks.11.mlp.fc1.weight", (512, 128)),
        ("dynamics.blocks.0.filter.w2", (2, 2, 64, 64)),
        ("dynamics.dec.7.lls.0.conv.weight", (512, 8, 3, 3)),
        ("dynamics.dec.7.lls.0.norm.weight", (512,)),
        ("mapsback.dec.0.conv.conv.weight", (256, 256, 3, 3)),
        ("mapsback.dec.1.conv.conv.weight", (256, 512, 3, 3)),
        ("mapsback.readout.weight", (5, 256, 1, 1)),
    ],
)
def test_published_key_names_and_shapes(full5: Glonet, key: str, shape: tuple[int, ...]) -> None:
    assert tuple(full5.state_dict()[key].shape) == shape


def test_full40_widths_follow_channels(full40: Glonet) -> None:
    sd = full40.state_dict()
    assert tuple(sd["space.NO.lproj.transposeconv1.weight"].shape) == (768, 640, 2, 2)
    assert tuple(sd["space.NO.lproj.transposeconv3.weight"].shape) == (160, 40, 4, 4)
    assert tuple(sd["mapsback.readout.weight"].shape) == (40, 256, 1, 1)
    assert "dynamics.blocks.0.attn.multihead_attn.in_proj_weight" not in sd


def test_gradients_reach_input(tiny: Callable[..., Glonet]) -> None:
    model = tiny(5, (24, 40)).train()
    x = torch.randn(1, 2, 5, 24, 40, requires_grad=True)
    model(x).square().mean().backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # attn and fc2 exist for weight loading but are not used by the forward pass.
    blk = "space.NO.blks.0."
    assert model.get_parameter(blk + "attn.multihead_attn.in_proj_weight").grad is None
    assert model.get_parameter(blk + "mlp.fc2.weight").grad is None
    assert model.get_parameter(blk + "mlp.fc1.weight").grad is not None
    for name in model.unused_parameter_names():
        assert model.get_parameter(name).grad is None, name
    for name, p in model.named_parameters():
        if name not in model.unused_parameter_names():
            assert p.grad is not None, name


def test_checkpoint_blocks_same_outputs_and_grads(tiny: Callable[..., Glonet]) -> None:
    plain = tiny(5, (24, 40)).train()
    ckpt = tiny(5, (24, 40), checkpoint_blocks=True).train()
    ckpt.load_state_dict(plain.state_dict())
    assert ckpt.config.checkpoint_blocks and ckpt.dynamics.use_checkpoint
    x = torch.randn(1, 2, 5, 24, 40)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = plain(xa), ckpt(xb)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    ya.square().mean().backward()
    yb.square().mean().backward()
    assert xa.grad is not None and xb.grad is not None
    torch.testing.assert_close(xa.grad, xb.grad)
    for (name, pa), pb in zip(plain.named_parameters(), ckpt.parameters()):
        if pa.grad is None:
            assert pb.grad is None, name
        else:
            assert pb.grad is not None, name
            torch.testing.assert_close(pa.grad, pb.grad, msg=name)


def test_resize_pos_embed() -> None:
    const = torch.full((1, 6 * 8, 4), 0.5)
    out = resize_pos_embed(const, (6, 8), (9, 5))
    assert out.shape == (1, 45, 4)
    torch.testing.assert_close(out, torch.full_like(out, 0.5))
    same = torch.randn(1, 12, 3)
    assert resize_pos_embed(same, (3, 4), (3, 4)) is same
    grad_in = torch.randn(1, 12, 3, requires_grad=True)
    resize_pos_embed(grad_in, (3, 4), (6, 8), mode="bilinear").sum().backward()
    assert grad_in.grad is not None
    with pytest.raises(ValueError, match="tokens"):
        resize_pos_embed(torch.zeros(1, 10, 3), (3, 4), (6, 8))


def test_resize_grid_updates_parameter(tiny: Callable[..., Glonet]) -> None:
    model = tiny(5, (32, 48))
    assert model.space.NO.pos_embed.shape == (1, 4 * 6, 32)
    model.resize_grid((64, 40))
    assert model.config.grid_shape == (64, 40)
    assert model.space.NO.pos_embed.shape == (1, 8 * 5, 32)
    with torch.no_grad():
        assert model(torch.randn(1, 2, 5, 64, 40)).shape == (1, 2, 5, 64, 40)


def test_pad_multiples(tiny: Callable[..., Glonet]) -> None:
    cfg = tiny(5, (37, 53)).config
    assert cfg.pad_multiple == 8 and cfg.padded_grid_shape == (40, 56) and cfg.pos_hw == (5, 7)
    ibi = GlonetConfig(channels=5, grid_shape=(1081, 865))
    assert ibi.pad_multiple == 16 and ibi.padded_grid_shape == (1088, 880)
    assert ibi.pos_hw == (68, 55)
    assert GlonetConfig(channels=5, grid_shape=GLOBAL_GRID).pos_hw == (42, 90)


def test_config_validation_messages() -> None:
    with pytest.raises(ValueError, match="grid_shape"):
        GlonetConfig(channels=5, grid_shape=(0, 10))
    with pytest.raises(ValueError, match="channels"):
        GlonetConfig(channels=-1, grid_shape=(10, 10))
    with pytest.raises(ValueError, match="embed_dim"):
        GlonetConfig(channels=5, grid_shape=(10, 10), embed_dim=770)
    with pytest.raises(ValueError, match="hid_t"):
        GlonetConfig(channels=5, grid_shape=(10, 10), hid_t=100)
    with pytest.raises(ValueError, match="patch_size"):
        GlonetConfig(channels=5, grid_shape=(10, 10), patch_size=6)
    with pytest.raises(ValueError, match="size"):
        build_glonet(5, "huge", (10, 10))  # type: ignore[arg-type]


def test_config_dict_round_trip() -> None:
    cfg = build_glonet(5, "tiny", (37, 53)).config
    data = cfg.to_dict()
    assert all(not isinstance(v, tuple) for v in data.values())
    assert GlonetConfig.from_dict(data) == cfg
    with pytest.raises(ValueError, match="unknown GlonetConfig keys"):
        GlonetConfig.from_dict({**data, "bogus": 1})


def test_wrong_input_shape_is_rejected(tiny: Callable[..., Glonet]) -> None:
    with pytest.raises(ValueError, match="C=5"):
        tiny(5)(torch.zeros(1, 2, 4, 16, 16))


def _reference_afno(
    op: AdativeFourierNeuralOperator, x: torch.Tensor, h: int, w: int
) -> torch.Tensor:
    """Straightforward per-block loop, written from GLONET_SPEC.md section 5."""
    b, n, d = x.shape
    bs = op.block_size
    z = torch.fft.rfft2(x.reshape(b, h, w, d), dim=(1, 2), norm="ortho")
    out = torch.zeros_like(z)
    for k in range(op.num_blocks):
        sl = slice(k * bs, (k + 1) * bs)
        re, im = z[..., sl].real, z[..., sl].imag
        w1r, w1i, w2r, w2i = op.w1[0, k], op.w1[1, k], op.w2[0, k], op.w2[1, k]
        r1 = F.relu(re @ w1r - im @ w1i + op.b1[0, k])
        i1 = F.relu(re @ w1i + im @ w1r + op.b1[1, k])
        r2 = r1 @ w2r - i1 @ w2i + op.b2[0, k]
        i2 = r2 @ w2i + i1 @ w2r + op.b2[1, k]  # the published quirk: uses r2, not r1
        out[..., sl] = torch.complex(r2, i2)
    y = torch.fft.irfft2(out, s=(h, w), dim=(1, 2), norm="ortho").reshape(b, n, d)
    return y + op.bias(x.transpose(1, 2)).transpose(1, 2)


def test_afno_matches_spec_reference() -> None:
    op = AdativeFourierNeuralOperator(16, num_blocks=2)
    with torch.no_grad():
        for p in (op.w1, op.w2, op.b1, op.b2):
            p.normal_(0, 0.5)
    x = torch.randn(2, 6 * 10, 16)
    with torch.no_grad():
        torch.testing.assert_close(op(x, 6, 10), _reference_afno(op, x, 6, 10))


def test_afno_runs_in_float32_under_autocast() -> None:
    op = AdativeFourierNeuralOperator(16, num_blocks=2)
    x = torch.randn(1, 4 * 6, 16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = op(x.bfloat16(), 4, 6)
    assert y.dtype == torch.bfloat16
    assert torch.isfinite(y.float()).all()


def test_mlp_pools_hidden_units_and_skips_fc2() -> None:
    mlp = Mlp(8, 32)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        hidden = F.gelu(mlp.fc1(x))
        expected = hidden.reshape(2, 5, 8, 4).mean(-1)
        torch.testing.assert_close(mlp(x), expected)


def test_package_import_is_light() -> None:
    code = "import sys, glonet_regions.model; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
