"""A flow file's parameters: ``${params.NAME}`` in its node and trigger parameters,
replaced by the value the loader is given before the flow is built.

An agent package declares its parameters (types, defaults) and its YAML flows use them
where a value would be written: ``space: ${params.space}``. A string that is one reference
and nothing else takes the value with its type (``temperature: ${params.temperature}``
becomes the float); a reference inside a longer string is written into it as text.

Only ``${params.`` is read here: every other ``${...}`` (DB-GPT's variable references) is
left as written, for whatever resolves those when the flow runs. A reference to a name the
flow was not given is a problem at its line, never a silent empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PARAMS_REF", "substitute"]

#: ``${params.NAME}``, NAME as a parameter is named in a manifest.
PARAMS_REF = re.compile(r"\$\{\s*params\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}")

Loc = tuple[str | int, ...]


def substitute(
    value: Any,
    params: Mapping[str, Any],
    loc: Loc,
    unknown: Callable[[str, Loc], None],
) -> Any:
    """``value`` with every ``${params.NAME}`` in its strings replaced (mappings and lists
    are walked, keys are not); ``unknown(name, loc)`` is told of each name ``params`` lacks,
    and that reference is left as written."""
    if isinstance(value, str):
        return _in_string(value, params, loc, unknown)
    if isinstance(value, dict):
        return {k: substitute(v, params, (*loc, k), unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params, (*loc, i), unknown) for i, v in enumerate(value)]
    return value


def _in_string(
    text: str, params: Mapping[str, Any], loc: Loc, unknown: Callable[[str, Loc], None]
) -> Any:
    if "${" not in text:
        return text
    whole = PARAMS_REF.fullmatch(text.strip())
    if whole is not None:
        name = whole.group(1)
        if name in params:
            return params[name]
        unknown(name, loc)
        return text

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            unknown(name, loc)
            return match.group(0)
        return _as_text(params[name])

    return PARAMS_REF.sub(one, text)


def _as_text(value: Any) -> str:
    # Written into a string the way YAML would have spelled it: true, not True.
    return value if isinstance(value, str) else json.dumps(value)
