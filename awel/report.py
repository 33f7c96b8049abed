"""One call of a flow, observed: its output or error, the nodes that ran, and timings.

``awel run`` tells a person more than the output: which nodes ran, which a branch skipped,
how long the call took and, for a stream, when its first item came. This module makes one
call and returns that as a :class:`RunReport`. Errors are returned in the report rather
than raised, so the nodes that ran before a failure are still known.

    >>> report = await call_with_report(dag.output_node, {"name": "Alice"})  # doctest: +SKIP
    >>> report.result, report.ran, report.skipped  # doctest: +SKIP
    ('Hello, Alice', ['trigger', 'greet'], [])

A plain call keeps its context by passing one to :meth:`awel.runner.Plan.call`; a
streaming call exposes its own (:attr:`awel.StreamCall.context`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .context import SKIP_DATA, DAGContext
from .operators import BaseOperator
from .runner import Plan, plan_for
from .stream import is_stream

__all__ = ["ItemCallback", "RunReport", "call_with_report", "stream_with_report"]

#: Called with each streamed item and its position, as it arrives.
ItemCallback = Callable[[int, Any], None]


@dataclass
class RunReport:
    """What one call did: its output or error, which nodes ran, and for how long."""

    flow: str
    #: The call iterated the output as a stream (:func:`stream_with_report`).
    streamed: bool = False
    #: The output; a stream output of a plain call is read to the end into a list.
    result: Any = None
    error: Exception | None = None
    #: Labels of the nodes that produced an output, in plan order.
    ran: list[str] = field(default_factory=list)
    #: Labels of the nodes a branch skipped.
    skipped: list[str] = field(default_factory=list)
    items: int = 0
    elapsed_ms: float = 0.0
    first_item_ms: float | None = None

    def _finish(self, started: float, ctx: DAGContext | None) -> RunReport:
        self.elapsed_ms = (time.perf_counter() - started) * 1000
        if ctx is not None:
            for label, value in ctx.outputs.items():
                (self.skipped if value is SKIP_DATA else self.ran).append(label)
        return self

    def summary(self) -> dict[str, Any]:
        """Timings and nodes as plain data (for JSON)."""
        out: dict[str, Any] = {"elapsed_ms": round(self.elapsed_ms, 3)}
        if self.first_item_ms is not None:
            out["first_item_ms"] = round(self.first_item_ms, 3)
        return out | {"ran": self.ran, "skipped": self.skipped}


async def call_with_report(
    target: BaseOperator, data: Any, *, timeout: float | None = None
) -> RunReport:
    """Call the flow up to ``target`` once, as ``await target.call(data)`` would."""
    flow = target.dag.dag_id if target.dag else "?"
    report = RunReport(flow)
    started = time.perf_counter()
    ctx: DAGContext | None = None
    try:
        plan = plan_for(target, data)
        ctx = plan.new_context(None, False)
        report.result = await _call(plan, ctx, data, timeout)
    except Exception as exc:
        report.error = exc
    return report._finish(started, ctx)


async def stream_with_report(
    target: BaseOperator,
    data: Any,
    on_item: ItemCallback,
    *,
    timeout: float | None = None,
) -> RunReport:
    """Iterate ``target.call_stream(data)``, handing each item to ``on_item`` at once."""
    flow = target.dag.dag_id if target.dag else "?"
    report = RunReport(flow, streamed=True)
    started = time.perf_counter()
    call = target.call_stream(data, timeout=timeout)
    try:
        async with contextlib.aclosing(call):
            async for item in call:
                if report.first_item_ms is None:
                    report.first_item_ms = (time.perf_counter() - started) * 1000
                on_item(report.items, item)
                report.items += 1
    except Exception as exc:
        report.error = exc
    return report._finish(started, call.context)


async def _call(plan: Plan, ctx: DAGContext, data: Any, timeout: float | None) -> Any:
    out = await plan.call(data, None, timeout, ctx)
    if not is_stream(out):
        return out
    items: list[Any] = []
    try:
        async for item in out:
            items.append(item)
    except Exception as exc:
        err = plan.stream_error(exc)
        if err is exc:
            raise
        raise err from exc
    return items
