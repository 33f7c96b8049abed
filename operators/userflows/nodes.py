"""The operator palette: every registered operator in DB-GPT's ``ViewMetadata`` shape,
what ``GET /nodes`` answers (spec 4.8).

Built from what the registry and :mod:`awel.describe` already know (the name, the
docstring's summary, the generic base's types, the ``Params`` model), so an operator is in
the palette as soon as it is registered, an installed agent's too. ``name`` is the
registry's name (``awel.map``, ``llm.chat``), which is what a flow file's ``op`` says and
what a ``FlowPanel`` node is mapped back to YAML by. Each entry also carries
``params_schema``, the JSON Schema of its parameters (the one ``awel schema`` puts into
the flow files' schema), and ``yaml_example``, for editors that speak our YAML.

The category is DB-GPT's, chosen by the name's family (``llm.*``: ``llm``,
``knowledge.*``: ``rag``, ``sql.*``: ``database`` ...). ``tags`` are ``{"category": ...}``;
a ``tags`` filter keeps the operators whose tags hold every pair it names, a key no
operator has being ignored (DB-GPT's UI sends tags of its own).

``POST /nodes/refresh`` is where DB-GPT re-evaluates a node's dynamic parameter options (a
list of models, of datasources). Our operators' options are fixed by their parameter types
(a ``Literal`` or an enum), so there is nothing to evaluate again: it answers the node's
metadata as ``GET /nodes`` does, and an id that is no operator of the palette is a 404.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from awel import registry
from awel.describe import describe
from awel.errors import AwelError
from awel.iotypes import is_unknown, type_name
from awel.operators import BaseOperator

from .errors import FlowNodeNotFound

__all__ = ["NodesQuery", "RefreshNode", "metadata_id", "node_metadata", "nodes", "refresh"]

#: DB-GPT's categories by our operator names' families, most specific first.
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("awel.trigger", "trigger"),
    ("trigger.", "trigger"),
    ("awel.json_", "type_converter"),
    ("llm.", "llm"),
    ("prompt.", "llm"),
    ("embeddings.", "llm"),
    ("knowledge.", "rag"),
    ("sql.", "database"),
    ("text_to_sql", "database"),
    ("http.", "sender"),
)
_LABELS = {
    "trigger": "Trigger",
    "llm": "LLM",
    "rag": "RAG",
    "database": "Database",
    "type_converter": "Type Converter",
    "sender": "Sender",
    "common": "Common",
}


class NodesQuery(BaseModel):
    """``GET /nodes``: ``tags`` is a JSON object; ``user_name`` and ``sys_code`` are taken
    and change nothing (the palette is the same for everyone)."""

    model_config = ConfigDict(extra="ignore")

    user_name: str | None = None
    sys_code: str | None = None
    tags: str | None = Field(None, description='A JSON object, e.g. {"category": "llm"}.')

    @field_validator("tags")
    @classmethod
    def _json_object(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError('tags is a JSON object, such as {"category": "llm"}') from None
        if not isinstance(parsed, dict):
            raise ValueError('tags is a JSON object, such as {"category": "llm"}')
        return value


def category_of(name: str) -> str:
    for prefix, category in _CATEGORIES:
        if name == prefix or name.startswith(prefix):
            return category
    return "common"


def metadata_id(name: str, category: str) -> str:
    """DB-GPT's id of an operator's metadata."""
    return f"operator_{name}___$$___{category}___$$___v1"


def _class_path(tp: Any) -> str:
    """The class a type is of, as ``module.Qualname`` (``builtins.str``; Any: ``typing.Any``)."""
    if is_unknown(tp):
        return "typing.Any"
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _class_path(get_args(tp)[0])
    if origin is typing.Literal:
        # The values' class: DB-GPT's editor offers the options of a str parameter.
        kinds = {type(v) for v in get_args(tp)}
        return _class_path(kinds.pop()) if len(kinds) == 1 else "typing.Literal"
    if origin in (typing.Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not type(None)]
        return _class_path(members[0]) if len(members) == 1 else "typing.Union"
    target = origin if isinstance(origin, type) else tp
    if isinstance(target, type):
        return f"{target.__module__}.{target.__qualname__}"
    return str(tp).replace("typing.", "")


def _io(tp: Any, *, name: str, label: str, stream: bool) -> dict[str, Any]:
    return {
        "type_name": type_name(tp),
        "type_cls": _class_path(tp),
        "label": label,
        "name": name,
        "description": f"a stream of {type_name(tp)}" if stream else type_name(tp),
        "is_list": get_origin(tp) is list,
        "dynamic": False,
        "dynamic_minimum": 0,
        "mappers": None,
    }


def _options(annotation: Any) -> list[dict[str, Any]] | None:
    values: list[Any] = []
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [m.value for m in annotation]
    elif get_origin(annotation) is typing.Literal:
        values = list(get_args(annotation))
    else:
        # `Literal[...] | None`: the literal's values.
        for member in get_args(annotation):
            if get_origin(member) is typing.Literal:
                values.extend(get_args(member))
    if not values:
        return None
    return [{"label": str(v), "name": str(v), "value": v} for v in values]


def scalar(value: Any) -> str | int | float | bool | None:
    """``value`` where DB-GPT's ``Parameter`` takes only a scalar (``default``,
    ``placeholder``): ``dbgpt-client`` refuses a whole flow whose drawing has a list there.
    A list or mapping is shown as none; the operator's default still applies."""
    return value if value is None or isinstance(value, str | int | float | bool) else None


