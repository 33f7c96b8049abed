"""A step a test holds open, to replace a deployed flow while a request runs through it.

Fresh events per test (:func:`reset`): an event waited on is bound to that test's loop."""

from __future__ import annotations

import asyncio

started = asyncio.Event()
release = asyncio.Event()


def reset() -> None:
    global started, release
    started, release = asyncio.Event(), asyncio.Event()
    seen.clear()


async def hold(body: dict[str, str]) -> str:
    started.set()
    await release.wait()
    return f"held {body['user_input']}"


#: What hold_text was given, in order.
seen: list[str] = []


async def hold_text(text: str) -> str:
    """Hold the first call until released; every call answers its text."""
    seen.append(text)
    started.set()
    await release.wait()
    return text
