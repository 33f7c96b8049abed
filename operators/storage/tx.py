"""What the store's repositories share: the transaction they run in, and trying a
transaction again when it lost a race with a concurrent one.

The bottom of the storage package: it imports none of the repositories or the store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["ATTEMPTS", "Transaction", "backoff", "lost_race", "rows_affected"]

#: Opens a session in one transaction: committed on exit, rolled back on any error
#: (:meth:`MetadataStore._tx <operators.storage.store.MetadataStore._tx>`).
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]

#: How often a transaction that lost a race (duplicate key, deadlock) is tried.
ATTEMPTS = 5


def rows_affected(result: object) -> int:
    """The rows an UPDATE or DELETE touched. ``session.execute`` is typed as giving a plain
    ``Result``; for these statements it is a ``CursorResult``, which has ``rowcount``."""
    return int(getattr(result, "rowcount", 0) or 0)


def lost_race(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a transaction losing to a concurrent one, worth trying again."""
    if isinstance(exc, IntegrityError):
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL: lock wait timeout, deadlock
        return True
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):  # PostgreSQL via asyncpg
        return True
    return "database is locked" in str(orig)


async def backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.02 * 2**attempt))
