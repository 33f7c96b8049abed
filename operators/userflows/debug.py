"""Running a flow that is not saved: ``POST /flow/debug``, DB-GPT's debug stream and ours.

The flow arrives in a ``FlowPanel``: as YAML (``flow.yaml``), or as DB-GPT's drawing
(``flow.flow_data``, no ``yaml``) whose nodes are our operators, turned into YAML by the
flow API's mapping (:func:`.flow_data.yaml_of_flow_data`; a node we do not have is a 400
naming it). It is loaded as a dags-folder file would be (:mod:`operators.userflows.validate`,
import paths refused), never served, and called once with ``request`` as its input;
``variables`` are values for this run only, over the stored ones
(:mod:`.call_variables`). Two answers, chosen by ``format``:

- ``dbgpt`` (the default, DB-GPT's shape): ``data:<text>`` events, the text cumulative with
  newlines written as ``\\n``; a failure is ``data:[SERVER_ERROR]<message>`` and the stream
  stops. DB-GPT's web UI reads this.
- ``nodes`` (the flow editor): one JSON event per step as it happens, each ``data: {...}``
  with an ``event`` field: ``start``; ``node_start`` / ``node_end`` (with ``ms`` and the
  node's ``output``) / ``node_error`` for each node; ``item`` for each item a streaming node
  writes, when it writes it; then ``result`` (the output, ``ran``, ``skipped``,
  ``elapsed_ms``) or ``error`` (``code``, ``message``, the failing ``node``).

How the nodes are seen: the flow is loaded for this one call, so it gets a tracer
(:meth:`awel.DAG.set_node_observer` with ``wrap_step``) that wraps each node's step where
the plan is compiled. The call itself is :func:`awel.report.call_with_report`, as
``awel run --json`` makes it, in a task of its own; the tracer's events go through a queue
to the response as they are made.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from awel.dag import DAG
from awel.errors import AwelError, DAGBuildError, NodeError, Problem
from awel.operators import BaseOperator, MapOperator, StreamifyAbsOperator
from awel.plan import Step
from awel.report import RunReport, call_with_report
from awel.stream import is_stream
from awel.trigger import call_input
from awel.variables import ResolvedVariable, VariableRef, call_variables

from .call_variables import call_values
from .checks import FLOW_NAME
from .errors import FlowUnmappable
from .flow_data import yaml_of_flow_data
from .panel import MAX_YAML, FlowData
from .validate import FlowYamlInvalid, load_flow_yaml

__all__ = ["DebugFlow", "DebugRequest", "DebugRun", "DebugStream", "PrepareDebug", "prepare"]

#: A node's output shown in an event is cut past this many characters of JSON.
MAX_PREVIEW = 16_000
#: Items of one node reported one by one; past this only the count goes on.
MAX_ITEMS = 1_000
#: How long one debug run may take.
TIMEOUT_S = 300.0


class DebugFlow(BaseModel):
    """The flow to run: DB-GPT's ``FlowPanel`` fields are accepted; ``yaml`` is read, or
    else ``flow_data``."""

    model_config = ConfigDict(extra="allow")

    yaml: str | None = Field(
        None, max_length=MAX_YAML, description="The flow, as the YAML of a flow file."
    )
    flow_data: FlowData | None = Field(
        None, description="DB-GPT's drawing of the flow, its nodes our operators (no yaml)."
    )
    name: str | None = Field(None, max_length=128)
    label: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=4000)


class DebugRequest(BaseModel):
    """``POST /flow/debug``."""

    model_config = ConfigDict(extra="allow")

    flow: DebugFlow
    request: Any = Field(description="The flow's input (the trigger's request body).")
    format: Literal["dbgpt", "nodes"] = Field(
        "dbgpt",
        description="dbgpt: DB-GPT's data:<text> stream; nodes: one JSON event per node step.",
    )
    variables: Any = Field(
        None,
        description="Values for this run only, over the stored ones: an object of references"
        ' and values ({"greeting:text": "Hola"}) or a list of {key, name, value} items.',
    )
    user_name: str | None = None
    sys_code: str | None = None


class DebugFlowMissing(AwelError):
    code = "flow.yaml_missing"

    def __init__(self) -> None:
        super().__init__(
            "send the flow's YAML in flow.yaml, or DB-GPT's flow.flow_data with nodes that are"
            " our operators (GET /nodes lists them)",
            param="flow.yaml",
        )


class DebugInputInvalid(AwelError):
    code = "flow.debug_input"

    def __init__(self, model: str, exc: ValidationError) -> None:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        super().__init__(
            f"request does not fit the trigger's {model}: {where}: {first['msg']}",
            param="request" + (f".{where}" if where else ""),
        )


@dataclasses.dataclass
class DebugRun:
    """A loaded flow and its input, ready to run once."""

    dag: DAG
    target: BaseOperator
    data: Any
    format: str
    #: Values for this run only (``variables``), over the stored ones.
    variables: dict[VariableRef, ResolvedVariable] = dataclasses.field(default_factory=dict)


def prepare(body: DebugRequest) -> DebugRun:
    """Load the flow (4xx errors before the stream starts) and parse its input."""
    variables = call_values(body.variables)
    text, param = _flow_text(body.flow)
    dag = load_flow_yaml(text, param)
    try:
        target = dag.output_node
    except DAGBuildError as exc:
        problem = Problem("dag.output", f"{exc.message}; a debug run needs one output node")
        raise FlowYamlInvalid([problem], param) from exc
    return DebugRun(dag, target, _input_for(dag, body.request), body.format, variables)


def _flow_text(flow: DebugFlow) -> tuple[str, str]:
    """The flow's YAML and the field it came from: ``yaml``, else made from ``flow_data``."""
    if flow.yaml is not None and flow.yaml.strip():
        return flow.yaml, "flow.yaml"
    if flow.flow_data is None or not flow.flow_data.nodes:
        raise DebugFlowMissing()
    name = flow.name if flow.name and FLOW_NAME.match(flow.name) else "debug"
    try:
        text = yaml_of_flow_data(
            flow.flow_data.model_dump(), name=name, description=flow.description
        )
    except FlowUnmappable as exc:
        raise FlowUnmappable(exc.message, param=f"flow.{exc.param or 'flow_data'}") from None
    return text, "flow.flow_data"


