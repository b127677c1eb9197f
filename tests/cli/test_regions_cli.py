"""``glonet-regions regions list|show`` and ``plugins`` (click CliRunner), and a light --help."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from glonet_regions.cli import main
from glonet_regions.registry import facade


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GLONET_REGIONS_PATH", raising=False)
    monkeypatch.delenv("GLONET_REGIONS_BLOCK_PLUGINS", raising=False)
    facade.set_extra_region_dirs(())
    yield
    facade.set_extra_region_dirs(())


REGION_FILE = """\
schema_version: 1
name: clitest
title: CLI test region
bbox: [0.0, 10.0, 40.0, 48.0]
resolution_deg: 1
grid:
  versions:
    - {name: a, lon0: 0.0, lat0: 40.0, nlon: 11, nlat: 9}
splits:
  train: [2000-01-01, 2000-12-31]
  validation: [2001-01-01, 2001-06-30]
  test: [2001-07-01, 2001-12-31]
open_boundaries: {edges: [west], width: 2}
"""


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_shows_a_table_with_a_regions_dir_region(tmp_path) -> None:
    (tmp_path / "clitest.yaml").write_text(REGION_FILE)
    result = _invoke("--regions-dir", str(tmp_path), "regions", "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:2] == ["NAME", "RES"]
    line = next(row for row in result.output.splitlines() if row.startswith("clitest"))
    assert "9 x 11" in line and "--regions-dir" in line


def test_list_json(tmp_path) -> None:
    (tmp_path / "clitest.yaml").write_text(REGION_FILE)
    result = _invoke("--regions-dir", str(tmp_path), "regions", "list", "--json")
    data = json.loads(result.output)
    names = [r["name"] for r in data["regions"]]
    assert "clitest" in names and names == sorted(names)
    item = next(r for r in data["regions"] if r["name"] == "clitest")
    assert item["bbox"] == [0.0, 10.0, 40.0, 48.0] and item["grid_shape"] == [9, 11]


def test_show_json_has_the_documented_keys(tmp_path) -> None:
    (tmp_path / "clitest.yaml").write_text(REGION_FILE)
    result = _invoke("--regions-dir", str(tmp_path), "regions", "show", "clitest", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    keys = ("name", "bbox", "resolution_deg", "variables", "depth_levels_m", "open_boundaries",
            "datasets", "plugin", "grid_versions", "region_file")  # fmt: skip
    for key in keys:
        assert key in data, key
    assert data["bbox"] == [0.0, 10.0, 40.0, 48.0]
    assert [v["name"] for v in data["variables"]] == ["zos", "thetao", "so", "uo", "vo"]
    assert len(data["depth_levels_m"]) == 21
    assert data["open_boundaries"]["edges"] == ["west"]
    assert data["plugin"] == "--regions-dir"


def test_show_human_summary(tmp_path) -> None:
    (tmp_path / "clitest.yaml").write_text(REGION_FILE)
    result = _invoke("--regions-dir", str(tmp_path), "regions", "show", "clitest")
    assert result.exit_code == 0, result.output
    assert "clitest: CLI test region" in result.output
    assert "a: 9 x 11 (lat x lon)" in result.output
    assert "open boundaries: west; width 2, provider relaxation" in result.output


def test_show_unknown_region_exits_1_listing_known_names(tmp_path) -> None:
    (tmp_path / "clitest.yaml").write_text(REGION_FILE)
    result = CliRunner().invoke(
        main, ["--regions-dir", str(tmp_path), "regions", "show", "atlantis"]
    )
    assert result.exit_code == 1
    assert "Unknown region 'atlantis'" in result.output
    assert "clitest" in result.output
    assert "Traceback" not in result.output


def test_broken_region_file_is_a_warning_naming_it(tmp_path) -> None:
    """The other regions stay usable; only asking for the broken one fails."""
    (tmp_path / "broken.yaml").write_text(REGION_FILE + "colour: red\n")
    result = CliRunner().invoke(main, ["--regions-dir", str(tmp_path), "regions", "list"])
    assert result.exit_code == 0, result.output
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1 and "broken.yaml" in warning[0] and "'colour'" in warning[0]
    name = yaml.safe_load(REGION_FILE)["name"]
    result = CliRunner().invoke(main, ["--regions-dir", str(tmp_path), "regions", "show", name])
    assert result.exit_code == 1 and "broken.yaml" in result.stderr


def test_plugins_json_lists_builtins() -> None:
    result = _invoke("plugins", "--json")
    assert result.exit_code == 0, result.output
    infos = {p["name"]: p for p in json.loads(result.output)}
    assert infos["builtin-core"]["distribution"] == "glonet-regions"
    assert infos["builtin-core"]["version"]
    assert "register_sources" in infos["builtin-core"]["hooks"]
    # The core's own region files (glo4) come through the same built-in plugin.
    assert "register_region_paths" in infos["builtin-core"]["hooks"]


def test_plugins_table() -> None:
    result = _invoke("plugins")
    assert result.exit_code == 0
    assert result.output.split()[:4] == ["PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS"]
    assert "builtin-core" in result.output


def test_help_and_regions_list_import_neither_torch_nor_xarray() -> None:
    code = textwrap.dedent(
        """
        import sys
        from click.testing import CliRunner
        from glonet_regions.cli import main
        for args in (["--help"], ["regions", "list"], ["plugins"]):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
        heavy = sorted(m for m in ("torch", "xarray", "copernicusmarine", "matplotlib", "zarr")
                       if m in sys.modules)
        print("HEAVY:" + ",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY:\n" in out.stdout, out.stdout + out.stderr


def test_console_script_help_is_light() -> None:
    code = (
        "import sys, runpy; sys.argv=['glonet-regions', '--help'];\n"
        "try:\n    from glonet_regions.cli import main; main()\n"
        "except SystemExit:\n    pass\n"
        "print('HEAVY:' + ','.join(m for m in ('torch', 'xarray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "regions" in out.stdout and "HEAVY:\n" in out.stdout
