"""The store writer: layout, values, statistics, resume, idempotence, dask, failures."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr
from store_helpers import START

from glonet_regions.core.errors import DataError, StoreError, ValidationError
from glonet_regions.data.inspect_store import inspect_store
from glonet_regions.data.prepare import pack_group, prepare_store
from glonet_regions.data.prepare_source import SyntheticSource
from glonet_regions.data.store import Layout, StoreReader, channel_level_positions


def _expected(region, src, group_name):  # type: ignore[no-untyped-def]
    g = region.depth.group(group_name)
    days = src.available_days()
    x = pack_group(src.interior(days), g, len(days), region.grid.shape)
    cmask = src.ocean_mask()[list(g.level_indices)][channel_level_positions(g)]
    return days, np.where(cmask[None], x, np.nan), cmask


def test_layout_values_and_attrs(build, region, source) -> None:  # type: ignore[no-untyped-def]
    out, res = build(source)
    assert res.chunks_written == 8 and not res.already_complete
    root = zarr.open_group(str(out), mode="r")
    attrs = root.attrs["glonet_store"]
    assert attrs["complete"] is True and attrs["format_version"] == 2
    assert attrs["region"] == "tiny" and attrs["grid"] == region.grid.to_dict()
    assert set(attrs["groups"]) == {"surface", "intermediate", "deep"}
    assert attrs["groups"]["intermediate"]["channels"][0] == "thetao@47.37m"
    for key in ("code_version", "created", "command", "source"):
        assert key in attrs["provenance"]
    data = root["intermediate/data"]
    assert data.shape == (32, 40, 12, 16) and data.dtype == np.float32
    assert data.chunks == (1, 40, 12, 16) and data.shards == (2, 40, 12, 16)
    assert type(data.compressors[0]).__name__ == "BloscCodec"
    reader = StoreReader(out)
    for name in ("surface", "intermediate", "deep"):
        days, want, cmask = _expected(region, source, name)
        got = reader.read(name, 0, len(days))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=0, atol=0)
        np.testing.assert_array_equal(reader.channel_mask(name), cmask)
    # Boundary: only inside the zone (west and south, width 2), ocean cells.
    b = reader.read_boundary("surface", 0, 3)
    zone = region.open_boundaries.zone_mask(region.grid.shape)
    assert np.all(np.isnan(b[:, :, ~zone]))
    assert np.isfinite(b[:, 1][:, zone & reader.channel_mask("surface")[1]]).all()
    assert reader.dates[0] == START and reader.gaps() == []


def test_statistics_match_numpy_training_split_only(build, region, source) -> None:  # type: ignore[no-untyped-def]
    out, _ = build(source, chunk_days=4, shard_days=2)
    reader = StoreReader(out)
    train = region.splits.train
    for name in ("surface", "deep"):
        days, want, cmask = _expected(region, source, name)
        sel = np.asarray([train.contains(d) for d in days])
        st = reader.stats(name)
        for c in range(want.shape[1]):
            vals = want[sel, c][:, cmask[c]].astype(np.float64)
            if vals.size == 0:
                assert st.count[c] == 0 and st.std[c] == 1.0
                continue
            np.testing.assert_allclose(st.mean[c], vals.mean(), rtol=1e-10, atol=1e-12 * vals.std())
            np.testing.assert_allclose(st.std[c], vals.std(), rtol=1e-8)
            idx = np.flatnonzero(sel)
            d = np.diff(want[idx, c], axis=0)[:, cmask[c]].astype(np.float64)
            assert st.diff_count[c] == d.size  # 19 pairs, incl. those across work chunks
            np.testing.assert_allclose(st.diff_std[c], d.std() or 1.0, rtol=1e-6)  # 0 spread -> 1
            np.testing.assert_allclose(st.diff_mean[c], d.mean(), rtol=1e-6, atol=1e-9 * d.std())


def test_gaps_are_kept_and_diffs_skip_them(build, region) -> None:  # type: ignore[no-untyped-def]
    missing = (START + dt.timedelta(days=5),)
    src = SyntheticSource(region.grid, START, 32, missing=missing)
    out, _ = build(src)
    reader = StoreReader(out)
    assert len(reader.times) == 31
    assert reader.gaps() == [(START + dt.timedelta(days=4), START + dt.timedelta(days=6))]
    # 20 training days minus the missing one: 19 values, 17 consecutive pairs.
    st = reader.stats("surface")
    n_ocean = reader.channel_mask("surface")[0].sum()
    assert st.count[0] == 19 * n_ocean and st.diff_count[0] == 17 * n_ocean
    report = inspect_store(out)
    assert report.ok and any("gaps: 1" in line for line in report.lines)


def test_rerun_complete_store_is_a_noop(build, source) -> None:  # type: ignore[no-untyped-def]
    out, _ = build(source)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    _, res = build(source)
    assert res.already_complete and res.chunks_written == 0
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_interrupted_run_resumes_without_redoing_chunks(build, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def die_after_three(k: int) -> None:
        calls.append(k)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        build(source, workers=1, on_chunk_done=die_after_three)
    out = tmp_path / "s.zarr"
    assert out.exists()  # a crash (not bad input) keeps the resumable store
    with pytest.raises(StoreError, match=r"incomplete .*re-run"):
        StoreReader(out)
    report = inspect_store(out)
    assert not report.ok and "incomplete" in report.problems[0]
    written: list[int] = []
    _, res = build(source, workers=1, on_chunk_done=written.append)
    assert res.chunks_skipped == 3 and res.chunks_written == 5
    assert not set(written) & set(calls)
    fresh, _ = build(source, name="fresh.zarr")
    a, b = StoreReader(out), StoreReader(fresh)
    np.testing.assert_array_equal(a.read("deep", 0, 32), b.read("deep", 0, 32))
    assert a.attrs["stats"] == b.attrs["stats"]


def test_sigkill_mid_run_then_resume(tmp_path, region, source) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "k.zarr"
    here = Path(__file__).resolve().parent
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(here)!r})
        from store_helpers import tiny_region, START
        from glonet_regions.data.prepare import prepare_store
        from glonet_regions.data.prepare_source import SyntheticSource
        from glonet_regions.data.store import Layout
        region = tiny_region()
        done = []
        def hook(k):
            done.append(k)
            if len(done) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        prepare_store({str(out)!r}, SyntheticSource(region.grid, START, 32), region=region,
                      layout=Layout(4, 2), workers=1, on_chunk_done=hook)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    with pytest.raises(StoreError, match="re-run"):
        StoreReader(out)
    res = prepare_store(out, source, region=region, layout=Layout(4, 2), workers=2)
    assert res.chunks_skipped >= 2 and res.chunks_written + res.chunks_skipped == 8
    assert inspect_store(out).ok
    assert not list(tmp_path.glob(".k.zarr.tmp-*"))


def test_other_plan_or_foreign_folder_is_refused(build, region, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out, _ = build(source)
    with pytest.raises(StoreError, match="other options"):
        prepare_store(out, source, region=region, layout=Layout(8, 8))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a glonet-regions store"):
        prepare_store(foreign, source, region=region)
    assert (foreign / "x.txt").read_text() == "mine"


def test_nan_in_ocean_fails_and_leaves_nothing(build, region, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad_day = START + dt.timedelta(days=13)
    src = SyntheticSource(region.grid, START, 32, nan_day=bad_day)
    with pytest.raises(DataError, match=f"NaN in the ocean: thetao .*{bad_day}"):
        build(src)
    assert not (tmp_path / "s.zarr").exists()
    assert not list(tmp_path.glob(".s.zarr*"))


def test_dates_outside_data_name_the_option(region, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "d.zarr"
    with pytest.raises(DataError, match="--start 2020-12-01 is outside"):
        prepare_store(out, source, region=region, start=dt.date(2020, 12, 1))
    with pytest.raises(DataError, match="--end 2021-03-01 is outside"):
        prepare_store(out, source, region=region, end=dt.date(2021, 3, 1))
    with pytest.raises(ValidationError, match=r"--end .* before --start"):
        prepare_store(out, source, region=region, start=START + dt.timedelta(3), end=START)
    with pytest.raises(DataError, match="training split"):
        prepare_store(out, source, region=region, start=START + dt.timedelta(days=21))
    assert not out.exists()


def test_chunk_days_not_multiple_of_shard_uses_whole_shards(build) -> None:  # type: ignore[no-untyped-def]
    out, _ = build(chunk_days=6, shard_days=4)
    lay = StoreReader(out).layout
    assert lay["work_chunk_days"] == 6 and lay["shard_days"] == 3


@pytest.mark.parametrize("processes", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_distributed_cluster_gives_the_same_store(build, source, processes) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out, res = build(source, name="dist.zarr", scheduler=client)
    assert res.chunks_written == 8
    ref, _ = build(source, name="ref.zarr")
    a, b = StoreReader(out), StoreReader(ref)
    np.testing.assert_array_equal(a.read("surface", 0, 32), b.read("surface", 0, 32))
    for g in ("surface", "intermediate", "deep"):
        np.testing.assert_allclose(a.stats(g).std, b.stats(g).std, rtol=1e-12)
