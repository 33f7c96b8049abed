"""Schema summaries built in the background, after a datasource is added.

A :class:`SummaryBuilder` holds the builds still running; the server starts one with the
metadata store (:func:`summaries_running`) and closes it before the store closes, which
cancels what is left. Flows reach it through :func:`current_summaries`, as they reach the
store through ``current_store()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from operators.storage import Datasource, MetadataStore, current_store

from .schema import rebuild_summaries

log = logging.getLogger("awel.datasource")


class SummaryBuilder:
    """Builds schema summaries off the request that asked for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def build_later(self, store: MetadataStore, ds: Datasource) -> None:
        """Build ``ds``'s summary in a task; a failure is logged, not raised."""

        async def build() -> None:
            try:
                await rebuild_summaries(store, ds)
            except Exception as exc:
                log.warning("the schema summary of '%s' was not built: %s", ds.db_name, exc)

        task = asyncio.get_running_loop().create_task(build())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A store closed first (a test's, say) must not be written to by a build after.
        store.on_close(self.close)

    async def close(self) -> None:
        """Cancel the builds still running and wait until they have stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def summarise_now(ds: Datasource) -> None:
    """Rebuild ``ds``'s summary and return when it is stored."""
    await rebuild_summaries(current_store(), ds)


# The running builders, most recent last (apps may stop in any order, as stores do).
_running: list[SummaryBuilder] = []


def current_summaries() -> SummaryBuilder:
    """The builder of this process's app; RuntimeError when no app started one."""
    if not _running:
        raise RuntimeError("no summary builder is running (the server starts one)")
    return _running[-1]


@asynccontextmanager
async def summaries_running() -> AsyncIterator[SummaryBuilder]:
    """A builder, current for the block; closed at its end."""
    builder = SummaryBuilder()
    _running.append(builder)
    try:
        yield builder
    finally:
        _running.remove(builder)
        await builder.close()
