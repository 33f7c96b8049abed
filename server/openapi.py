"""The OpenAPI document of the server, generated from the flows it serves.

No route of this server is written in its code: each flow's :class:`~awel.trigger.HttpTrigger`
declares one, and user flows come and go while the server runs. A document written by hand,
or collected from decorators, would be wrong the moment a flow changed. So the document is
built from the route table itself: paths and methods from the triggers, request and
response schemas from their pydantic models, content types from their response kinds, and
error bodies from their error styles. The server rebuilds it when the table is swapped.

Shape decisions:

* OpenAPI **3.0.3**, not 3.1: the bundled Swagger UI (4.x) reads 3.0 only. Pydantic's
  JSON Schema is translated (:mod:`server.openapi_schema`); its ``$defs`` become components.
* Component names are qualified by the flow id (``simple_dag_example.Person``): two flows
  may each have a model called ``Body``, and a user flow appearing must not rename the
  components of the shipped ones (CI diffs the document).
* GET and DELETE read a model's fields from the query string, so they are documented as
  query parameters; other methods take a JSON body (and a multipart form when the model has
  :class:`~awel.trigger.UploadedFile` fields).
* A route that may stream lists both content types under its success response;
  ``RESULT`` kinds wrap the response model in DB-GPT's ``Result``; 400 and 500 carry the
  route's error body (serve or app ``Result``, or OpenAI's ``{"error": ...}``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from awel import __version__
from awel.errors import AwelError
from awel.runner import compile_plan
from awel.trigger import TRIGGER_PREFIX, ResponseKind, StreamErrorStyle

from .errors import ErrorStyle
from .flows import FLOW_ERRORS_PATH
from .openapi_schema import ERROR_SCHEMAS, LOAD_PROBLEM, Schema, envelope, to_openapi
from .request import file_fields
from .routes import Route

log = logging.getLogger("awel.server")

OPENAPI_VERSION = "3.0.3"
#: The tag of the server's own routes (health, flow errors, metrics).
SERVER_TAG = "server"

_Mode = Literal["validation", "serialization"]

_METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Methods whose model fields come from the query string (server/request.py does the same).
_QUERY_METHODS = frozenset({"GET", "DELETE"})
_PARAM = re.compile(r"\{(\w+)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_STREAM_FIELDS = ("stream", "streaming")


# --- the document ---------------------------------------------------------------------------


def build_document(
    routes: Iterable[Route], *, infra: Iterable[str] = (), title: str = "AWEL"
) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` plus the server routes named in ``infra``.

    Paths, components and tags are sorted, so the same flows give the same document.
    """
    doc = _Document()
    for route in routes:
        doc.add_route(route)
    for path in infra:
        doc.add_infra(path)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": __version__,
            "description": (
                "DB-GPT's HTTP API, served by AWEL flows. This document is generated from"
                " the flows mounted now, so it changes when user flows are reloaded."
            ),
        },
        "paths": dict(sorted(doc.paths.items())),
        "components": {"schemas": dict(sorted(doc.components.items()))},
    }


