"""What the editor routes share: DB-GPT's app ``Result``, and its failures with HTTP 200.

Like DB-GPT, a failure the client caused (an unknown round, a refused statement) is a
failure envelope with HTTP 200, its ``err_msg`` naming the field: the editor's actions are
wrapped in :func:`enveloped`. A route answering a file is not wrapped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from awel.envelope import result_failed, result_ok
from awel.errors import ApiError
from flows._route import Api

#: The request model of an editor route.
B = TypeVar("B")

api = Api(tags=["Editor"], errors="result")


def enveloped(action: Callable[[B], Awaitable[object]]) -> Callable[[B], Awaitable[dict[str, Any]]]:
    """``action``'s answer in DB-GPT's app Result; its ApiError as a failure envelope."""

    async def run(body: B) -> dict[str, Any]:
        try:
            data = await action(body)
        except ApiError as exc:
            return result_failed(exc.message, exc.err_code or "E000X", host_name=True)
        return result_ok(data, host_name=True)

    run.__name__ = action.__name__
    run.__doc__ = action.__doc__
    return run
