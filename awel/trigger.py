"""Triggers: how a flow declares where its input comes from.

:class:`HttpTrigger` is only a declaration (path, methods, request model, response kind).
The engine knows nothing of HTTP: the server (``server/``) reads these declarations, mounts a
route for each, turns requests into the trigger's input and the flow's output into a
response.

    >>> from pydantic import BaseModel
    >>> class Person(BaseModel):
    ...     name: str
    ...     age: int = 18
    >>> with DAG("hello") as dag:
    ...     trigger = HttpTrigger("/examples/hello", methods="GET", request_body=Person)
    >>> trigger.path
    '/api/v1/awel/trigger/examples/hello'
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, create_model
from pydantic_core import PydanticCustomError, core_schema

from .errors import DAGBuildError
from .operators import TriggerOperator
from .registry import OperatorParams, import_path

if TYPE_CHECKING:
    from .dag import DAG

#: Where user flows' HTTP triggers live, as in DB-GPT.
TRIGGER_PREFIX = "/api/v1/awel/trigger"

_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})


class ResponseKind(enum.StrEnum):
    """How the server writes a flow's output."""

    #: The output as JSON, as it is.
    JSON = "json"
    #: DB-GPT's app ``Result`` envelope: success, err_code, err_msg, data, host_name.
    RESULT = "result"
    #: DB-GPT's serve-module ``Result`` envelope (no host_name).
    SERVE_RESULT = "serve_result"
    #: Plain text.
    TEXT = "text"
    #: Server-Sent Events: one ``data:`` event per stream item.
    SSE = "sse"
    #: JSON chunks separated by NUL bytes (DB-GPT's worker stream).
    NUL_JSON = "nul_json"
    #: A file download: the output is bytes, a path, or ``(filename, bytes)``.
    FILE = "file"
    #: OpenAI's chat completions: a stream of text pieces as ``chat.completion.chunk``
    #: events ending in ``data: [DONE]`` (or one ``chat.completion`` when the request's
    #: ``stream`` is false), so the ``openai`` SDK can read a flow's chat endpoint.
    OPENAI_STREAM = "openai_stream"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file sent in a multipart form field, as a flow receives it."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Only the server makes these, from multipart parts: a JSON value or a text part
        # is never a file, and a field typed so tells the server the route takes uploads.
        return core_schema.no_info_plain_validator_function(_uploaded_file)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {"type": "string", "format": "binary"}


def _uploaded_file(value: Any) -> UploadedFile:
    if isinstance(value, UploadedFile):
        return value
    raise PydanticCustomError(
        "file_expected", "expected a file, sent as a part of a multipart/form-data body"
    )


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """What a ``response="file"`` flow may answer when a bare path, bytes or
    ``(filename, data)`` is not enough: ``inline`` sends the content as the body itself,
    without asking the client to save it (DB-GPT's ``export_messages?format=json``);
    ``media_type`` overrides the route's, for a route whose answers differ in kind (a flow
    exported as JSON or as a zip package)."""

    content: bytes | str | Path
    filename: str | None = None
    inline: bool = False
    media_type: str | None = None


class StreamErrorStyle(enum.StrEnum):
    """How a stream that fails after its headers were sent reports the failure."""

    #: ``data: [SERVER_ERROR]<message>`` (DB-GPT's chat streams).
    DBGPT = "dbgpt"
    #: ``data: {"error": {...}}`` (what openai-python raises APIError on).
    OPENAI = "openai"


_FIELD_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "dict": dict[str, Any],
    "list": list[Any],
    "list[str]": list[str],
    "list[int]": list[int],
    "any": Any,
}


class RequestField(OperatorParams):
    """One field of a request declared in a flow file."""

    type: str = Field("str", description=f"One of: {', '.join(_FIELD_TYPES)}.")
    default: Any = Field(None, description="The value when the request leaves it out.")
    required: bool | None = Field(
        None, description="Whether the request must give it (default: when no default)."
    )
    description: str | None = None


class HttpTriggerParams(OperatorParams):
    """``trigger: {http: {...}}`` in a flow file: HttpTrigger's constructor, as data."""

    endpoint: str | None = Field(
        None, description="Path under /api/v1/awel/trigger.", examples=["/my-flow"]
    )
    path: str | None = Field(None, description="An absolute path instead of an endpoint.")
    methods: list[str] | str = "GET"
    request: dict[str, RequestField] | None = Field(
        None, description="The request's fields (query for GET/DELETE, else the body)."
    )
    request_body: str | None = Field(
        None,
        description="Instead of `request`: 'dict', 'str', or a pydantic model as 'module:Class'.",
    )
    streaming_response: bool = False
    response: ResponseKind = ResponseKind.JSON
    stream_response: ResponseKind = ResponseKind.SSE
    sse_end: str | None = None
    stream_errors: StreamErrorStyle = StreamErrorStyle.DBGPT
    errors: str = "serve_result"
    ok_failures: list[str] = Field(
        default_factory=list,
        description="Error-code prefixes answered HTTP 200 with success false ('' for all).",
    )
    response_media_type: str | None = None
    response_headers: dict[str, str] | None = None
    status_code: int = 200
    max_body_size: int | None = Field(
        None, gt=0, description="Largest request body, bytes (default: the server's limit)."
    )
    summary: str | None = None
    tags: list[str] = Field(default_factory=list)


