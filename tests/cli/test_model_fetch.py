"""`glonet-regions model fetch` against a real HTTP server on 127.0.0.1 (with HTTP Range)."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.data.assets import GLONET_ASSETS, file_sha256
from glonet_regions.engine.config import FinetuneConfig
from glonet_regions.engine.setup import published_group_stats, published_weights_file
from glonet_regions.testing.published import release_mean, write_release_stats

WEIGHTS = b"TorchScript stand-in " * 5000


class _Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        self.ranges: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                server.requests[self.path] += 1
                rng = self.headers.get("Range")
                path = root / self.path.lstrip("/")
                if rng and path.is_file():
                    server.ranges.append(rng)
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    data = path.read_bytes()[start:]
                    self.send_response(206)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}/"


@pytest.fixture
def release_server(tmp_path: Path) -> Iterator[_Server]:
    root = tmp_path / "www"
    write_release_stats(root, ["surface"])
    (root / "glonet_p1.pt").write_bytes(WEIGHTS)
    server = _Server(root)
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLONET_REGIONS_OFFLINE", raising=False)
    # Pins recorded by a test stay in that test.
    monkeypatch.setattr(GLONET_ASSETS, "_hashes", dict(GLONET_ASSETS._hashes))
    return tmp_path / "cache" / "assets" / "glonet"


def _fetch(*extra: str) -> object:
    return CliRunner().invoke(
        main, ["model", "fetch", "--group", "surface", "--no-progress", *extra]
    )


def test_fetch_refuses_unpinned_files_without_trust(release_server: _Server, cache: Path) -> None:
    result = _fetch("--mirror", release_server.url)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "no pinned sha256" in result.output  # type: ignore[attr-defined]
    assert not (cache / "glonet_p1.pt").exists()


def test_fetch_downloads_pins_resumes_and_feeds_finetune(
    release_server: _Server, cache: Path
) -> None:
    # An interrupted earlier download left half of the weights.
    cache.mkdir(parents=True)
    (cache / "glonet_p1.pt.part").write_bytes(WEIGHTS[: len(WEIGHTS) // 2])
    result = _fetch("--mirror", release_server.url, "--trust-weights")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert (cache / "glonet_p1.pt").read_bytes() == WEIGHTS
    assert release_server.ranges == [f"bytes={len(WEIGHTS) // 2}-"]
    assert not (cache / "glonet_p1.pt.part").exists()
    assert (cache / "L0" / "zos_mean.npy").is_file()
    assert f"glonet_p1.pt: pinned sha256 {file_sha256(cache / 'glonet_p1.pt')}" in result.output  # type: ignore[attr-defined]
    pins = (cache / "pinned.txt").read_text()
    assert "glonet_p1.pt " in pins and "L0/vo_std.npy " in pins

    # A second run checks the hashes against the pins and downloads nothing.
    before = sum(release_server.requests.values())
    again = _fetch("--mirror", release_server.url)
    assert again.exit_code == 0, again.output  # type: ignore[attr-defined]
    assert "glonet_p1.pt: verified" in again.output  # type: ignore[attr-defined]
    assert sum(release_server.requests.values()) == before

    # `--init published` without --weights-dir takes the cache.
    cfg = FinetuneConfig(region="ibi36")
    assert published_weights_file(cfg, "surface") == cache / "glonet_p1.pt"
    stats = published_group_stats(cfg, "surface")
    assert stats.mean[0] == release_mean("zos", "L0")


def test_fetch_detects_a_changed_file(release_server: _Server, cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "pinned.txt").write_text(f"glonet_p1.pt {'0' * 64}\n")
    result = _fetch("--mirror", release_server.url, "--trust-weights")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "fails its hash check" in result.output  # type: ignore[attr-defined]
    assert not (cache / "glonet_p1.pt").exists()


def test_fetch_from_a_local_mirror_folder_offline(
    release_server: _Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLONET_REGIONS_OFFLINE", "1")
    result = _fetch("--mirror", str(release_server.root), "--trust-weights")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert (cache / "glonet_p1.pt").read_bytes() == WEIGHTS
    assert sum(release_server.requests.values()) == 0


def test_release_folder_from_the_pooch_env_variable(
    release_server: _Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glonet_regions.data.assets import GLONET_ASSETS_DIR_ENV, GLONET_POOCH

    assert GLONET_ASSETS.fetcher is GLONET_POOCH and GLONET_ASSETS.env_dir == GLONET_ASSETS_DIR_ENV
    monkeypatch.setenv(GLONET_ASSETS_DIR_ENV, str(release_server.root))
    assert GLONET_ASSETS.cache_dir == release_server.root
    result = _fetch("--offline", "--trust-weights")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert f"release folder: {release_server.root}" in result.output  # type: ignore[attr-defined]
    assert sum(release_server.requests.values()) == 0
