"""The OpenAPI document's schemas: pydantic's models in OpenAPI 3.0, and DB-GPT's shapes.

The document is OpenAPI 3.0.3 because the bundled Swagger UI (4.x) reads 3.0 only, while
pydantic writes JSON Schema 2020-12. :func:`to_openapi` translates: references are pointed
at components, ``anyOf [X, null]`` becomes ``X`` with ``nullable``, ``const`` a one-value
``enum``, ``examples`` one ``example``, a numeric ``exclusiveMinimum`` the 3.0 boolean form,
and keywords 3.0 lacks are dropped.

The rest are the fixed shapes every DB-GPT client knows, written once: the ``Result``
envelopes around a flow's output and the error bodies of the three error styles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ErrorStyle

Schema = dict[str, Any]

# The keywords of an OpenAPI 3.0 Schema Object; anything else pydantic writes is dropped.
_KEEP = frozenset(
    {
        "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxProperties", "minProperties", "required", "enum", "type", "allOf", "oneOf",
        "anyOf", "not", "items", "properties", "additionalProperties", "description",
        "format", "default", "nullable", "discriminator", "readOnly", "writeOnly",
        "example", "deprecated",
    }
)  # fmt: skip


def to_openapi(schema: Any, ref: Callable[[str], str]) -> Any:
    """``schema`` (pydantic's JSON Schema) as an OpenAPI 3.0 Schema Object.

    ``ref`` maps a ``$ref`` as pydantic wrote it to its component's reference.

        >>> to_openapi({"anyOf": [{"type": "string"}, {"type": "null"}]}, str)
        {'type': 'string', 'nullable': True}
    """
    if schema is True:
        return {}
    if not isinstance(schema, dict):
        return schema
    rest = dict(schema)
    target = rest.pop("$ref", None)
    if target is None:
        return _convert(rest, ref)
    pointer = {"$ref": ref(target)}
    siblings = _convert(rest, ref)
    # 3.0 ignores keywords beside a $ref; allOf keeps a field's description and default.
    return {"allOf": [pointer], **siblings} if siblings else pointer


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _convert(s: Schema, ref: Callable[[str], str]) -> Schema:
    nullable = False
    kind = s.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        nullable = len(types) < len(kind)
        s.pop("type")
        if len(types) == 1:
            s["type"] = types[0]
        elif types:
            s.setdefault("anyOf", [{"type": t} for t in types])
    elif kind == "null":
        s.pop("type")
        s.setdefault("enum", [None])
        nullable = True
    for key in ("anyOf", "oneOf"):
        members = s.get(key)
        if not isinstance(members, list):
            continue
        kept = [m for m in members if not _is_null(m)]
        if len(kept) == len(members):
            continue
        nullable = True
        if len(kept) != 1:
            s[key] = kept
            continue
        del s[key]
        only = kept[0]
        if isinstance(only, dict) and "$ref" not in only:
            # The member's keywords, with the field's own (title, default) on top.
            merged = _convert({**only, **s}, ref)
            merged["nullable"] = True
            return merged
        s["allOf"] = [*s.get("allOf", []), only]
    if "const" in s:
        s.setdefault("enum", [s.pop("const")])
    examples = s.pop("examples", None)
    if isinstance(examples, list) and examples:
        s.setdefault("example", examples[0])
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = s.get(exclusive)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            s[bound] = value
            s[exclusive] = True
    prefix = s.pop("prefixItems", None)
    if isinstance(prefix, list) and prefix and "items" not in s:
        s["items"] = prefix[0] if len(prefix) == 1 else {"anyOf": prefix}
    if s.get("type") == "array" and "items" not in s:
        s["items"] = {}
    if nullable:
        s["nullable"] = True

    out: Schema = {}
    for key, value in s.items():
        if key == "properties":
            out[key] = {name: to_openapi(sub, ref) for name, sub in value.items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_openapi(sub, ref) for sub in value]
        elif key in ("items", "not", "additionalProperties"):
            out[key] = value if isinstance(value, bool) else to_openapi(value, ref)
        elif key == "discriminator" and isinstance(value, dict) and "mapping" in value:
            out[key] = {**value, "mapping": {k: ref(v) for k, v in value["mapping"].items()}}
        elif key in _KEEP or key.startswith("x-"):
            out[key] = value
    return out


# --- DB-GPT's shapes ------------------------------------------------------------------------


def envelope(data: Schema, *, host_name: bool) -> Schema:
    props: dict[str, Schema] = {
        "success": {"type": "boolean"},
        "err_code": {"type": "string", "nullable": True},
        "err_msg": {"type": "string", "nullable": True},
        "data": data,
    }
    if host_name:
        props["host_name"] = {"type": "string"}
    return {"type": "object", "required": list(props), "properties": props}


def _result_error(host_name: bool) -> Schema:
    props: dict[str, Schema] = {
        "success": {"type": "boolean", "enum": [False]},
        "err_code": {"type": "string", "example": "E0001"},
        "err_msg": {"type": "string", "example": "query.name:Field required;"},
        "data": {"type": "object", "nullable": True, "description": "Always null."},
    }
    if host_name:
        props["host_name"] = {"type": "string"}
    which = "app" if host_name else "serve"
    return {
        "description": f"DB-GPT's {which} `Result` of a failure.",
        "type": "object",
        "required": list(props),
        "properties": props,
    }


_OPENAI_ERROR: Schema = {
    "description": "OpenAI's error body.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "example": "invalid_request_error"},
                "param": {"type": "string", "nullable": True},
                "code": {"type": "string", "nullable": True},
            },
        }
    },
}

ERROR_SCHEMAS: dict[ErrorStyle, tuple[str, Schema]] = {
    ErrorStyle.RESULT: ("ResultError", _result_error(True)),
    ErrorStyle.SERVE_RESULT: ("ServeResultError", _result_error(False)),
    ErrorStyle.OPENAI: ("OpenAIError", _OPENAI_ERROR),
}


LOAD_PROBLEM: Schema = {
    "type": "object",
    "required": ["file", "code", "message", "location"],
    "properties": {
        "file": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "location": {"type": "string", "description": "FILE:LINE:COL"},
    },
}
