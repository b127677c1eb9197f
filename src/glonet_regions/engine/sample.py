"""Make the embedded synthetic sample's training store (what ``finetune --sample`` needs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["prepare_sample_store"]


def prepare_sample_store(
    region: Any,
    store: str | Path,
    *,
    sample_dir: str | Path | None = None,
    variant: str = "demo",
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Generate (or reuse) the SYNTHETIC sample of ``region`` and build its store.

    A thin wrapper of :func:`glonet_regions.data.prepare.prepare_sample_store` that records
    ``glonet-regions finetune --sample`` as the store's command.

    Args:
        region: The region.
        store: Store folder to build (resumed if incomplete, reused if complete).
        sample_dir: Where the sample files go (default ``<store>.sample`` beside the store).
        variant: ``demo`` (every 12th node, 400 days) or ``full``.
        seed: Sample seed.
        log: Progress messages.

    Returns:
        The store path.
    """
    from glonet_regions.data.prepare import prepare_sample_store as prepare

    result = prepare(
        region,
        store,
        sample_dir=sample_dir,
        variant=variant,
        seed=seed,
        command="glonet-regions finetune --sample",
        log=log,
    )
    return Path(result.path)
