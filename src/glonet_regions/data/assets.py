"""Downloadable assets (weights, statistics, masks): one pooch registry per plugin.

Each registry holds one ``pooch.Pooch`` made once with ``pooch.create`` (the GLONET release's
is :data:`GLONET_POOCH`, whose ``env`` variable ``GLONET_REGIONS_GLONET_DIR`` points at a local
release folder); its registry text file lives in ``glonet_regions/data/registry/`` and
``fetch_*`` helpers (:func:`fetch_cmems_sample`,
:func:`glonet_regions.model.published.fetch_published_weights`, ``fetch_published_stats``)
return local paths.

An :class:`AssetRegistry` maps file names to their sha256 hashes and a base URL. Files are
downloaded once into ``$GLONET_REGIONS_CACHE/assets/<registry name>/`` (default
``~/.cache/glonet-regions/assets/<registry name>/``), checked against their hash, and served
from the cache afterwards without touching the network.

Offline mode (``offline=True`` or the environment variable ``GLONET_REGIONS_OFFLINE=1``)
never opens a connection: a cached file is hash-checked and returned, a missing one raises
:class:`~glonet_regions.core.errors.AssetError` saying where to put it.

Unknown hashes (``-`` or ``None`` in a registry) are allowed in the registry, but such a file
is only downloaded or served when the caller passes ``allow_unverified=True``. To pin a hash,
compute it on a trusted copy (``sha256sum FILE`` or :func:`file_sha256`), then either

- add it to the registry text file (one ``name sha256`` per line), or
- write the same line into ``<cache>/assets/<registry name>/pinned.txt`` (user pins, read at
  each fetch; they fill unknown hashes only), e.g. with ``registry.pin(name, sha, save=True)``,
- or call :meth:`AssetRegistry.pin` for the current process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glonet_regions.core.errors import AssetError

__all__ = [
    "CMEMS_SAMPLES",
    "CMEMS_SAMPLE_URLS",
    "GLONET_ASSETS",
    "GLONET_ASSETS_BASE_URL",
    "GLONET_ASSETS_DIR_ENV",
    "GLONET_POOCH",
    "GLONET_ASSETS_REGISTRY_FILE",
    "OFFLINE_ENV",
    "REAL_DATA_ENV",
    "AssetRegistry",
    "fetch_cmems_sample",
    "file_sha256",
    "is_offline",
    "read_registry_file",
    "real_data_mirror",
]

log = logging.getLogger(__name__)

OFFLINE_ENV = "GLONET_REGIONS_OFFLINE"
"""Environment variable that switches every registry to offline mode when set to 1/true/yes."""

_UNKNOWN_HASHES = {"-", "none", "null", ""}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "true", "yes", "on"}


def is_offline(offline: bool | None = None) -> bool:
    """The offline switch: the argument if given, else ``$GLONET_REGIONS_OFFLINE``."""
    if offline is not None:
        return bool(offline)
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE


def file_sha256(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """The sha256 hex digest of a file (what a registry line pins)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _normalise_hash(value: str | None, *, name: str, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in _UNKNOWN_HASHES:
        return None
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:") :]
    text = text.lower()
    if not _HEX64.match(text):
        raise AssetError(
            f"Asset {name!r} in {where}: hash {value!r} is not a sha256 hex digest "
            "(64 hex characters, optionally prefixed 'sha256:'), nor '-' for unknown"
        )
    return text


def read_registry_file(path: str | os.PathLike[str]) -> dict[str, str | None]:
    """Read a registry text file: one ``name sha256`` per line.

    ``#`` starts a comment; ``-`` (or ``None``) stands for a hash not yet known.

    Raises:
        AssetError: The file is missing or a line is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssetError(f"Cannot read asset registry file {path}: {exc}") from None
    out: dict[str, str | None] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise AssetError(
                f"{path}:{lineno}: expected 'name sha256' (or 'name -'), got {raw.strip()!r}"
            )
        name, value = parts
        if name in out:
            raise AssetError(f"{path}:{lineno}: asset {name!r} is listed twice")
        out[name] = _normalise_hash(value, name=name, where=f"{path}:{lineno}")
    return out


def _default_cache_root() -> Path:
    import pooch

    return Path(pooch.os_cache("glonet-regions"))


class AssetRegistry:
    """Names and sha256 hashes of downloadable files served from one base URL.

    Args:
        name: Registry name (a plugin name); the cache folder is ``<cache>/assets/<name>``.
        base_url: URL the file names are appended to (a trailing ``/`` is added if missing).
        registry: ``{file name: sha256 or None}`` or the path of a registry text file.
        urls: Per-file URLs overriding ``base_url + name``.
        env_cache: Environment variable naming the cache root
            (default ``GLONET_REGIONS_CACHE``; unset: ``~/.cache/glonet-regions``).
        fetcher: A ``pooch.Pooch`` made once by ``pooch.create`` for this registry; made
            here when omitted.
        env_dir: The ``env`` variable given to ``pooch.create``: when set, it names this
            registry's folder (instead of ``<cache root>/assets/<name>``).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        registry: Mapping[str, str | None] | str | os.PathLike[str],
        urls: Mapping[str, str] | None = None,
        env_cache: str = "GLONET_REGIONS_CACHE",
        fetcher: Any = None,
        env_dir: str | None = None,
    ) -> None:
        if not name or "/" in name or name.startswith("."):
            raise AssetError(f"Asset registry name {name!r} must be a plain folder name")
        self.name = name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.env_cache = env_cache
        if isinstance(registry, Mapping):
            self._hashes: dict[str, str | None] = {
                str(k): _normalise_hash(v, name=str(k), where=f"registry {name!r}")
                for k, v in registry.items()
            }
            self.registry_file: Path | None = None
        else:
            self.registry_file = Path(registry)
            self._hashes = read_registry_file(self.registry_file)
        self.urls = dict(urls or {})
        unknown_urls = sorted(set(self.urls) - set(self._hashes))
        if unknown_urls:
            raise AssetError(
                f"Asset registry {name!r}: URLs given for names not in the registry: {unknown_urls}"
            )
        self.env_dir = env_dir
        self.fetcher = (
            fetcher if fetcher is not None else _make_pooch(self.cache_dir, base_url, env_dir)
        )

    # -- description ---------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"AssetRegistry({self.name!r}, {self.base_url!r}, {len(self._hashes)} files)"

    def __contains__(self, name: object) -> bool:
        return name in self._hashes

    @property
    def names(self) -> tuple[str, ...]:
        """The registered file names, sorted."""
        return tuple(sorted(self._hashes))

    @property
    def cache_dir(self) -> Path:
        """The cache folder (resolved at each call): the fetcher's ``env`` variable if set,
        else ``$GLONET_REGIONS_CACHE/assets/<name>``."""
        env = getattr(self, "env_dir", None)
        if env and os.environ.get(env):
            return Path(os.environ[env]).expanduser()
        root = os.environ.get(self.env_cache)
        base = Path(root).expanduser() if root else _default_cache_root()
        return base / "assets" / self.name

    def _check_name(self, name: str) -> None:
        if name not in self._hashes:
            import difflib

            close = difflib.get_close_matches(name, self.names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            listed = (
                ", ".join(self.names)
                if len(self._hashes) <= 30
                else (", ".join(self.names[:30]) + f", ... ({len(self._hashes)} in all)")
            )
            raise AssetError(
                f"Unknown asset {name!r} in registry {self.name!r}{hint}; "
                f"known: {listed or '(none)'}"
            )

    def url(self, name: str) -> str:
        """The download URL of an asset."""
        self._check_name(name)
        return self.urls.get(name, self.base_url + name)

    def known_hash(self, name: str) -> str | None:
        """The pinned sha256 of an asset (None when not pinned)."""
        self._check_name(name)
        return self._hashes[name]

    def path(self, name: str) -> Path:
        """Where the asset is (or would be) cached."""
        self._check_name(name)
        return self.cache_dir / name

    def is_cached(self, name: str) -> bool:
        """Whether the asset's file is in the cache (its hash is not checked)."""
        return self.path(name).is_file()

    @property
    def pins_file(self) -> Path:
        """The user's pins: ``<cache_dir>/pinned.txt`` (``name sha256`` per line)."""
        return self.cache_dir / "pinned.txt"

    def _user_pins(self) -> dict[str, str | None]:
        return read_registry_file(self.pins_file) if self.pins_file.is_file() else {}

    def pin(self, name: str, sha256: str, *, save: bool = False) -> None:
        """Pin the sha256 of an asset whose hash the registry does not know.

        Args:
            name: The asset.
            sha256: Its sha256 hex digest (computed on a trusted copy).
            save: Also record it in :attr:`pins_file`, so later processes use it.

        Raises:
            AssetError: Unknown name, malformed hash, or a different hash is already pinned.
        """
        self._check_name(name)
        value = _normalise_hash(sha256, name=name, where=f"pin() of {self.name!r}")
        if value is None:
            raise AssetError(f"pin({name!r}): give a sha256 hex digest, not {sha256!r}")
        current = self._hashes[name]
        if current is not None and current != value:
            raise AssetError(
                f"Asset {name!r} of registry {self.name!r} is already pinned to {current}; "
                f"refusing to re-pin it to {value}"
            )
        self._hashes[name] = value
        if save:
            pins = self._user_pins()
            pins[name] = value
            self.pins_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.pins_file.with_suffix(".txt.tmp")
            tmp.write_text("".join(f"{k} {v}\n" for k, v in sorted(pins.items()) if v))
            os.replace(tmp, self.pins_file)

    def resolved_hash(self, name: str) -> str | None:
        """The hash used by :meth:`fetch`: the registry's, else the user's pin, else None."""
        self._check_name(name)
        known = self._hashes[name]
        if known is None:
            known = self._user_pins().get(name)
        return known

    # -- fetching ------------------------------------------------------------------------
    def _how_to_obtain(self, name: str) -> str:
        return (
            f"download {self.url(name)} on a machine with network access and copy it to "
            f"{self.path(name)} (or set ${self.env_cache} to a folder holding "
            f"assets/{self.name}/{name}), or unset ${OFFLINE_ENV} and fetch it online"
        )

    def _unverified_message(self, name: str) -> str:
        where = f" in {self.registry_file}" if self.registry_file else ""
        return (
            f"Asset {name!r} of registry {self.name!r} has no pinned sha256{where}, so it "
            "cannot be verified. Pin it (compute `sha256sum FILE` of a trusted copy and write "
            f"'{name} <sha256>' in the registry file, call .pin({name!r}, '<sha256>', save=True) "
            "or "
            f"write the same line into {self.pins_file}), or pass allow_unverified=True to "
            "accept the file unchecked."
        )

    def fetch(
        self,
        name: str,
        *,
        offline: bool | None = None,
        progress: bool = False,
        allow_unverified: bool = False,
        mirror: str | os.PathLike[str] | None = None,
    ) -> Path:
        """The local path of an asset, downloading and hash-checking it if needed.

        Args:
            name: The file name in the registry.
            offline: Never touch the network (default: ``$GLONET_REGIONS_OFFLINE``).
            progress: Show a download progress bar (tqdm).
            allow_unverified: Accept a file whose sha256 is not pinned (its hash is logged).
            mirror: Another place holding the same files under the same names: a URL (used
                instead of the base URL) or a local folder (copied from, also when offline).

        Raises:
            AssetError: Unknown name; offline and not cached; hash mismatch (nothing is left
                in the cache); unpinned hash without ``allow_unverified``; network or HTTP
                error (the message names the URL).
        """
        known = self.resolved_hash(name)
        target = self.path(name)
        if known is None and not allow_unverified:
            raise AssetError(self._unverified_message(name))

        if mirror is not None and not target.is_file():
            text = os.fspath(mirror)
            if "://" not in text:
                return self._copy_from_folder(name, Path(text), known)
            return self._download(name, known, progress=progress, base_url=text)

        if is_offline(offline):
            if not target.is_file():
                raise AssetError(
                    f"Asset {name!r} of registry {self.name!r} is not in the cache "
                    f"({target}) and offline mode is on; {self._how_to_obtain(name)}"
                )
            if known is not None:
                found = file_sha256(target)
                if found != known:
                    raise AssetError(
                        f"Cached asset {target} fails its hash check (sha256 {found}, expected "
                        f"{known}); delete it and fetch again online, or "
                        f"{self._how_to_obtain(name)}"
                    )
            return target

        return self._download(name, known, progress=progress)

    def _copy_from_folder(self, name: str, folder: Path, known: str | None) -> Path:
        """Copy ``folder/name`` into the cache after checking its hash."""
        import shutil

        src = folder / name
        if not src.is_file():
            raise AssetError(f"Mirror folder {folder} has no {name} (asset of {self.name!r})")
        found = file_sha256(src)
        if known is not None and found != known:
            raise AssetError(
                f"{src} fails its hash check (sha256 {found}, expected {known}); not copied"
            )
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".copy")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
        if known is None:
            log.warning(
                "Asset %s copied from %s is not verified; its sha256 is %s", name, src, found
            )
        return target

    def _download(
        self, name: str, known: str | None, *, progress: bool, base_url: str | None = None
    ) -> Path:
        import requests

        base = self.base_url if base_url is None else base_url.rstrip("/") + "/"
        url = base + name if base_url is not None else self.url(name)
        # The registry's one pooch, pointed at the current cache folder, pin and URL.
        fetcher = self.fetcher
        fetcher.path = self.cache_dir
        fetcher.registry[name] = f"sha256:{known}" if known else None
        fetcher.urls[name] = url
        part = self.cache_dir / (name + ".part")
        try:
            local = Path(
                fetcher.fetch(name, downloader=_HttpDownloader(progress=progress, part=part))
            )
        except requests.exceptions.RequestException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            raise AssetError(
                f"Could not download asset {name!r} of registry {self.name!r} from {url}: "
                f"{what} ({exc})"
            ) from exc
        except ValueError as exc:
            if "hash" not in str(exc).lower():
                raise
            raise AssetError(
                f"Asset {name!r} downloaded from {url} fails its hash check: {exc}. The file "
                "was discarded; nothing was cached. The server's file changed or the pinned "
                "hash is wrong."
            ) from exc
        except OSError as exc:
            raise AssetError(
                f"Could not store asset {name!r} from {url} in {self.cache_dir}: {exc}"
            ) from exc
        if known is None:
            log.warning(
                "Asset %s from %s is not verified (no pinned hash); its sha256 is %s: pin it "
                "in the registry to verify future downloads",
                name,
                url,
                file_sha256(local),
            )
        return local


