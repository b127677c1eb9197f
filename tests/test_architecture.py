"""The house rules of docs/architecture.md, checked on the source: arrows point down, no import
cycle between modules, no module much over 650 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "glonet_regions"
PKG = "glonet_regions"
MAX_LINES = 650

# Which of our packages each package may import ("" is the package root, glonet_regions).
ALLOWED: dict[str, set[str]] = {
    "": {"core", "registry"},
    "core": set(),
    "registry": {"", "core"},
    "sample": {"", "core"},
    "boundary": {"", "core", "registry"},
    "data": {"", "core", "registry", "sample"},
    "model": {"", "core", "registry", "data"},
    "forecast": {"", "core", "registry", "data", "sample", "model", "boundary"},
    "engine": {"", "core", "registry", "data", "sample", "model", "boundary"},
    "evaluation": {"", "core", "registry", "data", "sample", "forecast"},
    "testing": {"", "core", "registry", "data", "sample", "model", "boundary", "forecast"},
    "cli": {
        "",
        "core",
        "registry",
        "data",
        "sample",
        "model",
        "boundary",
        "forecast",
        "engine",
        "evaluation",
        "testing",
    },
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Our modules imported by ``path`` (``from a import b`` counts ``a.b`` when it is one)."""
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST]
    if top_level_only:
        # Module-level statements, including those under if/try, but not TYPE_CHECKING blocks.
        nodes = []
        todo = list(tree.body)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    todo.extend(getattr(node, field, []))
                continue
            if isinstance(node, ast.ExceptHandler):
                todo.extend(node.body)
                continue
            nodes.append(node)
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PKG):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PKG))
    return found


MODULES = _modules()


def test_arrows_point_down() -> None:
    wrong = []
    for name, path in MODULES.items():
        pkg = _package(name)
        allowed = ALLOWED.get(pkg)
        assert allowed is not None, f"package {pkg!r} has no entry in ALLOWED: add its layer"
        for target in _imports(path, top_level_only=False):
            if target not in MODULES:
                continue
            dep = _package(target)
            if dep != pkg and dep not in allowed:
                wrong.append(f"{name} imports {target} ({pkg} -> {dep})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycle_between_modules() -> None:
    graph = {
        name: {t for t in _imports(path, top_level_only=True) if t in MODULES and t != name}
        for name, path in MODULES.items()
    }
    # A module importing a submodule of its own package also runs the package's __init__.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{name} has {n} lines (house limit {MAX_LINES}): split it by job"
