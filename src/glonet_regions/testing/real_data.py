"""The real Copernicus Marine sample files for tests: from the cache, the mirror, or origin.

:func:`real_data_dir` returns one folder holding every file of
:data:`~glonet_regions.data.assets.CMEMS_SAMPLES` (the offline mirror when it has them all,
else the asset cache, filled from the mirror or the files' public origins). When a file
cannot be obtained, the folder returned lacks it and :func:`real_data_reason` says why, so a
test can skip with that reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

from glonet_regions.core.errors import AssetError

__all__ = ["IBI_SAMPLE", "GLO12_SAMPLE", "real_data_dir", "real_data_reason"]

IBI_SAMPLE = "ibi_anfc_P1D_5vars_40lev_Finisterre_2022-02-06_07.nc"
GLO12_SAMPLE = "glo12_anfc_uo_vo_P1D_french_coast_2025-02-06_14.nc"


@functools.lru_cache(maxsize=1)
def _resolve() -> tuple[Path, str]:
    from glonet_regions.data.assets import CMEMS_SAMPLES, fetch_cmems_sample, real_data_mirror

    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name in CMEMS_SAMPLES.names:
        try:
            paths[name] = fetch_cmems_sample(name)
        except AssetError as exc:
            problems.append(str(exc))
    if problems:
        return real_data_mirror(), "; ".join(problems)
    parents = {p.parent.resolve() for p in paths.values()}
    if len(parents) == 1:
        return next(iter(paths.values())).parent, ""
    mirror = real_data_mirror()
    for name in paths:  # mixed: gather everything in the cache
        CMEMS_SAMPLES.fetch(name, mirror=mirror if (mirror / name).is_file() else None)
    return CMEMS_SAMPLES.cache_dir, ""


def real_data_dir() -> Path:
    """A folder holding the real sample files (see the module docstring)."""
    return _resolve()[0]


def real_data_reason() -> str:
    """Why some real sample file is missing ("" when all are there)."""
    return _resolve()[1]
