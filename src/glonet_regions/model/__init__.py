"""The GLONET network, weight import, checkpoints and rollout.

Importing this package is cheap: submodules (and torch) load on first attribute access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glonet_regions.model._lazy import lazy_exports

if TYPE_CHECKING:
    from glonet_regions.model.blocks import resize_pos_embed
    from glonet_regions.model.checkpoint import (
        Checkpoint,
        capture_rng_state,
        load_checkpoint,
        restore_rng_state,
        save_checkpoint,
    )
    from glonet_regions.model.network import Glonet, GlonetConfig, build_glonet, count_parameters
    from glonet_regions.model.published import (
        PUBLISHED_WEIGHTS,
        fetch_published_weights,
        normalisation_assets,
    )
    from glonet_regions.model.rollout import rollout
    from glonet_regions.model.weights import (
        ImportReport,
        describe_torchscript,
        import_state_dict,
        import_torchscript,
    )

_LAZY: dict[str, str] = {
    "resize_pos_embed": "blocks",
    "Checkpoint": "checkpoint",
    "capture_rng_state": "checkpoint",
    "load_checkpoint": "checkpoint",
    "restore_rng_state": "checkpoint",
    "save_checkpoint": "checkpoint",
    "Glonet": "network",
    "GlonetConfig": "network",
    "build_glonet": "network",
    "count_parameters": "network",
    "PUBLISHED_WEIGHTS": "published",
    "fetch_published_weights": "published",
    "normalisation_assets": "published",
    "rollout": "rollout",
    "ImportReport": "weights",
    "describe_torchscript": "weights",
    "import_state_dict": "weights",
    "import_torchscript": "weights",
}

__all__ = [
    "Checkpoint",
    "Glonet",
    "GlonetConfig",
    "ImportReport",
    "PUBLISHED_WEIGHTS",
    "build_glonet",
    "capture_rng_state",
    "count_parameters",
    "describe_torchscript",
    "fetch_published_weights",
    "import_state_dict",
    "import_torchscript",
    "load_checkpoint",
    "normalisation_assets",
    "resize_pos_embed",
    "restore_rng_state",
    "rollout",
    "save_checkpoint",
]


__getattr__, __dir__ = lazy_exports("glonet_regions.model", _LAZY, __all__)
