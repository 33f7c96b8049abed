"""The engine's tests: the built-in operators ``pyproject.toml`` declares, registered in this
process when the installed metadata predates them.

``pip install -e .`` (``make install``) records the entry points; a working tree that adds a
built-in operator before the next install would otherwise not find it by name (the registry
reads the installed metadata, and falls back to its own table only when that has none).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from awel import registry

ROOT = Path(__file__).resolve().parents[2]


def _register_declared_builtins() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared: dict[str, str] = data["project"]["entry-points"]["awel.operators"]
    known = set(registry.names())
    for name, path in declared.items():
        # Only the engine's own: operators/ is another layer, tested elsewhere.
        if name not in known and path.startswith("awel."):
            registry.register(name, registry.import_path(path))


_register_declared_builtins()
