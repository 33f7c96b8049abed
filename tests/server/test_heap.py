"""The server freezes its start-up heap, and lets go of what it drops later."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from operators.cluster.registry import ModelRegistry
from server import heap
from server.cluster import ClusterSettings, _manager
from server.settings import Settings

from .conftest import FLOWS, running


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_refreeze_lets_a_dropped_frozen_cycle_be_collected() -> None:
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    heap.freeze()
    try:
        del cycle
        gc.collect()
        assert alive() is not None  # frozen: a collection does not look at it
        heap.refreeze()
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and the rest is frozen again
    finally:
        gc.unfreeze()


async def test_a_started_app_has_frozen_its_heap(tmp_path: Path) -> None:
    gc.unfreeze()
    async with running(tmp_path, shipped=[FLOWS / "awel_examples" / "hello.py"]) as client:
        assert gc.get_freeze_count() > 0
        resp = await client.get("/api/v1/awel/trigger/examples/hello?name=x")
        assert resp.status == 200


def test_the_worker_manager_refreezes_when_it_drops_a_model(tmp_path: Path) -> None:
    """The domain knows nothing of the heap: the server hands its manager the hook."""
    settings = Settings(data_dir=tmp_path, reload=False)
    manager = _manager(settings, ClusterSettings(), ModelRegistry())
    assert manager.on_model_dropped is heap.refreeze
