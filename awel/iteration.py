"""Per item of a list: ``awel.iterate`` (a list of results) and ``awel.split`` (a stream).

Both run a *sub-chain* on each item, a few items at a time, and keep the results in the
items' order. In a flow file the sub-chain is the ``steps`` parameter: a list of nodes
written as in ``nodes`` (``op`` and ``params``), each feeding the next, the first one fed
the item::

    nodes:
      titles:
        op: awel.iterate
        params:
          concurrency: 4                  # items in flight at once
          steps:
            - {op: awel.format, params: {template: "A title for: {{ input }}"}}
            - {op: llm.chat, params: {max_tokens: 16}}

The steps become a flow of their own, named ``FLOW/NODE`` (``support/titles``), whose nodes
are called ``steps[0]``, ``steps[1]`` ...; it is checked as the file loads, and a bad
parameter in a step is reported on its own line of the file. A step that fails fails the
node, with the step's error (and which item it was) as the cause.

From Python, pass the end node of a flow that takes the item as its input, or an async
function: ``IterateNode(sub_flow_leaf, concurrency=8)``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from . import registry
from .dag import DAG, current_dag
from .errors import AwelError
from .operators import BaseOperator, MapOperator, StreamifyAbsOperator, TriggerOperator, as_async
from .plan import CompiledPlan
from .plan import Step as PlanStep
from .registry import OperatorParams
from .validate import flow_problems

__all__ = ["IterateNode", "SplitNode", "Step", "build_steps"]

Each = Callable[[Any], Awaitable[Any]]


class Step(OperatorParams):
    """One node of a sub-chain, written as a node of ``nodes`` is."""

    op: str = Field(description="A registered operator name, or an import path 'module:Class'.")
    params: dict[str, Any] = Field(default_factory=dict, description="The operator's parameters.")


class _Per(OperatorParams):
    """What awel.iterate and awel.split share."""

    concurrency: int = Field(
        4, ge=1, le=256, description="How many items run through the steps at once."
    )


def build_steps(steps: Sequence[Step], name: str) -> BaseOperator:
    """The sub-chain ``steps`` as a flow named ``name``, item in: its last node.

    Raises :class:`pydantic.ValidationError` whose locations start at ``("steps", i)``, so
    the YAML loader points at the step at fault; a flow that cannot run is reported at
    ``("steps",)``.
    """
    errors: list[InitErrorDetails] = []
    sub = DAG(name)
    end: BaseOperator = TriggerOperator(task_name="item", dag=sub)
    for i, step in enumerate(steps):
        try:
            node = registry.build(step.op, step.params, task_name=f"steps[{i}]", dag=sub)
        except ValidationError as exc:
            for err in exc.errors():
                errors.append(_error(("steps", i, "params", *err["loc"]), err["msg"], err["type"]))
            continue
        except AwelError as exc:
            errors.append(_error(("steps", i, "op"), exc.message))
            continue
        except (TypeError, ValueError) as exc:
            errors.append(_error(("steps", i), f"cannot build {step.op}: {exc}"))
            continue
        end >> node
        end = node
    if not errors:
        problem = _chain_problem(sub, end)
        if problem is not None:
            errors.append(_error(("steps",), problem))
    if errors:
        raise ValidationError.from_exception_data("steps", errors)
    return end


def _chain_problem(sub: DAG, end: BaseOperator) -> str | None:
    """Why the built chain cannot run per item, if it cannot."""
    problems = flow_problems(sub)
    if problems:
        return "; ".join(p.message for p in problems)
    if CompiledPlan(sub, end, entry_stream=False).output_stream:
        return (
            f"the last step ({end.op_name or type(end).__name__}) gives a stream; end the"
            " steps with a value (awel.reduce collects a stream)"
        )
    return None


def _error(loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> InitErrorDetails:
    # The kind is kept so the loader words "missing" and "unknown key" errors as usual.
    return {"type": PydanticCustomError(kind, message), "loc": loc, "input": None}


def _runner(each: BaseOperator | Callable[[Any], Any]) -> Each:
    if isinstance(each, BaseOperator):
        return each.call
    return as_async(each, offload=False)


async def _gather(each: Each, items: Sequence[Any], limit: int) -> list[Any]:
    """``each`` over ``items``, at most ``limit`` at once, results in order; the first
    failure cancels the rest and is raised, noted with its item."""
    results: list[Any] = [None] * len(items)
    pending = iter(enumerate(items))

    async def worker() -> None:
        # Workers share one iterator: each takes the next item when it is free.
        for i, item in pending:
            try:
                results[i] = await each(item)
            except Exception as exc:
                exc.add_note(f"while running item {i} of {len(items)}")
                raise

    if limit == 1 or len(items) <= 1:
        await worker()
        return results
    tasks = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results


async def _ordered(each: Each, items: Sequence[Any], limit: int) -> AsyncGenerator[Any, None]:
    """``each`` over ``items`` as a stream in the items' order, at most ``limit`` running
    (and so at most ``limit`` results held) ahead of the reader."""
    window: collections.deque[asyncio.Future[Any]] = collections.deque()
    upcoming = iter(enumerate(items))

    async def one(i: int, item: Any) -> Any:
        try:
            return await each(item)
        except Exception as exc:
            exc.add_note(f"while running item {i} of {len(items)}")
            raise

    def fill() -> None:
        while len(window) < limit:
            nxt = next(upcoming, None)
            if nxt is None:
                return
            window.append(asyncio.ensure_future(one(*nxt)))

    try:
        fill()
        while window:
            result = await window[0]
            window.popleft()
            fill()
            yield result
    finally:
        # The reader stopped early, or an item failed: nothing keeps running behind it.
        for task in window:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*window, return_exceptions=True)


def _items(value: Any, node: BaseOperator) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"'{node.label}' runs its steps per item of a list, but was given"
            f" {type(value).__name__}; pick the list out first (awel.pick)"
        )
    return value


class IterateNode(MapOperator[list[Any], list[Any]]):
    """``awel.iterate``: runs ``steps`` on every item of a list, a few at once; the results
    in order.

        titles:
          op: awel.iterate
          params: {concurrency: 4, steps: [{op: awel.format, params: {template: "# {{ x }}"}}]}
    """

    class Params(_Per):
        steps: list[Step] = Field(
            min_length=1,
            description="The sub-chain run per item: nodes written as in 'nodes', each"
            " feeding the next, the first fed the item.",
        )

    def __init__(
        self, each: BaseOperator | Callable[[Any], Any], *, concurrency: int = 4, **kwargs: Any
    ) -> None:
        run = _runner(each)
        limit = concurrency

        async def iterate(value: list[Any]) -> list[Any]:
            return await _gather(run, _items(value, self), limit)

        super().__init__(iterate, **kwargs)
        self.each = each
        self.concurrency = concurrency

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> IterateNode:
        end = build_steps(params.steps, _sub_name(kwargs))
        return cls(end, concurrency=params.concurrency, **kwargs)

    def executor_step(self, inputs: Sequence[bool], streams: bool) -> PlanStep:
        # On Ray the items fan out, each a task (or a call to one of the node's actors)
        # running the steps, at most `concurrency` at once, rather than the whole list
        # going to one worker.
        wrap_each = getattr(self.executor, "wrap_each", None)
        if wrap_each is None:
            return super().executor_step(inputs, streams)
        each: Any = self.each
        if self.params is not None and isinstance(self.params.get("steps"), list):
            # Built from a flow file: the workers build the steps again from their params
            # (a built step may hold what does not pickle, a compiled template).
            each = StepsOnWorker(self.params["steps"], _sub_name({"task_name": self.label}))
        run: Each = wrap_each(self, each)
        limit = self.concurrency

        async def iterate(value: list[Any]) -> list[Any]:
            return await _gather(run, _items(value, self), limit)

        return iterate

    def subflows(self) -> list[DAG]:
        return _subflows(self.each)


class SplitNode(StreamifyAbsOperator[list[Any], Any]):
    """``awel.split``: a list as a stream of its items, each run through ``steps`` first if
    given (a few at once, in order).

        rows: {op: awel.split}                          # then maps run per row, lazily
        checked: {op: awel.split, params: {steps: [{op: http.request, params: {...}}]}}
    """

    class Params(_Per):
        steps: list[Step] = Field(
            default_factory=list,
            description="The sub-chain run per item before it is streamed on (none: the"
            " items themselves): nodes written as in 'nodes', each feeding the next.",
        )

    def __init__(
        self,
        each: BaseOperator | Callable[[Any], Any] | None = None,
        *,
        concurrency: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.each = each
        self.concurrency = concurrency
        self._run = None if each is None else _runner(each)

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> SplitNode:
        end = build_steps(params.steps, _sub_name(kwargs)) if params.steps else None
        return cls(end, concurrency=params.concurrency, **kwargs)

    async def streamify(self, input_value: list[Any]) -> AsyncIterator[Any]:
        items = _items(input_value, self)
        if self._run is None:
            for item in items:
                yield item
            return
        async with contextlib.aclosing(_ordered(self._run, items, self.concurrency)) as results:
            async for result in results:
                yield result

    def subflows(self) -> list[DAG]:
        return _subflows(self.each)


class StepsOnWorker:
    """An awel.iterate's steps as shipped to another process: their params, built into a
    flow there at the first item and kept."""

    def __init__(self, steps: list[dict[str, Any]], name: str) -> None:
        self.steps = steps
        self.name = name
        self.leaf: BaseOperator | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"steps": self.steps, "name": self.name, "leaf": None}

    async def __call__(self, item: Any) -> Any:
        if self.leaf is None:
            self.leaf = build_steps([Step.model_validate(s) for s in self.steps], self.name)
        return await self.leaf.call(item)


def _sub_name(node_kwargs: dict[str, Any]) -> str:
    owner = node_kwargs.get("dag") or current_dag()
    flow = owner.dag_id if isinstance(owner, DAG) else "flow"
    return f"{flow}/{node_kwargs.get('task_name') or 'steps'}"


def _subflows(each: object) -> list[DAG]:
    if isinstance(each, BaseOperator) and each.dag is not None:
        return [each.dag]
    return []
