"""The real Copernicus Marine sample files as hash-pinned assets with an offline mirror."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glonet_regions.core.errors import AssetError
from glonet_regions.data.assets import (
    CMEMS_SAMPLE_URLS,
    CMEMS_SAMPLES,
    REAL_DATA_ENV,
    fetch_cmems_sample,
    file_sha256,
    real_data_mirror,
)
from glonet_regions.testing.real_data import GLO12_SAMPLE, IBI_SAMPLE


def test_registry_pins_both_files_to_their_origins() -> None:
    assert set(CMEMS_SAMPLES.names) == {IBI_SAMPLE, GLO12_SAMPLE}
    for name in CMEMS_SAMPLES.names:
        assert CMEMS_SAMPLES.known_hash(name) is not None
        assert CMEMS_SAMPLES.url(name) == CMEMS_SAMPLE_URLS[name]
        assert CMEMS_SAMPLES.url(name).startswith("https://raw.githubusercontent.com/")


def test_mirror_then_cache_then_offline_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = real_data_mirror() / IBI_SAMPLE
    if not source.is_file():
        pytest.skip(f"offline mirror {real_data_mirror()} lacks {IBI_SAMPLE}")
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GLONET_REGIONS_OFFLINE", "1")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copyfile(source, mirror / IBI_SAMPLE)
    monkeypatch.setenv(REAL_DATA_ENV, str(mirror))
    assert fetch_cmems_sample(IBI_SAMPLE) == mirror / IBI_SAMPLE  # served in place
    # A corrupt mirror copy is not served.
    (mirror / IBI_SAMPLE).write_bytes(b"truncated")
    with pytest.raises(AssetError, match=r"neither in the cache .* nor in the offline mirror"):
        fetch_cmems_sample(IBI_SAMPLE)
    # A cached copy is served (hash-checked) without the mirror.
    CMEMS_SAMPLES.fetch(IBI_SAMPLE, mirror=source.parent)
    got = fetch_cmems_sample(IBI_SAMPLE)
    assert got == CMEMS_SAMPLES.path(IBI_SAMPLE)
    assert file_sha256(got) == CMEMS_SAMPLES.known_hash(IBI_SAMPLE)
