"""The real ``glonet_p1.pt``'s tensor list (a public printout of the file) against our network.

The manifest (``glonet_regions/model/manifests/glonet_p1.json``) holds every tensor name of the
real file in the file's order, with its shape; a TorchScript archive is built from the manifest
alone (generic modules, not our classes: ``write_torchscript_archive``) and imported strictly.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import torch

from glonet_regions.model.network import build_glonet
from glonet_regions.model.weights import import_torchscript
from glonet_regions.testing.published import write_torchscript_archive


def _manifest() -> dict[str, Any]:
    text = resources.files("glonet_regions.model").joinpath("manifests/glonet_p1.json")
    return json.loads(text.read_text(encoding="utf-8"))


def test_manifest_is_the_real_file_list() -> None:
    manifest = _manifest()
    names = [t["name"] for t in manifest["tensors"]]
    assert len(names) == len(set(names)) == 1033
    assert all(n.startswith("0.") for n in names)
    assert names[0] == "0.jump.maps.enc.0.conv.conv.weight"
    assert names[-1] == "0.mapsback.readout.bias"
    assert sum(t["shape_verified"] for t in manifest["tensors"]) == 285
    assert "ea0efe0" in manifest["source"]["names_and_order"]


def test_manifest_names_and_shapes_are_ours() -> None:
    manifest = _manifest()
    with torch.device("meta"):
        net = build_glonet(5, "full", (672, 1440))
    ours = {k: list(v.shape) for k, v in net.state_dict().items()}
    theirs = {t["name"][2:]: t["shape"] for t in manifest["tensors"]}
    assert theirs == ours
    assert sum(torch.Size(s).numel() for s in theirs.values()) == 132_680_155


@pytest.mark.slow
def test_archive_built_from_manifest_imports_strictly(tmp_path: Path) -> None:
    manifest = _manifest()
    shapes = {t["name"].removeprefix("0."): t["shape"] for t in manifest["tensors"]}
    path = write_torchscript_archive(shapes, tmp_path / "glonet_p1.pt")
    net = build_glonet(5, "full", (672, 1440))
    report = import_torchscript(net, path, strict=True, trust_weights=True)
    assert report.ok and len(report.matched) == 1033 and not report.resized
    assert report.filter_check is not None and report.filter_check.applied
