"""Finding the sample store and the sample's files from what a command was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glonet_regions.core.errors import DataError

__all__ = ["sample_dir_for_store", "sample_info_for_store", "store_from_hints"]


def store_from_hints(
    *,
    store: str | Path | None = None,
    bundle_config: dict[str, Any] | None = None,
    cube_attrs: dict[str, Any] | None = None,
) -> Path:
    """The store to read: ``--store``, else the bundle's ``train_config['store']``, else the
    forecast cube's ``source_store`` attribute.

    Raises:
        DataError: when none is known or the folder does not exist.
    """
    candidates: list[tuple[str, Any]] = [
        ("--store", store),
        ("the checkpoint's train_config['store']", (bundle_config or {}).get("store")),
        ("the forecast's source_store attribute", (cube_attrs or {}).get("source_store")),
    ]
    for what, value in candidates:
        if value:
            path = Path(str(value))
            if not path.exists():
                raise DataError(f"Store {path} (from {what}) does not exist")
            return path
    raise DataError(
        "--sample needs to know the sample store: give --store, or a checkpoint trained with "
        "`finetune --sample`, or a forecast written by `forecast --sample`"
    )


def sample_dir_for_store(store: str | Path) -> Path | None:
    """The sample folder beside a store prepared with ``--sample`` (``STORE.sample``)."""
    p = Path(store)
    cand = p.parent / f"{p.name}.sample"
    return cand if (cand / "sample_manifest.json").is_file() else None


def sample_info_for_store(store: str | Path) -> Any | None:
    """The :class:`SampleInfo` of the sample a store was prepared from, if it lies beside it."""
    folder = sample_dir_for_store(store)
    if folder is None:
        return None
    from glonet_regions.sample.generate import SampleInfo

    return SampleInfo.load(folder)
