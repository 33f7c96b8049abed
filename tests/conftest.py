"""Shared pytest setup.

Async tests run through anyio's pytest plugin (``anyio_mode = "auto"`` in pyproject.toml).
The engine schedules fan-out with ``asyncio.TaskGroup``, so they run on asyncio only.
"""

from __future__ import annotations

import gc
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from awel import registry


def _register_declared_builtins() -> None:
    """Register the engine's built-in operators that ``pyproject.toml`` declares and the
    installed metadata lacks: ``pip install -e .`` (``make install``) records entry points,
    so a working tree that adds a built-in before the next install would not find it by
    name (the registry reads the installed metadata, and its own table only when that has
    no built-ins at all)."""
    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    declared: dict[str, str] = data["project"]["entry-points"]["awel.operators"]
    known = set(registry.names())
    for name, path in declared.items():
        # Only the engine's own: operators/ is another layer, whose tests see to theirs.
        if name not in known and path.startswith("awel."):
            registry.register(name, registry.import_path(path))


_register_declared_builtins()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _unfreeze_the_heap() -> Iterator[None]:
    """Every app a test starts freezes the heap (server.heap); what a frozen test leaves
    behind in reference cycles would never be collected, over hundreds of tests."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
