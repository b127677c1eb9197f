"""Copernicus Marine Service datasets through the ``copernicusmarine`` toolbox (v2).

Credentials come from ``COPERNICUSMARINE_SERVICE_USERNAME`` / ``_PASSWORD``, from the
toolbox's credentials file (written by ``copernicusmarine login``: by default
``~/.copernicusmarine/.copernicusmarine-credentials``, or under
``$COPERNICUSMARINE_CREDENTIALS_DIRECTORY``), from ``~/.netrc`` or the legacy motuclient file,
or from the source's options. They are looked for before any call: without them the toolbox
would prompt on a terminal, or silently return ``None`` without one.
"""

from __future__ import annotations

import datetime as dt
import logging
import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glonet_regions.core.errors import SourceError
from glonet_regions.core.grid import BBox
from glonet_regions.core.region import SourceDataset
from glonet_regions.data.sources.base import (
    dataset_id_of,
    rename_to_short_names,
    source_variable_names,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CopernicusMarineSource", "CredentialsInfo", "find_credentials", "LOGIN_HELP"]

log = logging.getLogger(__name__)

LOGIN_HELP = (
    "Copernicus Marine data need a (free) account: run `copernicusmarine login` once, or set "
    "COPERNICUSMARINE_SERVICE_USERNAME and COPERNICUSMARINE_SERVICE_PASSWORD "
    "(register at https://data.marine.copernicus.eu/register)"
)
_CREDENTIALS_FILENAME = ".copernicusmarine-credentials"
_NETRC_HOSTS = ("auth.marine.copernicus.eu", "my.cmems-du.eu", "nrt.cmems-du.eu", "default_host")


@dataclass(frozen=True)
class CredentialsInfo:
    """Where credentials were found; ``username``/``password`` only when we pass them on."""

    origin: str
    username: str | None = None
    password: str | None = None


def _env_pair(user_var: str, pass_var: str) -> tuple[str, str] | None:
    user, password = os.environ.get(user_var), os.environ.get(pass_var)
    return (user, password) if user and password else None


def default_credentials_file() -> Path:
    """The toolbox's default credentials file.

    Honours ``COPERNICUSMARINE_CREDENTIALS_DIRECTORY`` like the toolbox.
    """
    folder = os.environ.get("COPERNICUSMARINE_CREDENTIALS_DIRECTORY")
    base = Path(folder) if folder else Path.home() / ".copernicusmarine"
    return base / _CREDENTIALS_FILENAME


def _netrc_has_host(path: Path) -> bool:
    try:
        parsed = netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError):
        return False
    return any(parsed.authenticators(host) for host in _NETRC_HOSTS)


def find_credentials(
    username: str | None = None,
    password: str | None = None,
    credentials_file: str | os.PathLike[str] | None = None,
) -> CredentialsInfo | None:
    """Look for Copernicus Marine credentials where the toolbox would, without network.

    Order: arguments, environment variables, an explicit credentials file, the default
    credentials file, ``~/.netrc`` (a Copernicus host), ``~/motuclient/motuclient-python.ini``.
    Returns None when none is found.
    """
    if username and password:
        return CredentialsInfo("arguments", username, password)
    for user_var, pass_var in (
        ("COPERNICUSMARINE_SERVICE_USERNAME", "COPERNICUSMARINE_SERVICE_PASSWORD"),
        ("COPERNICUS_MARINE_SERVICE_USERNAME", "COPERNICUS_MARINE_SERVICE_PASSWORD"),
    ):
        pair = _env_pair(user_var, pass_var)
        if pair:
            # Passed on explicitly: the toolbox reads these variables only at import time.
            return CredentialsInfo(f"environment ({user_var})", *pair)
    if os.environ.get("COPERNICUSMARINE_MYOCEAN_AUTH"):
        return CredentialsInfo("environment (COPERNICUSMARINE_MYOCEAN_AUTH)")
    if credentials_file is not None:
        path = Path(credentials_file).expanduser()
        return CredentialsInfo(f"file {path}") if path.is_file() else None
    candidates = [
        default_credentials_file(),
        Path.home() / "motuclient" / "motuclient-python.ini",
    ]
    for path in candidates:
        if path.is_file():
            return CredentialsInfo(f"file {path}")
    netrc_path = Path.home() / ".netrc"
    if netrc_path.is_file() and _netrc_has_host(netrc_path):
        return CredentialsInfo(f"file {netrc_path}")
    return None


