"""A step a test holds open, to uninstall an agent while a request runs through it."""

from __future__ import annotations

import asyncio

started = asyncio.Event()
release = asyncio.Event()


async def hold(body: dict[str, str]) -> str:
    started.set()
    await release.wait()
    return f"held {body['user_input']}"
