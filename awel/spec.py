"""YAML flow files: load them into DAGs, write DAGs back out, and the files' JSON Schema.

A flow file::

    name: examples.hello
    description: Greet someone.
    trigger: {}                     # a plain trigger; `trigger: {http: {...}}` names a kind
    nodes:
      greet: {op: awel.format, params: {template: "Hello, {{ name }}"}}
      ask: {op: llm.chat, retries: 2, timeout_s: 30}   # any node: retries, timeout_s
    edges:
      - trigger >> greet >> ask     # chains `a >> b >> c` and lists `a >> [b, c]` too

Each node's ``op`` is a registered operator name (:mod:`awel.registry`) or an import path
``package.module:Class``; its ``params`` are validated against that operator's ``Params``
model. The ``trigger`` section is a registered trigger: ``{op: NAME, params: {...}}``, or
the short form ``{KIND: {...}}`` for the operator registered as ``trigger.KIND``; ``{}`` is
a plain :class:`~awel.TriggerOperator`. In edges the trigger is called ``trigger``.

Loading gives the same objects as the Python API: a :class:`~awel.DAG` of operators whose
task names are the node keys, each with ``location`` (file, line, column) so engine errors
point into the file. Every problem of a file is reported at once as a
:class:`~awel.errors.SpecError`, each ``path.yaml:LINE:COL: message``: YAML syntax, unknown
or missing keys, bad params, unknown operators and nodes (with "did you mean"), malformed
edges, then the flow's own checks (cycles, entries, stream/value mismatches, then edges
whose types cannot meet, each at its edge: ``edge 'prompt >> answer': prompt.chat gives
list[ChatMessage], llm.generate takes GenerationRequest; did you mean llm.chat?``). The latter run
only when every node was built, so that one typo does not cascade into more reports.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from . import registry
from .dag import DAG
from .errors import AwelError, DAGBuildError, Problem, SourceLocation, SpecError
from .executor import RayExecutor
from .flow_params import substitute
from .operators import BaseOperator, TriggerOperator

# The writer sits below the reader: it holds the names the file format uses, and dump_flow
# is re-exported here as part of this module's API.
from .spec_dump import NODE_NAME, PLAIN_TRIGGER, TRIGGER, TRIGGER_OP_PREFIX, dump_flow
from .validate import flow_problems
from .variables import SECRET_PARAM, VariableBinding, parse_reference, references_in

__all__ = [
    "FlowSpec",
    "NodeSpec",
    "TriggerSpec",
    "check_flow",
    "dump_flow",
    "flow_schema",
    "load_flow",
    "load_flow_text",
]


NodeName = Annotated[str, StringConstraints(pattern=NODE_NAME)]


# --- the format, as pydantic models ------------------------------------------------------------


class RaySpec(BaseModel):
    """Options of a node run on Ray (Ray's own names)."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float | None = Field(None, ge=0, description="CPUs one task or actor reserves.")
    num_gpus: float | None = Field(None, ge=0, description="GPUs one task or actor reserves.")
    memory: int | None = Field(None, ge=0, description="Bytes of memory one task reserves.")
    max_retries: int = Field(
        1, ge=0, description="Extra tries when the worker running the node dies."
    )
    runtime_env: dict[str, Any] | None = Field(
        None, description="Ray's runtime environment (pip, env_vars, working_dir)."
    )
    actors: int = Field(
        0,
        ge=0,
        description="0: each call is a Ray task; N: N actors made once and reused (a loaded"
        " model stays loaded).",
    )


class NodeSpec(BaseModel):
    """One node: an operator and its parameters."""

    model_config = ConfigDict(extra="forbid")

    op: str = Field(
        description="A registered operator name (awel.map), or an import path"
        " 'package.module:Class'."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The operator's parameters.")
    retries: int = Field(
        0,
        ge=0,
        description="How many times a failing run is tried again (50 ms, 100 ms ... apart);"
        " for nodes that take and give values, not streams.",
    )
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="Seconds a run (or a stream, as a whole) may take before it fails with"
        " run.deadline; with retries, per try.",
    )
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where the node's call runs: here (local), or as a Ray task or actor"
        " (ray; the server must run with --ray). Options under 'ray'.",
    )
    ray: RaySpec | None = Field(None, description="Options of executor: ray.")


