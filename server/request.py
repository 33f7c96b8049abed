"""Turning an HTTP request into a trigger's input, compiled once per route.

A route's :class:`RequestParser` knows its request model's fields up front, so a request
costs one pass over the query string (and body) and one pydantic validation. DB-GPT's
clients send some POST fields in the query string and others in the body, so both are read
for every method and the body wins.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator

from awel.trigger import HttpTrigger, UploadedFile

from .errors import ApiError, validation_message

_QUERY_METHODS = frozenset({"GET", "DELETE", "HEAD"})


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
            body if isinstance(body, type) and issubclass(body, BaseModel) else None
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
        if self.body_type is str:
            return await request.text()
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
        if path_params:
            raw.update(path_params)
        if body:
            raw.update(body)
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
            message, first, _ = validation_message(exc, where)
            raise ApiError(
                400, message, code="invalid_request", err_code="E0001", param=first
            ) from None

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        ctype = request.content_type
        if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            out: dict[str, Any] = {}
            for key in form:
                values = [_form_value(v) for v in form.getall(key)]
                multi = self.fields.get(key, False)
                out[key] = values if multi or len(values) > 1 else values[0]
            return out
        text = await request.text()
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            message = f"body:request body is not valid JSON ({exc});"
            raise ApiError(400, message, code="invalid_request", err_code="E0001") from None
        if not isinstance(data, dict):
            if self.model is None and self.body_type is not dict:
                return {"body": data}
            raise ApiError(
                400,
                f"body:expected a JSON object, got {type(data).__name__};",
                code="invalid_request",
                err_code="E0001",
            )
        return data


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return UploadedFile(
            filename=value.filename,
            content_type=value.content_type,
            data=value.file.read(),
        )
    return value
