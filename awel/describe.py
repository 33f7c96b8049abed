"""Operators described for people: the catalogue, one operator's parameters, a YAML example.

What ``awel operators`` prints. Everything comes from what an operator already declares
for the engine: its registered name, its docstring (the first line is its summary), its
generic base's type arguments (:func:`awel.registry.class_types`) and its pydantic
``Params`` model (types, defaults, descriptions, ``examples``), so a new operator is
described as soon as it is registered.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from . import registry
from .errors import AwelError
from .iotypes import NodeTypes, type_name
from .operators import BaseOperator
from .spec_dump import PLAIN_TRIGGER, TRIGGER_OP_PREFIX

__all__ = [
    "OperatorInfo",
    "ParamInfo",
    "catalogue",
    "describe",
    "signature",
    "yaml_example",
]

#: What every node accepts besides its operator's params (awel.spec.NodeSpec).
NODE_KEYS = (
    ("retries", "int", "0", "How many times a failing run is tried again (value nodes)."),
    ("timeout_s", "float", "none", "Seconds a run (or a whole stream) may take."),
)


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One parameter of an operator, as ``awel operators NAME`` shows it."""

    name: str
    type: str
    required: bool
    default: Any = None
    description: str | None = None
    #: The first of the field's ``examples``, for the YAML example.
    example: Any = None


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    """One registered operator: what the catalogue lists and ``awel operators NAME`` shows."""

    name: str
    summary: str
    signature: str
    path: str | None = None
    doc: str = ""
    takes: str = "Any"
    gives: str = "Any"
    params: list[ParamInfo] = field(default_factory=list)
    example: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "signature": self.signature,
            "class": self.path,
            "takes": self.takes,
            "gives": self.gives,
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "required": p.required,
                    "default": p.default,
                    "description": p.description,
                }
                for p in self.params
            ],
            "example": self.example,
        }


def catalogue() -> tuple[list[OperatorInfo], list[str]]:
    """Every registered operator, by name; and a line for each that cannot be imported."""
    infos: list[OperatorInfo] = []
    broken: list[str] = []
    for name in registry.names():
        try:
            infos.append(describe(name))
        except AwelError as exc:
            broken.append(f"{name}: {exc.message}")
    return infos, broken


def describe(name: str) -> OperatorInfo:
    """One registered operator, fully.

    Raises :class:`~awel.registry.UnknownOperatorError` naming the close matches when no
    operator has that name.
    """
    try:
        cls = registry.get(name)
    except registry.UnknownOperatorError:
        close = difflib.get_close_matches(name, registry.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `awel operators` lists them"
        raise AwelError(f"unknown operator '{name}'{hint}", code="spec.unknown_operator") from None
    doc = _doc(cls)
    types = registry.class_types(cls)
    params = _params(registry.params_model(cls))
    return OperatorInfo(
        name=name,
        summary=_summary(name, doc),
        signature=signature(types, root=cls.must_be_root),
        path=registry.object_path(cls),
        doc=doc,
        takes=_side(types.takes, types.takes_stream),
        gives=_side(types.gives, types.gives_stream),
        params=params,
        example=yaml_example(name, params),
    )


def signature(types: NodeTypes, *, root: bool = False) -> str:
    """``IN -> OUT`` for a catalogue row (``-> OUT`` for triggers and inputs)."""
    gives = "(its input)" if types.passes_through else _side(types.gives, types.gives_stream)
    if root:
        return f"-> {gives}"
    takes = _side(types.takes, types.takes_stream)
    if types.inputs:
        takes = ", ".join(type_name(t) for t in types.inputs) + ", ..."
    return f"{takes} -> {gives}"


def _side(tp: Any, stream: bool) -> str:
    return f"stream of {type_name(tp)}" if stream else type_name(tp)


def _doc(cls: type[BaseOperator]) -> str:
    # Only a docstring of the class itself: an inherited one describes the kind, not it.
    own = cls.__dict__.get("__doc__")
    return inspect.cleandoc(own) if isinstance(own, str) else ""


_LEAD = re.compile(r"^``[\w.:-]+``:\s*")
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _summary(name: str, doc: str) -> str:
    """The docstring's first sentence, without a leading ``name``: and reST markup."""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    first = _LEAD.sub("", first) if first.startswith(f"``{name}``") else first
    first = _ROLE.sub(r"`\1`", first).replace("``", "`")
    end = first.find(". ")
    if end >= 0:
        first = first[: end + 1]
    return first[:1].upper() + first[1:]


def _params(model: type[BaseModel]) -> list[ParamInfo]:
    out: list[ParamInfo] = []
    for key, info in model.model_fields.items():
        annotation = info.annotation
        shown = type_name(annotation)
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            shown = " | ".join(repr(member.value) for member in annotation)
        out.append(
            ParamInfo(
                name=info.alias or key,
                type=shown,
                required=info.is_required(),
                default=None if info.is_required() else _default(info),
                description=info.description,
                example=info.examples[0] if info.examples else None,
            )
        )
    return out


def _default(info: FieldInfo) -> Any:
    value = info.get_default(call_default_factory=True)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def yaml_example(name: str, params: list[ParamInfo]) -> str:
    """A flow-file snippet using the operator: its required params and those that declare
    ``examples`` (the first example, else a placeholder of the param's type)."""
    values = {p.name: _placeholder(p) for p in params if p.required or p.example is not None}
    if name == PLAIN_TRIGGER:
        doc: dict[str, Any] = {"trigger": {}}
    elif name.startswith(TRIGGER_OP_PREFIX):
        doc = {"trigger": {name[len(TRIGGER_OP_PREFIX) :]: values}}
    else:
        node: dict[str, Any] = {"op": name}
        if values:
            node["params"] = values
        key = re.sub(r"\W", "_", name.rsplit(".", 1)[-1]) or "node"
        doc = {"nodes": {key: node}}
    text: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return text


def _placeholder(param: ParamInfo) -> Any:
    if param.example is not None:
        return param.example
    kind = param.type
    for prefix, value in (
        ("str", "..."),
        ("int", 0),
        ("float", 0.0),
        ("bool", False),
        ("list", []),
        ("dict", {}),
    ):
        if kind.startswith(prefix):
            return value
    return "..."
