"""`normalisation` in the fine-tuning configuration: defaults and the published/region guard."""

from __future__ import annotations

import pytest

from glonet_regions.core.errors import ConfigError
from glonet_regions.engine.config import FinetuneConfig


def test_published_weights_default_to_published_statistics() -> None:
    cfg = FinetuneConfig(region="r").resolved()
    assert cfg.init == "published" and cfg.normalisation == "published"
    assert cfg.stats_pairing == "published"
    assert FinetuneConfig(region="r", sample=True).resolved().normalisation == "region"
    assert FinetuneConfig(region="r", init="random").resolved().normalisation == "region"


def test_region_statistics_with_published_weights_need_saying_so() -> None:
    with pytest.raises(ConfigError, match="allow_region_normalisation: true"):
        FinetuneConfig(region="r", normalisation="region").resolved()
    cfg = FinetuneConfig(
        region="r", normalisation="region", allow_region_normalisation=True
    ).resolved()
    assert cfg.normalisation == "region"


def test_bad_values_are_refused_with_the_key() -> None:
    with pytest.raises(ConfigError, match="key normalisation"):
        FinetuneConfig.from_mapping({"normalisation": "global"})
    with pytest.raises(ConfigError, match="key stats_pairing"):
        FinetuneConfig.from_mapping({"stats_pairing": "alphabetical"})
    cfg = FinetuneConfig.from_mapping({"weights_dir": "/w", "trust_weights": True})
    assert cfg.to_dict()["weights_dir"] == "/w" and cfg.to_dict()["trust_weights"] is True


def test_store_levels_map_to_glonet_levels() -> None:
    from types import SimpleNamespace

    from glonet_regions.core.depth import DepthLevels
    from glonet_regions.engine.setup import _glonet_channels
    from glonet_regions.registry.facade import get_region

    region = get_region("ibi36")
    chans = [("zos", None), ("thetao", 0)]
    assert _glonet_channels(chans, region) == [("zos", None), ("thetao", 0)]
    other = SimpleNamespace(depth=SimpleNamespace(levels=DepthLevels((0.494, 10.0))))
    assert _glonet_channels([("so", 0)], other) == [("so", 0)]  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"so at 10.0 m is not one of GLONET's levels"):
        _glonet_channels([("so", 1)], other)  # type: ignore[arg-type]
