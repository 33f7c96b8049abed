"""The ``variables`` of a ``POST /flow/debug`` request: values for that one run.

DB-GPT's request carries ``variables`` as an object, and spec 4.9 says a caller's values are
merged over the stored ones with priority. Two shapes are read:

- an object, each key a reference as a flow writes it, with or without ``${...}``
  (``"greeting:text"``, ``"${api:token@app:bot}"``), each value the value;
- a list of DB-GPT's variable items (``{key, name, value, scope?, scope_key?, sys_code?,
  user_name?, category?}``), the shape of a ``FlowPanel``'s ``variables``; a ``secret``
  category marks the value a secret, which then goes only where secrets may.

Values are text, numbers or booleans, put in as stored values are. The run sees them
through :func:`awel.variables.call_variables`; nothing stored changes and no other call sees
them.
"""

from __future__ import annotations

from typing import Any

from awel.errors import BadRequest
from awel.variables import ResolvedVariable, VariableRef, parse_reference

__all__ = ["MAX_VARIABLES", "call_values"]

#: The most values one request may give.
MAX_VARIABLES = 200
_FIELDS = ("scope", "scope_key", "sys_code", "user_name")


def call_values(raw: Any, param: str = "variables") -> dict[VariableRef, ResolvedVariable]:
    """The values ``raw`` gives, by the reference each stands for; :class:`BadRequest`
    naming the entry that is not one (see the module)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        entries = [(f"{param}.{k}", _ref(k, f"{param}.{k}"), v, False) for k, v in raw.items()]
    elif isinstance(raw, list):
        entries = [_item(item, f"{param}[{i}]") for i, item in enumerate(raw)]
    else:
        raise BadRequest(
            f"{param} is an object of references and values, such as"
            ' {"greeting:text": "Hola"}, or a list of {key, name, value} items',
            param=param,
        )
    if len(entries) > MAX_VARIABLES:
        raise BadRequest(f"{param} gives over {MAX_VARIABLES} values", param=param)
    out: dict[VariableRef, ResolvedVariable] = {}
    for where, ref, value, secret in entries:
        if isinstance(value, str | bool | int | float):
            out[ref] = ResolvedVariable(value, secret)
        else:
            raise BadRequest(f"{where}: a value is text, a number or a boolean", param=where)
    return out


def _ref(text: Any, where: str) -> VariableRef:
    written = str(text)
    ref = parse_reference(written if written.startswith("${") else "${" + written + "}")
    if ref is None:
        raise BadRequest(
            f"{where}: '{written}' is not a variable reference (key:name, optionally"
            " @scope:scope_key#sys_code%user_name)",
            param=where,
        )
    return ref


def _item(item: Any, where: str) -> tuple[str, VariableRef, Any, bool]:
    if not isinstance(item, dict):
        raise BadRequest(f"{where}: an item is an object with key, name and value", param=where)
    key, name = item.get("key"), item.get("name")
    if not isinstance(key, str) or not isinstance(name, str) or not key or not name:
        raise BadRequest(f"{where}: an item needs a 'key' and a 'name'", param=where)
    text = f"{key}:{name}"
    parts = {f: item.get(f) for f in _FIELDS}
    ref = _ref(text, where)
    ref = VariableRef(
        key=ref.key,
        name=ref.name,
        scope=str(parts["scope"] or ref.scope),
        scope_key=_text(parts["scope_key"]),
        sys_code=_text(parts["sys_code"]),
        user_name=_text(parts["user_name"]),
        text="${" + text + "}",
    )
    return where, ref, item.get("value"), item.get("category") == "secret"


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