class PrepareDebug(MapOperator[DebugRequest, DebugRun]):
    async def map(self, input_value: DebugRequest) -> DebugRun:
        return prepare(input_value)


class DebugStream(StreamifyAbsOperator[DebugRun, Any]):
    """The debug run's events, as it happens."""

    async def streamify(self, input_value: DebugRun) -> AsyncIterator[Any]:
        events = run_events(input_value)
        async with contextlib.aclosing(events):
            if input_value.format == "nodes":
                async for event in events:
                    yield event
            else:
                async for frame in dbgpt_frames(events):
                    yield frame


def _input_for(dag: DAG, data: Any) -> Any:
    """The input as the server would pass it: parsed into the trigger's request model."""
    try:
        return call_input(dag, data)
    except ValidationError as exc:
        raise DebugInputInvalid(exc.title, exc) from exc


# --- the events -------------------------------------------------------------------------------

Emit = Callable[[dict[str, Any]], None]


class _Tracer:
    """Wraps each node's step to report it (see DAG.set_node_observer's ``wrap_step``)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def __call__(self, node: BaseOperator, seconds: float, error: BaseException | None) -> None:
        """Never called: a tracer's wrapped steps report instead."""

    def wrap_step(self, node: BaseOperator, step: Step, streams: bool) -> Step:
        emit, label = self.emit, node.label
        clock = time.perf_counter

        async def traced(*args: Any) -> Any:
            emit({"event": "node_start", "node": label})
            started = clock()
            try:
                out = await step(*args)
            except Exception as exc:
                emit(_node_error(label, exc, started))
                raise
            if streams and is_stream(out):
                emit({"event": "node_stream", "node": label, "ms": _ms(started)})
                return self._items(label, out, started)
            emit({"event": "node_end", "node": label, "ms": _ms(started), "output": preview(out)})
            return out

        return traced

    async def _items(self, label: str, stream: Any, started: float) -> AsyncIterator[Any]:
        emit, count = self.emit, 0
        try:
            async for item in stream:
                if count < MAX_ITEMS:
                    emit({"event": "item", "node": label, "index": count, "data": preview(item)})
                count += 1
                yield item
        except Exception as exc:
            emit(_node_error(label, exc, started) | {"items": count})
            raise
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        emit({"event": "node_end", "node": label, "ms": _ms(started), "items": count})


