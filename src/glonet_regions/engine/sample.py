"""Make the embedded synthetic sample's training store (what ``data prepare --sample`` does)."""

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

    Args:
        region: The region.
        store: Store folder to build (resumed if incomplete, reused if complete).
        sample_dir: Where the sample files go (default ``<store>.sample`` beside the store).
        variant: ``demo`` (every 12th node, 300 days) or ``full``.
        seed: Sample seed.
        log: Progress messages.

    Returns:
        The store path.
    """
    from glonet_regions.data import sample as sample_mod
    from glonet_regions.data.canonical_source import CanonicalSource
    from glonet_regions.data.prepare import prepare_store

    store = Path(store)
    folder = Path(sample_dir) if sample_dir is not None else store.parent / f"{store.name}.sample"
    try:
        info = sample_mod.SampleInfo.load(folder)
        if info.variant != variant or info.seed != seed:
            raise ValueError("another sample variant")
    except Exception:  # no usable sample there yet: generate one
        info = sample_mod.generate_sample(region, folder, variant=variant, seed=seed)  # type: ignore[arg-type]
    description = {
        "sample": {
            "variant": info.variant,
            "seed": info.seed,
            "start": str(info.start),
            "end": str(info.end),
            "description": info.description,
            "note": "synthetic embedded sample (see glonet_regions.data.sample)",
        }
    }
    source = CanonicalSource.from_files(
        region, info.regional_files, info.global_files, description=description
    )
    prepare_store(
        store,
        source,
        region=region,
        splits=info.splits,
        command="glonet-regions finetune --sample",
        log=log,
    )
    return store