def _make_pooch(path: Path, base_url: str, env: str | None = None) -> Any:
    import pooch

    return pooch.create(
        path=path, base_url=base_url, registry={}, urls={}, env=env, retry_if_failed=0
    )


class _HttpDownloader:
    """A pooch downloader that streams with requests and always releases its connection."""

    def __init__(
        self,
        *,
        progress: bool = False,
        timeout: float = 60.0,
        chunk_size: int = 1 << 20,
        part: Path | None = None,
    ):
        self.progress = progress
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.part = part

    def __call__(self, url: str, output_file: str, pooch: object) -> None:
        """Download ``url``; with ``part``, resume an interrupted download (HTTP Range)."""
        import shutil

        import requests

        part = self.part or Path(output_file + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with (
            requests.Session() as session,
            session.get(url, stream=True, timeout=self.timeout, headers=headers) as response,
        ):
            if have and response.status_code == 416:  # the part is already complete
                response.close()
            else:
                response.raise_for_status()
                resumed = have > 0 and response.status_code == 206
                if not resumed:
                    have = 0
                length = int(response.headers.get("content-length", 0)) or None
                total = None if length is None else length + have
                bar = None
                if self.progress:
                    from tqdm import tqdm

                    bar = tqdm(
                        total=total,
                        initial=have,
                        unit="B",
                        unit_scale=True,
                        desc=url.rsplit("/", 1)[-1],
                    )
                try:
                    with open(part, "ab" if resumed else "wb") as out:
                        for chunk in response.iter_content(chunk_size=self.chunk_size):
                            out.write(chunk)
                            if bar is not None:
                                bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
        # The complete file goes where pooch checks its hash; the part is then removed.
        shutil.copyfile(part, output_file)
        part.unlink()


GLONET_ASSETS_BASE_URL = (
    "https://minio.dive.edito.eu/project-glonet/public/glonet_1_4_model/20241112/model/"
)
"""Where the published GLONET weights and statistics are served (EDITO object store; the
prefix Mercator's operational inference synchronises, ``model.py`` of its daily forecast)."""

GLONET_ASSETS_REGISTRY_FILE = Path(__file__).with_name("registry") / "glonet_assets.txt"
"""The registry text file of the published GLONET files (package data)."""

GLONET_ASSETS_DIR_ENV = "GLONET_REGIONS_GLONET_DIR"
"""Environment variable naming the folder of the GLONET release (instead of the cache)."""

GLONET_POOCH = _make_pooch(
    _default_cache_root() / "assets" / "glonet", GLONET_ASSETS_BASE_URL, env=GLONET_ASSETS_DIR_ENV
)
"""The one ``pooch.create`` of the published GLONET files (``env``: the release folder)."""

GLONET_ASSETS = AssetRegistry(
    "glonet",
    base_url=GLONET_ASSETS_BASE_URL,
    registry=GLONET_ASSETS_REGISTRY_FILE,
    fetcher=GLONET_POOCH,
    env_dir=GLONET_ASSETS_DIR_ENV,
)
"""The published GLONET files: ``glonet_p{1,2,3}.pt`` and ``L*/<var>_{mean,std}.npy``."""


CMEMS_SAMPLE_URLS = {
    # shom-fr/xoa (Apache-2.0), xoa/data_samples/ibi-argo-7900573.nc: IBI analysis-forecast,
    # 2022-02-06/07 off Cape Finisterre.
    "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc": (
        "https://raw.githubusercontent.com/shom-fr/xoa/"
        "f1ebbc6b94e2c3c3259cc4bcacc2aa2bd00cc124/xoa/data_samples/ibi-argo-7900573.nc"
    ),
    # mercator-ocean/copernicus-marine-toolbox (EUPL-1.2), doc/usage/dataset_french_coast.nc:
    # GLO12 analysis-forecast currents along the French coast.
    "glo12_anfc_uo_vo_P1D_french_coast_2025-02-06_14.nc": (
        "https://raw.githubusercontent.com/mercator-ocean/copernicus-marine-toolbox/"
        "159ab1a28d2771b71ee4e0455ac956bd183a5778/doc/usage/dataset_french_coast.nc"
    ),
}
"""Public origins of the real Copernicus Marine sample files (pinned commits)."""

REAL_DATA_ENV = "GLONET_REGIONS_REAL_DATA"
"""Environment variable naming the offline mirror folder of :data:`CMEMS_SAMPLES`."""

CMEMS_SAMPLES = AssetRegistry(
    "cmems-samples",
    base_url="https://raw.githubusercontent.com/",
    registry=Path(__file__).with_name("registry") / "cmems_samples.txt",
    urls=CMEMS_SAMPLE_URLS,
)
"""Small genuine Copernicus Marine files (tests and examples), hash-pinned."""


def real_data_mirror() -> Path:
    """The offline mirror of :data:`CMEMS_SAMPLES`: ``$GLONET_REGIONS_REAL_DATA`` or
    ``../shared/data/real`` beside the source checkout."""
    env = os.environ.get(REAL_DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "real"


def fetch_cmems_sample(name: str, *, offline: bool | None = None) -> Path:
    """A real Copernicus Marine sample file, hash-checked.

    Order: the asset cache; the offline mirror folder (served in place when its hash
    matches); a download from the file's public origin (unless offline).

    Raises:
        AssetError: Unknown name, or the file is in neither place and cannot be downloaded
            (the message says where it was looked for).
    """
    known = CMEMS_SAMPLES.known_hash(name)
    if CMEMS_SAMPLES.is_cached(name):
        return CMEMS_SAMPLES.fetch(name, offline=True)
    mirrored = real_data_mirror() / name
    if mirrored.is_file() and file_sha256(mirrored) == known:
        return mirrored
    if is_offline(offline):
        raise AssetError(
            f"real sample {name} is neither in the cache ({CMEMS_SAMPLES.path(name)}) nor in the "
            f"offline mirror {real_data_mirror()} (set ${REAL_DATA_ENV}), and offline mode is on"
        )
    try:
        return CMEMS_SAMPLES.fetch(name)
    except AssetError as exc:
        raise AssetError(
            f"real sample {name} is not in the offline mirror {real_data_mirror()} and could "
            f"not be downloaded: {exc}"
        ) from None
