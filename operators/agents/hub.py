"""STUB until the hub helper's module lands (the lead keeps theirs at merge): the hub's
package folder of an entry. This tree has no hub index, so every name is unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import UnknownAgent

__all__ = ["hub_package"]


async def hub_package(store: Any, name: str) -> Path:
    """The local folder of the hub entry ``name``; :class:`UnknownAgent` when none."""
    raise UnknownAgent(name)
