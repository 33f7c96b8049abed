"""Checking flow YAML sent over the API, and the outline the editor draws.

The editor asks on every (debounced) keystroke, so this is a load without a run: the
YAML is parsed, each operator is resolved and built with its parameters (constructors
only; nothing is called), then the flow's own checks run, exactly as a file in the dags
folder is checked (:func:`awel.spec.load_flow_text`). What comes back is every problem with
its line, column and the node it sits in, and the graph as far as the text declares it,
so the drawing stays in step while the text is still broken.

The text comes from whoever may call the API, so one thing differs from a file on disk:
import paths (``package.module:name``) are refused wherever the format takes one (``op``,
a node's ``fn``, a trigger's ``request_body``, at any depth). A file in the dags folder is
written by whoever runs the server; a request naming ``fn: "os:system"`` would call any
function the server can import, and importing alone runs a module's top-level code. Flows
sent over the API use registered operators (``awel operators``) and sandboxed expressions.

    >>> check_flow_yaml("name: x\\nnodes: {a: {op: awel.nope}}").problems[0]["line"]
    2
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from awel import registry
from awel.dag import DAG
from awel.errors import AwelError, Problem, SourceLocation, SpecError
from awel.spec import flow_schema, load_flow_text
from awel.trigger import TRIGGER_PREFIX

from .policy import flow_code_allowed, loading_callers_flow

__all__ = [
    "FlowCheck",
    "FlowYamlInvalid",
    "ValidateRequest",
    "check_flow_yaml",
    "load_flow_yaml",
    "schema",
    "validate",
]

#: How flow text sent over the API is named in locations and messages.
SOURCE = "flow.yaml"
TRIGGER = "trigger"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_SAFE_COMPOSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ValidateRequest(BaseModel):
    """``POST /flow/validate``: the flow's YAML text."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(description="The flow, as the YAML of a flow file.")


