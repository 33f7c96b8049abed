"""The operator kinds, with AWEL's names and semantics.

An operator is defined either by subclassing and implementing its method::

    class Inc(MapOperator[int, int]):
        async def map(self, x: int) -> int:
            return x + 1

or by passing a function (``MapOperator(map_function=fn)``). Sync functions are accepted;
they run in a worker thread so they never block the event loop (pass ``offload=False`` for
cheap pure functions).

Each kind knows, at compile time, what its inputs are (values or streams) and returns a
*step*: the one async callable the runner awaits for it. Keeping the per-call work inside
that callable is what lets a compiled plan run as a tight sequence of awaits.

**Types.** What an operator takes and gives is read from the type arguments of its generic
base, so ``class Ask(MapOperator[str, Answer])`` takes ``str`` and gives ``Answer``;
``Any`` (or no arguments) takes or gives anything. Validation (``awel validate``, a YAML
flow as it loads) refuses an edge whose types certainly cannot meet (:mod:`awel.iotypes`).
What the arguments mean is the kind's (:meth:`BaseOperator.kind_types`):

=========================================  =============================================
``MapOperator[IN, OUT]``                   takes IN, gives OUT (per item on a stream)
``JoinOperator[OUT]``                      gives OUT; each input is checked against the
                                           annotation of the matching ``combine`` argument
``BranchOperator[IN]``                     takes IN, gives what it was given
``ReduceStreamOperator[IN, OUT]``          takes a stream of IN, gives OUT
``StreamifyAbsOperator[IN, OUT]``          takes IN, gives a stream of OUT
``UnstreamifyAbsOperator[IN, OUT]``        takes a stream of IN, gives OUT
``TransformStreamAbsOperator[IN, OUT]``    takes a stream of IN, gives a stream of OUT
``InputOperator[OUT]``, triggers           give OUT (an ``HttpTrigger`` its request body)
=========================================  =============================================

An operator whose types depend on its parameters sets ``self.in_type`` / ``self.out_type``
in ``__init__`` (or in ``from_params``), e.g. ``self.out_type = dict[str, Any] if
params.parse_json else str``; they win over the generic base's arguments.

**Retries and timeouts.** Every operator takes ``retries=N`` (a failing run is tried again up
to N times, waiting 50 ms, 100 ms, 200 ms ... up to 1 s between tries) and ``timeout_s=S``
(a run, or a stream as a whole, that takes longer raises
:class:`~awel.errors.DeadlineExceeded`, code ``run.deadline``; with retries each try has
its own S). Retries need value inputs and a value output: a stream cannot be read twice,
and its first items may already be gone. A node with neither runs its step as it is, so
they cost nothing unless set.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import functools
import inspect
import math
import time
import typing
from abc import abstractmethod
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Generic, TypeVar, overload

import anyio.to_thread

from .context import EMPTY, SKIP_DATA, DAGContext, current_context
from .dag import DAG, DAGNode
from .errors import DAGBuildError, DeadlineExceeded, NodeError, RunError
from .iotypes import FROM_GENERICS, NodeTypes, generic_args

# The plan compiler and the runner read operators only through what BaseOperator declares
# (compile_step, takes_call_data, is_branch ...), so they sit below this module.
# Re-exported (`as`): operators and the server import these from here.
from .plan import KindError as KindError
from .plan import Step as Step
from .plan import identity as identity
from .runner import StreamCall, plan_for
from .stream import STREAM_CLASSES as STREAM_CLASSES
from .stream import is_stream as is_stream

if typing.TYPE_CHECKING:
    from .plan import Executor
    from .variables import VariableBinding

IN = TypeVar("IN")
OUT = TypeVar("OUT")


class OperatorType(enum.StrEnum):
    """The kinds the flow editor and YAML schema know operators by (AWEL's names)."""

    MAP = "map"
    REDUCE = "reduce"
    JOIN = "join"
    BRANCH = "branch"
    INPUT = "input"
    STREAMIFY = "streamify"
    UN_STREAMIFY = "un_streamify"
    TRANSFORM_STREAM = "transform_stream"


def as_async(fn: Callable[..., Any], *, offload: bool = True) -> Step:
    """An async callable running ``fn``: itself if async, else a thread hop (or inline)."""
    if _is_async_callable(fn):
        return fn
    if not offload:

        async def inline(*args: Any) -> Any:
            return fn(*args)

        return inline

    async def threaded(*args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args)

    return threaded


def _is_async_callable(fn: Any) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if getattr(fn, "_awel_async", False):
        return True
    return inspect.iscoroutinefunction(fn) or (
        callable(fn)
        and not inspect.isfunction(fn)
        and inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    )


def _overrides(obj: object, name: str, base: type) -> bool:
    return getattr(type(obj), name, None) is not getattr(base, name, None)


async def _map_items(
    node: BaseOperator, fn: Step, stream: AsyncIterable[Any]
) -> AsyncIterator[Any]:
    async for item in stream:
        # Only the map's own function is this node's failure; an error raised while pulling
        # the next item belongs upstream. The try costs nothing until something raises.
        try:
            out = await fn(item)
        except Exception as exc:
            if isinstance(exc, (NodeError, RunError)):
                raise
            raise node.failure(exc) from exc
        yield out


#: The first wait before a retry, seconds; each further wait doubles, up to RETRY_MAX_WAIT_S.
RETRY_BACKOFF_S = 0.05
RETRY_MAX_WAIT_S = 1.0


class BaseOperator(DAGNode):
    """An executable node. Call the node to run the flow up to it.

    ``await node.call(data)`` returns the node's output; ``async for x in
    node.call_stream(data)`` iterates it (a non-stream output is yielded once).

    ``retries`` and ``timeout_s`` are accepted by every operator (see the module's
    docstring); ``in_type`` / ``out_type`` override the types read from the generic base.
    """

    #: What the node takes and gives, when that depends on its parameters: set in
    #: ``__init__``; by default (FROM_GENERICS) the generic base's type arguments say.
    in_type: Any = FROM_GENERICS
    out_type: Any = FROM_GENERICS
    # Class-level defaults too, for subclasses whose __init__ does not reach this one's.
    retries: int = 0
    timeout_s: float | None = None
    #: The node's ``${...}`` variable references, resolved at each call (set by the YAML
    #: loader; see awel.variables); None for a node whose parameters hold none.
    variables: VariableBinding | None = None
    #: Where the node's call runs when not here (``awel.executor.RayExecutor``); None:
    #: in the caller's process, the plain path.
    executor: Executor | None = None

    operator_type: ClassVar[OperatorType] = OperatorType.MAP
    runnable = True
    #: The node produces a stream.
    streaming_operator: ClassVar[bool] = False
    #: Stream items are deltas rather than cumulative values.
    incremental_output: ClassVar[bool] = False
    #: ``"SSE"`` when stream items are already ``data: ...`` lines.
    output_format: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        task_name: str | None = None,
        dag: DAG | None = None,
        node_id: str | None = None,
        can_skip_in_branch: bool = True,
        retries: int = 0,
        timeout_s: float | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(task_name=task_name, dag=dag, node_id=node_id)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise DAGBuildError(
                f"node '{self.label}': retries is how many times a failing run is tried"
                f" again, 0 or more, not {retries!r}"
            )
        if timeout_s is not None and (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, (int, float))
            or not 0 < timeout_s < math.inf
        ):
            raise DAGBuildError(
                f"node '{self.label}': timeout_s is a number of seconds above 0, not {timeout_s!r}"
            )
        #: Extra tries of a failing run (value inputs and output only).
        self.retries = retries
        #: Seconds a run (or a stream, as a whole) may take; None: no limit of its own.
        self.timeout_s = timeout_s
        if executor is not None:
            self.executor = executor
        #: Compiled plans with this node as target (see awel.runner.plan_for).
        self._plans: Any = None
        #: When False the node runs even if a branch skipped all its inputs.
        self.can_skip_in_branch = can_skip_in_branch
        #: Parameters the node was built from (set by the YAML loader / registry).
        self.params: dict[str, Any] | None = None
        #: The registered name it was built from (``awel.map`` ...), if any.
        self.op_name: str | None = None

    # --- running --------------------------------------------------------------------------

    def call(
        self,
        call_data: Any = EMPTY,
        *,
        share_data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Run the flow up to this node: ``await node.call(data)`` returns its output."""
        # A plain function handing back the plan's coroutine: one coroutine per call, not two.
        # plan_for's cache hit, written out: this is on every request a server answers.
        cache = self._plans
        dag = self.dag
        if cache is not None and dag is not None and cache[0] == dag.version:
            streamed = STREAM_CLASSES.get(type(call_data))
            if streamed is None:
                streamed = is_stream(call_data)
            plan = cache[2 if streamed else 1]
            if plan is not None:
                return plan.call(call_data, share_data, timeout)  # type: ignore[no-any-return]
        return plan_for(self, call_data).call(call_data, share_data, timeout)

    def call_stream(
        self,
        call_data: Any = EMPTY,
        *,
        share_data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> StreamCall:
        """Run the flow up to this node and stream its output.

        ``async for x in node.call_stream(data)`` iterates with errors attributed to the
        node that raised them and cleanup when the loop ends. ``await
        node.call_stream(data)`` returns the node's own iterator after the flow ran, which
        costs nothing per item (DB-GPT's form).
        """
        return StreamCall(plan_for(self, call_data), call_data, share_data, timeout)

    # `call` is a plain function returning a coroutine (one coroutine per call, not two);
    # this marks it as async for as_async(), so `MapOperator(other_flow.call)` is awaited.
    call._awel_async = True  # type: ignore[attr-defined]

    @property
    def current_dag_context(self) -> DAGContext:
        ctx = current_context()
        if ctx is None:
            raise RunError("no flow is running in this task", code="run.no_context")
        return ctx

    async def blocking_func_to_async(self, fn: Callable[..., OUT], *args: Any) -> OUT:
        """Run a blocking function in a worker thread."""
        return await anyio.to_thread.run_sync(fn, *args)

    def failure(self, exc: BaseException) -> NodeError:
        """The error that reports ``exc`` as this node's failure."""
        return NodeError(
            flow=self.dag.dag_id if self.dag else "?",
            node=self.label,
            operator=type(self).__name__,
            cause=exc,
            location=self.location,
        )

    # --- lifecycle hooks ---------------------------------------------------------------------

    async def before_dag_run(self) -> None:
        """Called before a call that includes this node starts."""

    async def after_dag_end(self) -> None:
        """Called when a call that included this node is over (streams consumed too)."""

    # Marked so a plan awaits only the hooks a node overrides (see awel.plan).
    before_dag_run._awel_noop = True  # type: ignore[attr-defined]
    after_dag_end._awel_noop = True  # type: ignore[attr-defined]

    # --- compile-time interface (used by awel.plan) ------------------------------------------

    @property
    def takes_call_data(self) -> bool:
        """A root that reads the call's input (an entry), rather than its own source."""
        return True

    #: Whether the call's input reaches this entry as a value (False), a stream (True), or
    #: either, depending on what each call passes (None).
    entry_kind: ClassVar[bool | None] = None
    #: As an entry, refuse a call made without input data.
    needs_input: ClassVar[bool] = False

    @abstractmethod
    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        """The step to await for this node, and whether it yields a stream.

        ``inputs`` tells, per upstream node (or for an entry, the call data), whether it is
        a stream. Raise :class:`KindError` when the node cannot take them.
        """

    def guard_step(self, step: Step, inputs: Sequence[bool], streams: bool) -> Step:
        """``step`` with this node's ``retries`` and ``timeout_s`` around it.

        The plan calls it only for a node that sets one, so other nodes run their step
        as it is. Raises :class:`KindError` for retries around a stream.
        """
        if self.retries and (streams or any(inputs)):
            what = "gives a stream" if streams else "reads a stream"
            raise KindError(
                f"{what}, so it cannot retry a failing run (a stream is read once); drop"
                " retries here, or set them on the node that makes the value"
            )
        if self.timeout_s is not None:
            step = (
                _stream_deadline(self, step, self.timeout_s)
                if streams
                else _value_deadline(self, step, self.timeout_s)
            )
        if self.retries:
            step = _retried(step, self.retries)
        return step

    def executor_step(self, inputs: Sequence[bool], streams: bool) -> Step:
        """The step that runs this node's call on its ``executor``; the plan calls it only
        for a node that sets one. Nodes that fan out (``awel.iterate``) override it."""
        assert self.executor is not None
        return self.executor.wrap(self, inputs, streams)

    # --- types (see the module docstring) ------------------------------------------------

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        """What the class declares it takes and gives, read from its generic base.

        ``generic`` is the parameterised class a node was made from, when it was made so
        (``MapOperator[int, str](fn)``).
        """
        return NodeTypes()

    def io_types(self) -> NodeTypes:
        """What this node takes and gives: the class's types (or those of the generic it was
        made from), with ``in_type`` / ``out_type`` put in where the node sets them."""
        made_from = self.__dict__.get("__orig_class__")
        return self.kind_types(made_from).with_overrides(self.in_type, self.out_type)


def _deadline_error(node: BaseOperator, timeout_s: float) -> DeadlineExceeded:
    flow = node.dag.dag_id if node.dag else "?"
    where = f"{node.location}: " if node.location is not None else ""
    return DeadlineExceeded(
        f"{where}flow '{flow}', node '{node.label}' ran past its timeout_s of {timeout_s:g}s"
    )


def _value_deadline(node: BaseOperator, step: Step, timeout_s: float) -> Step:
    async def within(*args: Any) -> Any:
        # move_on_after rather than fail_after: a TimeoutError the step raises itself is
        # its own failure, not this limit.
        with anyio.move_on_after(timeout_s):
            return await step(*args)
        raise _deadline_error(node, timeout_s)

    return within


def _stream_deadline(node: BaseOperator, step: Step, timeout_s: float) -> Step:
    async def within(*args: Any) -> AsyncIterator[Any]:
        deadline = time.monotonic() + timeout_s
        with anyio.move_on_after(timeout_s):
            return _items_before(node, await step(*args), deadline, timeout_s)
        raise _deadline_error(node, timeout_s)

    return within


async def _items_before(
    node: BaseOperator, stream: AsyncIterator[Any], deadline: float, timeout_s: float
) -> AsyncIterator[Any]:
    # The limit holds while an item is awaited, not while the consumer holds one: the
    # yield is outside the cancel scope, as an async generator must keep it.
    try:
        while True:
            with anyio.move_on_after(max(deadline - time.monotonic(), 0.0)) as scope:
                try:
                    item = await stream.__anext__()
                except StopAsyncIteration:
                    return
            if scope.cancelled_caught:
                raise _deadline_error(node, timeout_s)
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _retried(step: Step, retries: int) -> Step:
    async def again(*args: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await step(*args)
            except Exception:
                # Cancellation is a BaseException: a cancelled call is never retried.
                if attempt >= retries:
                    raise
            await anyio.sleep(min(RETRY_BACKOFF_S * 2**attempt, RETRY_MAX_WAIT_S))
            attempt += 1

    return again


class MapOperator(BaseOperator, Generic[IN, OUT]):
    """One value in, one value out; on a stream, applied to each item lazily."""

    operator_type = OperatorType.MAP

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        takes, gives = generic_args(generic or cls, MapOperator)
        return NodeTypes(takes, gives)

    # Two signatures so type checkers infer OUT from an async function's awaited result as
    # well as from a sync function's return.
    @overload
    def __init__(
        self,
        map_function: Callable[[IN], Awaitable[OUT]],
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None: ...

    @overload
    def __init__(
        self,
        map_function: Callable[[IN], OUT] | None = None,
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None: ...

    def __init__(
        self,
        map_function: Callable[[IN], Any] | None = None,
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.map_function = map_function
        self.offload = offload

    async def map(self, input_value: IN) -> OUT:
        """Override this, or pass ``map_function``."""
        raise NotImplementedError

    def _mapper(self) -> Step:
        if self.map_function is not None:
            return as_async(self.map_function, offload=self.offload)
        if _overrides(self, "map", MapOperator):
            return as_async(self.map, offload=self.offload)
        raise KindError("needs a map_function or a map() method")

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        fn = self._mapper()
        if not inputs[0]:
            return fn, False

        async def over_stream(stream: AsyncIterable[Any]) -> AsyncIterator[Any]:
            return _map_items(self, fn, stream)

        return over_stream, True


class JoinOperator(BaseOperator, Generic[OUT]):
    """Several inputs, one output: ``combine_function(*inputs)`` in upstream order.

    After a branch, a skipped input arrives as ``SKIP_DATA`` (falsy); the join itself is
    skipped only when all its inputs were.
    """

    operator_type = OperatorType.JOIN

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        (gives,) = generic_args(generic or cls, JoinOperator)
        return NodeTypes(gives=gives)

    def io_types(self) -> NodeTypes:
        types = super().io_types()
        if self.in_type is not FROM_GENERICS:
            return types
        fn: Callable[..., Any] | None = self.combine_function
        if fn is None and _overrides(self, "combine", JoinOperator):
            fn = self.combine
        if fn is None:
            return types
        inputs, rest = _positional_types(fn)
        return dataclasses.replace(types, inputs=inputs, takes=rest)

    @overload
    def __init__(
        self,
        combine_function: Callable[..., Awaitable[OUT]],
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None: ...

    @overload
    def __init__(
        self,
        combine_function: Callable[..., OUT] | None = None,
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None: ...

    def __init__(
        self,
        combine_function: Callable[..., Any] | None = None,
        *,
        offload: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.combine_function = combine_function
        self.offload = offload

    async def combine(self, *inputs: Any) -> OUT:
        """Override this, or pass ``combine_function``."""
        raise NotImplementedError

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if not inputs:
            raise KindError("has no input; link nodes into it")
        if len(set(inputs)) > 1:
            raise KindError("mixes stream and value inputs; make them all one or the other")
        if self.combine_function is not None:
            fn = self.combine_function
            streams = inspect.isasyncgenfunction(fn)
        elif _overrides(self, "combine", JoinOperator):
            fn = self.combine
            streams = inspect.isasyncgenfunction(fn)
        else:
            raise KindError("needs a combine_function or a combine() method")
        if streams:

            async def start(*args: Any) -> Any:
                return fn(*args)

            return start, True
        return as_async(fn, offload=self.offload), False


def _positional_types(fn: Callable[..., Any]) -> tuple[tuple[Any, ...], Any]:
    """The annotated types of ``fn``'s positional parameters, and of ``*args`` (the rest).

    What cannot be read (no annotations, a name only a type checker sees) is ``Any``.
    """
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
    except Exception:
        return (), Any
    positional: list[Any] = []
    rest: Any = Any
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional.append(hints.get(param.name, Any))
        elif param.kind is param.VAR_POSITIONAL:
            rest = hints.get(param.name, Any)
    return tuple(positional), rest


def _first_ran(*inputs: Any) -> Any:
    for value in inputs:
        if value is not SKIP_DATA:
            return value
    return None


class BranchJoinOperator(JoinOperator[OUT]):
    """A join for the end of a branch: it runs whichever side ran, by default taking the
    first input that was not skipped."""

    def __init__(self, combine_function: Callable[..., OUT] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("can_skip_in_branch", False)
        fn: Callable[..., Any] = combine_function or _first_ran
        super().__init__(fn, offload=False, **kwargs)


class EitherJoin(BranchJoinOperator[Any]):
    """The end of a branch whose one side streams and the other answers a value: passes on
    whichever ran (``SKIP_DATA`` if neither did). Other joins take inputs of one kind; here
    only one side ever runs, so the kinds never meet."""

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        async def first_ran(*values: Any) -> Any:
            for value in values:
                if value is not SKIP_DATA:
                    return value
            return SKIP_DATA

        return first_ran, any(inputs)


BranchFunc = Callable[[Any], bool | Awaitable[bool]]


class BranchOperator(BaseOperator, Generic[IN]):
    """Passes its input through and chooses which downstream paths run.

    ``branches`` maps a predicate to the downstream node (or its task name) it guards; when
    the predicate is falsy that node is skipped, and so is everything below it that has no
    other input. Nodes not named in ``branches`` always run.
    """

    operator_type = OperatorType.BRANCH
    is_branch = True

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        (takes,) = generic_args(generic or cls, BranchOperator)
        return NodeTypes(takes, passes_through=True)

    def __init__(
        self,
        branches: dict[BranchFunc, BaseOperator | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._branches = branches

    def branch_targets(self) -> list[str]:
        return [t if isinstance(t, str) else t.label for t in (self._branches or {}).values()]

    async def branches(self) -> dict[BranchFunc, BaseOperator | str]:
        """Override to compute the branches; by default those given to the constructor."""
        return dict(self._branches or {})

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        if inputs[0]:
            raise KindError("cannot branch on a stream; reduce or unstreamify it first")

        async def passthrough(value: Any) -> Any:
            return value

        return passthrough, False

    async def choose(self, value: Any) -> set[str]:
        """The labels of the downstream nodes to skip for ``value``."""
        skipped: set[str] = set()
        for predicate, target in (await self.branches()).items():
            ok = predicate(value)
            if inspect.isawaitable(ok):
                ok = await ok
            if not ok:
                skipped.add(target if isinstance(target, str) else target.label)
        return skipped


class ReduceStreamOperator(BaseOperator, Generic[IN, OUT]):
    """A stream in, one value out: ``reduce_function(acc, item)`` folds the items."""

    operator_type = OperatorType.REDUCE
    _NO_INITIAL: ClassVar[Any] = object()

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        takes, gives = generic_args(generic or cls, ReduceStreamOperator)
        return NodeTypes(takes, gives, takes_stream=True)

    def __init__(
        self,
        reduce_function: Callable[[Any, Any], Any] | None = None,
        *,
        initial: Any = _NO_INITIAL,
        offload: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reduce_function = reduce_function
        self.initial = initial
        self.offload = offload

    async def reduce(self, a: Any, b: Any) -> Any:
        """Override this, or pass ``reduce_function``."""
        raise NotImplementedError

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        if not inputs[0]:
            raise KindError("reduces a stream, but its input is a single value")
        if self.reduce_function is not None:
            fn = as_async(self.reduce_function, offload=self.offload)
        elif _overrides(self, "reduce", ReduceStreamOperator):
            fn = as_async(self.reduce, offload=self.offload)
        else:
            raise KindError("needs a reduce_function or a reduce() method")
        initial = self.initial
        missing = ReduceStreamOperator._NO_INITIAL

        # A mutable initial value ([] or {}) is copied per call, or calls would share it.
        fresh = copy.copy if isinstance(initial, (list, dict, set, bytearray)) else None

        async def fold(stream: AsyncIterable[Any]) -> Any:
            acc = initial if fresh is None else fresh(initial)
            async for item in stream:
                acc = item if acc is missing else await fn(acc, item)
            if acc is missing:
                raise ValueError("reduce of an empty stream with no initial value")
            return acc

        return fold, False


class StreamifyAbsOperator(BaseOperator, Generic[IN, OUT]):
    """A value in, a stream out: implement ``async def streamify(self, value)`` as an async
    generator."""

    operator_type = OperatorType.STREAMIFY
    streaming_operator = True

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        takes, gives = generic_args(generic or cls, StreamifyAbsOperator)
        return NodeTypes(takes, gives, gives_stream=True)

    @abstractmethod
    def streamify(self, input_value: IN) -> AsyncIterator[OUT]:
        """Yield the items made from ``input_value``."""

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        if inputs[0]:
            raise KindError("makes a stream from a value, but its input is already a stream")
        make = self.streamify

        async def start(value: Any) -> AsyncIterator[Any]:
            return make(value)

        return start, True


class UnstreamifyAbsOperator(BaseOperator, Generic[IN, OUT]):
    """A stream in, a value out: implement ``async def unstreamify(self, stream)``."""

    operator_type = OperatorType.UN_STREAMIFY

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        takes, gives = generic_args(generic or cls, UnstreamifyAbsOperator)
        return NodeTypes(takes, gives, takes_stream=True)

    @abstractmethod
    async def unstreamify(self, input_stream: AsyncIterator[IN]) -> OUT:
        """Consume the stream and return one value."""

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        if not inputs[0]:
            raise KindError("consumes a stream, but its input is a single value")
        return self.unstreamify, False


class TransformStreamAbsOperator(BaseOperator, Generic[IN, OUT]):
    """A stream in, a stream out: implement ``async def transform_stream(self, stream)`` as
    an async generator."""

    operator_type = OperatorType.TRANSFORM_STREAM
    streaming_operator = True

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        takes, gives = generic_args(generic or cls, TransformStreamAbsOperator)
        return NodeTypes(takes, gives, takes_stream=True, gives_stream=True)

    @abstractmethod
    def transform_stream(self, input_stream: AsyncIterator[IN]) -> AsyncIterator[OUT]:
        """Yield the transformed items."""

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if len(inputs) != 1:
            raise KindError(f"takes exactly one input, but {len(inputs)} nodes feed it")
        if not inputs[0]:
            raise KindError("transforms a stream, but its input is a single value")
        make = self.transform_stream

        async def start(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
            return make(stream)

        return start, True


class SubFlowOperator(StreamifyAbsOperator[IN, OUT]):
    """Calls another flow as one node of this one: a value in, the called flow's output out
    as a stream (a value output is one item).

    The called flow stays a flow of its own: checked when built, compiled and cached as any
    flow is, and observed by its own DAG's observer; :meth:`subflows` (and
    :meth:`DAG.subflows`) tell whoever observes the calling flow where to find it. It runs
    lazily, when the stream this node returns is first read, exactly as ``async for x in
    node.call_stream(value)``: so a failure inside it, in a value step too, reaches the
    node reading the stream, which may turn it into an answer of its own. (Inlining the
    called flow's nodes behind a branch would end the whole call at such a failure, before
    any stream started.) While the called flow's stream is read, its context is current.

    ``flows`` is the node each flow is called up to, or several by key; :meth:`flow_key`
    picks one per call (override it), and :meth:`run_flow` calls one, for subclasses that
    do more than pass the items on.
    """

    def __init__(self, flows: BaseOperator | Mapping[str, BaseOperator], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flows: dict[str, BaseOperator] = (
            {"": flows} if isinstance(flows, BaseOperator) else dict(flows)
        )
        for key, flow in self.flows.items():
            if flow.dag is None:
                raise DAGBuildError(
                    f"sub-flow '{key or flow.label}' of node '{self.label}' belongs to no flow",
                    code="dag.no_dag",
                )

    def subflows(self) -> list[DAG]:
        dags: dict[int, DAG] = {}
        for flow in self.flows.values():
            assert flow.dag is not None
            dags.setdefault(id(flow.dag), flow.dag)
        return list(dags.values())

    def flow_key(self, input_value: IN) -> str:
        """The key of the flow to call for ``input_value``; by default the only one."""
        if len(self.flows) != 1:
            raise RunError(
                f"node '{self.label}' calls {len(self.flows)} flows; override flow_key() to"
                " pick one per call",
                code="run.subflow",
            )
        return next(iter(self.flows))

    def run_flow(self, key: str, value: Any) -> StreamCall:
        """Call flow ``key`` with ``value``: iterate the result (``contextlib.aclosing``
        closes it at once if you stop early)."""
        flow = self.flows.get(key)
        if flow is None:
            raise RunError(
                f"node '{self.label}' has no sub-flow '{key}'; it has {', '.join(self.flows)}",
                code="run.subflow",
            )
        return flow.call_stream(value)

    async def streamify(self, input_value: IN) -> AsyncIterator[OUT]:
        async with contextlib.aclosing(
            self.run_flow(self.flow_key(input_value), input_value)
        ) as items:
            async for item in items:
                yield item


# --- inputs -------------------------------------------------------------------------------


class InputSource:
    """Where an input node reads its value from."""

    #: True/False when known when the flow is built; None when it depends on the call data.
    is_stream: bool | None = None
    #: Reads the call's input rather than a source of its own.
    reads_call_data: bool = False

    async def read(self, call_data: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def from_data(data: Any) -> InputSource:
        """A fixed value, the same on every call."""
        return _DataSource(data)

    @staticmethod
    def from_iterable(items: Iterable[Any] | AsyncIterable[Any]) -> InputSource:
        """A stream of the given items (a one-shot iterator can be read once)."""
        return _IterableSource(items)

    @staticmethod
    def from_callable() -> InputSource:
        """The call's input data."""
        return _CallDataSource()


class _DataSource(InputSource):
    is_stream = False

    def __init__(self, data: Any) -> None:
        self.data = data

    async def read(self, call_data: Any) -> Any:
        return self.data


class _IterableSource(InputSource):
    is_stream = True

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        self.items = items

    async def read(self, call_data: Any) -> Any:
        items = self.items
        if isinstance(items, AsyncIterable):
            return items.__aiter__()
        return _aiter_sync(items)


async def _aiter_sync(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class _CallDataSource(InputSource):
    reads_call_data = True

    async def read(self, call_data: Any) -> Any:
        return call_data


class InputOperator(BaseOperator, Generic[OUT]):
    """A root that reads its value from an :class:`InputSource`."""

    operator_type = OperatorType.INPUT
    must_be_root = True

    @classmethod
    def kind_types(cls, generic: Any = None) -> NodeTypes:
        (gives,) = generic_args(generic or cls, InputOperator)
        return NodeTypes(gives=gives)

    def __init__(self, input_source: InputSource | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_source = input_source or InputSource.from_callable()

    @classmethod
    def dummy_input(cls, dummy_data: Any = None, **kwargs: Any) -> InputOperator[Any]:
        return cls(InputSource.from_data(dummy_data), **kwargs)

    @classmethod
    def from_callable(cls, **kwargs: Any) -> InputOperator[Any]:
        return cls(InputSource.from_callable(), **kwargs)

    @property
    def takes_call_data(self) -> bool:
        return self.input_source.reads_call_data

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        source = self.input_source
        if isinstance(source, _CallDataSource):
            return identity, bool(inputs and inputs[0])
        if source.reads_call_data:
            return source.read, bool(inputs and inputs[0])
        return source.read, bool(source.is_stream)


class TriggerOperator(InputOperator[OUT]):
    """The entry point of a flow: it hands the call's input to the nodes below it.

    Subclasses (such as an HTTP trigger) describe where the input comes from; the server
    turns requests into call data.
    """

    entry_kind = False
    is_trigger = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(InputSource.from_callable(), **kwargs)

    #: A call without input data is refused (the plan checks once, before running).
    needs_input = True

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        # A pass-through: a linear plan seeds it rather than awaiting (and timing) a step.
        return identity, False
