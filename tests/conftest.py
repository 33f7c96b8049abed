"""Shared pytest setup.

Async tests run through anyio's pytest plugin (``anyio_mode = "auto"`` in pyproject.toml).
The engine schedules fan-out with ``asyncio.TaskGroup``, so they run on asyncio only.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
