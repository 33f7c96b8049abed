"""Flow variables: DB-GPT's ``/variables`` routes, and the provider flows resolve
``${key:name@scope}`` references with (:mod:`awel.variables`).

What a route answers is always :meth:`Variable.public
<operators.storage.variables.Variable.public>`: a secret's value is ``******`` in every
answer (create, update, list, get, delete) and never appears in an error. An update that
sends the mask back (or no value) keeps the stored value; since that value is never shown,
such an update may not turn a secret into a common variable (that would reveal it on the
next read) nor change its ``value_type`` (the stored text might not fit): both need the
value sent again.

``user_name`` and ``sys_code`` are DB-GPT's partitions, not access control: a listing
filtered by ``user_name`` shows that user's variables, and a reference without
``%user_name`` finds only variables stored without one.
"""

from __future__ import annotations

import math
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from awel.errors import BadRequest
from awel.variables import MASK, ResolvedVariable, VariableRef
from operators.storage import MetadataStore, current_store
from operators.storage.variables import (
    CATEGORIES,
    SCOPES,
    SECRET,
    VALUE_TYPES,
    NewVariable,
    Variable,
)

__all__ = [
    "StoredVariables",
    "VariableBody",
    "VariableId",
    "VariableKeysQuery",
    "VariableQuery",
    "VariableUpdate",
    "create",
    "delete",
    "get",
    "keys",
    "listing",
    "update",
]

MAX_PAGE = 1_000_000_000
#: The longest value stored, in characters.
MAX_VALUE = 8192


class _Lenient(BaseModel):
    # DB-GPT's clients send fields we do not use (gmt_created, id in a body ...).
    model_config = ConfigDict(extra="ignore")


class VariableBody(_Lenient):
    """DB-GPT's ``VariablesRequest``."""

    key: str = Field(min_length=1, max_length=128, description="The variable's key.")
    name: str = Field(min_length=1, max_length=128, description="Its name under the key.")
    label: str = Field("", max_length=255, description="What people see; the name if empty.")
    description: str | None = Field("", description="What it is for.")
    value_type: str = Field("str", description="str, int, float or bool.")
    category: str = Field("common", description="common, or secret (masked when read).")
    scope: str = Field("global", description=f"One of {', '.join(SCOPES)}.")
    scope_key: str | None = Field(None, max_length=128, description="Which app, flow ...")
    value: Any = Field(None, description="The value, of value_type.")
    enabled: bool = Field(True, description="A disabled variable resolves to nothing.")
    user_name: str | None = Field(None, max_length=128, description="Whose variable it is.")
    sys_code: str | None = Field(None, max_length=128, description="The system it is for.")

    @field_validator("key", "name", "label", "description", "scope_key", "user_name", "sys_code")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL's text cannot hold NUL: refused here rather than failing there.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value

    @field_validator("value_type")
    @classmethod
    def _value_type(cls, value: str) -> str:
        return _one_of(value, VALUE_TYPES, "value_type")

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        return _one_of(value, CATEGORIES, "category")

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        return _one_of(value, SCOPES, "scope")

    def to_new(self, value: str | None) -> NewVariable:
        return NewVariable(
            key=self.key,
            name=self.name,
            value=value,
            label=self.label or self.name,
            description=self.description or "",
            value_type=self.value_type,
            category=self.category,
            scope=self.scope,
            scope_key=self.scope_key or "",
            enabled=self.enabled,
            user_name=self.user_name or "",
            sys_code=self.sys_code or "",
        )


class VariableUpdate(VariableBody):
    """``PUT /variables/{id}``: the id from the path, the fields from the body."""

    id: int = Field(ge=0, le=2**62, description="The variable's id.")


class VariableId(_Lenient):
    id: int = Field(ge=0, le=2**62, description="The variable's id.")


class VariableQuery(_Lenient):
    """``GET /variables``: every filter given must match."""

    key: str | None = Field(None, description="The key (DB-GPT requires it; we list all).")
    scope: str | None = None
    scope_key: str | None = None
    user_name: str | None = None
    sys_code: str | None = None
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=1000)


class VariableKeysQuery(_Lenient):
    user_name: str | None = None
    sys_code: str | None = None
    category: str | None = None


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} is one of {', '.join(allowed)}, not {value!r}")
    return value


