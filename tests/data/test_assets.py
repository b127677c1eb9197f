"""AssetRegistry against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from glonet_regions.core.errors import AssetError
from glonet_regions.data.assets import (
    GLONET_ASSETS,
    AssetRegistry,
    file_sha256,
    read_registry_file,
)

PAYLOAD = b"GLONET weights stand-in\n" * 1000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(root))
    monkeypatch.delenv("GLONET_REGIONS_OFFLINE", raising=False)
    return root


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_then_cache_hit_without_request(http_server, cache):
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(PAYLOAD)})
    path = reg.fetch("w.pt")
    assert path == cache / "assets" / "test" / "w.pt"
    assert path.read_bytes() == PAYLOAD
    assert http_server.requests["/w.pt"] == 1
    again = reg.fetch("w.pt")
    assert again == path
    assert http_server.total() == 1  # served from the cache


def test_subfolder_names_and_registry_file(http_server, cache, tmp_path):
    (http_server.root / "L0").mkdir()
    (http_server.root / "L0" / "zos_mean.npy").write_bytes(b"abc")
    reg_file = tmp_path / "reg.txt"
    reg_file.write_text(f"# comment\nL0/zos_mean.npy sha256:{_sha(b'abc').upper()}\nother -\n")
    assert read_registry_file(reg_file) == {"L0/zos_mean.npy": _sha(b"abc"), "other": None}
    reg = AssetRegistry("sub", http_server.url, reg_file)
    assert reg.fetch("L0/zos_mean.npy").read_bytes() == b"abc"


def test_hash_mismatch_rejected_and_nothing_cached(http_server, cache):
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(b"something else")})
    with pytest.raises(AssetError, match=r"w\.pt.*hash") as err:
        reg.fetch("w.pt")
    assert http_server.url + "w.pt" in str(err.value)
    assert _files_in(cache) == []  # no partial nor temporary file left


def test_offline_with_cached_file_makes_no_request(http_server, cache, monkeypatch):
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(PAYLOAD)})
    reg.fetch("w.pt")
    monkeypatch.setenv("GLONET_REGIONS_OFFLINE", "1")
    assert reg.fetch("w.pt").read_bytes() == PAYLOAD
    assert reg.fetch("w.pt", offline=True).read_bytes() == PAYLOAD
    assert http_server.total() == 1


def test_offline_cached_file_is_hash_checked(http_server, cache):
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(PAYLOAD)})
    reg.path("w.pt").parent.mkdir(parents=True)
    reg.path("w.pt").write_bytes(b"corrupt")
    with pytest.raises(AssetError, match="fails its hash check"):
        reg.fetch("w.pt", offline=True)
    assert http_server.total() == 0


def test_offline_without_cached_file(http_server, cache, monkeypatch):
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(PAYLOAD)})
    monkeypatch.setenv("GLONET_REGIONS_OFFLINE", "1")
    with pytest.raises(AssetError) as err:
        reg.fetch("w.pt")
    msg = str(err.value)
    assert "'w.pt'" in msg and str(reg.path("w.pt")) in msg and "offline" in msg
    assert http_server.url + "w.pt" in msg  # how to obtain it
    assert http_server.total() == 0
    # The argument overrides the environment variable.
    assert reg.fetch("w.pt", offline=False).read_bytes() == PAYLOAD


def test_404_names_the_url(http_server, cache):
    reg = AssetRegistry("test", http_server.url, {"missing.pt": _sha(b"x")})
    with pytest.raises(AssetError, match="404") as err:
        reg.fetch("missing.pt")
    assert http_server.url + "missing.pt" in str(err.value)
    assert _files_in(cache) == []


def test_connection_refused_names_the_url(closed_port_url, cache):
    reg = AssetRegistry("test", closed_port_url, {"w.pt": _sha(b"x")})
    with pytest.raises(AssetError) as err:
        reg.fetch("w.pt")
    assert closed_port_url + "w.pt" in str(err.value)


def test_unknown_name_lists_names(cache):
    reg = AssetRegistry("test", "http://127.0.0.1:1/", {"a.pt": None, "b.npy": None})
    with pytest.raises(AssetError, match=r"Unknown asset 'c\.pt'.*a\.pt, b\.npy"):
        reg.fetch("c.pt")


def test_unverified_refused_unless_allowed(http_server, cache):
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    reg = AssetRegistry("test", http_server.url, {"w.pt": "-"})
    with pytest.raises(AssetError, match=r"no pinned sha256.*allow_unverified"):
        reg.fetch("w.pt")
    assert http_server.total() == 0
    assert reg.fetch("w.pt", allow_unverified=True).read_bytes() == PAYLOAD
    assert http_server.total() == 1
    # Pinning (saved for later processes) makes it verified, served from the cache.
    reg.pin("w.pt", file_sha256(reg.path("w.pt")), save=True)
    fresh = AssetRegistry("test", http_server.url, {"w.pt": None})
    assert fresh.resolved_hash("w.pt") == _sha(PAYLOAD)
    assert fresh.fetch("w.pt").read_bytes() == PAYLOAD
    assert http_server.total() == 1


def test_pinned_hash_replaces_stale_cached_file(http_server, cache):
    reg = AssetRegistry("test", http_server.url, {"w.pt": _sha(PAYLOAD)})
    reg.path("w.pt").parent.mkdir(parents=True)
    reg.path("w.pt").write_bytes(b"old version")
    (http_server.root / "w.pt").write_bytes(PAYLOAD)
    assert reg.fetch("w.pt").read_bytes() == PAYLOAD
    assert http_server.total() == 1


def test_bad_registry_lines(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a.pt 1234\n")
    with pytest.raises(AssetError, match=r"bad\.txt:1.*not a sha256"):
        AssetRegistry("x", "http://h/", bad)
    bad.write_text("a.pt\n")
    with pytest.raises(AssetError, match=r"bad\.txt:1: expected 'name sha256'"):
        read_registry_file(bad)


def test_glonet_registry_lists_published_files(cache):
    for name in ("glonet_p1.pt", "glonet_p2.pt", "glonet_p3.pt", "L0/zos_mean.npy"):
        assert name in GLONET_ASSETS
    assert GLONET_ASSETS.url("glonet_p2.pt") == (
        "https://minio.dive.edito.eu/project-glonet/public/glonet_1_4_model/20241112/model/"
        "glonet_p2.pt"
    )
    assert GLONET_ASSETS.path("glonet_p1.pt") == cache / "assets" / "glonet" / "glonet_p1.pt"
    with pytest.raises(AssetError, match="allow_unverified"):
        GLONET_ASSETS.fetch("glonet_p1.pt")
    with pytest.raises(AssetError, match="not in the cache"):
        GLONET_ASSETS.fetch("glonet_p1.pt", offline=True, allow_unverified=True)