class _Document:
    def __init__(self) -> None:
        self.paths: dict[str, dict[str, Any]] = {}
        self.components: dict[str, Schema] = {}
        self._operation_ids: set[str] = set()
        self._prefixes: set[str] = set()

    def _operation_id(self, base: str) -> str:
        base = re.sub(r"\W", "_", base)
        name, n = base, 1
        while name in self._operation_ids:
            n += 1
            name = f"{base}_{n}"
        self._operation_ids.add(name)
        return name

    def _prefix(self, dag_id: str) -> str:
        base = _UNSAFE.sub("_", dag_id) or "flow"
        prefix, n = base, 1
        # Two files may define flows with one id; their models must not share names.
        while prefix in self._prefixes:
            n += 1
            prefix = f"{base}_{n}"
        self._prefixes.add(prefix)
        return prefix + "."

    def _schemas(
        self, dag_id: str, models: list[tuple[type[BaseModel], _Mode]]
    ) -> dict[Any, Schema]:
        """Register ``models`` (and the models they use) as components; their references."""
        if not models:
            return {}
        prefix = self._prefix(dag_id)
        try:
            # One pass for a flow's request and response models, so a model used by both
            # (in two modes) gets consistent names.
            keyed, top = models_json_schema(models)
        except Exception as exc:
            log.warning("no schema for the models of flow '%s': %s", dag_id, exc)
            return {}

        def ref(target: str) -> str:
            return "#/components/schemas/" + prefix + _UNSAFE.sub("_", target.rsplit("/", 1)[-1])

        for name, schema in top.get("$defs", {}).items():
            self.components[prefix + _UNSAFE.sub("_", name)] = to_openapi(schema, ref)
        return {key: to_openapi(schema, ref) for key, schema in keyed.items()}

    def _component(self, schema: Schema) -> Schema:
        """The component a ``$ref`` schema points at (itself for an inline schema)."""
        target = schema.get("$ref")
        if isinstance(target, str):
            return self.components.get(target.rsplit("/", 1)[-1], {})
        return schema

    def _error(self, style: ErrorStyle) -> Schema:
        name, schema = ERROR_SCHEMAS[style]
        self.components.setdefault(name, schema)
        return {"$ref": "#/components/schemas/" + name}

    # --- flow routes ----------------------------------------------------------------------

    def add_route(self, route: Route) -> None:
        trigger = route.trigger
        body = trigger.request_body
        model = body if isinstance(body, type) and issubclass(body, BaseModel) else None
        out_model = trigger.response_model
        wanted: list[tuple[type[BaseModel], _Mode]] = []
        if model is not None:
            wanted.append((model, "validation"))
        if out_model is not None:
            wanted.append((out_model, "serialization"))
        refs = self._schemas(route.dag.dag_id, wanted)
        # A model whose schema could not be made is documented as any object.
        request = refs.get((model, "validation")) if model is not None else None
        output = refs.get((out_model, "serialization"), {}) if out_model is not None else {}
        path = route.path.rstrip("/") or "/"
        item = self.paths.setdefault(path, {})
        for method in (m for m in _METHOD_ORDER if m in route.methods):
            item[method.lower()] = self._operation(route, method, path, request, output)

    def _operation(
        self, route: Route, method: str, path: str, request: Schema | None, output: Schema
    ) -> dict[str, Any]:
        trigger = route.trigger
        dag = route.dag
        described = (dag.description or "").strip()
        summary = trigger.summary
        if summary is None:
            # The description's first line is the summary; the rest stays the description.
            first, _, described = described.partition("\n")
            summary = first.strip() or f"Run flow '{dag.dag_id}'"
            described = described.strip()
        details = [described] if described else []
        details.append(f"Runs the flow `{dag.dag_id}`.")
        op: dict[str, Any] = {
            "operationId": self._operation_id(f"{dag.dag_id}_{method.lower()}"),
            "summary": summary,
            "description": "\n\n".join(details),
            "tags": list(trigger.tags) or [_group(path)],
        }
        props, required = self._fields(request)
        in_path = _PARAM.findall(path)
        params = [_parameter(name, "path", props.get(name), True) for name in in_path]
        if method in _QUERY_METHODS:
            for name, prop in props.items():
                if name not in in_path:
                    params.append(_parameter(name, "query", prop, name in required))
            if request is None and trigger.request_body is dict:
                params.append(_FREE_QUERY)
        else:
            for name in trigger.query_fields:
                if name in props and name not in in_path:
                    params.append(_parameter(name, "query", props[name], False))
            body = self._request_body(route, request, props, required, in_path)
            if body is not None:
                op["requestBody"] = body
        for header, field in trigger.header_fields.items():
            params.append(_parameter(header, "header", props.get(field), False))
        if params:
            op["parameters"] = params
        style = ErrorStyle(trigger.errors)
        op["responses"] = {
            str(trigger.status_code): self._success(route, output),
            "400": _error_response(_BAD_REQUEST, self._error(style)),
            "500": _error_response(_FAILED, self._error(style), retry_header=True),
        }
        return op

    def _fields(self, request: Schema | None) -> tuple[dict[str, Schema], set[str]]:
        if request is None:
            return {}, set()
        model = self._component(request)
        return dict(model.get("properties", {})), set(model.get("required", []))

    def _request_body(
        self,
        route: Route,
        request: Schema | None,
        props: dict[str, Schema],
        required: set[str],
        in_path: list[str],
    ) -> dict[str, Any] | None:
        body = route.trigger.request_body
        if body is None:
            return None
        if body is str:
            return {"content": {"text/plain": {"schema": {"type": "string"}}}}
        if request is None:
            # dict, or a model whose schema could not be made: any JSON object.
            schema: Schema = {"type": "object", "additionalProperties": True}
            return {"content": {"application/json": {"schema": schema}}}
        needed = required - set(in_path)
        if set(in_path) & set(props):
            # Fields filled from the path are not the body's to give.
            shown = {k: v for k, v in props.items() if k not in in_path}
            request = _object(shown, needed)
        content: dict[str, Any] = {"application/json": {"schema": request}}
        files = file_fields(route.trigger.request_body)
        if files:
            form = {
                name: _binary(prop) if name in files else prop
                for name, prop in props.items()
                if name not in in_path
            }
            content["multipart/form-data"] = {"schema": _object(form, needed)}
        return {"required": bool(needed), "content": content}

    def _success(self, route: Route, output: Schema) -> dict[str, Any]:
        kinds = _kinds(route)
        content: dict[str, Any] = {}
        notes: list[str] = []
        headers: dict[str, Any] = {}
        for kind in kinds:
            media, schema, note = _content(route, kind, output)
            content.setdefault(media, {"schema": schema})
            notes.append(note)
            if kind is ResponseKind.FILE:
                headers["Content-Disposition"] = {
                    "description": '`attachment; filename="..."`',
                    "schema": {"type": "string"},
                }
        if len(kinds) > 1:
            notes.insert(0, "A stream when the request asks for one (`stream`), else a value.")
        answer: dict[str, Any] = {"description": " ".join(notes), "content": content}
        if headers:
            answer["headers"] = headers
        return answer

    # --- server routes --------------------------------------------------------------------

    def add_infra(self, path: str) -> None:
        known = INFRA.get(path)
        if known is None:
            return
        item = self.paths.setdefault(path, {})
        for method, op in known.items():
            item[method] = {**op, "operationId": self._operation_id(op["operationId"])}