def _import_toolbox() -> Any:
    try:
        import copernicusmarine
    except ImportError as exc:
        raise SourceError(
            "The Copernicus Marine source needs the copernicusmarine toolbox: "
            "pip install 'glonet-regions[copernicus]'"
        ) from exc
    return copernicusmarine


def _describe_failure(exc: Exception, dataset_id: str) -> str:
    kind = type(exc).__name__
    text = str(exc).strip() or kind
    if kind == "CouldNotConnectToAuthenticationSystem":
        return (
            f"Copernicus Marine dataset {dataset_id!r}: could not reach the Copernicus Marine "
            "authentication system (no network, a proxy or a firewall?)"
        )
    if kind == "InvalidUsernameOrPassword":
        return (
            f"Copernicus Marine dataset {dataset_id!r}: the credentials were rejected. "
            + LOGIN_HELP
        )
    if kind in ("DatasetNotFound", "DatasetVersionNotFound", "DatasetVersionPartNotFound"):
        return f"Copernicus Marine dataset {dataset_id!r} was not found ({kind}: {text})"
    if kind in ("VariableDoesNotExistInTheDataset", "CoordinatesOutOfDatasetBounds"):
        return f"Copernicus Marine dataset {dataset_id!r}: bad request ({kind}: {text})"
    return (
        f"Copernicus Marine dataset {dataset_id!r} could not be opened "
        f"({kind}: {text}); check the network and the dataset id"
    )


