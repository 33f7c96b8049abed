"""Turning an HTTP request into a trigger's input, compiled once per route.

A route's :class:`RequestParser` knows its request model's fields up front, so a request
costs one pass over the query string (and body) and one pydantic validation. DB-GPT's
clients send some POST fields in the query string and others in the body, so both are read
for every method and the body wins.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import annotated_types
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_core import SchemaValidator

from awel.errors import BadRequest
from awel.trigger import HttpTrigger, UploadedFile

from .errors import validation_message

_QUERY_METHODS = frozenset({"GET", "DELETE", "HEAD"})
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_PATH_PARAM = re.compile(r"\{(\w+)\}")
#: The body limit of a parser no app has bound yet (aiohttp's default).
DEFAULT_MAX_BODY = 1024**2


def bad_body(message: str, param: str | None = None) -> BadRequest:
    """The 400 for a body the route cannot read (DB-GPT's ``where:message;`` form)."""
    return BadRequest(f"body:{message};", param=param)


def file_fields(model: Any) -> set[str]:
    """The fields (by their JSON names) that take uploaded files."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return set()
    return {
        info.alias or name
        for name, info in model.model_fields.items()
        if _mentions(info.annotation, UploadedFile)
    }


#: No database we store to holds an integer past 64 bits (SQLite raises OverflowError).
#: gt/lt, not ge/le: pydantic keeps one constraint of a kind, and the model's own ge/le
#: (``n: int = Field(ge=1, le=16)``) must still hold.
_INT64 = Field(gt=-(2**63) - 1, lt=2**63)


def bounded(model: type[BaseModel]) -> type[BaseModel]:
    """``model``, or a subclass whose int fields refuse values past 64 bits.

    An id of 2**64 from a path would otherwise reach the store and fail there as a 500;
    refused by the validator, it is a 400 naming the field, at no cost per request.
    """
    if not getattr(model, "__pydantic_complete__", False):
        # Forward references not resolved yet: pydantic finishes it on first use.
        return model
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if any(isinstance(m, (annotated_types.Gt, annotated_types.Lt)) for m in info.metadata):
            continue  # bounds of its own, which ours would replace
        annotation = _bound(info.annotation)
        if annotation is not info.annotation:
            fields[name] = (annotation, info)
    if not fields:
        return model
    sub: type[BaseModel] = create_model(
        model.__name__, __base__=model, __module__=model.__module__, **fields
    )
    return sub


def _bound(annotation: Any) -> Any:
    if annotation is int:
        return Annotated[int, _INT64]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, set, frozenset):
        args = typing.get_args(annotation)
        bound = tuple(_bound(a) for a in args)
        if bound != args:
            if origin is types.UnionType:
                origin = typing.Union
            return origin[bound if len(bound) > 1 else bound[0]]
    return annotation


def _mentions(annotation: Any, cls: type) -> bool:
    if annotation is cls:
        return True
    return any(_mentions(arg, cls) for arg in typing.get_args(annotation))


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, set, tuple, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


class RequestParser:
    """Reads a request into the value a trigger hands its flow."""

    def __init__(self, trigger: HttpTrigger) -> None:
        self.trigger = trigger
        body = trigger.request_body
        self.body_type = body
        self.model: type[BaseModel] | None = (
            bounded(body) if isinstance(body, type) and issubclass(body, BaseModel) else None
        )
        self.fields: dict[str, bool] = {}
        self._validate: Callable[[Any], Any] | None = None
        if self.model is not None:
            for name, info in self.model.model_fields.items():
                multi = _is_list(info.annotation)
                self.fields[name] = multi
                if info.alias:
                    self.fields[info.alias] = multi
            # model_validate's wrapper costs more than the validation of a small query.
            # A model not yet complete (forward references) keeps the wrapper, which
            # finishes it on first use.
            complete = getattr(self.model, "__pydantic_complete__", False)
            validator = self.model.__pydantic_validator__ if complete else None
            self._validate = (
                validator.validate_python
                if isinstance(validator, SchemaValidator)
                else self.model.model_validate
            )
        self._headers = tuple(trigger.header_fields.items())
        #: Fields filled from the path: a bad one is reported as ``path.<name>``.
        self._path_fields = frozenset(_PATH_PARAM.findall(trigger.path))
        #: The largest body this route reads (the route binds it from the app's settings).
        self.max_body = DEFAULT_MAX_BODY
        self._single = tuple(k for k, multi in self.fields.items() if not multi)
        self._multi = tuple(k for k, multi in self.fields.items() if multi)

    def reads_body(self, request: web.Request) -> bool:
        """Whether parsing this request must await its body (else :meth:`parse_now` will do)."""
        return self.body_type is str or (
            request.method not in _QUERY_METHODS and request.can_read_body
        )

    def query_only(self, methods: frozenset[str]) -> bool:
        """Whether requests with these methods never need their body read."""
        return self.body_type is not str and methods <= _QUERY_METHODS

    async def parse(self, request: web.Request, path_params: dict[str, str]) -> Any:
        size = request.content_length
        if (size is None or size > request.client_max_size) and (
            request.client_max_size != self.max_body
        ):
            # A body that declares no size (Route checks a declared one), or one past the
            # app's cap that this route allows: aiohttp counts while it reads, up to this
            # route's limit. A declared size within both needs neither.
            request = request.clone(client_max_size=self.max_body)
        if self.body_type is str:
            return _decode(await request.read(), request.charset)
        return self.parse_now(request, path_params, await self._read_body(request))

    def parse_now(
        self,
        request: web.Request,
        path_params: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The trigger's input from the query, the path and a body already read.

        A request with no body to read is parsed here without awaiting; this is on every
        request, so it is one function with plain loops (a comprehension costs a frame).
        """
        if self.body_type is None:
            return None
        query = request.query
        validate = self._validate
        raw: dict[str, Any]
        if validate is None:
            raw = dict(query) if query else {}
        else:
            raw = {}
            if query:
                for key in self._single:
                    if key in query:
                        raw[key] = query[key]
                for key in self._multi:
                    if key in query:
                        raw[key] = query.getall(key)
        if body:
            raw.update(body)
        if path_params:
            # The path names the resource: a body field of the same name cannot move the
            # request to another one (PUT /spaces/1 with {"id": 2} is about space 1).
            raw.update(path_params)
        if self._headers:
            headers = request.headers
            for header, field in self._headers:
                value = headers.get(header)
                if value is not None:
                    raw[field] = value
        if validate is None:
            return raw
        try:
            return validate(raw)
        except ValidationError as exc:
            where = "query" if request.method in _QUERY_METHODS else "body"
            places = dict.fromkeys(self._path_fields, "path") if self._path_fields else None
            message, first, _ = validation_message(exc, where, places)
            raise BadRequest(message, param=first) from None

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        ctype = request.content_type
        if ctype in _FORMS:
            return self._form(ctype, await _read_form(request))
        raw = await request.read()
        if not raw.strip():
            return {}
        # JSON between systems is UTF-8 (RFC 8259), whatever charset the header claims.
        text = _decode(raw, "utf-8")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise bad_body(f"request body is not valid JSON ({exc})") from None
        except RecursionError:
            raise bad_body("request body is nested too deeply to read") from None
        if "\\ud" in text or "\\uD" in text:
            # JSON may escape half of a UTF-16 pair alone; Python keeps it, and it fails
            # later, wherever the text is encoded (the store, the answer). One search of
            # the body here, a closer look only when it finds an escape.
            _no_lone_surrogates(data)
        if self.body_type is list:
            # A route that takes a JSON array (DB-GPT's sync_batch) gets it as ``body``.
            if not isinstance(data, list):
                raise bad_body(f"expected a JSON array, got {_json_kind(data)}")
            return {"body": data}
        if not isinstance(data, dict):
            if self.model is None and self.body_type is not dict:
                return {"body": data}
            raise bad_body(f"expected a JSON object, got {_json_kind(data)}")
        return data

    def _form(self, ctype: str, form: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in form:
            if self.model is not None and key not in self.fields and ctype == _FORMS[0]:
                # A part nobody reads would be dropped without a word (a file sent under
                # the wrong name): say which parts the route takes instead.
                takes = ", ".join(sorted(self.fields)) or "no fields"
                raise bad_body(f"unknown multipart part '{key}'; this route takes: {takes}", key)
            values = [_form_value(v) for v in form.getall(key)]
            multi = self.fields.get(key, False)
            out[key] = values if multi or len(values) > 1 else values[0]
        return out


async def _read_form(request: web.Request) -> Any:
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError) as exc:
        # Broken multipart framing (no boundary, a part without a name, a part header that
        # is not HTTP), a form not in its charset, or a charset Python does not know.
        kind = request.content_type
        raise bad_body(f"the {kind} body could not be read: {_reason(exc)}") from None


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8")
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise bad_body(f"request body is not valid {exc.encoding.upper()} ({where})") from None
    except LookupError:
        raise bad_body(f"unknown charset '{charset}' in Content-Type") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid {exc.encoding.upper()} ({exc.reason} at byte {exc.start})"
    if isinstance(exc, HttpProcessingError):
        return f"a part's headers are not valid ({exc.message.strip() or 'bad header'})"
    return str(exc)


def _no_lone_surrogates(data: Any) -> None:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise bad_body(
            "a string holds half of a UTF-16 surrogate pair (\\ud800-\\udfff) alone,"
            " which is not valid Unicode"
        ) from None


def _json_kind(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    return "an array"


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return UploadedFile(
            filename=value.filename,
            content_type=value.content_type,
            data=value.file.read(),
        )
    return value
