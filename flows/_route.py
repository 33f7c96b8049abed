"""How every shipped route is declared.

An API module names once what its routes share, an :class:`Api` (path prefix, tags, the
answer's envelope and error shape), then declares each route with it:

- ``api.flow(dag_id=..., path=..., method=..., body=..., action=..., summary=...)``: a
  trigger and one action, the common case. ``action`` takes the parsed request (an instance
  of ``body``, or None without one) and returns the answer or an awaitable of it; mypy
  checks its argument against ``body``.
- ``api.trigger(path=..., method=..., body=..., summary=...)`` inside a ``with DAG(...)``
  block, for a route that is a real graph (a branch, a model, a join).

Both build the same ``HttpTrigger``, so a route reads the same whichever its shape. Bind each
flow to a module-level name: the loader serves module-level DAGs.
"""

from __future__ import annotations

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
    #: The last event of an SSE stream (``[DONE]`` for OpenAI's); None: no end marker.
    sse_end: str | None = None
    #: How a stream that fails after its headers were sent says so.
    stream_errors: StreamErrorStyle | str = StreamErrorStyle.DBGPT
    #: The trigger's task name; operators read the request back from it.
    trigger_name: str = "trigger"

    def trigger(
        self,
        *,
        path: str,
        method: str,
        body: type[Any] | None = None,
        summary: str,
        response: ResponseKind | str | None = None,
        media_type: str | None = None,
        header_fields: Mapping[str, str] | None = None,
        stream: ResponseKind | None = None,
        ok_failures: Sequence[str] | None = None,
    ) -> HttpTrigger:
        """The trigger of ``method prefix+path``; ``stream``: every answer is a stream,
        written as that kind."""
        return HttpTrigger(
            path=self.prefix + path,
            methods=method,
            request_body=body,
            response=self.response if response is None else response,
            response_media_type=media_type,
            errors=self.errors,
            ok_failures=self.ok_failures if ok_failures is None else ok_failures,
            header_fields=header_fields,
            streaming_response=stream is not None,
            stream_response=stream or ResponseKind.SSE,
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
        description: str | None = None,
        node: str = "run",
        response: ResponseKind | str | None = None,
        media_type: str | None = None,
        header_fields: Mapping[str, str] | None = None,
        ok_failures: Sequence[str] | None = None,
    ) -> DAG:
        """A flow answering ``method prefix+path`` with what ``action(request)`` returns.

        ``description`` (default: the summary) is the flow's, shown in the API docs; ``node``
        names the action's node (in metrics).
        """
        with DAG(dag_id, description=summary if description is None else description) as dag:
            self.trigger(
                path=path,
                method=method,
                body=body,
                summary=summary,
                response=response,
                media_type=media_type,
                header_fields=header_fields,
                ok_failures=ok_failures,
            ) >> MapOperator(action, task_name=node)
        return dag


def action_flow(
    dag_id: str,
    path: str,
    method: str,
    body: type[B] | None,
    action: Action[B],
    summary: str,
    *,
    prefix: str = "",
    tags: Sequence[str],
    response: ResponseKind | str = ResponseKind.JSON,
    errors: str = "serve_result",
    media_type: str | None = None,
    header_fields: Mapping[str, str] | None = None,
) -> DAG:
    """The older, positional spelling of :meth:`Api.flow`, kept only until ``flows/chat``
    (converted with the chat round) stops using it; new routes use an :class:`Api`."""
    api = Api(tags=tags, prefix=prefix, response=response, errors=errors)
    return api.flow(
        dag_id=dag_id,
        path=path,
        method=method,
        body=body,
        action=action,
        summary=summary,
        media_type=media_type,
        header_fields=header_fields,
    )
