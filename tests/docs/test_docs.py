"""The documentation stays true to the code: every hook documented, the CLI reference current."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

from glonet_regions.registry import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "glonet_regions_spec")
    ]


def test_every_hook_has_a_docstring_and_a_reference_section() -> None:
    text = (DOCS / "reference" / "hooks.md").read_text()
    names = _hook_names()
    assert len(names) >= 8
    for name in names:
        fn = getattr(hookspecs, name)
        assert fn.__doc__ and fn.__doc__.strip(), f"hook {name} has no docstring"
        assert re.search(rf"^## `{name}\(", text, re.M), f"hook {name} missing from hooks.md"


def test_cli_reference_is_generated_from_the_code() -> None:
    # A fresh interpreter: click caches each command's help option on first use, so a command
    # invoked on its own by an earlier test would render "--help" instead of "-h, --help".
    out = subprocess.run(
        [sys.executable, str(DOCS / "gen_cli_reference.py")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    ).stdout
    current = (DOCS / "reference" / "cli.md").read_text()
    assert current == out, "docs/reference/cli.md is out of date: run `make docs-cli`"


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    head = text.split("## What it does")[0]
    assert "make demo" in head and "make test" in head


def test_docs_links_resolve() -> None:
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+\.md)\)", page.read_text()):
            if target.startswith("http"):
                continue
            assert (page.parent / target).exists(), f"{page}: broken link {target}"


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_generated_and_every_key_documented() -> None:
    module = _load("gen_config_reference")
    assert module.undocumented() == [], "FinetuneConfig keys without a description"
    current = (DOCS / "reference" / "config.md").read_text()
    assert current == module.render(), (
        "docs/reference/config.md is out of date: run `make docs-cli`"
    )


def test_readme_region_file_loads(tmp_path: Path) -> None:
    """The "add a region" example of the README is a valid region file."""
    import pytest

    from glonet_regions.registry.facade import Registry

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block, "README has no yaml example"
    (tmp_path / "example.yaml").write_text(block.group(1))
    registry = Registry(extra_region_dirs=[tmp_path])
    if "ibi36" not in registry.region_names():
        pytest.skip(
            "the ibi36 plugin is not installed (pip install -e plugins/glonet-regions-ibi36)"
        )
    region = registry.get_region("gascogne36")
    assert region.grid.shape[0] > 10 and region.open_boundaries.edges == ("west", "north")