def value_text(value_type: str, value: Any) -> str:
    """``value`` checked against ``value_type``, as the text stored; :class:`BadRequest`
    naming ``value`` when it does not fit (the value itself is not repeated: it may be a
    secret)."""
    if value is None:
        raise BadRequest("value is required", code="request.invalid_value", param="value")
    if isinstance(value, str) and "\x00" in value:
        raise BadRequest(
            "value must not contain a NUL character", code="request.invalid_value", param="value"
        )
    if isinstance(value, str) and len(value) > MAX_VALUE:
        # Encrypted, a longer one might not fit MySQL's TEXT (64 KiB).
        raise BadRequest(
            f"value is longer than {MAX_VALUE} characters",
            code="request.invalid_value",
            param="value",
        )
    if value_type == "str":
        if isinstance(value, str):
            return value
    elif value_type == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower()
    elif value_type == "int":
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
            return str(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            whole = int(value.strip())
            if abs(whole) < 2**63:
                return str(whole)
    elif value_type == "float" and isinstance(value, (int, float, str)):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            number = math.inf
        if not isinstance(value, bool) and math.isfinite(number):
            return repr(number)
    raise BadRequest(
        f"value does not fit value_type '{value_type}'", code="request.invalid_value", param="value"
    )


# --- the routes' actions -----------------------------------------------------------------------


def _store() -> MetadataStore:
    return current_store()


async def create(body: VariableBody) -> dict[str, Any]:
    """Store a new variable; it, as every route answers one (a secret masked)."""
    made = await _store().variables.add(body.to_new(value_text(body.value_type, body.value)))
    return made.public()


async def update(body: VariableUpdate) -> dict[str, Any]:
    """Replace the variable's fields; no value (or the mask, for a secret) keeps its value."""
    repo = _store().variables
    current = await repo.require(body.id)
    keep = body.value is None or (current.secret and body.value == MASK)
    if not keep:
        text = value_text(body.value_type, body.value)
        return (await repo.update(body.id, body.to_new(text))).public()
    if current.secret and body.category != SECRET:
        raise BadRequest(
            "turning a secret into a common variable needs its value sent again (value);"
            " a stored secret is never shown",
            code="request.invalid_value",
            param="value",
        )
    if body.value_type != current.value_type:
        raise BadRequest(
            f"changing value_type from '{current.value_type}' needs the value sent again (value)",
            code="request.invalid_value",
            param="value",
        )
    return (await repo.update(body.id, body.to_new(None))).public()


async def get(query: VariableId) -> dict[str, Any]:
    return (await _store().variables.require(query.id)).public()


async def delete(query: VariableId) -> dict[str, Any]:
    """Delete the variable; it as it was (a secret masked)."""
    return (await _store().variables.delete(query.id)).public()


async def listing(query: VariableQuery) -> dict[str, Any]:
    items, total = await _store().variables.list(
        key=query.key,
        scope=query.scope,
        scope_key=query.scope_key,
        user_name=query.user_name,
        sys_code=query.sys_code,
        page=query.page,
        page_size=query.page_size,
    )
    return {
        "items": [v.public() for v in items],
        "total_count": total,
        "total_pages": math.ceil(total / query.page_size) if total else 0,
        "page": query.page,
        "page_size": query.page_size,
    }


async def keys(query: VariableKeysQuery) -> list[dict[str, Any]]:
    """Each key once, described by its first variable (DB-GPT's ``VariablesKeyResponse``)."""
    found = await _store().variables.keys(
        user_name=query.user_name, sys_code=query.sys_code, category=query.category
    )
    return [
        {
            "key": k.key,
            "label": k.label,
            "description": k.description,
            "value_type": k.value_type,
            "category": k.category,
            "scope": k.scope,
            "scope_key": k.scope_key or None,
        }
        for k in found
    ]


# --- the provider flows resolve references with ------------------------------------------------


class StoredVariables:
    """The variables of the current metadata store, as :mod:`awel.variables` asks for them.

    Values are cached: a write through this process's store is seen at once (the
    repository's ``version`` changes), one made by another process sharing the database
    within ``ttl_s`` seconds. The cache holds secrets in this process's memory only.
    """

    def __init__(self, ttl_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self._seen: tuple[int, int] | None = None
        self._cache: dict[tuple[str, ...], tuple[float, ResolvedVariable | None]] = {}

    async def lookup(self, ref: VariableRef, *, flow_id: str) -> ResolvedVariable | None:
        store = _store()
        seen = (id(store), store.variables.version)
        if seen != self._seen:
            self._cache.clear()
            self._seen = seen
        ident = (
            ref.key,
            ref.name,
            ref.scope,
            ref.scope_key or "",
            ref.user_name or "",
            ref.sys_code or "",
        )
        now = time.monotonic()
        hit = self._cache.get(ident)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        found: Variable | None = await store.variables.find(
            ident[0],
            ident[1],
            scope=ident[2],
            scope_key=ident[3],
            user_name=ident[4],
            sys_code=ident[5],
        )
        resolved = None if found is None else ResolvedVariable(found.value, found.secret)
        self._cache[ident] = (now, resolved)
        return resolved
