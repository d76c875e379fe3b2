"""Declared dependencies match the imports: what `qa/` imports, a user's install provides.

An import that runs unconditionally (at module level or inside a function) must come from
[project] dependencies or from an extra that `make run` installs (RUN_EXTRAS in the Makefile):
otherwise a user's `make run` or `pip install .` fails the first time that code runs. An import
inside `try: ... except ImportError` is optional by design (it names the extra to install) and
must still be declared somewhere in pyproject.toml. Reads pyproject.toml and the Makefile, so it
stays true as dependencies and extras are added.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from typing import Any

import pytest

from tests.conftest import ROOT

PACKAGE = "qa"
IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


@dataclass(frozen=True)
class Imported:
    """One third-party top-level module imported by a source file."""

    module: str
    line: int
    guarded: bool  # inside `try: ... except ImportError`


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(spec: str) -> tuple[str, list[str]]:
    """The distribution name of a requirement string and the extras it asks for."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", spec)
    assert match, f"unreadable requirement {spec!r}"
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return canonical(match.group(1)), extras


def _handles_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(k, ast.Name) and k.id in IMPORT_ERRORS for k in kinds):
            return True
    return False


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(node: ast.AST) -> list[str]:
    """Absolute module names an import statement names (relative imports are our own)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def third_party_imports(source: str, own: str = PACKAGE) -> list[Imported]:
    """Top-level modules outside the standard library and `own` that the source imports."""
    found: list[Imported] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:  # the body never runs
                visit(branch, guarded)
            return
        if isinstance(node, ast.Try) and _handles_import_error(node):
            for tried in node.body:
                visit(tried, True)
            for rest in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(rest, guarded)
            return
        for name in _imported_names(node):
            top = name.partition(".")[0]
            if top not in sys.stdlib_module_names and top not in (own, "__future__"):
                found.append(Imported(top, getattr(node, "lineno", 0), guarded))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), False)
    return found


@cache
def _pyproject() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def declared(extras: tuple[str, ...]) -> frozenset[str]:
    """Distributions that `pip install .[extras]` asks for directly (self-references followed)."""
    project = _pyproject()
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    names: set[str] = set()
    todo, seen = [None, *extras], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in project["dependencies"] if extra is None else optional.get(extra, []):
            name, wanted = requirement(spec)
            if name == canonical(project["name"]):
                todo.extend(wanted)
            else:
                names.add(name)
    return frozenset(names)


def run_extras() -> tuple[str, ...]:
    """The extras `make run` installs (RUN_EXTRAS in the Makefile)."""
    match = re.search(r"^RUN_EXTRAS\s*:?=\s*(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile no longer defines RUN_EXTRAS"
    return tuple(e.strip() for e in match.group(1).split(",") if e.strip())


def _all_imports() -> list[tuple[str, Imported]]:
    return [
        (str(path.relative_to(ROOT)), imported)
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        for imported in third_party_imports(path.read_text(encoding="utf-8"))
    ]


@cache
def _distributions() -> dict[str, list[str]]:
    return dict(packages_distributions())  # scans every installed distribution: once


def _owners(module: str) -> set[str]:
    return {canonical(d) for d in _distributions().get(module, [])}


PARSED = [
    ("import numpy as np", [("numpy", False)]),
    ("import numpy.typing as npt\nfrom os import path", [("numpy", False)]),
    ("from fastapi.responses import JSONResponse", [("fastapi", False)]),
    ("from . import sibling\nfrom .x import y\nimport qa.config\nfrom qa import cli", []),
    ("from __future__ import annotations\nimport json, re", []),
    ("def f():\n    import torch\n    return torch", [("torch", False)]),
    ("class C:\n    def m(self):\n        from bidi import get_display", [("bidi", False)]),
    ("try:\n    import pymilvus\nexcept ImportError:\n    pymilvus = None", [("pymilvus", True)]),
    ("try:\n    import a\nexcept (ValueError, ModuleNotFoundError):\n    pass", [("a", True)]),
    ("try:\n    import a\nexcept ValueError:\n    import b", [("a", False), ("b", False)]),
    ("try:\n    import a\nexcept ImportError:\n    import b", [("a", True), ("b", False)]),
    ("if TYPE_CHECKING:\n    import pandas\nelse:\n    import polars", [("polars", False)]),
    ("import typing\nif typing.TYPE_CHECKING:\n    import pandas", []),
]


@pytest.mark.parametrize(("source", "expected"), PARSED)
def test_third_party_imports_sees_lazy_and_guarded_imports(
    source: str, expected: list[tuple[str, bool]]
) -> None:
    assert [(i.module, i.guarded) for i in third_party_imports(source)] == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("torch==2.13.0", ("torch", [])),
        ("python_bidi>=0.6", ("python-bidi", [])),
        ("qa[st, milvus]", ("qa", ["st", "milvus"])),
        ("Foo.Bar[x] ; python_version < '3.12'", ("foo-bar", ["x"])),
    ],
)
def test_requirement_names(spec: str, expected: tuple[str, list[str]]) -> None:
    assert requirement(spec) == expected


def test_every_import_that_always_runs_comes_with_make_run() -> None:
    provided = declared(run_extras())
    missing = [
        f"{path}:{i.line}: {i.module} ({', '.join(sorted(_owners(i.module))) or 'not installed'})"
        for path, i in _all_imports()
        if not i.guarded and not _owners(i.module) & provided
    ]
    assert not missing, (
        f"imported by qa/ but not in [project] dependencies or the extras `make run` installs "
        f"({', '.join(run_extras())}); declare them, or guard an optional import with "
        f"`except ImportError` naming its extra:\n" + "\n".join(missing)
    )


def test_every_optional_import_is_declared() -> None:
    project = _pyproject()
    everything = declared(tuple(project.get("optional-dependencies", {})))
    missing = [
        f"{path}:{i.line}: {i.module}"
        for path, i in _all_imports()
        if i.guarded and not _owners(i.module) & everything
    ]
    assert not missing, "optional imports no extra declares:\n" + "\n".join(missing)


def test_the_docker_image_installs_what_make_run_does() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r'pip install "\.\[([^\]]*)\]"', dockerfile)
    assert match, "the Dockerfile's install line changed shape"
    assert set(run_extras()) <= {e.strip() for e in match.group(1).split(",")}