class TriggerSpec(BaseModel):
    """Where the flow's input comes from; ``{}`` is a plain trigger."""

    model_config = ConfigDict(extra="forbid")

    op: str = Field(PLAIN_TRIGGER, description="A registered trigger operator.")
    params: dict[str, Any] = Field(default_factory=dict, description="The trigger's parameters.")


class FlowSpec(BaseModel):
    """A flow file."""

    model_config = ConfigDict(extra="forbid", title="awel flow")

    name: str = Field(min_length=1, description="The flow's id, unique among served flows.")
    description: str | None = Field(None, description="What the flow does.")
    tags: dict[str, str] = Field(default_factory=dict, description="Free-form labels.")
    trigger: TriggerSpec | None = Field(
        None, description="The trigger, referred to as 'trigger' in edges; omit for none."
    )
    nodes: dict[NodeName, NodeSpec] = Field(
        default_factory=dict, description="The nodes by name; the names become task names."
    )
    edges: list[str] = Field(
        default_factory=list,
        description="Links such as 'a >> b', chains 'a >> b >> c' and lists 'a >> [b, c]'.",
    )


# --- public API --------------------------------------------------------------------------------


def load_flow(path: str | os.PathLike[str]) -> DAG:
    """Load a YAML flow file into a validated :class:`~awel.DAG`.

    Raises :class:`~awel.errors.SpecError` listing every problem, each pointing into the file.
    """
    shown = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        where = SourceLocation(shown)
        raise SpecError(shown, [Problem("spec.not_found", f"cannot read: {exc}", where)]) from exc
    return load_flow_text(text, shown)


def load_flow_text(
    text: str, source: str = "<string>", *, params: Mapping[str, Any] | None = None
) -> DAG:
    """Load a flow from YAML text; ``source`` names it in locations and messages.

    ``params`` are the flow's parameters (an agent's, from its manifest): each
    ``${params.NAME}`` in a node's or the trigger's parameters is replaced by its value
    (:mod:`awel.flow_params`), and a name it lacks is a problem. None leaves them as written.
    """
    dag, problems = _Loader(text, source, params).load()
    if problems or dag is None:
        raise SpecError(source, problems)
    return dag


