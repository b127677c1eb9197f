"""Fixtures of the data tests: a real HTTP server on 127.0.0.1 and the real CMEMS files."""

from __future__ import annotations

import collections
import http.server
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from glonet_regions.testing.real_data import real_data_dir, real_data_reason

REAL_DIR = real_data_dir()  # the offline mirror, the asset cache or the files' origins
IBI_FILE = REAL_DIR / "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
GLO12_FILE = REAL_DIR / "glo12_anfc_uo_vo_P1D_french_coast_2025-02-06_14.nc"


@dataclass
class FileServer:
    """A static file server in a thread that counts the requests per path."""

    root: Path
    url: str
    requests: collections.Counter[str] = field(default_factory=collections.Counter)

    def total(self) -> int:
        return sum(self.requests.values())


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[FileServer]:
    """Serve ``tmp_path / "www"`` over HTTP on 127.0.0.1 (an ephemeral port)."""
    root = tmp_path / "www"
    root.mkdir()
    server_ref: dict[str, FileServer] = {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            server_ref["s"].requests[self.path] += 1
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:  # silence stderr
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    server = FileServer(root=root, url=f"http://{host}:{port}/")
    server_ref["s"] = server
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def real_dir() -> Path:
    if real_data_reason():
        pytest.skip(real_data_reason())
    return REAL_DIR


@pytest.fixture
def ibi_file(real_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the real IBI file (tests may rewrite it)."""
    dst = tmp_path / IBI_FILE.name
    shutil.copyfile(IBI_FILE, dst)
    return dst


@pytest.fixture
def glo12_file(real_dir: Path) -> Path:
    return GLO12_FILE