def _node_error(label: str, exc: BaseException, started: float) -> dict[str, Any]:
    return {"event": "node_error", "node": label, "ms": _ms(started), **error_fields(exc)}


async def run_events(run: DebugRun) -> AsyncGenerator[dict[str, Any], None]:
    """The run's events, each as soon as it is made; the call runs in a task of its own so
    the events of a node that is still running (a stream's items) leave at once."""
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    dag = run.dag
    dag.set_node_observer(_Tracer(queue.put_nowait))
    target = run.target
    yield {"event": "start", "flow": dag.dag_id, "node": target.label}

    async def call() -> RunReport:
        # The run's own task: its variables reach no other call.
        try:
            with call_variables(run.variables):
                return await call_with_report(target, run.data, timeout=TIMEOUT_S)
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(call())
    try:
        while (event := await queue.get()) is not None:
            yield event
        report = await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        dag.set_node_observer(None)
    summary = report.summary()
    if report.error is not None:
        yield {"event": "error", **error_fields(report.error), **summary}
    else:
        yield {"event": "result", "data": preview(report.result), **summary}


def error_fields(exc: BaseException) -> dict[str, Any]:
    """What a failure says: its code, message, and the node that failed."""
    fields: dict[str, Any] = {
        "code": getattr(exc, "code", "run.error"),
        "message": str(exc) if isinstance(exc, AwelError) else f"{type(exc).__name__}: {exc}",
    }
    if isinstance(exc, NodeError):
        fields.update(failed_node=exc.node, operator=exc.operator)
        if exc.location is not None:
            fields["line"] = exc.location.line
    return fields


async def dbgpt_frames(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """DB-GPT's debug stream: ``data:<text so far>`` per output item, or the whole output
    once; ``data:[SERVER_ERROR]<message>`` on failure."""
    text = ""
    output: str | None = None
    async for event in events:
        kind = event["event"]
        if kind == "start":
            output = event["node"]
        elif kind == "item" and event["node"] == output:
            text += _text(event["data"])
            yield _plain(text)
        elif kind == "result" and not text:
            yield _plain(_text(event["data"]))
        elif kind == "error":
            yield b"data:[SERVER_ERROR]" + _escape(event["message"]).encode() + b"\n\n"


def _plain(text: str) -> bytes:
    return b"data:" + _escape(text).encode() + b"\n\n"


def _escape(text: str) -> str:
    return text.replace("\r", "").replace("\n", "\\n")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# --- outputs as JSON --------------------------------------------------------------------------


def preview(value: Any) -> Any:
    """``value`` as JSON data for an event; large values cut to a string of their start."""
    data = _jsonable(value)
    text = json.dumps(data, ensure_ascii=False)
    if len(text) <= MAX_PREVIEW:
        return data
    return {"truncated": True, "size": len(text), "start": text[:MAX_PREVIEW]}


def _jsonable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), depth + 1)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, depth + 1)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if is_stream(value):
        return "<stream>"
    return repr(value)