def _parameter(name: str, where: str, prop: Schema | None, required: bool) -> dict[str, Any]:
    schema = dict(prop) if prop else {"type": "string"}
    param: dict[str, Any] = {"name": name, "in": where}
    description = schema.pop("description", None)
    # A parameter's name already says what the field title would.
    schema.pop("title", None)
    if description:
        param["description"] = description
    if required:
        param["required"] = True
    param["schema"] = schema
    return param


def _object(props: dict[str, Schema], required: set[str]) -> Schema:
    schema: Schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = sorted(required)
    return schema


def _binary(prop: Schema) -> Schema:
    one: Schema = {"type": "string", "format": "binary"}
    if prop.get("type") == "array":
        return {"type": "array", "items": one}
    return one


def _kinds(route: Route) -> list[ResponseKind]:
    """The response kinds a route may answer with (``HttpTrigger.wants_stream`` decides)."""
    trigger = route.trigger
    value, stream = trigger.response, trigger.stream_response
    if _always_streams(route) or value is stream:
        return [stream]
    body = trigger.request_body
    if trigger.streaming_predict_func is not None:
        return [value, stream]
    if isinstance(body, type) and issubclass(body, BaseModel):
        if any(name in body.model_fields for name in _STREAM_FIELDS):
            return [value, stream]
    elif body is dict and trigger.streaming_response:
        # Streams unless the object says `"stream": false`.
        return [value, stream]
    return [stream] if trigger.streaming_response else [value]


def _always_streams(route: Route) -> bool:
    """Whether the flow's output is a stream whatever the request (a streaming operator)."""
    try:
        return compile_plan(route.node).output_stream
    except AwelError:
        return False


