"""The engine's modules import each other one way only (docs/architecture.md, "Layout").

Read from the source, not from sys.modules: an import hidden inside a function (the old way
of holding a cycle together) counts like one at the top. Imports under ``TYPE_CHECKING``
are annotations only and may point anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import awel

# Bottom first: each module may import only modules listed before it.
ORDER = [
    "envelope",
    "errors",
    "iotypes",
    "stream",
    "context",
    "plan",
    "validate",
    "dag",
    "catalog",
    "variables",
    "runner",
    "operators",
    "registry",
    "executor",
    "trigger",
    "expr_source",
    "sandbox",
    "expressions",
    "builtin",
    "control",
    "shaping",
    "iteration",
    "flow_params",
    "spec_dump",
    "spec",
    "loader",
    "draw",
    "report",
    "describe",
    "cli",
]

# Imports deferred on purpose, to keep start-up cheap (not to break a cycle).
LAZY = {
    ("cli", "spec"),  # `awel schema` only
    ("loader", "spec"),  # YAML files only
}

PACKAGE = Path(awel.__file__).parent


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _awel_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(imported awel module, line) for every import outside ``if TYPE_CHECKING``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                visit(other)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.append((node.module.split(".")[0], node.lineno))
            else:  # `from . import registry`
                found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("awel."):
            found.append(((node.module or "").split(".")[1], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_engine_module_has_a_place_in_the_order() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


def test_imports_point_down_the_order() -> None:
    wrong: list[str] = []
    for name in ORDER:
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        for target, line in _awel_imports(ast.parse(source)):
            if target not in ORDER or (name, target) in LAZY:
                continue  # `from . import __version__` and the like
            if ORDER.index(target) >= ORDER.index(name):
                wrong.append(f"awel/{name}.py:{line} imports awel.{target}")
    assert not wrong, "imports against the engine's module order:\n" + "\n".join(wrong)
