"""Declarative region files: keys, schema version, references, every field, biscay36."""

from __future__ import annotations

import pytest
from registry_test_helpers import dummy_file_text

from glonet_regions import load_region_file
from glonet_regions.core.errors import ConfigError
from glonet_regions.registry.declarative import FileOrigin, resolve_region_files
from glonet_regions.registry.regionfile import parse_region_file
from glonet_regions.testing import check_region, make_dummy_region


def _write(tmp_path, text: str, name: str = "r.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_file_builds_with_defaults(tmp_path) -> None:
    region = load_region_file(_write(tmp_path, dummy_file_text()))
    assert region.name == "filed" and region.grid.shape == (9, 11)
    assert region.variables.names == ("zos", "thetao", "so", "uo", "vo")
    assert len(region.depth.levels) == 21
    assert region.open_boundaries.provider == "relaxation"
    check_region(region)


def test_unknown_top_level_key_is_rejected_naming_key_and_file(tmp_path) -> None:
    path = _write(tmp_path, dummy_file_text() + "colour: blue\n")
    with pytest.raises(ConfigError, match=r"r\.yaml.*unknown key\(s\) 'colour'"):
        load_region_file(path)


@pytest.mark.parametrize(
    ("override", "where", "key"),
    [
        ({"grid": "grid:\n  versions:\n    - {name: a, lon0: 0, lat0: 40, nlon: 11, nlat: 9, "
                  "shift: 1}"}, r"grid\.versions\[0\]", "shift"),
        ({"open_boundaries": "open_boundaries: {edges: [west], widht: 2}"},
         "open_boundaries", "widht"),
        ({"grid": "grid: {version: []}"}, "grid", "version"),
    ],
)  # fmt: skip
def test_unknown_nested_keys_are_rejected(tmp_path, override, where, key) -> None:
    path = _write(tmp_path, dummy_file_text(**override))
    with pytest.raises(ConfigError, match=rf"r\.yaml \(key {where}\): unknown key\(s\) '{key}'"):
        parse_region_file(path).build()


@pytest.mark.parametrize("version", ["2", "'1'", "true"])
def test_bad_schema_version_is_rejected(tmp_path, version) -> None:
    path = _write(tmp_path, dummy_file_text(schema_version=f"schema_version: {version}"))
    with pytest.raises(ConfigError, match=r"r\.yaml \(key schema_version\): unsupported"):
        load_region_file(path)


def test_missing_schema_version_is_rejected(tmp_path) -> None:
    path = _write(tmp_path, dummy_file_text(schema_version=""))
    with pytest.raises(ConfigError, match=r"missing required key.*'schema_version'"):
        load_region_file(path)


def test_core_validation_errors_name_the_file(tmp_path) -> None:
    path = _write(tmp_path, dummy_file_text(bbox="bbox: [10.0, 0.0, 40.0, 48.0]"))
    with pytest.raises(ConfigError, match=r"r\.yaml \(key bbox\): BBox lon_min"):
        load_region_file(path)
    bad = dummy_file_text(
        splits="splits: {train: [2000-01-01, 2000-12-31], "
        "validation: [2000-06-01, 2001-01-31], test: [2001-07-01, 2001-12-31]}"
    )
    with pytest.raises(ConfigError, match=r"overlap"):
        load_region_file(_write(tmp_path, bad, "s.yaml"))


def test_invalid_yaml_names_the_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_region_file(_write(tmp_path, "name: [unclosed\n", "bad.yaml"))


def test_every_field_is_expressible(tmp_path) -> None:
    text = """
schema_version: 1
name: full
title: Every field
description: All keys at once.
bbox: [0, 10, 40, 48]
resolution_deg: 1/2
grid:
  versions:
    - {name: a, lon0: 0, lat0: 40, nlon: 21, nlat: 17, description: first}
    - {name: b, lon0: 0.25, lat0: 40.25, nlon: 20, nlat: 16, dlon: 1/2, dlat: 0.5,
       tolerance_deg: 1.0e-4}
variables:
  - thetao
  - {name: chl, standard_name: mass_concentration_of_chlorophyll_a_in_sea_water,
     units: mg m-3, ndim: 3, valid_range: [0, 100], aliases: [CHL], long_name: Chlorophyll}
depth:
  levels_m: [0.5, 10, 50]
  groups:
    - {name: all, levels: [0, 1, 2], variables_3d: [thetao, chl]}
native_levels_m: [0.5, 1, 10, 20, 50, 100]
splits:
  train: [2000-01-01, 2000-12-31]
  validation: [2001-01-01, 2001-06-30]
  test: [2001-07-01, 2001-12-31]
open_boundaries: {edges: [west, south], width: 3, provider: strip, source: model,
                  forecast_source: model, regridder: xesmf}
datasets:
  - {key: model, kind: reanalysis, service: local, dataset_id: /data/model.zarr,
     product_id: P, variables: {thetao: temp, chl: CHL}, version: "2024", description: d}
evaluation_box: [1, 9, 41, 47]
subregions:
  - {name: corner, title: A corner, bbox: [0, 3, 40, 43]}
extra: {anything: [1, 2]}
"""
    r = load_region_file(_write(tmp_path, text))
    assert r.resolution_deg == 0.5 and [v.name for v in r.grid_versions] == ["a", "b"]
    assert r.grid_versions[1].tolerance_deg == 1e-4
    assert r.variables.names == ("thetao", "chl") and r.variables["chl"].aliases == ("CHL",)
    assert r.depth.levels.values == (0.5, 10.0, 50.0) and r.depth.group_names == ("all",)
    assert r.native_levels is not None and len(r.native_levels) == 6
    assert r.open_boundaries.to_dict() == {
        "edges": ["west", "south"], "width": 3, "provider": "strip", "source": "model",
        "forecast_source": ["model"], "regridder": "xesmf",
    }  # fmt: skip
    assert r.datasets[0].variables == {"thetao": "temp", "chl": "CHL"}
    assert r.datasets[0].version == "2024"
    assert r.evaluation_box is not None and r.evaluation_box.as_list() == [1, 9, 41, 47]
    assert r.subregions[0].title == "A corner" and r.extra == {"anything": [1, 2]}
    check_region(r)


def test_references_resolve_through_a_mapping(tmp_path) -> None:
    text = dummy_file_text(
        "sub", bbox="bbox: [-16.0, -8.0, 34.0, 42.0]", grid="grid: {from_region: dummy}",
        resolution_deg="",
        open_boundaries="open_boundaries: {edges: [west], width: 1, source: boundary}",
    ) + "datasets_from: dummy\n"  # fmt: skip
    region = load_region_file(_write(tmp_path, text), resolve={"dummy": make_dummy_region()})
    assert region.grid.shape == (5, 5) and region.resolution_deg == 2.0
    with pytest.raises(ConfigError, match=r"grid\.from_region.*'dummy'.*known: other"):
        load_region_file(
            _write(tmp_path, text, "again.yaml"), resolve={"other": make_dummy_region()}
        )


def test_subset_bbox_only_with_from_region(tmp_path) -> None:
    text = dummy_file_text(grid="grid:\n  versions: [{name: a, lon0: 0, lat0: 40, nlon: 11, "
                           "nlat: 9}]\n  subset_bbox: [0, 1, 40, 41]")  # fmt: skip
    with pytest.raises(ConfigError, match=r"subset_bbox.*only allowed with grid.from_region"):
        load_region_file(_write(tmp_path, text))


def test_reference_cycle_is_an_error(tmp_path) -> None:
    a = dummy_file_text("a", grid="grid: {from_region: b}", resolution_deg="")
    b = dummy_file_text("b", grid="grid: {from_region: a}", resolution_deg="")
    files = [FileOrigin(parse_region_file(_write(tmp_path, t, f"{n}.yaml")), "test")
             for n, t in (("a", a), ("b", b))]  # fmt: skip
    with pytest.raises(ConfigError, match=r"cycle: a -> b -> a"):
        resolve_region_files(files, {})


def test_files_resolve_in_dependency_order(tmp_path) -> None:
    child = dummy_file_text("child", grid="grid: {from_region: parent}", resolution_deg="",
                            bbox="bbox: [2.0, 6.0, 42.0, 46.0]")  # fmt: skip
    files = [FileOrigin(parse_region_file(_write(tmp_path, t, f"{n}.yaml")), "test")
             for n, t in (("child", child), ("parent", dummy_file_text("parent")))]  # fmt: skip
    out = resolve_region_files(files, {})
    assert list(out.regions) == ["child", "parent"] and out.skipped == {}
    assert out.regions["child"][0].grid.shape == (5, 5)


def test_ibi36_plugin_folder_holds_biscay36() -> None:
    ibi36 = pytest.importorskip("glonet_regions_ibi36.plugin", reason="ibi36 plugin not installed")
    rf = parse_region_file(ibi36.REGIONS_DIR / "biscay36.yaml")
    assert rf.name == "biscay36" and set(rf.references) == {"ibi36"}


def test_a_reference_without_a_resolver_is_a_clear_error(tmp_path) -> None:
    text = dummy_file_text("sub", grid="grid: {from_region: dummy}", resolution_deg="")
    with pytest.raises(ConfigError, match=r"grid\.from_region.*'dummy'.*no resolver.*resolve="):
        load_region_file(_write(tmp_path, text))


def test_biscay36_is_an_exact_subgrid_of_ibi36() -> None:
    ibi36 = pytest.importorskip("glonet_regions_ibi36.plugin", reason="ibi36 plugin not installed")
    parent = ibi36.load_region()
    region = load_region_file(ibi36.REGIONS_DIR / "biscay36.yaml", resolve={"ibi36": parent})
    assert [v.name for v in region.grid_versions] == ["v1", "v2"]
    for version in region.grid_versions:
        idx = parent.grid_version(version.name).locate(version.grid.lat, version.grid.lon)
        assert idx.stride == (1, 1)
    assert region.grid_version("v1").grid.shape == (199, 325)
    assert region.datasets == parent.datasets
    assert region.open_boundaries.edges == ("west", "north")
    check_region(region)
