"""Shaping data between operators: ``awel.pick``, ``awel.set``, ``awel.json_parse``,
``awel.json_dump`` and ``awel.merge``.

What a model, an HTTP API or a datasource answers is rarely what the next operator takes;
these move values around without a Python function::

    nodes:
      parse: {op: awel.json_parse, params: {extract: true}}     # the JSON in a model's answer
      city: {op: awel.pick, params: {path: "results.0.city"}}    # or a JMESPath `query`
      ask: {op: awel.set, params: {fields: {q: "'weather in ' ~ x", lang: "'en'"}}}
      both: {op: awel.merge}                                      # {parse: ..., ask: ...}

All of them run inline (no worker thread): they are cheap and pure. A parameter that cannot
work (an expression or a JMESPath query that does not parse, a key path with an empty part)
is a validation problem reported on its line of the flow file; what fails at run time (a
missing key, text that is not JSON) fails the node, named with its file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticSerializationError, to_jsonable_python

from .context import SKIP_DATA
from .expressions import Expression, compile_value_fields, fields_of
from .operators import JoinOperator, KindError, MapOperator, Step
from .registry import OperatorParams

__all__ = ["JsonDumpNode", "JsonParseNode", "MergeNode", "PickNode", "SetNode", "read_path"]


# --- awel.pick ---------------------------------------------------------------------------------

_INDEX = re.compile(r"-?\d+")


def _parts(path: str) -> list[str]:
    parts = path.split(".")
    if not all(parts):
        raise ValueError(
            f"key path {path!r} has an empty part; write keys and list indexes joined by"
            " dots, like 'rows.0.name'"
        )
    return parts


def read_path(value: Any, parts: Sequence[str]) -> Any:
    """The item at a key path: dict keys, model fields, and list indexes (``-1`` counts
    from the end). Raises LookupError saying how far the path got."""
    for depth, part in enumerate(parts):
        if isinstance(value, Mapping):
            if part in value:
                value = value[part]
                continue
            missing = f"has no key '{part}'"
        elif isinstance(value, BaseModel):
            if part in type(value).model_fields:
                value = getattr(value, part)
                continue
            missing = f"has no field '{part}'"
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            if _INDEX.fullmatch(part) and -len(value) <= int(part) < len(value):
                value = value[int(part)]
                continue
            missing = f"has no item {part} (it has {len(value)})"
        else:
            missing = f"is {type(value).__name__}, which has no keys or items"
        where = "the input" if depth == 0 else f"'{'.'.join(parts[:depth])}'"
        raise LookupError(f"key path '{'.'.join(parts)}': {where} {missing}")
    return value


def _check_query(query: str) -> str:
    try:
        jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        # The library's message spans lines (the query, a caret); its first line says it.
        first = str(exc).splitlines()[0].removesuffix(", for expression:").removesuffix(":")
        raise ValueError(f"invalid JMESPath query {query!r}: {first}") from None
    return query


_MISSING: Any = object()


class PickNode(MapOperator[Any, Any]):
    """``awel.pick``: one item out of the input, by key path (``a.b.0.c``) or JMESPath query.

    name: {op: awel.pick, params: {path: "rows.0.name"}}
    open: {op: awel.pick, params: {query: "tickets[?state=='open'].id", default: []}}
    """

    class Params(OperatorParams):
        path: str | None = Field(
            None,
            description="Keys and list indexes joined by dots ('rows.0.name'); a missing"
            " one fails the node unless 'default' is given.",
            examples=["rows.0.name"],
        )
        query: str | None = Field(
            None,
            description="A JMESPath query (jmespath.org); it gives null when nothing matches.",
            examples=["items[?price > `10`].name"],
        )
        default: Any = Field(
            None,
            description="What to give when the path is missing or the query gives null.",
        )

        @field_validator("path")
        @classmethod
        def _path_parts(cls, v: str | None) -> str | None:
            if v is not None:
                _parts(v)
            return v

        @field_validator("query")
        @classmethod
        def _query_compiles(cls, v: str | None) -> str | None:
            return None if v is None else _check_query(v)

        @model_validator(mode="after")
        def _path_or_query(self) -> PickNode.Params:
            if (self.path is None) == (self.query is None):
                raise ValueError("give exactly one of 'path' or 'query'")
            return self

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> PickNode:
        default = params.default if "default" in params.model_fields_set else _MISSING
        if params.path is not None:
            return cls(_path_reader(_parts(params.path), default), **kwargs)
        assert params.query is not None
        return cls(_query_reader(params.query, default), **kwargs)


def _path_reader(parts: list[str], default: Any) -> Callable[[Any], Awaitable[Any]]:
    # Each part as a dict key and, where it reads as one, a list index.
    steps = [(part, int(part) if _INDEX.fullmatch(part) else None) for part in parts]

    def walk(value: Any) -> Any:
        # Plain dicts and lists, the data flows carry, without the general walk's ABC
        # checks; anything else (or a missing key) takes read_path from the start.
        found = value
        for key, index in steps:
            kind = type(found)
            if kind is dict and key in found:
                found = found[key]
            elif kind is list and index is not None and -len(found) <= index < len(found):
                found = found[index]
            else:
                return read_path(value, parts)
        return found

    if default is _MISSING:

        async def pick(value: Any) -> Any:
            return walk(value)

        return pick

    async def pick_or_default(value: Any) -> Any:
        try:
            return walk(value)
        except LookupError:
            return default

    return pick_or_default


def _query_reader(query: str, default: Any) -> Callable[[Any], Awaitable[Any]]:
    compiled = jmespath.compile(query)

    async def search(value: Any) -> Any:
        if isinstance(value, BaseModel):
            # JMESPath reads dicts and lists; a model is its fields as JSON data.
            value = value.model_dump(mode="json")
        found = compiled.search(value)
        return default if found is None and default is not _MISSING else found

    return search


# --- awel.set ----------------------------------------------------------------------------------


class SetNode(MapOperator[Any, dict[str, Any]]):
    """``awel.set``: a dict built from named expressions over the input.

        request: {op: awel.set, params: {fields: {city: "place.city", days: "days + 1"}}}

    With ``keep: true`` it starts from the input's own keys (a dict's, or a model's fields)
    and sets these over them.
    """

    class Params(OperatorParams):
        fields: dict[str, Expression] = Field(
            min_length=1,
            description="Each key of the output and the jinja2 expression that gives it"
            " (over the input, bound as in awel.map); a string constant is quoted: \"'en'\".",
        )
        keep: bool = Field(
            False, description="Start from the input's own keys and set these over them."
        )

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> SetNode:
        make = compile_value_fields(params.fields)
        if params.keep:

            async def update(value: Any) -> dict[str, Any]:
                out = fields_of(value)
                out.update(make(value))
                return out

            return cls(update, **kwargs)

        async def build(value: Any) -> dict[str, Any]:
            return make(value)

        return cls(build, **kwargs)


# --- awel.json_parse / awel.json_dump ----------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
_decoder = json.JSONDecoder()


def _extract_json(text: str) -> Any:
    """The first JSON object or array in ``text``: inside a ``` fence if there is one, else
    from the first '{' or '[' that starts a valid document (prose around it is ignored)."""
    fenced = _FENCE.search(text)
    if fenced is not None:
        return json.loads(fenced.group(1))
    error: json.JSONDecodeError | None = None
    for match in re.finditer(r"[\[{]", text):
        try:
            return _decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError as exc:
            error = error or exc
    if error is not None:
        raise error
    raise ValueError("no JSON object or array in the text")


class JsonParseNode(MapOperator[str | bytes, Any]):
    """``awel.json_parse``: JSON text to data (``extract: true`` finds it in a model's prose).

    parse: {op: awel.json_parse, params: {extract: true}}
    """

    class Params(OperatorParams):
        extract: bool = Field(
            False,
            description="Find the JSON in surrounding text: inside a ``` fence, or the first"
            " object or array; for model answers that wrap their JSON in prose.",
        )

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> JsonParseNode:
        extract = params.extract

        def parse(text: str | bytes) -> Any:
            if isinstance(text, (bytes, bytearray)):
                text = text.decode("utf-8")
            if not isinstance(text, str):
                raise TypeError(f"parses JSON text, but was given {type(text).__name__}")
            return _extract_json(text) if extract else json.loads(text)

        return cls(parse, offload=False, **kwargs)


