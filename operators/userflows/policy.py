"""What a flow saved through the API may do: import Python by path, or not.

A flow file in the user's folder is written by whoever runs the server, so it may name any
Python function (``op: pkg.mod:Op``, ``fn: pkg.mod:fn``, a trigger's ``request_body``).
A flow sent to the API comes from whoever may call it; deployed, an ``awel.map`` with
``fn: "os:system"`` would run commands for its callers. So the API refuses import paths
unless the server's ``flow_api_code`` setting allows them (:func:`allow_flow_code`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from awel import registry

from .errors import FlowCodeRefused

__all__ = ["allow_flow_code", "check_code", "flow_code_allowed", "loading_callers_flow"]

#: The params that name Python by import path (awel.map & co., a trigger's body model).
_CODE_PARAMS = frozenset({"fn", "request_body"})

_allow_code = False


def allow_flow_code(allowed: bool) -> None:
    """Let flows saved through the API import Python by path (the server's setting)."""
    global _allow_code
    _allow_code = allowed


def flow_code_allowed() -> bool:
    return _allow_code


@contextmanager
def loading_callers_flow() -> Iterator[None]:
    """Load a flow a caller sent inside this block: unless allowed, the engine refuses
    every import path while it loads (:func:`awel.registry.imports_refused`), whichever
    parameter holds it; :func:`check_code` names the usual ones first, before any YAML
    is built, and this catches the rest."""
    if _allow_code:
        yield
        return
    with registry.imports_refused(
        "flows sent to the API may use registered operators only (the server's"
        " flow_api_code setting allows import paths)"
    ):
        yield


def check_code(text: str) -> None:
    """Refuse (:class:`FlowCodeRefused`) a flow that imports Python by path, unless allowed.

    Called before the flow is loaded: loading imports what the paths name."""
    if _allow_code:
        return
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return  # the loader refuses it too, with its line
    places: list[str] = []
    _walk(data, "", places)
    if places:
        raise FlowCodeRefused(places)


def _walk(value: Any, where: str, places: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if (key == "op" or key in _CODE_PARAMS) and isinstance(item, str) and ":" in item:
                places.append(f"{here}: '{item}'")
            else:
                _walk(item, here, places)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", places)