def _group(path: str) -> str:
    """A tag from the path: the segment after ``/api/v1`` (or the trigger prefix)."""
    parts = [p for p in path.split("/") if p]
    if path.startswith(TRIGGER_PREFIX + "/"):
        rest = parts[len(TRIGGER_PREFIX.strip("/").split("/")) :]
        # A flow of one segment (``/trigger/count``) has no group of its own.
        return rest[0] if len(rest) > 1 and not rest[0].startswith("{") else "flows"
    while parts and (parts[0] == "api" or re.fullmatch(r"v\d+", parts[0])):
        parts.pop(0)
    return parts[0] if parts and not parts[0].startswith("{") else "default"


# --- content by response kind ---------------------------------------------------------------


def _sse_note(route: Route) -> str:
    trigger = route.trigger
    if (route.node.output_format or "").upper() == "SSE":
        note = "Server-Sent Events, written by the flow as they are."
    else:
        note = (
            "Server-Sent Events: each item is one event, `data: <item>` and a blank line"
            " (text as it is, anything else as JSON; a multi-line item is several `data:`"
            " lines)."
        )
    note += " Lines starting with `:` are keep-alive comments."
    if trigger.stream_errors is StreamErrorStyle.OPENAI:
        note += ' A failure mid-stream is one `data: {"error": {...}}` event.'
    else:
        note += " A failure mid-stream is one `data: [SERVER_ERROR]<message>` event."
    if trigger.sse_end is not None:
        note += f" The stream ends with `data: {trigger.sse_end}`."
    return note


def _content(route: Route, kind: ResponseKind, output: Schema) -> tuple[str, Schema, str]:
    """Media type, schema and a sentence of description for one response kind."""
    media = route.trigger.response_media_type
    text: Schema = {"type": "string"}
    if kind is ResponseKind.JSON:
        return "application/json", output, "The flow's output as JSON."
    if kind is ResponseKind.RESULT:
        schema = envelope(output, host_name=True)
        return "application/json", schema, "The flow's output in DB-GPT's app `Result`."
    if kind is ResponseKind.SERVE_RESULT:
        schema = envelope(output, host_name=False)
        return "application/json", schema, "The flow's output in DB-GPT's serve `Result`."
    if kind is ResponseKind.TEXT:
        return media or "text/plain", text, "The flow's output as text."
    if kind is ResponseKind.SSE:
        return media or "text/event-stream", text, _sse_note(route)
    if kind is ResponseKind.NUL_JSON:
        note = (
            "JSON chunks, each followed by a NUL byte (DB-GPT's worker stream). A failure"
            ' mid-stream is a last chunk `{"text": <message>, "error_code": 1}`.'
        )
        return media or "text/plain", text, note
    binary: Schema = {"type": "string", "format": "binary"}
    return media or "application/octet-stream", binary, "A file download."


# --- errors and the server's own routes -----------------------------------------------------

_BAD_REQUEST = (
    "The request does not fit: a field is missing or invalid (each named in the message),"
    " the body is not JSON, or the flow rejected the input."
)
_FAILED = (
    "The flow failed. The message names the failing node and an error id that is also in"
    " the server log, next to the traceback."
)

_FREE_QUERY: dict[str, Any] = {
    "name": "params",
    "in": "query",
    "description": "Any query parameters; the flow receives them as an object.",
    "style": "form",
    "explode": True,
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _error_response(description: str, schema: Schema, *, retry_header: bool = False) -> Schema:
    answer: Schema = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if retry_header:
        answer["headers"] = {
            "x-should-retry": {
                "description": "`false`: the same request would fail the same way.",
                "schema": {"type": "string"},
            }
        }
    return answer


def _server_op(operation_id: str, summary: str, media: str, schema: Schema) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [SERVER_TAG],
            "responses": {"200": {"description": summary, "content": {media: {"schema": schema}}}},
        }
    }


#: Where the server answers what failed to load among the user's flows.

#: The server's own routes, documented when the app has them.
INFRA: dict[str, dict[str, Any]] = {
    "/health": _server_op(
        "health",
        "Whether the server is up",
        "application/json",
        {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
        },
    ),
    FLOW_ERRORS_PATH: _server_op(
        "flow_errors",
        "What failed to load among the user's flows",
        "application/json",
        envelope({"type": "array", "items": LOAD_PROBLEM}, host_name=False),
    ),
    "/metrics": _server_op("metrics", "Prometheus metrics", "text/plain", {"type": "string"}),
}
