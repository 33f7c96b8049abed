"""The layers import one way: awel <- operators <- flows, and the server on top.

- ``awel/`` (the engine) imports nothing from ``operators/``, ``flows/``, ``server/``.
- ``operators/`` (the domain library) imports ``awel/``, never ``flows/`` or ``server/``.
- ``flows/`` (wiring: one DAG per route) imports ``awel/`` and ``operators/``, never ``server/``.
- ``server/`` imports ``awel/`` and loads flows from their files (it never imports ``flows``);
  it imports ``operators/`` only to start process-wide resources: :data:`SERVER_STARTS`.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("awel", "operators", "flows", "server")

#: The top-level packages each layer must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "awel": frozenset({"operators", "flows", "server"}),
    "operators": frozenset({"flows", "server"}),
    "flows": frozenset({"server"}),
    "server": frozenset({"flows", "operators"}),
}

#: The server modules that start process-wide resources, and the operators modules each may
#: import for that. Anything else the server needs from the domain belongs in ``awel/`` or
#: reaches it through a flow.
SERVER_STARTS: dict[str, frozenset[str]] = {
    # The app opens the metadata store, starts the schema summary builder beside it,
    # applies the datasource sandbox policy and mounts the installed agents at start-up;
    # it installs the stored flow variables as what flows' references resolve to.
    "server/app.py": frozenset(
        {
            "operators.userflows.variables",
            "operators.agents.hub",
            "operators.agents.installs",
            "operators.storage",
            "operators.datasource.sandbox",
            "operators.datasource.summaries",
            "operators.knowledge.current",
            "operators.userflows.policy",
        }
    ),
    # Starts the cluster of this process: the registry, the worker manager, remote models.
    "server/cluster.py": frozenset(
        {
            "operators.cluster.client",
            "operators.cluster.registry",
            "operators.cluster.remote",
            "operators.cluster.state",
            "operators.cluster.worker",
            "operators.models",
        }
    ),
    # Model replicas as Ray actors: the supervisor marks a dead one unhealthy at the
    # controller.
    "server/ray_workers.py": frozenset({"operators.cluster.client"}),
    # Loads and installs the local models of the OpenAI-compatible API, their queues
    # bounded by the settings.
    "server/model_api.py": frozenset({"operators.models", "operators.admission"}),
    # Reads the process's model queues (length, waits, refusals) when /metrics is scraped.
    "server/metrics.py": frozenset({"operators.models", "operators.admission"}),
    # The default model list is the catalogue of models the server can fetch and start;
    # agent signing keys are checked as the settings are read, so a mistyped one stops
    # start-up instead of trusting nothing quietly.
    "server/settings.py": frozenset({"operators.export.sources", "operators.agents.signing"}),
}


def module_files() -> Iterator[Path]:
    for layer in LAYERS:
        yield from sorted((ROOT / layer).rglob("*.py"))


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module the file at ``path`` imports, absolute, with its line."""
    return imports_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT))


def imports_in(source: str, rel: Path) -> list[tuple[int, str]]:
    """Every module ``source`` (the file ``rel`` under the root) imports, in line order."""
    package = list(rel.parent.parts)  # a package's __init__ is in its own package
    found = []
    for node in ast.walk(ast.parse(source, filename=str(rel))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            up = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*up, *([node.module] if node.module else [])])
            if node.module is None:
                # ``from . import x``: each name may be a module of its own.
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return sorted(found)


def _allowed(rel: str, module: str) -> bool:
    allowed = SERVER_STARTS.get(rel, frozenset())
    return any(module == a or module.startswith(a + ".") for a in allowed)


def violations() -> list[str]:
    found = []
    for path in module_files():
        rel = path.relative_to(ROOT).as_posix()
        layer = rel.split("/", 1)[0]
        for line, module in imports_of(path):
            top = module.split(".", 1)[0]
            if top not in FORBIDDEN[layer]:
                continue
            if layer == "server" and top == "operators" and _allowed(rel, module):
                continue
            found.append(f"{rel}:{line} imports {module}")
    return found


def test_every_layer_imports_only_downwards() -> None:
    found = violations()
    assert not found, "imports against the layers (docs/architecture.md):\n" + "\n".join(found)


def test_the_walk_sees_every_kind_of_import() -> None:
    """Relative imports, imports inside functions and TYPE_CHECKING blocks are all found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ..storage import current_store\n"
        "from .. import models\n"
        "if TYPE_CHECKING:\n"
        "    from server.errors import ErrorStyle\n"
        "def f() -> None:\n"
        "    import flows.chat\n"
    )
    assert imports_in(source, Path("operators/chat/probe.py")) == [
        (1, "typing"),
        (2, "operators.storage"),
        (3, "operators.models"),
        (5, "server.errors"),
        (7, "flows.chat"),
    ]


def test_the_server_allow_list_names_real_imports() -> None:
    """An allow-list entry nobody uses any more is dropped, so the list only shrinks."""
    for rel, allowed in SERVER_STARTS.items():
        used = {m for _, m in imports_of(ROOT / rel)}
        for module in allowed:
            assert any(m == module or m.startswith(module + ".") for m in used), (
                f"{rel} no longer imports {module}: drop it from SERVER_STARTS"
            )
