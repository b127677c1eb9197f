"""Storage dtypes and the packed boundary zone: round trips, the on-disk layout, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from store_helpers import START

from glonet_regions.core.errors import StoreError, ValidationError
from glonet_regions.data.batch import Batch, Sample, collate_samples
from glonet_regions.data.loader import GlonetStoreDataset
from glonet_regions.data.prepare import prepare_store
from glonet_regions.data.prepare_source import SyntheticSource
from glonet_regions.data.storage import (
    from_bfloat16_bits,
    make_codec,
    pack_zone,
    to_bfloat16_bits,
    unpack_zone,
    zone_index,
)
from glonet_regions.data.store import Layout, StoreReader


@settings(deadline=None, max_examples=30)
@given(arrays(np.float32, (3, 5), elements=st.floats(-1e4, 1e4, width=32)))
def test_bfloat16_bits_match_torch(x: np.ndarray) -> None:
    want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(from_bfloat16_bits(to_bfloat16_bits(x)), want)


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 2e-3), ("bfloat16", 2e-2),
                                       ("int16", 6e-4)])  # fmt: skip
def test_codec_round_trip_keeps_nan_and_bounds_the_error(dtype: str, tol: float) -> None:
    rng = np.random.default_rng(0)
    chans = [("thetao", 0), ("so", 0), ("zos", None)]
    z = rng.standard_normal((3, 2, 6, 7))
    x = np.stack([12 + 3 * z[0], 35 + 0.5 * z[1], 0.3 * z[2]], axis=1).astype(np.float32)
    x[:, :, 0, 0] = np.nan
    ocean = np.isfinite(x[0])
    codec = make_codec(dtype, chans, x[0], ocean)
    for land in (None, ~ocean):  # packed boundary arrays, then (T, C, H, W) data arrays
        back = codec.decode(codec.encode(x, land=land), land=land)
        assert back.dtype == np.float32 and np.isnan(back[:, :, 0, 0]).all()
        err = np.nanmax(np.abs(back - x) / np.maximum(np.abs(x), 1.0))
        assert err <= tol
    assert codec.encode(x).dtype == np.dtype(codec.disk_dtype)
    with pytest.raises(ValidationError, match="not one of"):
        make_codec("float8", chans)


def test_zone_pack_round_trip() -> None:
    zone = np.zeros((5, 6), dtype=bool)
    zone[:2] = True
    zone[:, -1] = True
    idx = zone_index(zone)
    x = np.arange(2 * 3 * 30, dtype=np.float32).reshape(2, 3, 5, 6)
    back = unpack_zone(pack_zone(x, idx), idx, (5, 6))
    np.testing.assert_array_equal(back[..., zone], x[..., zone])
    assert np.isnan(back[..., ~zone]).all()


def test_int16_store_is_packed_and_reads_back_full_grid(build, region) -> None:  # type: ignore[no-untyped-def]
    ref, _ = build(name="f32.zarr")
    out = ref.parent / "i16.zarr"
    src = SyntheticSource(region.grid, START, 32)
    prepare_store(out, src, region=region, layout=Layout(4, 2, storage_dtype="int16"), workers=2)
    root = zarr.open_group(str(out), mode="r")
    zone = region.open_boundaries.zone_mask(region.grid.shape)
    assert root["intermediate/boundary"].shape == (32, 40, int(zone.sum()))
    assert root["intermediate/data"].dtype == np.int16
    a, b = StoreReader(ref), StoreReader(out)
    assert b.storage_dtype == "int16"
    np.testing.assert_allclose(b.read("intermediate", 3, 6), a.read("intermediate", 3, 6),
                               atol=1e-3, equal_nan=True)  # fmt: skip
    full = b.read_boundary("intermediate", 3, 6)
    assert full.shape == (3, 40, *region.grid.shape) and np.isnan(full[..., ~zone]).all()
    np.testing.assert_allclose(full, a.read_boundary("intermediate", 3, 6), atol=1e-3,
                               equal_nan=True)  # fmt: skip
    item = GlonetStoreDataset(out, "intermediate", "train")[0]
    assert item.x.dtype == torch.float32 and item.boundary is not None
    with pytest.raises(StoreError, match="storage dtype int16; this run asks for float16"):
        prepare_store(out, src, region=region, layout=Layout(4, 2, storage_dtype="float16"))


def test_batch_is_checked_once_and_moves() -> None:
    s = Sample(x=torch.zeros(2, 3, 4, 5), y=torch.zeros(1, 3, 4, 5), mask=torch.ones(3, 4, 5),
               time=torch.tensor(7), boundary=torch.zeros(1, 3, 4, 5))  # fmt: skip
    batch = collate_samples([s, s])
    assert isinstance(batch, Batch) and batch.size == 2 and batch.n_target == 1
    moved = batch.to("cpu")
    assert moved.x.shape == (2, 2, 3, 4, 5) and moved.boundary is not None
    with pytest.raises(ValidationError, match=r"field y is torch\.float64"):
        Sample(x=s.x, y=s.y.double(), mask=s.mask, time=s.time)
    with pytest.raises(ValidationError, match="do not share"):
        Sample(x=s.x, y=torch.zeros(1, 3, 4, 6), mask=s.mask, time=s.time)
    with pytest.raises(ValidationError, match="disagree on holding boundary"):
        collate_samples([s, Sample(x=s.x, y=s.y, mask=s.mask, time=s.time)])