def _jsonable(value: Any) -> Any:
    # Models, dates, sets ... as pydantic writes them; anything else as json.dumps says it.
    try:
        return to_jsonable_python(value)
    except PydanticSerializationError:
        raise TypeError(f"{type(value).__name__} is not JSON serializable") from None


class JsonDumpNode(MapOperator[Any, str]):
    """``awel.json_dump``: data to JSON text (pydantic models as their JSON form).

    text: {op: awel.json_dump, params: {indent: 2}}
    """

    class Params(OperatorParams):
        indent: int | None = Field(
            None, ge=0, description="Spaces to indent nested values by; omit for one line."
        )
        sort_keys: bool = Field(False, description="Write object keys in sorted order.")
        ensure_ascii: bool = Field(
            False, description="Escape non-ASCII characters as \\uXXXX instead of writing them."
        )

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> JsonDumpNode:
        options: dict[str, Any] = {
            "indent": params.indent,
            "sort_keys": params.sort_keys,
            "ensure_ascii": params.ensure_ascii,
            "default": _jsonable,
        }

        def dump(value: Any) -> str:
            return json.dumps(value, **options)

        return cls(dump, offload=False, **kwargs)


# --- awel.merge --------------------------------------------------------------------------------


class MergeNode(JoinOperator[dict[str, Any]]):
    """``awel.merge``: several inputs joined into one dict keyed by the nodes they came from.

        both: {op: awel.merge}                        # {rows: [...], chart: {...}}
        flat: {op: awel.merge, params: {mode: update}}  # the inputs' own keys, later wins

    An input that a branch skipped is left out, so a merge below a switch holds what ran.
    """

    class Params(OperatorParams):
        mode: Literal["by_name", "update"] = Field(
            "by_name",
            description="'by_name': each input under its node's name; 'update': the keys of"
            " dict inputs merged in upstream order, a later input winning.",
        )

    def __init__(self, mode: Literal["by_name", "update"] = "by_name", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> MergeNode:
        return cls(params.mode, **kwargs)

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        if not inputs:
            raise KindError("has no input; link nodes into it")
        if any(inputs):
            raise KindError("merges values, but a stream feeds it; reduce the stream first")
        # Inputs arrive in upstream order, so the names can be read once, here.
        names = [node.label for node in self.upstream]
        if self.mode == "by_name":

            async def by_name(*values: Any) -> dict[str, Any]:
                return {
                    name: value
                    for name, value in zip(names, values, strict=True)
                    if value is not SKIP_DATA
                }

            return by_name, False
        label = self.label

        async def update(*values: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, value in zip(names, values, strict=True):
                if value is SKIP_DATA:
                    continue
                fields = fields_of(value)
                if not fields and not isinstance(value, (Mapping, BaseModel)):
                    raise TypeError(
                        f"merge '{label}' updates with dicts, but '{name}' gave"
                        f" {type(value).__name__}"
                    )
                out.update(fields)
            return out

        return update, False
