"""How every shipped route is declared.

An API module names once what its routes share, an :class:`Api` (path prefix, tags, the
answer's envelope and error shape), then declares each route with it:

- ``api.flow(dag_id=..., path=..., method=..., body=..., action=..., summary=...)``: a
  trigger and one action, the common case, always these six keywords. ``action`` takes the
  parsed request (an instance of ``body``, or None without one) and returns the answer or an
  awaitable of it; mypy checks its argument against ``body``. What a group of routes does
  differently (a header, a file answer) is a setting of their :class:`Api`, or of a variant
  of it (``dataclasses.replace(api, response=ResponseKind.FILE)``).
- ``api.trigger(path=..., method=..., body=..., summary=...)`` inside a ``with DAG(...)``
  block, for a route that is a real graph (a branch, a model, a join).

Both build the same ``HttpTrigger``, so a route reads the same whichever its shape. Bind each
flow to a module-level name: the loader serves module-level DAGs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from awel import DAG, MapOperator
from awel.trigger import HttpTrigger, ResponseKind, StreamErrorStyle

#: The request model a route parses, and its action's argument.
B = TypeVar("B")

#: What a route does with the parsed request: the answer, or an awaitable of it.
Action = Callable[[B], Awaitable[object]] | Callable[[B], object]


@dataclass(frozen=True, kw_only=True)
class Api:
    """What the routes of one API share."""

    tags: Sequence[str]
    #: Put before each route's path.
    prefix: str = ""
    #: How a value answer is written (JSON as it is, or in one of DB-GPT's envelopes).
    response: ResponseKind | str = ResponseKind.JSON
    #: The shape of error answers: ``serve_result``, ``result`` or ``openai``.
    errors: str = "serve_result"
    #: Error-code prefixes of the flow's failures answered HTTP 200 with ``success: false``
    #: (``""``: all), as DB-GPT answers its editor; see ``HttpTrigger.ok_failures``.
    ok_failures: Sequence[str] = ()
    #: Every answer of these routes is a stream written as this kind (DB-GPT's chat rounds:
    #: SSE); None: a route streams when its request asks (a ``stream`` field).
    stream: ResponseKind | None = None
    #: The last event of an SSE stream (``[DONE]`` for OpenAI's); None: no end marker.
    sse_end: str | None = None
    #: How a stream that fails after its headers were sent says so.
    stream_errors: StreamErrorStyle | str = StreamErrorStyle.DBGPT
    #: The trigger's task name; operators read the request back from it.
    trigger_name: str = "trigger"
    #: Request headers read into fields of the request model (header: field), such as the
    #: user DB-GPT's web client names in ``user-id``; they win over the body.
    header_fields: Mapping[str, str] | None = None
    #: The media type of a file answer (``response=ResponseKind.FILE``); None: by its name.
    media_type: str | None = None
    #: The name of an action's node (the metrics label its times with it); None: the last
    #: word of the flow's id (``controller_register``: ``register``), as the cluster's are.
    node: str | None = "run"
    #: A flow's description (in the API docs) is its summary; with this, its action's
    #: docstring (the cluster's flows describe themselves in sentences).
    described_by_action: bool = False
    #: Put after each flow's id: a variant serving the same routes at another prefix
    #: (DB-GPT's old web UI's paths) declares them with the same ids, made distinct here.
    dag_id_suffix: str = ""

    def trigger(
        self,
        *,
        path: str,
        method: str,
        body: type[Any] | None = None,
        summary: str,
    ) -> HttpTrigger:
        """The trigger of ``method prefix+path``."""
        return HttpTrigger(
            path=self.prefix + path,
            methods=method,
            request_body=body,
            response=self.response,
            response_media_type=self.media_type,
            errors=self.errors,
            ok_failures=self.ok_failures,
            header_fields=self.header_fields,
            streaming_response=self.stream is not None,
            stream_response=self.stream or ResponseKind.SSE,
            sse_end=self.sse_end,
            stream_errors=self.stream_errors,
            summary=summary,
            tags=list(self.tags),
            task_name=self.trigger_name,
        )

    def flow(
        self,
        *,
        dag_id: str,
        path: str,
        method: str,
        body: type[B] | None,
        action: Action[B],
        summary: str,
    ) -> DAG:
        """A flow answering ``method prefix+path`` with what ``action(request)`` returns."""
        with DAG(
            dag_id + self.dag_id_suffix, description=self._description(summary, action)
        ) as dag:
            trigger = self.trigger(path=path, method=method, body=body, summary=summary)
            trigger >> MapOperator(action, task_name=self.node or dag_id.rpartition("_")[2])
        return dag

    def _description(self, summary: str, action: Action[B]) -> str:
        if not self.described_by_action:
            return summary
        doc = inspect.getdoc(action)
        if not doc:
            raise ValueError(f"{action!r} has no docstring to describe its flow")
        return doc