def _datetime_bounds(
    start: dt.date | None, end: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    t0 = dt.datetime.combine(start, dt.time(0, 0)) if start is not None else None
    t1 = dt.datetime.combine(end, dt.time(23, 59, 59)) if end is not None else None
    return t0, t1


class CopernicusMarineSource:
    """Datasets of the Copernicus Marine Service, opened lazily (ARCO zarr) or downloaded.

    Args:
        username: Account name (default: environment or credentials file).
        password: Account password.
        credentials_file: A credentials file (as written by ``copernicusmarine login``).
        dataset_version: Dataset version (overridden by ``SourceDataset.version``).
        service: Toolbox service name (``arco-geo-series``, ``arco-time-series``, ...).
        coordinates_selection_method: Toolbox option (``inside``, ``nearest``, ...).
        **toolbox_options: Further keyword arguments passed to the toolbox unchanged.
    """

    name = "copernicusmarine"

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
        dataset_version: str | None = None,
        service: str | None = None,
        coordinates_selection_method: str = "inside",
        **toolbox_options: Any,
    ) -> None:
        self.username = username
        self.password = password
        self.credentials_file = credentials_file
        self.dataset_version = dataset_version
        self.service = service
        self.coordinates_selection_method = coordinates_selection_method
        self.toolbox_options = dict(toolbox_options)

    # -- helpers -------------------------------------------------------------------------
    def check_credentials(self, dataset_id: str = "") -> CredentialsInfo:
        """The credentials to use, or :class:`SourceError` saying how to log in."""
        found = find_credentials(self.username, self.password, self.credentials_file)
        if found is None:
            what = f" for dataset {dataset_id!r}" if dataset_id else ""
            where = (
                f"the credentials file {self.credentials_file} does not exist"
                if self.credentials_file is not None
                else f"none in the environment, {default_credentials_file()} or ~/.netrc"
            )
            raise SourceError(f"No Copernicus Marine credentials{what} ({where}). {LOGIN_HELP}")
        return found

    def _common_kwargs(
        self,
        dataset: SourceDataset | str,
        *,
        bbox: BBox | None,
        depth_range: tuple[float, float] | None,
        start: dt.date | None,
        end: dt.date | None,
        variables: list[str] | None,
    ) -> dict[str, Any]:
        dataset_id = dataset_id_of(dataset)
        creds = self.check_credentials(dataset_id)
        version = dataset.version if isinstance(dataset, SourceDataset) else None
        kwargs: dict[str, Any] = {
            "dataset_id": dataset_id,
            "dataset_version": version or self.dataset_version,
            "variables": source_variable_names(dataset, variables),
            "coordinates_selection_method": self.coordinates_selection_method,
        }
        if creds.username and creds.password:
            kwargs["username"] = creds.username
            kwargs["password"] = creds.password
        if self.credentials_file is not None:
            kwargs["credentials_file"] = Path(self.credentials_file)
        if self.service is not None:
            kwargs["service"] = self.service
        if bbox is not None:
            kwargs.update(
                minimum_longitude=bbox.lon_min,
                maximum_longitude=bbox.lon_max,
                minimum_latitude=bbox.lat_min,
                maximum_latitude=bbox.lat_max,
            )
        if depth_range is not None:
            lo, hi = sorted(float(v) for v in depth_range)
            kwargs.update(minimum_depth=lo, maximum_depth=hi)
        t0, t1 = _datetime_bounds(start, end)
        if t0 is not None:
            kwargs["start_datetime"] = t0
        if t1 is not None:
            kwargs["end_datetime"] = t1
        kwargs.update(self.toolbox_options)
        return kwargs

    # -- the protocol ----------------------------------------------------------------------
    def open(
        self,
        dataset: SourceDataset | str,
        *,
        bbox: BBox | None = None,
        depth_range: tuple[float, float] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        variables: list[str] | None = None,
    ) -> xr.Dataset:
        """Open a dataset lazily with ``copernicusmarine.open_dataset``, sub-set on the server.

        Raises:
            SourceError: No credentials (with how to log in), credentials rejected, network
                failure or unknown dataset (the message names the dataset id).
        """
        kwargs = self._common_kwargs(
            dataset, bbox=bbox, depth_range=depth_range, start=start, end=end, variables=variables
        )
        dataset_id = kwargs["dataset_id"]
        ds = _call_toolbox("open_dataset", kwargs)
        ds.attrs.setdefault("glonet_source", f"copernicusmarine:{dataset_id}")
        return rename_to_short_names(ds, dataset)

    def download(
        self,
        dataset: SourceDataset | str,
        *,
        output_directory: str | os.PathLike[str],
        output_filename: str | None = None,
        bbox: BBox | None = None,
        depth_range: tuple[float, float] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        variables: list[str] | None = None,
        file_format: str = "netcdf",
        overwrite: bool = False,
    ) -> Path:
        """Download a sub-set to a file with ``copernicusmarine.subset``; returns its path.

        Raises:
            SourceError: As :meth:`open`, and when the toolbox reports no file.
        """
        kwargs = self._common_kwargs(
            dataset, bbox=bbox, depth_range=depth_range, start=start, end=end, variables=variables
        )
        out_dir = Path(output_directory)
        out_dir.mkdir(parents=True, exist_ok=True)
        kwargs.update(
            output_directory=out_dir,
            output_filename=output_filename,
            file_format=file_format,
            overwrite=overwrite,
            disable_progress_bar=True,
        )
        dataset_id = kwargs["dataset_id"]
        response = _call_toolbox("subset", kwargs)
        path = Path(response.file_path)
        if not path.exists() and (out_dir / path.name).exists():
            path = out_dir / path.name
        if not path.exists():
            raise SourceError(
                f"copernicusmarine.subset for dataset {dataset_id!r} reported {path}, "
                "which does not exist"
            )
        return path


def _call_toolbox(function: str, kwargs: dict[str, Any]) -> Any:
    """Call ``copernicusmarine.<function>(**kwargs)``, turning its failures into SourceError.

    The toolbox prints "Abort" and returns None when it wanted to prompt for credentials but
    had no terminal: that silent None becomes an error saying how to log in.
    """
    toolbox = _import_toolbox()
    dataset_id = kwargs["dataset_id"]
    try:
        result = getattr(toolbox, function)(**kwargs)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(_describe_failure(exc, dataset_id)) from exc
    if result is None:
        raise SourceError(
            f"copernicusmarine.{function} returned nothing for dataset {dataset_id!r}: "
            f"it found no usable credentials. {LOGIN_HELP}"
        )
    return result
