"""Shared pytest setup.

Async tests run through anyio's pytest plugin (``anyio_mode = "auto"`` in pyproject.toml).
The engine schedules fan-out with ``asyncio.TaskGroup``, so they run on asyncio only.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


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


@pytest.fixture(scope="session")
def ray_session_cluster() -> Iterator[object]:
    """A real Ray cluster on 127.0.0.1, started once per session: a head and a second node
    (one CPU each, a small object store). Ray is the optional extra (awel[ray])."""
    from tests.ray_cluster import started

    with started() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ray_cluster(ray_session_cluster: object) -> Iterator[object]:
    """The session's Ray cluster with this process connected as its driver for the module's
    tests (Ray on), disconnected after them."""
    from tests.ray_cluster import connected

    with connected(ray_session_cluster):
        yield ray_session_cluster