def _parameter(key: str, info: FieldInfo, shown: dict[str, Any]) -> dict[str, Any]:
    annotation = info.annotation
    return {
        "label": key.replace("_", " ").capitalize(),
        "name": info.alias or key,
        "type_name": shown["type"],
        "type_cls": _class_path(annotation),
        "category": "common",
        "resource_type": "instance",
        "optional": not info.is_required(),
        "default": scalar(shown["default"]),
        "placeholder": scalar(info.examples[0]) if info.examples else None,
        "description": info.description,
        "options": _options(annotation),
        "value": None,
        "is_list": get_origin(annotation) is list,
        "dynamic": False,
        "alias": None,
        "ui": None,
    }


def node_metadata(name: str) -> dict[str, Any]:
    """One registered operator as DB-GPT's ``ViewMetadata`` (and our schema and example)."""
    info = describe(name)
    cls: type[BaseOperator] = registry.get(name)
    model = registry.params_model(cls)
    types = registry.class_types(cls)
    category = category_of(name)
    inputs: list[dict[str, Any]] = []
    if not cls.must_be_root:
        declared = types.inputs or (types.takes,)
        inputs = [
            _io(
                tp,
                name=f"input_{i}" if len(declared) > 1 else "input",
                label="Input",
                stream=types.takes_stream,
            )
            for i, tp in enumerate(declared)
        ]
    gives = types.takes if types.passes_through else types.gives
    shown = {p["name"]: p for p in info.as_json()["params"]}
    return {
        "id": metadata_id(name, category),
        "name": name,
        "label": name,
        "custom_label": None,
        "description": info.summary,
        "category": category,
        "category_label": _LABELS.get(category, category.title()),
        "flow_type": "operator",
        "operator_type": str(cls.operator_type),
        "inputs": inputs,
        "outputs": [_io(gives, name="output", label="Output", stream=types.gives_stream)],
        "parameters": [
            _parameter(key, field, shown[field.alias or key])
            for key, field in model.model_fields.items()
        ],
        "version": "v1",
        "type_name": cls.__name__,
        "type_cls": f"{cls.__module__}.{cls.__qualname__}",
        "tags": {"category": category},
        "icon": None,
        "documentation_url": None,
        "params_schema": model.model_json_schema(),
        "yaml_example": info.example,
    }


_cache: dict[tuple[tuple[str, int], ...], list[dict[str, Any]]] = {}


def _palette() -> list[dict[str, Any]]:
    """Every operator that can be imported (a broken plugin is left out, as the catalogue
    does); computed again only when the registry changes."""
    names: list[tuple[str, type[BaseOperator]]] = []
    for name in registry.names():
        try:
            names.append((name, registry.get(name)))
        except AwelError:
            continue
    key = tuple((name, id(cls)) for name, cls in names)
    found = _cache.get(key)
    if found is None:
        found = []
        for name, _ in names:
            try:
                found.append(node_metadata(name))
            except AwelError:
                continue
        _cache.clear()
        _cache[key] = found
    return found


def nodes(query: NodesQuery) -> list[dict[str, Any]]:
    """The palette, filtered by ``tags`` (see the module)."""
    palette = _palette()
    if query.tags is None:
        return palette
    wanted: dict[str, Any] = json.loads(query.tags)
    return [node for node in palette if all(node["tags"].get(k, v) == v for k, v in wanted.items())]


class RefreshNode(BaseModel):
    """``POST /nodes/refresh`` (DB-GPT's ``RefreshNodeRequest``)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(
        max_length=512,
        description="The node's metadata id (as GET /nodes gives it), or a drawn node's id.",
    )
    flow_type: Literal["operator", "resource"] = "operator"
    type_name: str | None = Field(None, max_length=512)
    type_cls: str | None = Field(None, max_length=512)
    refresh: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description="The parameters whose options to evaluate again (ours have none dynamic).",
    )
    user_name: str | None = None
    sys_code: str | None = None


def refresh(body: RefreshNode) -> dict[str, Any]:
    """The node's metadata, as ``GET /nodes`` gives it (no option of ours is dynamic);
    :class:`FlowNodeNotFound` when no operator has that id."""
    if body.flow_type == "operator":
        # A drawn node's id is its metadata id and its count (``..._v1_0``).
        base, _, count = body.id.rpartition("_")
        wanted = {body.id, base} if count.isdigit() else {body.id}
        for node in _palette():
            if node["id"] in wanted:
                return node
    raise FlowNodeNotFound(body.id, body.flow_type)
