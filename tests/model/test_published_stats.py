"""GLONET's released statistics: reading, the published and depth-order pairings, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glonet_regions.core.errors import AssetError, ValidationError
from glonet_regions.model.published import (
    GROUP_INPUT_LEVEL_DIRS,
    GROUP_LEVEL_DIRS,
    denormalise,
    load_published_stats,
    normalise,
    published_stats_for_channels,
    stats_level_dirs,
)
from glonet_regions.testing.published import release_mean, release_std, write_release_stats


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_release_stats(tmp_path_factory.mktemp("release"))


def test_level_orders_of_the_operational_code() -> None:
    assert stats_level_dirs("intermediate") == (
        "L100", "L150", "L222", "L318", "L380", "L450", "L50", "L540", "L640", "L763",
    )  # fmt: skip
    assert stats_level_dirs("deep") == (
        "L1245", "L1684", "L2225", "L3220", "L3597", "L3992", "L4405", "L4833", "L5274", "L902",
    )  # fmt: skip
    assert stats_level_dirs("deep", "depth") == GROUP_LEVEL_DIRS["deep"]
    assert GROUP_INPUT_LEVEL_DIRS["deep"].count("L4405") == 2
    assert "L4833" not in GROUP_INPUT_LEVEL_DIRS["deep"]


def test_surface_pairing_is_the_same_either_way(release: Path) -> None:
    pub = load_published_stats(release, "surface")
    dep = load_published_stats(release, "surface", "depth")
    expected = [release_mean(v, "L0") for v in ("zos", "thetao", "so", "uo", "vo")]
    np.testing.assert_array_equal(pub.mean, expected)
    np.testing.assert_array_equal(pub.mean, dep.mean)
    assert pub.channels == pub.sources == ("zos@L0", "thetao@L0", "so@L0", "uo@L0", "vo@L0")


@pytest.mark.parametrize("group", ["intermediate", "deep"])
def test_published_pairing_uses_string_order(release: Path, group: str) -> None:
    pub = load_published_stats(release, group)
    dep = load_published_stats(release, group, "depth")
    dirs = GROUP_LEVEL_DIRS[group]  # type: ignore[index]
    strings = sorted(dirs)
    for vi, var in enumerate(("thetao", "so", "uo", "vo")):
        for li in range(10):
            k = vi * 10 + li
            assert dep.mean[k] == release_mean(var, dirs[li])
            assert dep.std[k] == release_std(var, dirs[li])
            assert pub.mean[k] == release_mean(var, strings[li])
            assert pub.std[k] == release_std(var, strings[li])
            assert pub.channels[k] == f"{var}@{dirs[li]}"
            assert pub.sources[k] == f"{var}@{strings[li]}"
    if group == "intermediate":  # the 47 m channel gets the 92 m (L100) statistics
        assert pub.sources[0] == "thetao@L100" and pub.sources[6] == "thetao@L50"
    else:  # the 902 m channel gets 1245 m's, the 5275 m channel gets 902 m's
        assert pub.sources[0] == "thetao@L1245" and pub.sources[9] == "thetao@L902"


def test_store_channels_take_their_published_statistics(release: Path) -> None:
    pub = load_published_stats(release, "intermediate")
    mean, std = published_stats_for_channels(pub, [("so", 1), ("thetao", 7)])
    assert mean[0] == release_mean("so", "L100")  # level 1 (47 m) pairs with L100
    assert mean[1] == release_mean("thetao", "L50")  # level 7 (541 m) pairs with L50
    assert std[1] == release_std("thetao", "L50")
    with pytest.raises(ValidationError, match=r"thetao at GLONET level 15"):
        published_stats_for_channels(pub, [("thetao", 15)])


def test_normalise_round_trip() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5))
    mean, std = np.array([1.0, -2.0, 3.0]), np.array([0.5, 2.0, 4.0])
    z = normalise(x, mean, std)
    np.testing.assert_allclose(z[:, 1], (x[:, 1] + 2.0) / 2.0)
    np.testing.assert_allclose(denormalise(z, mean, std), x)


def test_missing_level_or_variable_is_named(tmp_path: Path) -> None:
    root = write_release_stats(tmp_path / "r", ["deep"])
    (root / "L4833" / "uo_std.npy").unlink()
    with pytest.raises(AssetError, match=r"L4833/uo_std\.npy is missing"):
        load_published_stats(root, "deep")
    for f in (root / "L3220").iterdir():
        f.unlink()
    (root / "L3220").rmdir()
    with pytest.raises(AssetError, match=r"lacks the level folder L3220/"):
        load_published_stats(root, "deep", "depth")
    with pytest.raises(AssetError, match="does not exist"):
        load_published_stats(tmp_path / "nowhere", "surface")
    with pytest.raises(ValidationError, match="pairing"):
        load_published_stats(root, "deep", "alphabetical")


def test_bad_file_is_named(tmp_path: Path) -> None:
    root = write_release_stats(tmp_path / "r", ["surface"])
    (root / "L0" / "so_mean.npy").write_bytes(b"junk")
    with pytest.raises(AssetError, match=r"so_mean\.npy is not a readable"):
        load_published_stats(root, "surface")
    np.save(root / "L0" / "so_mean.npy", np.float64(1.0))
    np.save(root / "L0" / "so_std.npy", np.float64(0.0))
    with pytest.raises(AssetError, match=r"so_std\.npy is 0"):
        load_published_stats(root, "surface")