class FlowYamlInvalid(AwelError):
    """Flow YAML sent over the API does not load; every problem is in :attr:`problems`."""

    code = "flow.yaml_invalid"

    def __init__(self, problems: list[Problem], param: str = "flow.yaml") -> None:
        self.problems = problems
        shown = "; ".join(_short(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the flow does not load: {shown}{more}", param=param)


@dataclass
class _Span:
    """Where a node is declared: its key's line and column, and its last line."""

    line: int
    column: int
    end: int
    op: str | None


@dataclass
class _Outline:
    """The flow as the text declares it, read without the engine."""

    name: str | None = None
    #: Where the flow would be served: ``{path, methods}`` of an HTTP trigger.
    trigger: dict[str, Any] | None = None
    nodes: dict[str, _Span] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    #: Import paths (key, value, line, column): refused in flows sent over the API.
    refused: list[tuple[str, str, int, int]] = field(default_factory=list)

    def node_at(self, line: int | None) -> str | None:
        if line is None:
            return None
        for name, span in self.nodes.items():
            if span.line <= line <= span.end:
                return name
        return None


@dataclass
class FlowCheck:
    """The answer to a validation: every problem, and the graph to draw."""

    ok: bool
    problems: list[dict[str, Any]]
    graph: dict[str, Any]
    name: str | None = None
    trigger: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "name": self.name,
            "trigger": self.trigger,
            "problems": self.problems,
            "graph": self.graph,
        }


def check_flow_yaml(text: str) -> FlowCheck:
    """Every problem of ``text`` with its line, column and node, and its graph."""
    outline = _outline(text)
    _, problems = _load(text, outline)
    return FlowCheck(
        ok=not problems,
        problems=[_problem_json(p, outline) for p in problems],
        graph=_graph(outline),
        name=outline.name,
        trigger=outline.trigger,
    )


def load_flow_yaml(text: str, param: str = "flow.yaml") -> DAG:
    """The flow ``text`` declares, loaded (not served); :class:`FlowYamlInvalid` else."""
    dag, problems = _load(text, _outline(text))
    if dag is None:
        raise FlowYamlInvalid(problems, param)
    return dag


def validate(body: ValidateRequest) -> dict[str, Any]:
    """``POST /flow/validate``."""
    return check_flow_yaml(body.yaml).as_json()


# --- loading --------------------------------------------------------------------------------


def _load(text: str, outline: _Outline) -> tuple[DAG | None, list[Problem]]:
    # The outline names the usual import paths at their lines; loading_callers_flow then
    # refuses any other as the engine meets it. The flow_api_code setting lifts both.
    if outline.refused and not flow_code_allowed():
        return None, [
            Problem(
                "spec.import_refused",
                f"{key} '{path}' is an import path; flows sent over the API use registered"
                " operators and expressions only (a request must not choose Python code to"
                " import or call); put a flow that needs it in the dags folder",
                SourceLocation(SOURCE, line, column),
            )
            for key, path, line, column in outline.refused
        ]
    try:
        with loading_callers_flow():
            return load_flow_text(text, SOURCE), []
    except SpecError as exc:
        return None, sorted(exc.problems, key=Problem.sort_key)


def _problem_json(problem: Problem, outline: _Outline) -> dict[str, Any]:
    loc = problem.location
    line = loc.line if loc else None
    return {
        "code": problem.code,
        "message": problem.message,
        "line": line,
        "column": loc.column if loc else None,
        "node": outline.node_at(line),
    }


def _short(problem: Problem) -> str:
    loc = problem.location
    return f"line {loc.line}: {problem.message}" if loc and loc.line else problem.message


# --- the outline ----------------------------------------------------------------------------


def _outline(text: str) -> _Outline:
    """What the text declares, read from YAML nodes (with their marks) alone.

    A broken file still has an outline as far as it parses; YAML that does not parse has
    none (the loader reports the syntax error).
    """
    out = _Outline()
    try:
        root = yaml.compose(text, Loader=_SAFE_COMPOSER)
    except yaml.YAMLError:
        return out
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value == "name" and isinstance(value, yaml.ScalarNode):
            out.name = value.value
        elif key.value == TRIGGER:
            out.nodes[TRIGGER] = _Span(*_mark(key), value.end_mark.line + 1, _trigger_op(value))
            out.trigger = _http_route(value)
            _note_import(out, value)
        elif key.value == "nodes" and isinstance(value, yaml.MappingNode):
            for name, spec in value.value:
                _note_import(out, spec)
                if isinstance(name, yaml.ScalarNode) and name.value not in out.nodes:
                    op = _scalar(spec, "op")
                    out.nodes[name.value] = _Span(*_mark(name), _end_line(spec), op)
    for key, value in root.value:
        if (
            isinstance(key, yaml.ScalarNode)
            and key.value == "edges"
            and isinstance(value, yaml.SequenceNode)
        ):
            for item in value.value:
                if isinstance(item, yaml.ScalarNode):
                    _edges(item.value, out)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _end_line(node: yaml.Node) -> int:
    # A block mapping ends at the start of the next key's line: the last line is the one
    # before, unless the value ends mid-line (a flow mapping, a scalar).
    end = node.end_mark
    return end.line if end.column == 0 and end.line > node.start_mark.line else end.line + 1


def _field(node: yaml.Node, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                found: yaml.Node = value
                return found
    return None


def _scalar(node: yaml.Node, name: str) -> str | None:
    value = _field(node, name)
    return value.value if isinstance(value, yaml.ScalarNode) else None


def _trigger_op(node: yaml.Node) -> str:
    if (op := _scalar(node, "op")) is not None:
        return op
    if isinstance(node, yaml.MappingNode) and len(node.value) == 1:
        key = node.value[0][0]
        if isinstance(key, yaml.ScalarNode) and key.value != "params":
            return f"trigger.{key.value}"
    return "awel.trigger"


#: The keys whose values the loader imports when they are import paths.
IMPORTING_KEYS = frozenset({"op", "fn", "request_body"})


def _http_route(node: yaml.Node) -> dict[str, Any] | None:
    """The path and methods an HTTP trigger declares (``{http: {...}}`` or the long form)."""
    params = _field(node, "http")
    if params is None and _scalar(node, "op") == "trigger.http":
        params = _field(node, "params")
    if not isinstance(params, yaml.MappingNode):
        return None
    endpoint, path = _scalar(params, "endpoint"), _scalar(params, "path")
    if path is None and endpoint is None:
        return None
    methods: list[str] = []
    declared = _field(params, "methods")
    if isinstance(declared, yaml.ScalarNode):
        methods = [declared.value]
    elif isinstance(declared, yaml.SequenceNode):
        methods = [m.value for m in declared.value if isinstance(m, yaml.ScalarNode)]
    route = path if path is not None else TRIGGER_PREFIX + "/" + (endpoint or "").lstrip("/")
    return {"path": route, "methods": [m.upper() for m in methods] or ["GET"]}


def _note_import(out: _Outline, node: yaml.Node) -> None:
    """Note every import path under ``node`` (see the module's docstring)."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _note_import(out, item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (
                isinstance(key, yaml.ScalarNode)
                and key.value in IMPORTING_KEYS
                and isinstance(value, yaml.ScalarNode)
                and ":" in value.value
            ):
                out.refused.append((key.value, value.value, *_mark(value)))
            else:
                _note_import(out, value)


def _edges(edge: str, out: _Outline) -> None:
    groups: list[list[str]] = []
    for segment in edge.split(">>"):
        part = segment.strip()
        if part.startswith("[") and part.endswith("]"):
            names = [n.strip() for n in part[1:-1].split(",")]
        else:
            names = [part]
        known = [n for n in names if _NAME.fullmatch(n) and n in out.nodes]
        groups.append(known)
    for left, right in itertools.pairwise(groups):
        for a in left:
            for b in right:
                if (a, b) not in out.edges:
                    out.edges.append((a, b))


def _graph(out: _Outline) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": name,
                "op": span.op,
                "line": span.line,
                "column": span.column,
                "end_line": span.end,
                "trigger": name == TRIGGER,
            }
            for name, span in out.nodes.items()
        ],
        "edges": [{"source": a, "target": b} for a, b in out.edges],
    }


# --- the JSON Schema --------------------------------------------------------------------------

_schema_cache: dict[tuple[str, ...], dict[str, Any]] = {}


def schema(_: None) -> dict[str, Any]:
    """``GET /flow/schema``: the JSON Schema of flow files, operators and their params
    included (:func:`awel.spec.flow_schema`); made again only when operators change."""
    key = tuple(registry.names())
    found = _schema_cache.get(key)
    if found is None:
        _schema_cache.clear()
        found = _schema_cache[key] = flow_schema()
    return found
