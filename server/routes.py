"""Routes: one per HTTP trigger, and the table that finds them.

A :class:`Route` is compiled once from a flow: its request parser, the node to call, how to
write the answer and how to report errors. The :class:`RouteTable` maps paths to routes; a
reload builds a new table and swaps it in with one assignment, so a request sees either the
old flows or the new ones, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring as _quote
from pathlib import Path
from typing import Any

from aiohttp import web

from awel.catalog import Caller, Guard
from awel.dag import DAG
from awel.envelope import result_ok
from awel.errors import AwelError, NodeError
from awel.operators import STREAM_CLASSES, BaseOperator, is_stream
from awel.trigger import FileAnswer, HttpTrigger, ResponseKind, StreamErrorStyle

from .errors import (
    ErrorStyle,
    describe,
    error_response,
    internal_error,
    log_internal,
)
from .json import dumps, dumps_text
from .metrics import Metrics, Series
from .openai_chunks import OpenAIChat, model_of
from .origins import OWN_ORIGIN_ONLY, SAFE_METHODS, OriginGuard
from .request import RequestParser, file_fields
from .stream import ChunkWriter, nul_frame, sse_frame, sse_passthrough

log = logging.getLogger("awel.server")

_clock = time.perf_counter
#: The path parameters of a route without any (shared: never written to).
_NO_PARAMS: dict[str, str] = {}
#: A route's last counted answer before its first (no method is empty, so it never matches).
_NOT_COUNTED: tuple[str, int, Series] = ("", 0, Series())

_SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class RouteConflict(AwelError):
    code = "server.route_conflict"


class Route:
    """One trigger's route: parse, run the flow, answer."""

    def __init__(self, dag: DAG, trigger: HttpTrigger, *, keepalive: float | None = 15.0) -> None:
        self.dag = dag
        self.trigger = trigger
        self.path = trigger.path
        self.methods = frozenset(trigger.methods)
        self.node: BaseOperator = dag.output_node
        self.parser = RequestParser(trigger)
        self.style = ErrorStyle(trigger.errors)
        self.keepalive = keepalive
        self.name = dag.dag_id
        kind = trigger.response
        self._render = _RENDERERS[kind]
        self._headers = trigger.response_headers or None
        self._status = trigger.status_code
        self._sse_framer = (
            sse_passthrough if (self.node.output_format or "").upper() == "SSE" else sse_frame
        )
        self._may_stream = trigger.may_stream()
        #: Answers in OpenAI's chat completion shapes (server/openai_chunks.py).
        self._openai = kind is ResponseKind.OPENAI_STREAM
        self._query_only = self.parser.query_only(self.methods)
        # Headers of a JSON answer, built once: handing aiohttp a content_type instead makes
        # it parse and rebuild the header on every response.
        self._json_headers = {
            "Content-Type": "application/json",
            **(trigger.response_headers or {}),
        }
        self.metrics: Metrics | None = None
        #: (method, status) -> the metrics series it counts in, resolved once.
        self._series: dict[tuple[str, int], Series] = {}
        #: The method, status and series of the last answer counted.
        self._last: tuple[str, int, Series] = _NOT_COUNTED
        #: Whether the request takes files (multipart): the upload limit applies, not JSON's.
        self.takes_files = bool(file_fields(trigger.request_body))
        #: The setting the body limit comes from, for the 413's message.
        self.limit_name = "max_body_size of the route's trigger"
        #: Who may send this route state-changing requests from a browser (server.origins);
        #: the app sets its own. GET-only routes never look.
        self.origins: OriginGuard = OWN_ORIGIN_ONLY
        self._changes_state = not self.methods <= SAFE_METHODS
        #: Asked before anything else whether the caller may run this flow (the domain's,
        #: for flows it mounted; :class:`awel.catalog.Guard`); None: anyone may.
        self.guard: Guard | None = None

    @property
    def max_body(self) -> int:
        """The largest request body this route reads, bytes."""
        return self.parser.max_body

    def bind(self, metrics: Metrics | None, max_json_body: int, max_upload_size: int) -> None:
        """Give the route what its app decides: where to count requests, the body limit
        (the trigger's own, else the app's for uploads or for everything else)."""
        self.metrics = metrics
        self._series = {}
        self._last = _NOT_COUNTED
        own = self.trigger.max_body_size
        if own is not None:
            self.parser.max_body = own
        elif self.takes_files:
            self.parser.max_body, self.limit_name = max_upload_size, "max_upload_size"
        else:
            self.parser.max_body, self.limit_name = max_json_body, "max_json_body"

    async def answer(
        self, request: web.Request, path_params: dict[str, str] = _NO_PARAMS
    ) -> web.StreamResponse:
        """Parse the request, run the flow, answer; count it when metrics are on.

        This is aiohttp's handler for the route (or the dispatcher's, for user flows), and
        the whole per-request path in one coroutine on purpose: every extra call on it
        shows up in the server's CPU time per request (bench/server.py).
        """
        started = _clock()
        status = 500
        try:
            resp: web.StreamResponse | None = None
            wants = False
            parser = self.parser
            try:
                if self.guard is not None:
                    # A refusal raises, and is answered as the error it is.
                    await self.guard(Caller(request.headers, request.query))
                if (
                    self._changes_state
                    and request.method not in SAFE_METHODS
                    and (resp := self._foreign(request)) is not None
                ):
                    data = None
                elif self._query_only:
                    # A GET reads nothing but its query: no coroutine to parse it, and no
                    # body whose size matters.
                    data = parser.parse_now(request, path_params)
                elif parser.reads_body(request):
                    resp = self._refusal(request)
                    data = None if resp is not None else await parser.parse(request, path_params)
                else:
                    data = parser.parse_now(request, path_params)
                if resp is None:
                    wants = self._may_stream and self.trigger.wants_stream(data)
                    if wants:
                        out = await self.node.call_stream(data).start()
                    else:
                        out = await self.node.call(data)
            except Exception as exc:
                resp = self._error(exc)
            if resp is None:
                streamed = STREAM_CLASSES.get(type(out))
                if streamed is None:
                    streamed = is_stream(out)
                if self._openai:
                    resp = await self._openai_answer(request, out, streamed, wants, data)
                elif streamed:
                    resp = await self._write_stream(request, out, self.trigger.stream_response)
                else:
                    resp = self._render(self, out)
            status = resp.status
            return resp
        except asyncio.CancelledError:
            # The client went away (nginx calls that 499).
            status = 499
            raise
        finally:
            if self.metrics is not None:
                # The series of the last answer is nearly always this one's: two compares
                # instead of a key tuple and a dict lookup.
                method = request.method
                last = self._last
                if last[0] == method and last[1] == status:
                    series = last[2]
                else:
                    key = (method, status)
                    known = self._series.get(key)
                    if known is None:
                        known = self._series[key] = self.metrics.request_series(
                            self.path, method, status
                        )
                    series = known
                    self._last = (method, status, series)
                # Series.observe written out: the app folds what piles up (Metrics.folding).
                series.pending.append(_clock() - started)

    def _foreign(self, request: web.Request) -> web.Response | None:
        """A 403 in the route's error style when a browser page elsewhere sent this."""
        why = self.origins.refusal(request)
        if why is None:
            return None
        return error_response(self.style, 403, why, code="origin_not_allowed", err_code="403")

    def _refusal(self, request: web.Request) -> web.Response | None:
        """A 413 in the route's error style when the declared body is over the limit.

        aiohttp would refuse only once the body is read, with a message that names no
        limit; checking Content-Length first also spares reading a body that is refused.
        """
        size = request.content_length
        if size is None or size <= self.parser.max_body:
            return None
        return self._too_large(f"request body is {size} bytes")

    def _too_large(self, what: str) -> web.Response:
        limit = self.parser.max_body
        return error_response(
            self.style,
            413,
            f"{what}; the limit is {limit} bytes ({self.limit_name})",
            code="request_too_large",
            err_code="413",
        )

    def _error(self, exc: Exception) -> web.Response:
        """The answer to a failure before the response started."""
        if isinstance(exc, AwelError):
            failure = describe(exc)
            if not failure.public:
                return internal_error(self.style, exc, self.path)
            status = failure.status
            if isinstance(exc, NodeError) and self._answers_ok(failure.code, exc):
                status = 200
            retry = failure.retry_after
            return error_response(
                self.style,
                status,
                failure.message,
                code=failure.code,
                param=failure.param,
                err_code=failure.err_code,
                headers={"Retry-After": str(retry)} if retry is not None else None,
            )
        if isinstance(exc, web.HTTPRequestEntityTooLarge):
            # A body that declared no size, refused by aiohttp as it was read.
            return self._too_large("request body is larger than allowed")
        if isinstance(exc, web.HTTPException):
            return error_response(self.style, exc.status, exc.reason, err_code=str(exc.status))
        return internal_error(self.style, exc, self.path)

    def _answers_ok(self, code: str, exc: NodeError) -> bool:
        """Whether the trigger declares this failure of the flow answered with HTTP 200."""
        cause = exc.__cause__
        raised = cause.code if isinstance(cause, AwelError) else code
        return any(raised.startswith(prefix) for prefix in self.trigger.ok_failures)

    # --- streams -------------------------------------------------------------------------

    async def _write_stream(
        self, request: web.Request, stream: Any, kind: ResponseKind
    ) -> web.StreamResponse:
        if kind is ResponseKind.NUL_JSON:
            framer = nul_frame
            headers = {"Content-Type": self.trigger.response_media_type or "text/plain"}
        else:
            framer = self._sse_framer
            headers = dict(_SSE_HEADERS)
            if self.trigger.response_media_type:
                headers["Content-Type"] = self.trigger.response_media_type
        headers.update(self.trigger.response_headers)
        resp = web.StreamResponse(status=self._status, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        writer = ChunkWriter(resp, self.keepalive if kind is not ResponseKind.NUL_JSON else None)
        try:
            try:
                async for item in stream:
                    writer.send(framer(item))
                    if writer.backlog > 65536:
                        await writer.flush()
            except (ConnectionError, RuntimeError) as exc:
                if writer.error is not None:
                    raise
                self._stream_failed(writer, exc, kind)
            except Exception as exc:
                self._stream_failed(writer, exc, kind)
            else:
                if self.trigger.sse_end is not None and kind is not ResponseKind.NUL_JSON:
                    writer.send(sse_frame(self.trigger.sse_end))
            await writer.close()
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            # The client went away: stop the flow and drop what is left.
            writer.abort()
            log.info("client left during stream on %s", self.path)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return resp

    async def _openai_answer(
        self, request: web.Request, out: Any, streamed: bool, wants: bool, body: Any
    ) -> web.StreamResponse:
        """OpenAI's chunks when the request asked for a stream, else one completion."""
        chat = OpenAIChat(model_of(body))
        if streamed and wants:
            return await self._write_stream(request, chat.chunks(out), ResponseKind.OPENAI_STREAM)
        if wants:
            body_bytes = chat.events(out) + sse_frame(self.trigger.sse_end or "[DONE]")
            return web.Response(body=body_bytes, headers=_SSE_HEADERS)
        try:
            whole = await chat.collect(out) if streamed else chat.whole(out)
        except Exception as exc:
            return self._error(exc)
        return _json_body(self, whole)

    def _stream_failed(self, writer: ChunkWriter, exc: BaseException, kind: ResponseKind) -> None:
        failure = describe(exc) if isinstance(exc, AwelError) else None
        if failure is not None and failure.public:
            message = failure.message
        else:
            message = log_internal(exc, self.path)
        if kind is ResponseKind.NUL_JSON:
            writer.send(nul_frame({"text": message, "error_code": 1}))
            return
        if self.trigger.stream_errors is StreamErrorStyle.OPENAI:
            code = failure.code if failure is not None else None
            writer.send(
                sse_frame(
                    {
                        "error": {
                            "message": message,
                            "type": "server_error",
                            "param": None,
                            "code": code,
                        }
                    }
                )
            )
        else:
            writer.send(b"data: [SERVER_ERROR]" + message.encode() + b"\n\n")
        if self.trigger.sse_end is not None:
            writer.send(sse_frame(self.trigger.sse_end))


# --- renderers ---------------------------------------------------------------------------


def _json_body(route: Route, payload: Any) -> web.Response:
    # A flow answering a bare string (DB-GPT's hello example) skips the encoder object.
    body = _quote(payload).encode() if type(payload) is str else dumps(payload)
    return web.Response(body=body, status=route._status, headers=route._json_headers)


def _result(route: Route, out: Any) -> web.Response:
    return _json_body(route, result_ok(out, host_name=True))


def _serve_result(route: Route, out: Any) -> web.Response:
    return _json_body(route, result_ok(out, host_name=False))


def _text(route: Route, out: Any) -> web.Response:
    text = out if isinstance(out, str) else dumps_text(out)
    return web.Response(
        text=text,
        status=route._status,
        content_type=route.trigger.response_media_type or "text/plain",
        headers=route._headers,
    )


def _file(route: Route, out: Any) -> web.StreamResponse:
    name: str | None = None
    inline = False
    media_type = route.trigger.response_media_type
    if isinstance(out, FileAnswer):
        name, inline, media_type = out.filename, out.inline, out.media_type or media_type
        out = out.content
    elif isinstance(out, tuple) and len(out) == 2:
        name, out = out
    headers = dict(route._headers or {})
    if isinstance(out, (str, Path)):
        path = Path(out)
        if not inline:
            headers["Content-Disposition"] = f'attachment; filename="{name or path.name}"'
        return web.FileResponse(path, headers=headers)
    if not inline:
        headers["Content-Disposition"] = f'attachment; filename="{name or "download"}"'
    return web.Response(
        body=out if isinstance(out, bytes) else dumps(out),
        status=route._status,
        content_type=media_type or "application/octet-stream",
        headers=headers,
    )


def _single_event(route: Route, out: Any) -> web.Response:
    # A streaming kind asked for one value: answer it as a complete stream of one item.
    if route.trigger.response is ResponseKind.NUL_JSON:
        return web.Response(body=nul_frame(out), content_type="text/plain")
    body = route._sse_framer(out)
    if route.trigger.sse_end is not None:
        body += sse_frame(route.trigger.sse_end)
    return web.Response(body=body, headers=_SSE_HEADERS)


_RENDERERS: dict[ResponseKind, Callable[[Route, Any], web.StreamResponse]] = {
    ResponseKind.JSON: _json_body,
    ResponseKind.RESULT: _result,
    ResponseKind.SERVE_RESULT: _serve_result,
    ResponseKind.TEXT: _text,
    ResponseKind.FILE: _file,
    ResponseKind.SSE: _single_event,
    ResponseKind.NUL_JSON: _single_event,
    # Route.answer writes these itself (it needs to know whether the request asked to stream).
    ResponseKind.OPENAI_STREAM: _json_body,
}


# --- the table ----------------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)\}")


def _pattern(path: str) -> re.Pattern[str]:
    parts: list[str] = []
    pos = 0
    for m in _PARAM.finditer(path):
        parts.append(re.escape(path[pos : m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(path[pos:]))
    return re.compile("^" + "".join(parts) + "/?$")


class RouteTable:
    """Paths to routes: a dict for plain paths, patterns for paths with ``{params}``."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._dynamic: list[tuple[re.Pattern[str], str, dict[str, Route]]] = []
        self.routes: list[Route] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        path = route.path.rstrip("/") or "/"
        if _PARAM.search(path):
            for _, template, methods in self._dynamic:
                if template == path:
                    self._claim(methods, route)
                    break
            else:
                methods = {}
                self._claim(methods, route)
                self._dynamic.append((_pattern(path), path, methods))
        else:
            self._claim(self._static.setdefault(path, {}), route)
        self.routes.append(route)

    @staticmethod
    def _claim(methods: dict[str, Route], route: Route) -> None:
        for method in route.methods:
            other = methods.get(method)
            if other is not None:
                raise RouteConflict(
                    f"{method} {route.path} is claimed by two flows: '{other.name}' and"
                    f" '{route.name}'"
                )
            methods[method] = route

    def match(self, path: str) -> tuple[dict[str, Route] | None, dict[str, str]]:
        """The routes at ``path`` by method (None if no path matches) and path params."""
        methods = self._static.get(path)
        if methods is None and len(path) > 1 and path.endswith("/"):
            methods = self._static.get(path.rstrip("/"))
        if methods is not None:
            return methods, {}
        for pattern, _, dyn in self._dynamic:
            m = pattern.match(path)
            if m is not None:
                return dyn, m.groupdict()
        return None, {}
