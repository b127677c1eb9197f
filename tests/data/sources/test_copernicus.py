"""CopernicusMarineSource: credentials, the kwargs passed to the toolbox, and its failures.

The only stand-in is the remote service: ``copernicusmarine.open_dataset``/``subset`` are
monkeypatched to record their kwargs, or the real toolbox runs in a child process whose
proxy is a closed port on 127.0.0.1 (so no request leaves the machine).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import copernicusmarine
import pytest
import xarray as xr

from glonet_regions.core.errors import SourceError
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import SourceDataset
from glonet_regions.data.sources import Source, load_builtin_source
from glonet_regions.data.sources.copernicus import CopernicusMarineSource, find_credentials

DATASET = "cmems_mod_ibi_phy_anfc_0.027deg-3D_P1D-m"
_CRED_VARS = (
    "COPERNICUSMARINE_SERVICE_USERNAME",
    "COPERNICUSMARINE_SERVICE_PASSWORD",
    "COPERNICUS_MARINE_SERVICE_USERNAME",
    "COPERNICUS_MARINE_SERVICE_PASSWORD",
    "COPERNICUSMARINE_MYOCEAN_AUTH",
    "COPERNICUSMARINE_CREDENTIALS_DIRECTORY",
)


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in _CRED_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def fake_credentials(no_credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPERNICUSMARINE_SERVICE_USERNAME", "someone")
    monkeypatch.setenv("COPERNICUSMARINE_SERVICE_PASSWORD", "secret")


class Recorder:
    def __init__(self, result: Any = None, exc: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result, self.exc = result, exc

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.exc is not None:
            raise self.exc
        return self.result


def test_is_a_source():
    assert isinstance(CopernicusMarineSource(), Source)
    assert load_builtin_source("copernicusmarine") is CopernicusMarineSource


def test_open_passes_the_subset_to_the_toolbox(fake_credentials, monkeypatch):
    tiny = xr.Dataset({"thetao": ("time", [12.0])})
    fake = Recorder(result=tiny)
    monkeypatch.setattr(copernicusmarine, "open_dataset", fake)
    ds = CopernicusMarineSource(dataset_version="202211").open(
        DATASET,
        bbox=BBox(-10.3, -9.3, 43.6, 44.2),
        depth_range=(50.0, 0.0),
        start=dt.date(2022, 2, 6),
        end=dt.date(2022, 2, 7),
        variables=["thetao", "so"],
    )
    assert ds is tiny or ds.identical(tiny)
    (kw,) = fake.calls
    assert kw["dataset_id"] == DATASET and kw["dataset_version"] == "202211"
    assert (kw["minimum_longitude"], kw["maximum_longitude"]) == (-10.3, -9.3)
    assert (kw["minimum_latitude"], kw["maximum_latitude"]) == (43.6, 44.2)
    assert (kw["minimum_depth"], kw["maximum_depth"]) == (0.0, 50.0)
    assert kw["start_datetime"] == dt.datetime(2022, 2, 6, 0, 0)
    assert kw["end_datetime"] == dt.datetime(2022, 2, 7, 23, 59, 59)  # the whole last day
    assert kw["variables"] == ["thetao", "so"]
    # Environment credentials are passed on (the toolbox reads them only at import time).
    assert (kw["username"], kw["password"]) == ("someone", "secret")


def test_source_dataset_names_and_version(fake_credentials, monkeypatch):
    fake = Recorder(result=xr.Dataset({"votemper": ("time", [12.0])}))
    monkeypatch.setattr(copernicusmarine, "open_dataset", fake)
    declared = SourceDataset(
        key="temp", kind="reanalysis", service="copernicusmarine",
        dataset_id="cmems_mod_ibi_phy-temp_my_0.027deg_P1D-m",
        variables={"thetao": "votemper"}, version="202411",
    )  # fmt: skip
    ds = CopernicusMarineSource(dataset_version="old").open(declared, variables=["thetao"])
    (kw,) = fake.calls
    assert kw["variables"] == ["votemper"] and kw["dataset_version"] == "202411"
    assert list(ds.data_vars) == ["thetao"]


def test_no_credentials_raises_before_calling(no_credentials, monkeypatch):
    fake = Recorder(result=xr.Dataset())
    monkeypatch.setattr(copernicusmarine, "open_dataset", fake)
    with pytest.raises(SourceError) as err:
        CopernicusMarineSource().open(DATASET)
    msg = str(err.value)
    assert "copernicusmarine login" in msg and "COPERNICUSMARINE_SERVICE_USERNAME" in msg
    assert DATASET in msg
    assert fake.calls == []


def test_credentials_files_are_found(no_credentials, monkeypatch, tmp_path):
    assert find_credentials() is None
    cred = no_credentials / ".copernicusmarine" / ".copernicusmarine-credentials"
    cred.parent.mkdir()
    cred.write_text("c2VjcmV0")
    found = find_credentials()
    assert found is not None and str(cred) in found.origin and found.username is None
    cred.unlink()
    other = tmp_path / "creds"
    other.mkdir()
    (other / ".copernicusmarine-credentials").write_text("x")
    monkeypatch.setenv("COPERNICUSMARINE_CREDENTIALS_DIRECTORY", str(other))
    assert find_credentials() is not None
    monkeypatch.delenv("COPERNICUSMARINE_CREDENTIALS_DIRECTORY")
    (no_credentials / ".netrc").write_text("machine example.org login a password b\n")
    assert find_credentials() is None  # a netrc without a Copernicus host does not count
    (no_credentials / ".netrc").write_text("machine auth.marine.copernicus.eu login a password b\n")
    assert find_credentials() is not None
    with pytest.raises(SourceError, match="does not exist"):
        CopernicusMarineSource(credentials_file=tmp_path / "nope").check_credentials()


def test_silent_none_becomes_an_error(fake_credentials, monkeypatch):
    monkeypatch.setattr(copernicusmarine, "open_dataset", Recorder(result=None))
    with pytest.raises(SourceError, match=f"returned nothing for dataset '{DATASET}'.*login"):
        CopernicusMarineSource().open(DATASET)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (copernicusmarine.CouldNotConnectToAuthenticationSystem(), "could not reach"),
        (copernicusmarine.InvalidUsernameOrPassword("bad"), "credentials were rejected"),
        (copernicusmarine.DatasetNotFound("nope"), "was not found"),
        (ConnectionError("network is unreachable"), "network is unreachable"),
    ],
)
def test_toolbox_failures_become_source_errors(fake_credentials, monkeypatch, exc, expected):
    monkeypatch.setattr(copernicusmarine, "open_dataset", Recorder(exc=exc))
    with pytest.raises(SourceError, match=expected) as err:
        CopernicusMarineSource().open(DATASET)
    assert DATASET in str(err.value)


def test_download_calls_subset(fake_credentials, monkeypatch, tmp_path):
    out_dir = tmp_path / "downloads"

    def fake_subset(**kwargs: Any) -> Any:
        fake_subset.calls.append(kwargs)  # type: ignore[attr-defined]
        path = Path(kwargs["output_directory"]) / kwargs["output_filename"]
        path.write_bytes(b"CDF\x01")
        return SimpleNamespace(file_path=path)

    fake_subset.calls = []  # type: ignore[attr-defined]
    monkeypatch.setattr(copernicusmarine, "subset", fake_subset)
    path = CopernicusMarineSource().download(
        DATASET, output_directory=out_dir, output_filename="ibi.nc",
        bbox=BBox(-10.0, -9.0, 43.0, 44.0), start=dt.date(2022, 2, 6), end=dt.date(2022, 2, 6),
        variables=["zos"],
    )  # fmt: skip
    assert path == out_dir / "ibi.nc" and path.exists()
    (kw,) = fake_subset.calls  # type: ignore[attr-defined]
    assert kw["output_directory"] == out_dir and kw["output_filename"] == "ibi.nc"
    assert kw["dataset_id"] == DATASET and kw["variables"] == ["zos"]
    assert kw["minimum_longitude"] == -10.0 and kw["end_datetime"].date() == dt.date(2022, 2, 6)
    monkeypatch.setattr(copernicusmarine, "subset", Recorder(result=None))
    with pytest.raises(SourceError, match="returned nothing"):
        CopernicusMarineSource().download(DATASET, output_directory=out_dir)


_CHILD = textwrap.dedent(
    """
    import sys
    from glonet_regions.core.errors import SourceError
    from glonet_regions.core.grid import BBox
    from glonet_regions.data.sources.copernicus import CopernicusMarineSource
    try:
        CopernicusMarineSource().open(sys.argv[1], bbox=BBox(-10, -9, 43, 44))
    except SourceError as exc:
        print("SOURCE_ERROR:", exc)
    """
)


def _run_child(env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, DATASET],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def test_real_toolbox_up_to_the_network_boundary(closed_port_url, tmp_path):
    """The real toolbox with fake credentials: every request goes to a closed local port."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _CRED_VARS}
    env.update(
        HOME=str(home),
        HTTPS_PROXY=closed_port_url, HTTP_PROXY=closed_port_url,
        https_proxy=closed_port_url, http_proxy=closed_port_url, NO_PROXY="", no_proxy="",
        COPERNICUSMARINE_SERVICE_USERNAME="someone", COPERNICUSMARINE_SERVICE_PASSWORD="secret",
        COPERNICUSMARINE_HTTPS_RETRIES="0", COPERNICUSMARINE_HTTPS_TIMEOUT="5",
    )  # fmt: skip
    out = _run_child(env)
    assert "SOURCE_ERROR:" in out, out
    assert DATASET in out and "could not reach" in out


def test_real_toolbox_without_credentials(tmp_path):
    """No credentials and no terminal: our check stops before the toolbox would prompt."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _CRED_VARS}
    env["HOME"] = str(home)
    out = _run_child(env)
    assert "SOURCE_ERROR: No Copernicus Marine credentials" in out, out
    assert "copernicusmarine login" in out


@pytest.mark.network
def test_open_a_real_dataset():
    """Needs internet and Copernicus Marine credentials (skipped without them)."""
    if find_credentials() is None:
        pytest.skip("no Copernicus Marine credentials")
    ds = CopernicusMarineSource().open(
        DATASET, bbox=BBox(-10.3, -9.3, 43.6, 44.2), depth_range=(0.0, 1.0),
        start=dt.date(2024, 2, 6), end=dt.date(2024, 2, 7), variables=["thetao"],
    )  # fmt: skip
    assert ds.sizes["time"] == 2