def check_flow(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem of a flow file, sorted; empty when it loads. Never raises SpecError."""
    try:
        load_flow(path)
    except SpecError as exc:
        return exc.problems
    return []


# --- loading -----------------------------------------------------------------------------------

Loc = tuple[str | int, ...]


class _Loader:
    """One load of one file: YAML nodes with their marks, then the DAG, collecting problems."""

    def __init__(self, text: str, source: str, params: Mapping[str, Any] | None = None) -> None:
        self.text = text
        self.source = source
        self.params = params
        self.problems: list[Problem] = []
        #: The YAML node of each value, and of each mapping key, by path.
        self.values: dict[Loc, yaml.Node] = {}
        self.keys: dict[Loc, yaml.Node] = {}
        #: The file wrote the trigger in its short form, {KIND: params}.
        self.short_trigger = False

    # where things are

    def at(self, node: yaml.Node | None, offset: int = 0) -> SourceLocation:
        if node is None:
            return SourceLocation(self.source, 1, 1)
        mark = node.start_mark
        return SourceLocation(self.source, mark.line + 1, mark.column + 1 + offset)

    def value_at(self, loc: Loc) -> SourceLocation:
        """The value at ``loc``, or its closest enclosing value that exists in the file."""
        while loc and loc not in self.values:
            loc = loc[:-1]
        return self.at(self.values.get(loc))

    def key_at(self, loc: Loc) -> SourceLocation:
        """The key that ``loc`` is under, or the closest enclosing key (else the file start)."""
        while loc and loc not in self.keys:
            loc = loc[:-1]
        return self.at(self.keys.get(loc))

    def add(self, code: str, message: str, where: SourceLocation) -> None:
        self.problems.append(Problem(code, message, where))

    # the steps

    def load(self) -> tuple[DAG | None, list[Problem]]:
        data = self._parse()
        if data is None:
            return None, self.problems
        if self.params is not None:
            self._substitute(data, self.params)
        # A reference left unreplaced would be reported again as a bad value at its place.
        unreplaced = {p.location for p in self.problems if p.code == "spec.unknown_param"}
        spec = self._validate_structure(data)
        dag = self._build(data, spec)
        if dag is not None and not self.problems:
            self.problems.extend(flow_problems(dag, registry.operators_taking))
        if unreplaced:
            self.problems = [
                p
                for p in self.problems
                if p.code == "spec.unknown_param" or p.location not in unreplaced
            ]
        return (None if self.problems else dag), self.problems

    def _parse(self) -> dict[str, Any] | None:
        try:
            # The reader checks the characters as it is made: a control character in the
            # text is a syntax error of the file, not a crash (found by the API's fuzzing).
            loader = yaml.SafeLoader(self.text)
        except yaml.reader.ReaderError as exc:
            line = self.text.count("\n", 0, exc.position) + 1
            column = exc.position - (self.text.rfind("\n", 0, exc.position) + 1) + 1
            char = exc.character if isinstance(exc.character, int) else ord(exc.character)
            self.add(
                "spec.yaml_syntax",
                f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}",
                SourceLocation(self.source, line, column),
            )
            return None
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = SourceLocation(
                self.source,
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
            what = exc.problem or str(exc)
            context = f" ({exc.context})" if exc.context and exc.problem else ""
            self.add("spec.yaml_syntax", f"YAML syntax error: {what}{context}", where)
            return None
        except yaml.YAMLError as exc:
            self.add("spec.yaml_syntax", f"YAML error: {exc}", SourceLocation(self.source))
            return None
        finally:
            loader.dispose()
        if root is None or not isinstance(data, dict):
            found = "nothing" if root is None else f"a {type(data).__name__}"
            self.add(
                "spec.not_mapping",
                f"a flow file is a mapping with name, nodes and edges, but this holds {found}",
                self.at(root),
            )
            return None
        self._index(root, ())
        return data

    def _substitute(self, data: dict[str, Any], params: Mapping[str, Any]) -> None:
        """Replace ``${params.NAME}`` in the trigger and every node's params, in place."""

        def unknown(name: str, loc: Loc) -> None:
            known = ", ".join(sorted(params)) or "none"
            self.add(
                "spec.unknown_param",
                f"'${{params.{name}}}': this flow has no parameter '{name}' (it has: {known})"
                f"{_did_you_mean(name, sorted(params))}",
                self.value_at(loc),
            )

        if isinstance(data.get("trigger"), dict):
            data["trigger"] = substitute(data["trigger"], params, ("trigger",), unknown)
        nodes = data.get("nodes")
        if isinstance(nodes, dict):
            for key, node in nodes.items():
                if isinstance(node, dict) and "params" in node:
                    where: Loc = ("nodes", key, "params")
                    node["params"] = substitute(node["params"], params, where, unknown)

    def _index(self, node: yaml.Node, loc: Loc) -> None:
        self.values[loc] = node
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, yaml.Node] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                name = key.value
                if name in seen:
                    first = seen[name].start_mark.line + 1
                    self.add(
                        "spec.duplicate_key",
                        f"key '{name}' appears twice (first on line {first}); the second"
                        " replaces the first",
                        self.at(key),
                    )
                    # The constructed data holds the last value: index that one instead.
                    stale = (*loc, name)
                    for table in (self.values, self.keys):
                        for path in [p for p in table if p[: len(stale)] == stale]:
                            del table[path]
                seen[name] = key
                self.keys[(*loc, name)] = key
                self._index(value, (*loc, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.keys[(*loc, i)] = item
                self._index(item, (*loc, i))

    def _validate_structure(self, data: dict[str, Any]) -> FlowSpec | None:
        _normalize_trigger(data, self)
        try:
            return FlowSpec.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                self._structure_error(err)
            return None

    def _structure_error(self, err: Any) -> None:
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            known = _known_keys(loc[:-1])
            hint = _did_you_mean(str(loc[-1]), known)
            where = f" in {_context(loc[:-1])}" if loc[:-1] else ""
            self.add("spec.unknown_key", f"unknown key '{loc[-1]}'{where}{hint}", self.key_at(loc))
        elif kind == "missing":
            owner = _context(loc[:-1]) if loc[:-1] else "a flow"
            self.add("spec.missing_key", f"{owner} needs key '{loc[-1]}'", self.key_at(loc[:-1]))
        elif loc[-1:] == ("[key]",):
            self.add(
                "spec.bad_name",
                f"node name '{loc[-2]}' cannot be used in edges; names are letters, digits,"
                " '_' and '-', starting with a letter or '_'",
                self.key_at(loc[:-1]),
            )
        else:
            self.add(
                "spec.invalid_value",
                f"{_context(loc) if loc else 'flow'}: {_message(err)}",
                self.value_at(loc),
            )

    def _build(self, data: dict[str, Any], spec: FlowSpec | None) -> DAG | None:
        name = data.get("name")
        dag_id = name if isinstance(name, str) and name else Path(self.source).stem or "flow"
        description = spec.description if spec else None
        tags = spec.tags if spec else None
        dag = DAG(dag_id, description=description, tags=tags)
        dag.location = self.key_at(("name",)) if "name" in data else self.at(None)

        declared: set[str] = set()
        built: dict[str, BaseOperator] = {}
        trigger = data.get("trigger")
        if trigger is not None:
            declared.add(TRIGGER)
            t = _try(TriggerSpec, trigger)
            if t is not None:
                self._build_node(dag, TRIGGER, t.op, t.params, {}, ("trigger",), built)
        nodes = data.get("nodes")
        if isinstance(nodes, dict):
            for key, raw in nodes.items():
                key = str(key)
                if key == TRIGGER and trigger is not None:
                    self.add(
                        "spec.duplicate_node",
                        "node 'trigger' clashes with the trigger; pick another name",
                        self.key_at(("nodes", key)),
                    )
                    continue
                declared.add(key)
                n = _try(NodeSpec, raw)
                if n is not None and re.match(NODE_NAME, key):
                    policy = n.model_dump(include={"retries", "timeout_s"}, exclude_unset=True)
                    if n.executor == "ray":
                        ray = n.ray.model_dump(exclude_unset=True) if n.ray else {}
                        policy["executor"] = RayExecutor(**ray)
                    elif n.ray is not None:
                        self.add(
                            "spec.ray_without_executor",
                            f"node '{key}': 'ray' options apply with 'executor: ray'; add it",
                            self.key_at(("nodes", key, "ray")),
                        )
                    self._build_node(dag, key, n.op, n.params, policy, ("nodes", key), built)
        edges = data.get("edges")
        if isinstance(edges, list):
            for i, edge in enumerate(edges):
                if isinstance(edge, str):
                    self._link(edge, ("edges", i), declared, built)
        return dag

    def _build_node(
        self,
        dag: DAG,
        name: str,
        op: str,
        params: dict[str, Any],
        policy: dict[str, Any],
        loc: Loc,
        built: dict[str, BaseOperator],
    ) -> None:
        who = "trigger" if loc == ("trigger",) else f"node '{name}'"
        try:
            cls = registry.resolve(op)
        except AwelError as exc:
            message = exc.message
            if loc == ("trigger",) and self.short_trigger:
                message = _unknown_trigger_kind(op[len(TRIGGER_OP_PREFIX) :])
            self.add(exc.code, f"{who}: {message}", self.value_at((*loc, "op")))
            return
        if loc == ("trigger",) and not issubclass(cls, TriggerOperator):
            self.add(
                "spec.not_trigger",
                f"trigger: '{op}' is a {cls.__name__}, not a trigger operator",
                self.value_at((*loc, "op")),
            )
            return
        try:
            node = registry.build(op, params, task_name=name, dag=dag)
        except ValidationError as exc:
            for err in exc.errors():
                self._params_error(err, who, op, cls, (*loc, "params"))
            return
        except (AwelError, TypeError, ValueError) as exc:
            detail = exc.message if isinstance(exc, AwelError) else f"{type(exc).__name__}: {exc}"
            self.add("spec.build", f"{who}: cannot build {op}: {detail}", self.key_at(loc))
            return
        # Set on the built node rather than passed to its constructor, so an operator whose
        # own __init__ names its keywords still takes them (NodeSpec checked the values).
        for key, value in policy.items():
            setattr(node, key, value)
        if references_in(params):
            if loc == ("trigger",):
                self.add(
                    "spec.variable_in_trigger",
                    "trigger: a ${...} variable cannot be used in the trigger (its route"
                    " is fixed when the flow is served); write the value",
                    self.key_at((*loc, "params")),
                )
                return
            node.variables = VariableBinding(
                params=dict(params),
                rebuild=functools.partial(_rebuild, op, name),
                secret_fields=_secret_fields(registry.params_model(cls)),
            )
        node.location = self.key_at(loc)
        built[name] = node

    def _params_error(self, err: Any, who: str, op: str, cls: type, base: Loc) -> None:
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = registry.params_model(cls)
            known = list(model.model_fields) if len(loc) == 1 else []
            hint = _did_you_mean(str(loc[-1]), known)
            message = f"{who}: {op} has no parameter '{_dotted(loc)}'{hint}"
            self.add("spec.invalid_params", message, self.key_at((*base, *loc)))
        elif kind == "missing":
            message = f"{who}: {op} needs parameter '{_dotted(loc)}'"
            self.add("spec.invalid_params", message, self.key_at((*base, *loc[:-1])))
        elif not loc:
            self.add("spec.invalid_params", f"{who}: {op}: {_message(err)}", self.key_at(base))
        else:
            message = f"{who}: parameter '{_dotted(loc)}': {_message(err)}"
            if isinstance(err.get("input"), str) and parse_reference(err["input"]):
                message += (
                    "; a ${...} variable is put in as text, so it can stand only where a"
                    " parameter takes text"
                )
            self.add("spec.invalid_params", message, self.value_at((*base, *loc)))

    def _link(
        self, edge: str, loc: Loc, declared: set[str], built: dict[str, BaseOperator]
    ) -> None:
        node = self.values.get(loc)
        # Columns of names inside the edge string are exact for one-line scalars only.
        exact = node is not None and node.start_mark.line == node.end_mark.line
        quote = 1 if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"') else 0

        def at(offset: int) -> SourceLocation:
            return self.at(node, quote + offset) if exact else self.at(node)

        groups: list[list[str]] = []
        spans: list[list[tuple[str, int]]] = []
        ok = True
        for segment, start in _segments(edge):
            names = _parse_segment(segment)
            if names is None:
                ok = False
                what = (
                    "a node is missing"
                    if not segment.strip()
                    else f"cannot read '{segment.strip()}'"
                )
                self.add(
                    "spec.bad_edge",
                    f"edge '{edge}': {what}; write edges as 'a >> b', 'a >> b >> c' or"
                    " 'a >> [b, c]'",
                    at(start + len(segment) - len(segment.lstrip())),
                )
                continue
            for name, offset in names:
                if name not in declared:
                    ok = False
                    if name == TRIGGER:
                        hint = "; this flow has no trigger section"
                    else:
                        hint = _did_you_mean(name, sorted(declared))
                    self.add(
                        "spec.unknown_node",
                        f"edge '{edge}': unknown node '{name}'{hint}",
                        at(start + offset),
                    )
            groups.append([n for n, _ in names])
            spans.append([(n, start + offset) for n, offset in names])
        if len(groups) == 1 and ok:
            ok = False
            self.add("spec.bad_edge", f"edge '{edge}' links nothing; write 'a >> b'", at(0))
        if not ok or any(n not in built for group in groups for n in group):
            return
        offsets = [dict(names) for names in spans]
        try:
            for (left, right), (_, right_at) in zip(
                itertools.pairwise(groups), itertools.pairwise(offsets), strict=True
            ):
                targets = [built[n] for n in right]
                for n in left:
                    built[n].set_downstream(targets)
                    # Type problems of this link point at its right-hand name.
                    owner = built[n].dag
                    for target in right:
                        if owner is not None:
                            owner.edge_locations.setdefault((n, target), at(right_at[target]))
        except DAGBuildError as exc:
            self.add("spec.bad_edge", f"edge '{edge}': {exc.message}", at(0))


def _rebuild(op: str, name: str, params: dict[str, Any]) -> BaseOperator:
    """A node of ``op`` built from ``params``, not added to any flow: the twin a node with
    variables runs as, once they are put in (see :mod:`awel.variables`)."""
    return registry.build(op, params, task_name=name, dag=None)


def _secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """The parameters of ``model`` marked as taking secrets (``SECRET_PARAM``)."""
    marked = set()
    for key, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and all(extra.get(k) == v for k, v in SECRET_PARAM.items()):
            marked.add(info.alias or key)
    return frozenset(marked)


def _unknown_trigger_kind(kind: str) -> str:
    kinds = [
        n[len(TRIGGER_OP_PREFIX) :] for n in registry.names() if n.startswith(TRIGGER_OP_PREFIX)
    ]
    hint = _did_you_mean(kind, kinds) or f" (known kinds: {', '.join(kinds) or 'none'})"
    return f"unknown trigger kind '{kind}'{hint}"


def _segments(edge: str) -> Iterator[tuple[str, int]]:
    """The parts of an edge between ``>>``, with their offsets in the string."""
    start = 0
    while True:
        end = edge.find(">>", start)
        if end < 0:
            yield edge[start:], start
            return
        yield edge[start:end], start
        start = end + 2


_NAME_IN_EDGE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _parse_segment(segment: str) -> list[tuple[str, int]] | None:
    """Names (and their offsets) in ``a`` or ``[a, b]``; None when malformed."""
    stripped = segment.strip()
    lead = len(segment) - len(segment.lstrip())
    if _NAME_IN_EDGE.fullmatch(stripped):
        return [(stripped, lead)]
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    names: list[tuple[str, int]] = []
    pos = lead + 1
    for item in stripped[1:-1].split(","):
        name = item.strip()
        if not _NAME_IN_EDGE.fullmatch(name):
            return None
        names.append((name, pos + len(item) - len(item.lstrip())))
        pos += len(item) + 1
    return names


def _normalize_trigger(data: dict[str, Any], loader: _Loader) -> None:
    """Rewrite ``trigger: {KIND: {...}}`` as ``{op: trigger.KIND, params: {...}}``.

    The marks of the short form's keys are copied to the long form's paths, so errors in
    the params still point at what the file says.
    """
    trigger = data.get("trigger")
    if not (isinstance(trigger, dict) and len(trigger) == 1):
        return
    ((kind, params),) = trigger.items()
    if kind in TriggerSpec.model_fields or not isinstance(kind, str):
        return
    data["trigger"] = {"op": TRIGGER_OP_PREFIX + kind, "params": params}
    loader.short_trigger = True
    old: Loc = ("trigger", kind)
    for table in (loader.values, loader.keys):
        for loc in [loc for loc in table if loc[:2] == old]:
            table[("trigger", "params", *loc[2:])] = table[loc]
    if old in loader.keys:
        # The kind is the key itself: point errors about the operator there.
        loader.values[("trigger", "op")] = loader.keys[("trigger", "op")] = loader.keys[old]


def _try(model: type[NodeSpec] | type[TriggerSpec], raw: Any) -> Any:
    # Errors were already reported by the whole-file validation; here only build what is valid.
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError:
        return None


def _known_keys(loc: Loc) -> list[str]:
    if not loc:
        return list(FlowSpec.model_fields)
    if loc == ("trigger",):
        return list(TriggerSpec.model_fields)
    if len(loc) == 2 and loc[0] == "nodes":
        return list(NodeSpec.model_fields)
    return []


def _context(loc: Loc) -> str:
    if len(loc) >= 2 and loc[0] == "nodes":
        rest = f", key '{_dotted(loc[2:])}'" if loc[2:] else ""
        return f"node '{loc[1]}'{rest}"
    if loc and loc[0] == "trigger":
        return f"trigger, key '{_dotted(loc[1:])}'" if loc[1:] else "trigger"
    if len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
        return f"edge {loc[1] + 1}"
    return f"key '{_dotted(loc)}'"


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


# --- JSON Schema -------------------------------------------------------------------------------


def flow_schema() -> dict[str, Any]:
    """The JSON Schema of flow files, for editors (``awel schema`` prints it).

    Generated from :class:`FlowSpec`, then refined with what the registry knows: the
    operator names for ``op`` and, per operator, the schema of its ``params``. A flow file
    opts in with a first line such as ``# yaml-language-server: $schema=flow.schema.json``.
    """
    schema = FlowSpec.model_json_schema()
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    ops: list[str] = []
    node_rules: list[dict[str, Any]] = []
    trigger_kinds: dict[str, Any] = {}
    for name in registry.names():
        try:
            cls = registry.get(name)
        except AwelError:
            continue  # a broken plugin: `awel validate` reports it where a flow uses it
        ops.append(name)
        params = _params_schema(name, registry.params_model(cls), defs)
        doc = (cls.__doc__ or "").strip().splitlines()
        rule: dict[str, Any] = {
            "if": {"properties": {"op": {"const": name}}, "required": ["op"]},
            "then": {"properties": {"params": params}},
        }
        if doc:
            rule["if"]["properties"]["op"]["description"] = doc[0]
        node_rules.append(rule)
        if name.startswith(TRIGGER_OP_PREFIX):
            trigger_kinds[name[len(TRIGGER_OP_PREFIX) :]] = params
    op_schema = {
        "anyOf": [
            {"enum": ops},
            {"type": "string", "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"},
        ],
        "description": NodeSpec.model_fields["op"].description,
    }
    defs["NodeSpec"]["properties"]["op"] = op_schema
    defs["NodeSpec"]["allOf"] = node_rules
    defs["TriggerSpec"]["allOf"] = node_rules
    short: dict[str, Any] = {
        "type": "object",
        "description": "The short form: {KIND: params} for the trigger registered as trigger.KIND.",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": trigger_kinds,
        "additionalProperties": False,
    }
    schema["properties"]["trigger"]["anyOf"].insert(1, short)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _params_schema(op: str, model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    # Each params model has its own $defs; prefix them with the operator so two operators'
    # models of the same name do not collide in the one document.
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", op) + "__"
    params = model.model_json_schema(ref_template="#/$defs/" + prefix + "{model}")
    for key, value in params.pop("$defs", {}).items():
        defs[prefix + key] = value
    return params
