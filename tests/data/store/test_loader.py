"""The torch dataset and loader: items, sample boundaries, determinism, resume, workers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import START

from glonet_regions.core.errors import StoreError, ValidationError
from glonet_regions.data.loader import (
    EpochBatchSampler,
    GlonetStoreDataset,
    denormalise,
    make_loader,
    normalise,
    set_epoch,
)
from glonet_regions.data.prepare_source import SyntheticSource
from glonet_regions.data.stats import RunningMoments
from glonet_regions.data.store import EPOCH, StoreReader


@pytest.fixture
def store(build, source):  # type: ignore[no-untyped-def]
    return build(source)[0]


def test_items_are_normalised_masked_and_dated(store, region) -> None:  # type: ignore[no-untyped-def]
    ds = GlonetStoreDataset(store, "intermediate", "train", n_input=2, n_target=3)
    # 20 training days, windows of 5 consecutive days -> 16 samples.
    assert len(ds) == 16
    item = ds[4]
    assert item.x.shape == (2, 40, 12, 16) and item.y.shape == (3, 40, 12, 16)
    assert item.boundary.shape == (3, 40, 12, 16) and item.mask.shape == (40, 12, 16)
    assert item.x.dtype == torch.float32
    assert int(item.time) == (START + dt.timedelta(days=6) - EPOCH).days
    reader = StoreReader(store)
    raw = reader.read("intermediate", 4, 9)
    stats = reader.stats("intermediate")
    mask = reader.channel_mask("intermediate")
    want = np.where(mask, (raw - stats.mean[:, None, None]) / stats.std[:, None, None], 0)
    np.testing.assert_allclose(item.x.numpy(), want[:2], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(item.y.numpy(), want[2:], rtol=1e-4, atol=1e-4)
    assert torch.isfinite(item.x).all() and (item.x[:, ~torch.from_numpy(mask)] == 0).all()
    zone = torch.from_numpy(region.open_boundaries.zone_mask(region.grid.shape))
    assert (item.boundary[..., ~zone] == 0).all()
    assert (item.boundary[..., zone] != 0).any()
    back = denormalise(item.y, stats, mask=item.mask)
    np.testing.assert_allclose(back.numpy(), raw[2:], rtol=1e-5, atol=1e-4)
    assert torch.isnan(back[:, ~torch.from_numpy(mask)]).all()
    np.testing.assert_allclose(normalise(denormalise(want, stats), stats), want, atol=1e-4)


def test_samples_never_cross_a_split_or_a_gap(build, region) -> None:  # type: ignore[no-untyped-def]
    src = SyntheticSource(region.grid, START, 32, missing=(START + dt.timedelta(days=10),))
    out, _ = build(src)
    for split in ("train", "validation", "test"):
        ds = GlonetStoreDataset(out, "surface", split, n_target=2, with_boundary=False)
        rng = region.splits.get(split)
        for s in ds.starts:
            days = ds.times[s : s + 4]
            assert np.all(np.diff(days) == 1)
            lo, hi = ((d - EPOCH).days for d in (rng.start, rng.end))
            assert days[0] >= lo and days[-1] <= hi
    # train: days 0-9 (7 windows) and 11-19 (6 windows)
    assert len(GlonetStoreDataset(out, "surface", "train", with_boundary=False)) == 13


def test_incomplete_store_is_refused(build, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def crash(k: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        build(source, workers=1, on_chunk_done=crash)
    with pytest.raises(StoreError, match="re-run `glonet-regions data prepare`"):
        GlonetStoreDataset(tmp_path / "s.zarr", "surface", "train")


def test_sampler_is_seeded_rank_aware_and_resumable() -> None:
    a = EpochBatchSampler(23, 4, shuffle=True, seed=7)
    b = EpochBatchSampler(23, 4, shuffle=True, seed=7)
    assert list(a) == list(b)
    a.set_epoch(1)
    e1 = list(a)
    a.set_epoch(0)
    assert e1 != list(a)
    # Two ranks: same number of steps, together every sample (one padded repeat).
    r0 = EpochBatchSampler(23, 4, seed=3, rank=0, world_size=2)
    r1 = EpochBatchSampler(23, 4, seed=3, rank=1, world_size=2)
    assert len(r0) == len(r1) == 3
    seen = [i for b_ in (*r0, *r1) for i in b_]
    assert sorted(set(seen)) == list(range(23)) and len(seen) == 24
    # Resume at step 2 of epoch 1 gives exactly the remaining batches.
    full = EpochBatchSampler(23, 4, seed=5, epoch=1)
    batches = list(full)
    resumed = EpochBatchSampler(23, 4, seed=5, epoch=1, start_step=2)
    assert len(resumed) == len(batches) - 2 and list(resumed) == batches[2:]
    assert list(resumed) == batches  # start_step applies once
    dl = EpochBatchSampler(23, 4, drop_last=True)
    assert all(len(x) == 4 for x in dl) and len(dl) == 5
    with pytest.raises(ValidationError):
        EpochBatchSampler(23, 4, start_step=99)


def test_loader_with_workers_matches_in_process(store) -> None:  # type: ignore[no-untyped-def]
    ds = GlonetStoreDataset(store, "surface", "train")
    ref = make_loader(ds, batch_size=3, seed=1, num_workers=0)
    par = make_loader(ds, batch_size=3, seed=1, num_workers=2, pin_memory=True)
    for epoch in (0, 1):
        set_epoch(ref, epoch)
        set_epoch(par, epoch)
        got = [(b.time.tolist(), b.x) for b in par]
        want = [(b.time.tolist(), b.x) for b in ref]
        assert [g[0] for g in got] == [w[0] for w in want]
        assert all(torch.equal(g[1], w[1]) for g, w in zip(got, want))
    resumed = make_loader(ds, batch_size=3, seed=1, epoch=1, start_step=2)
    assert [b.time.tolist() for b in resumed] == [w[0] for w in want][2:]


@settings(deadline=None, max_examples=25)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=5),
    st.floats(-1e3, 1e3),
    st.floats(1e-3, 1e2),
)
def test_chan_merge_matches_numpy(sizes: list[int], loc: float, scale: float) -> None:
    rng = np.random.default_rng(len(sizes))
    parts = [rng.normal(loc, scale, size=(n, 2, 3, 4)).astype(np.float32) for n in sizes]
    mask = np.ones((2, 3, 4), dtype=bool)
    mask[1, 0] = False
    total = RunningMoments.zeros(2)
    for p in parts:
        m = RunningMoments.zeros(2)
        m.update(p, mask)
        total.merge(m)
    allv = np.concatenate(parts).astype(np.float64)
    for c in range(2):
        v = allv[:, c][:, mask[c]]
        assert total.count[c] == v.size
        np.testing.assert_allclose(total.mean[c], v.mean(), rtol=1e-9, atol=1e-9 * scale)
        np.testing.assert_allclose(total.std[c], v.std(), rtol=1e-7, atol=1e-9 * scale)
