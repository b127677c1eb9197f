"""GLONET's variables and depth groups: channel counts and order."""

from __future__ import annotations

import pytest

from glonet_regions.core.depth import GLONET_DEPTH_SCHEME, GLONET_LEVELS, DepthGroup, DepthLevels
from glonet_regions.core.errors import ValidationError
from glonet_regions.core.variables import GLONET_VARIABLES, Variable


def test_glonet_groups_have_5_40_40_channels() -> None:
    counts = {g.name: g.n_channels for g in GLONET_DEPTH_SCHEME.groups}
    assert counts == {"surface": 5, "intermediate": 40, "deep": 40}
    assert len(GLONET_LEVELS) == 21
    levels = [i for g in GLONET_DEPTH_SCHEME.groups for i in g.level_indices]
    assert levels == list(range(21))


@pytest.mark.parametrize("group", ["intermediate", "deep"])
def test_channel_order_is_variable_major(group: str) -> None:
    g = GLONET_DEPTH_SCHEME.group(group)
    channels = g.channels()
    for offset, var in zip((0, 10, 20, 30), ("thetao", "so", "uo", "vo")):
        assert [v for v, _ in channels[offset : offset + 10]] == [var] * 10
        assert [li for _, li in channels[offset : offset + 10]] == list(g.level_indices)
    assert g.channel_index("uo", g.level_indices[3]) == 23
    assert g.channel_index("vo", g.level_indices[9]) == 39


def test_surface_channel_order() -> None:
    g = GLONET_DEPTH_SCHEME.group("surface")
    assert [v for v, _ in g.channels()] == ["zos", "thetao", "so", "uo", "vo"]
    assert g.channel_index("zos") == 0
    assert GLONET_VARIABLES.names == ("zos", "thetao", "so", "uo", "vo")


def test_depth_and_variable_validation() -> None:
    with pytest.raises(ValidationError, match="strictly increasing"):
        DepthLevels((1.0, 1.0))
    with pytest.raises(ValidationError, match="has no levels"):
        DepthGroup("g", (), (), ("thetao",))
    with pytest.raises(ValidationError, match=r"Unknown depth group"):
        GLONET_DEPTH_SCHEME.group("abyss")
    with pytest.raises(ValidationError, match="Unknown variable"):
        GLONET_VARIABLES["temp"]
    assert GLONET_VARIABLES["thetao"].matches("votemper")
    assert GLONET_LEVELS.index_of(47.37) == 1
    with pytest.raises(ValidationError):
        Variable("T", "x", "K", 3, (0, 1))