def request_model(name: str, fields: dict[str, RequestField]) -> type[BaseModel]:
    """A pydantic model for request fields declared in a flow file."""
    definitions: dict[str, Any] = {}
    for field_name, spec in fields.items():
        if spec.type not in _FIELD_TYPES:
            raise ValueError(
                f"field '{field_name}' has unknown type '{spec.type}';"
                f" use one of {', '.join(_FIELD_TYPES)}"
            )
        required = spec.required if spec.required is not None else spec.default is None
        default: Any = ... if required else spec.default
        definitions[field_name] = (
            _FIELD_TYPES[spec.type],
            Field(default, description=spec.description),
        )
    model: type[BaseModel] = create_model(name, **definitions)
    return model


def _model_name(params: HttpTriggerParams) -> str:
    where = params.endpoint or params.path or "request"
    words = [w for w in "".join(c if c.isalnum() else " " for c in where).split() if w]
    return "".join(w[:1].upper() + w[1:] for w in words) + "Request"


class HttpTrigger(TriggerOperator[Any]):
    """An HTTP route that runs the flow.

    ``endpoint`` is relative to ``/api/v1/awel/trigger`` (as in DB-GPT, ``{dag_id}`` is
    replaced by the flow's id); ``path`` gives an absolute path instead, which is how the
    shipped API flows claim routes such as ``/api/v1/chat/db/list``.

    ``request_body`` is a pydantic model (GET and DELETE read its fields from the query
    string; other methods from a JSON or form body), ``dict`` for any JSON object, ``str``
    for the raw body, or None for no input. The flow is called with the parsed value.

    Streaming is decided per request: ``streaming_predict_func(body)`` if given, else the
    body's ``stream`` / ``streaming`` field if it has one, else ``streaming_response``.
    """

    Params = HttpTriggerParams

    @classmethod
    def from_params(cls, params: HttpTriggerParams, **kwargs: Any) -> HttpTrigger:
        body: type[Any] | None = None
        if params.request is not None and params.request_body is not None:
            raise ValueError("give either `request` (fields) or `request_body`, not both")
        if params.request is not None:
            body = request_model(_model_name(params), params.request)
        elif params.request_body in ("dict", "str"):
            body = dict if params.request_body == "dict" else str
        elif params.request_body is not None:
            found = import_path(params.request_body)
            if not (isinstance(found, type) and issubclass(found, BaseModel)):
                raise ValueError(f"request_body '{params.request_body}' is not a pydantic model")
            body = found
        return cls(
            params.endpoint,
            path=params.path,
            methods=params.methods,
            request_body=body,
            streaming_response=params.streaming_response,
            response=params.response,
            stream_response=params.stream_response,
            sse_end=params.sse_end,
            stream_errors=params.stream_errors,
            errors=params.errors,
            ok_failures=params.ok_failures,
            response_media_type=params.response_media_type,
            response_headers=params.response_headers,
            status_code=params.status_code,
            max_body_size=params.max_body_size,
            summary=params.summary,
            tags=params.tags,
            **kwargs,
        )

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        path: str | None = None,
        methods: str | Sequence[str] = "GET",
        request_body: type[Any] | None = None,
        streaming_response: bool = False,
        streaming_predict_func: Callable[[Any], bool] | None = None,
        response: ResponseKind | str = ResponseKind.JSON,
        stream_response: ResponseKind | str = ResponseKind.SSE,
        sse_end: str | None = None,
        stream_errors: StreamErrorStyle | str = StreamErrorStyle.DBGPT,
        errors: str = "serve_result",
        ok_failures: Sequence[str] = (),
        response_model: type[BaseModel] | None = None,
        response_headers: dict[str, str] | None = None,
        response_media_type: str | None = None,
        status_code: int = 200,
        max_body_size: int | None = None,
        query_fields: Sequence[str] = (),
        header_fields: Mapping[str, str] | None = None,
        summary: str | None = None,
        tags: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (endpoint is None) == (path is None):
            raise DAGBuildError(
                "an HttpTrigger needs exactly one of endpoint= (under"
                f" {TRIGGER_PREFIX}) or path= (absolute)",
                code="trigger.path",
            )
        self.endpoint = endpoint
        self._path = path
        method_list = [methods] if isinstance(methods, str) else list(methods)
        self.methods = [m.upper() for m in method_list]
        bad = [m for m in self.methods if m not in _METHODS]
        if bad or not self.methods:
            raise DAGBuildError(
                f"unsupported HTTP method(s) {bad or methods!r}; use {sorted(_METHODS)}",
                code="trigger.method",
            )
        self.request_body = request_body
        response = ResponseKind(response)
        if response is ResponseKind.OPENAI_STREAM:
            # OpenAI's clients read chunks, stop at [DONE], and expect its error shapes.
            stream_response = ResponseKind.OPENAI_STREAM
            sse_end = sse_end or "[DONE]"
            stream_errors = StreamErrorStyle.OPENAI
            if errors == "serve_result":
                errors = "openai"
        if isinstance(request_body, type):
            # What the flow is called with, for the edge checks (None: the server's call).
            self.out_type = request_body
        self.streaming_response = streaming_response
        self.streaming_predict_func = streaming_predict_func
        self.response = ResponseKind(response)
        self.stream_response = ResponseKind(stream_response)
        #: The last event of an SSE stream (e.g. ``[DONE]``), or None for no end marker.
        self.sse_end = sse_end
        self.stream_errors = StreamErrorStyle(stream_errors)
        #: The error shape of the route: ``serve_result`` (DB-GPT's global handlers),
        #: ``result`` (app routes, with host_name) or ``openai``.
        self.errors = errors
        #: Error-code prefixes (``datasource.``; ``""`` for every code) of failures the flow
        #: raises that are answered with HTTP 200 and ``success: false`` in the envelope:
        #: DB-GPT answers its SQL editor and connection test so, and its web UI reads the
        #: envelope, not the status. A request the server cannot parse is still a 400.
        self.ok_failures = tuple(ok_failures)
        self.response_model = response_model
        self.response_headers = dict(response_headers or {})
        self.response_media_type = response_media_type
        self.status_code = status_code
        #: The largest request body this route reads, bytes; None: the server's setting
        #: (one for routes that take files, one for the rest).
        self.max_body_size = max_body_size
        #: Fields a JSON-body route also accepts from the query string (DB-GPT's clients
        #: send some POST fields there).
        self.query_fields = tuple(query_fields)
        #: Request headers that fill a field of the request model, winning over the query
        #: and body: DB-GPT's chat routes take the user from a ``user-id`` header.
        self.header_fields = dict(header_fields or {})
        self.summary = summary
        self.tags = tuple(tags)
        self._stream_fields: tuple[str, ...] | None = None

    @property
    def path(self) -> str:
        """The full route path."""
        if self._path is not None:
            return self._path if self._path.startswith("/") else "/" + self._path
        endpoint = self.endpoint or ""
        if self.dag is not None:
            endpoint = endpoint.replace("{dag_id}", self.dag.dag_id)
        if not endpoint.startswith("/"):
            endpoint = "/" + endpoint
        return TRIGGER_PREFIX + endpoint

    def may_stream(self) -> bool:
        """Whether any request could be answered with a stream (else skip asking each one)."""
        if self.streaming_predict_func is not None or self.streaming_response:
            return True
        if self._stream_fields is None:
            self._stream_fields = _stream_fields(self.request_body)
        return bool(self._stream_fields)

    def wants_stream(self, body: Any) -> bool:
        """Whether this request should be answered with a stream."""
        if self.streaming_predict_func is not None:
            return bool(self.streaming_predict_func(body))
        fields = self._stream_fields
        if fields is None:
            fields = self._stream_fields = _stream_fields(self.request_body)
        for field in fields:
            value = body.get(field) if isinstance(body, dict) else getattr(body, field, None)
            if value is not None:
                if isinstance(value, str):
                    return value.strip().lower() in ("1", "true", "yes", "on")
                return bool(value)
        return self.streaming_response


def _stream_fields(body: type[Any] | None) -> tuple[str, ...]:
    # Worked out once per route: asking a pydantic model for a field it lacks costs an
    # exception on every request.
    names = ("stream", "streaming")
    if isinstance(body, type) and issubclass(body, BaseModel):
        return tuple(n for n in names if n in body.model_fields)
    if body is dict:
        return names
    return ()


def call_input(dag: DAG, data: Any) -> Any:
    """A call's input as the server hands it to the flow: a JSON object parsed into the
    trigger's pydantic request model when it has one (``awel run`` and the flow API's
    debug run call flows as the route would). Raises pydantic's ``ValidationError``, whose
    ``title`` names the model, when it does not fit."""
    if not isinstance(data, dict):
        return data
    for entry in dag.root_nodes:
        model = getattr(entry, "request_body", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data)
    return data
