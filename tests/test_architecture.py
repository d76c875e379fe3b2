"""The package's import graph: dependencies point inward and no import cycle exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qa"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_imports(path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every module this file imports anywhere, lazy imports included.

    `from package import name` imports the module `package.name` when there is one (among
    `modules`), else the package itself.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each qa module and the qa modules it imports anywhere (lazy imports too)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = frozenset(paths)
    return {name: _all_imports(path, modules) & modules for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize(
    ("graph", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a"}}, True),
        ({"a": set(), "b": {"a"}, "c": {"a", "b"}}, False),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(graph) is not None) == cyclic


def test_the_package_has_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_embedder_protocol_imports_no_backend() -> None:
    imported = _all_imports(PACKAGE / "embed" / "base.py")
    assert not {m for m in imported if m.startswith("qa.embed.")}


OUTER = ("qa.api", "qa.cli", "qa.eval_cli", "qa.wiring", "qa.mcp", "qa.reader.cli")


@pytest.mark.parametrize("framework", ["fastapi", "starlette", "typer", "uvicorn"])
def test_the_core_never_imports_the_outer_frameworks(framework: str) -> None:
    offenders = [
        _module_name(path)
        for path in PACKAGE.rglob("*.py")
        if not _module_name(path).startswith(OUTER)
        and any(m.split(".")[0] == framework for m in _all_imports(path))
    ]
    assert offenders == []
