"""YAML flow files: loading, every problem reported at once, writing back out, the schema.

Fixture flows are files: ``tests/fixtures/flows/valid/*.yaml`` carry their calls as comment
lines (``# input: JSON`` then ``# output: JSON``; no input line means a call without data),
and ``invalid/NAME.yaml`` sits next to ``NAME.expected``, the exact problem lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awel import (
    DAG,
    EMPTY,
    AwelError,
    InputOperator,
    JoinOperator,
    MapOperator,
    NodeError,
    SourceLocation,
    SpecError,
    TriggerOperator,
    registry,
)
from awel.flow_params import substitute
from awel.operators import is_stream
from awel.spec import (
    FlowSpec,
    check_flow,
    dump_flow,
    flow_schema,
    load_flow,
    load_flow_text,
)

FLOWS = Path(__file__).parent.parent / "fixtures" / "flows"
VALID = sorted((FLOWS / "valid").glob("*.yaml"))
INVALID = sorted((FLOWS / "invalid").glob("*.yaml"))


def calls_of(path: Path) -> list[tuple[Any, Any]]:
    """The (input, expected output) pairs a valid fixture declares in its comments."""
    calls: list[tuple[Any, Any]] = []
    pending: Any = EMPTY
    for line in path.read_text().splitlines():
        if line.startswith("# input:"):
            pending = json.loads(line.removeprefix("# input:"))
        elif line.startswith("# output:"):
            calls.append((pending, json.loads(line.removeprefix("# output:"))))
            pending = EMPTY
    return calls


async def run(dag: DAG, call_data: Any) -> Any:
    out = await dag.output_node.call(call_data)
    if is_stream(out):
        return [item async for item in out]
    return out


def structure(dag: DAG) -> dict[str, Any]:
    """What a flow file can say about a flow: names, operators, params and link order."""
    return {
        "name": dag.dag_id,
        "description": dag.description,
        "nodes": {
            n.label: (
                getattr(n, "op_name", None),
                getattr(n, "params", None),
                [u.label for u in n.upstream],
                [d.label for d in n.downstream],
            )
            for n in dag.nodes
        },
    }


# --- valid flows -------------------------------------------------------------------------------


def test_fixtures_exist() -> None:
    assert len(VALID) >= 5 and len(INVALID) >= 7
    for path in VALID:
        assert calls_of(path), f"{path.name} declares no '# output:' line"
    for path in INVALID:
        assert path.with_suffix(".expected").is_file(), f"{path.name} has no .expected file"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
async def test_valid_flow_runs(path: Path) -> None:
    dag = load_flow(path)
    for call_data, expected in calls_of(path):
        assert await run(dag, call_data) == expected


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
async def test_valid_flow_round_trips(path: Path) -> None:
    dag = load_flow(path)
    text = dump_flow(dag)
    again = load_flow_text(text, "dumped.yaml")
    assert structure(again) == structure(dag)
    assert dump_flow(again) == text
    for call_data, expected in calls_of(path):
        assert await run(again, call_data) == expected


def test_loaded_nodes_point_into_the_file() -> None:
    path = FLOWS / "valid" / "hello.yaml"
    dag = load_flow(path)
    assert dag.location == SourceLocation(str(path), 4, 1)
    assert dag.get_node("trigger").location == SourceLocation(str(path), 6, 1)
    greet = dag.get_node("greet")
    assert greet.location == SourceLocation(str(path), 8, 3)
    assert isinstance(dag.get_node("trigger"), TriggerOperator)
    assert getattr(greet, "op_name", None) == "awel.format"
    assert getattr(greet, "params", None) == {
        "template": "Hello, {{ name }}, your age is {{ age }}"
    }


async def test_a_failing_node_names_its_file_and_line() -> None:
    path = FLOWS / "valid" / "hello.yaml"
    dag = load_flow(path)
    with pytest.raises(NodeError) as info:
        await dag.output_node.call({"name": "Ann"})  # no age: StrictUndefined says so
    assert info.value.location == SourceLocation(str(path), 8, 3)
    assert str(info.value).startswith(f"{path}:8:3: flow 'examples.hello', node 'greet'")
    assert "'age' is undefined" in str(info.value)


# --- invalid flows -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_flow_reports_every_problem(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().splitlines()
    with pytest.raises(SpecError) as info:
        load_flow_text(path.read_text(), source=path.name)
    assert [str(p) for p in info.value.problems] == expected
    assert info.value.source == path.name


@pytest.mark.parametrize("path", INVALID[:3], ids=lambda p: p.stem)
def test_check_flow_returns_problems_located_in_the_path(path: Path) -> None:
    problems = check_flow(path)
    assert problems
    assert all(p.location is not None and p.location.file == str(path) for p in problems)
    with pytest.raises(SpecError) as info:
        load_flow(path)
    assert info.value.problems == problems


def test_spec_error_message_lists_the_problems() -> None:
    text = "name: x\nnodes:\n  a: {op: awel.mapp}\n  b: {op: awel.map, params: {}}\n"
    with pytest.raises(SpecError) as info:
        load_flow_text(text, "x.yaml")
    message = str(info.value)
    assert message.startswith("cannot load x.yaml: 2 problems\n")
    assert "  x.yaml:3:11: node 'a': unknown operator 'awel.mapp'; did you mean 'awel.map'?" in (
        message
    )
    assert "x.yaml:4:21: node 'b': awel.map: give exactly one of 'fn' or 'expr'" in message
    assert info.value.code == "spec.unknown_operator"


def test_missing_file() -> None:
    problems = check_flow("no/such/flow.yaml")
    assert [p.code for p in problems] == ["spec.not_found"]
    assert problems[0].location == SourceLocation("no/such/flow.yaml")


def test_check_flow_of_a_valid_file_is_empty() -> None:
    assert check_flow(VALID[0]) == []


def test_empty_text() -> None:
    with pytest.raises(SpecError) as info:
        load_flow_text("", "empty.yaml")
    assert [str(p) for p in info.value.problems] == [
        "empty.yaml:1:1: a flow file is a mapping with name, nodes and edges, but this holds"
        " nothing"
    ]


def test_quoted_edge_columns_point_at_the_name() -> None:
    text = 'name: x\ntrigger: {}\nnodes: {a: {op: awel.map, params: {expr: "x"}}}\nedges:\n'
    text += "  - 'trigger >> b'\n"
    with pytest.raises(SpecError) as info:
        load_flow_text(text, "q.yaml")
    assert str(info.value.problems[0]).startswith("q.yaml:5:17: edge 'trigger >> b'")


# --- triggers ----------------------------------------------------------------------------------


class PathTrigger(TriggerOperator[Any]):
    """A trigger kind with parameters, as the HTTP trigger would be."""

    class Params(registry.OperatorParams):
        path: str
        methods: list[str] = ["GET"]

    def __init__(self, path: str, methods: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.methods = methods


FLOW_WITH_TRIGGER = """\
name: t
trigger:
  {trigger}
nodes:
  a: {{op: awel.map, params: {{expr: "x + 1"}}}}
edges:
  - trigger >> a
"""


@pytest.mark.parametrize(
    "trigger",
    ["{}", "{op: awel.trigger}", "{op: trigger.path, params: {path: /x}}", "path: {path: /x}"],
)
async def test_trigger_forms(trigger: str) -> None:
    with registry.registered("trigger.path", PathTrigger):
        dag = load_flow_text(FLOW_WITH_TRIGGER.format(trigger=trigger))
        node = dag.get_node("trigger")
        assert isinstance(node, TriggerOperator)
        assert await dag.output_node.call(1) == 2
        text = dump_flow(dag)
        assert structure(load_flow_text(text)) == structure(dag)
    if isinstance(node, PathTrigger):
        assert (node.path, node.methods) == ("/x", ["GET"])
        assert "trigger:\n  path:\n    path: /x\n" in text
    else:
        assert "trigger: {}\n" in text


def test_trigger_short_form_errors_point_into_its_params() -> None:
    with registry.registered("trigger.path", PathTrigger):
        flow = FLOW_WITH_TRIGGER.format(trigger="path: {pth: /x}")
        with pytest.raises(SpecError) as info:
            load_flow_text(flow, "t.yaml")
    assert [str(p) for p in info.value.problems] == [
        "t.yaml:3:3: trigger: trigger.path needs parameter 'path'",
        "t.yaml:3:10: trigger: trigger.path has no parameter 'pth'; did you mean 'path'?",
    ]


def test_trigger_must_be_a_trigger() -> None:
    flow = FLOW_WITH_TRIGGER.format(trigger="{op: awel.map}")
    with pytest.raises(SpecError) as info:
        load_flow_text(flow, "t.yaml")
    assert [str(p) for p in info.value.problems] == [
        "t.yaml:3:8: trigger: 'awel.map' is a MapNode, not a trigger operator"
    ]


def test_a_node_cannot_be_called_trigger_next_to_the_trigger() -> None:
    text = "name: x\ntrigger: {}\nnodes:\n  trigger: {op: awel.input}\n"
    with pytest.raises(SpecError) as info:
        load_flow_text(text, "x.yaml")
    assert [p.code for p in info.value.problems] == ["spec.duplicate_node"]


# --- writing Python-built flows ---------------------------------------------------------------


def add_one(x: int) -> int:
    return x + 1


def pair(a: Any, b: Any) -> list[Any]:
    return [a, b]


class Negate(MapOperator[int, int]):
    async def map(self, x: int) -> int:
        return -x


class Scaled(MapOperator[int, int]):
    def __init__(self, factor: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    async def map(self, x: int) -> int:
        return x * self.factor


async def test_dump_a_python_flow() -> None:
    with DAG("py.flow", description="built in Python") as dag:
        start: TriggerOperator[Any] = TriggerOperator(task_name="trigger")
        inc = MapOperator(add_one, task_name="inc")
        neg = Negate(task_name="neg")
        both = JoinOperator(pair, task_name="both")
        double = registry.build("awel.map", {"expr": "x * 2"}, task_name="double")
        start >> [inc, neg] >> both >> double
    text = dump_flow(dag)
    assert f"fn: {__name__}:add_one" in text
    assert f"op: {__name__}:Negate" in text
    assert "- trigger >> [inc, neg] >> both >> double" in text
    again = load_flow_text(text)
    assert await again.output_node.call(3) == await dag.output_node.call(3) == [4, -3, 4, -3]
    assert dump_flow(again) == text


def test_dump_input_operators() -> None:
    with DAG("inputs") as dag:
        fixed = InputOperator.dummy_input({"a": 1}, task_name="fixed")
        fixed >> MapOperator(add_one, task_name="m")
    assert "value:\n        a: 1" in dump_flow(dag)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: MapOperator(lambda x: x, task_name="bad"), "not importable at module level"),
        (lambda: Scaled(3, task_name="bad"), "not built from a registered operator"),
        (lambda: MapOperator(add_one, task_name="bad name"), "its name cannot be used"),
        (
            lambda: registry.build(
                "awel.reduce", {"expr": "a + b", "initial": object()}, task_name="bad"
            ),
            "has no YAML form",
        ),
    ],
)
def test_dump_refuses_what_a_file_cannot_say(make: Any, why: str) -> None:
    with DAG("refused") as dag:
        start = InputOperator.from_callable(task_name="start")
        start >> make()
    with pytest.raises(AwelError) as info:
        dump_flow(dag)
    assert info.value.code == "spec.not_representable"
    assert "node 'bad" in str(info.value) and why in str(info.value)


# --- schema ------------------------------------------------------------------------------------


def test_flow_schema_describes_the_format_and_operators() -> None:
    schema = flow_schema()
    json.dumps(schema)  # plain JSON
    assert set(schema["properties"]) == set(FlowSpec.model_fields)
    node = schema["$defs"]["NodeSpec"]
    assert "awel.map" in node["properties"]["op"]["anyOf"][0]["enum"]
    rules = {r["if"]["properties"]["op"]["const"]: r["then"] for r in node["allOf"]}
    assert "template" in rules["awel.format"]["properties"]["params"]["properties"]


def test_flow_schema_accepts_the_valid_fixtures_and_rejects_typos() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = flow_schema()
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    for path in VALID:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path.name, errors[0].message)
    bad = yaml.safe_load((FLOWS / "invalid" / "bad_params.yaml").read_text())
    assert list(validator.iter_errors(bad))


# --- property: generated specs round-trip ------------------------------------------------------

EXPRS = ["x + 1", "x * 2", "x - 3", "-x"]
JOINS = ["inputs | sum", "inputs[0] - inputs[-1]", "inputs | max"]


@st.composite
def flow_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random flow of awel.map / awel.join nodes below a trigger, with one output."""
    count = draw(st.integers(1, 7))
    names = ["trigger"]
    nodes: dict[str, Any] = {}
    edges: list[str] = []
    for i in range(count):
        name = f"n{i}"
        ups = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        if len(ups) == 1:
            nodes[name] = {"op": "awel.map", "params": {"expr": draw(st.sampled_from(EXPRS))}}
            edges.append(f"{ups[0]} >> {name}")
        else:
            nodes[name] = {"op": "awel.join", "params": {"expr": draw(st.sampled_from(JOINS))}}
            edges.append(f"[{', '.join(ups)}] >> {name}")
        names.append(name)
    downstream = {up for e in edges for up in e.split(" >> ")[0].strip("[]").split(", ")}
    leaves = [n for n in names if n not in downstream]
    if len(leaves) > 1:
        nodes["out"] = {"op": "awel.join", "params": {"expr": "inputs"}}
        edges.append(f"[{', '.join(leaves)}] >> out")
    return {"name": "generated", "trigger": {}, "nodes": nodes, "edges": edges}


@settings(max_examples=60, deadline=None)
@given(spec=flow_specs(), value=st.integers(-50, 50))
def test_generated_specs_round_trip(spec: dict[str, Any], value: int) -> None:
    import anyio
    import yaml

    dag = load_flow_text(yaml.safe_dump(spec, sort_keys=False))
    again = load_flow_text(dump_flow(dag))
    assert structure(again) == structure(dag)

    async def both() -> tuple[Any, Any]:
        return await run(dag, value), await run(again, value)

    first, second = anyio.run(both)
    assert first == second


def test_params_are_json_data() -> None:
    node = registry.build("awel.input", {"value": {"when": [1, 2]}})
    assert node.params == {"value": {"when": [1, 2]}}


def test_unknown_trigger_kind_suggests_a_registered_one() -> None:
    with registry.registered("trigger.path", PathTrigger):
        flow = FLOW_WITH_TRIGGER.format(trigger="pth: {path: /x}")
        with pytest.raises(SpecError) as info:
            load_flow_text(flow, "t.yaml")
    assert [str(p) for p in info.value.problems] == [
        "t.yaml:3:3: trigger: unknown trigger kind 'pth'; did you mean 'path'?"
    ]


PARAMS_FLOW = """\
name: with_params
trigger: {}
nodes:
  say:
    op: awel.format
    params: {template: "${params.greeting}, {{ name }}${params.mark}"}
  dump:
    op: awel.json_dump
    params: {indent: "${params.indent}", sort_keys: "${params.sort}"}
edges:
  - trigger >> say >> dump
"""
VALUES = {"greeting": "Hi", "mark": True, "indent": 2, "sort": True}


async def test_params_replace_their_references_typed_when_whole() -> None:
    dag = load_flow_text(PARAMS_FLOW, params=VALUES)
    # In a longer string a value is written as YAML spells it: true, not True.
    assert dag.get_node("say").template == "Hi, {{ name }}true"  # type: ignore[attr-defined]
    # Whole, it keeps its type: 2 indents the JSON text by two spaces.
    assert await dag.output_node.call({"name": "Ann"}) == '"Hi, Anntrue"'
    seen: list[tuple[str, tuple[str | int, ...]]] = []
    found = substitute(
        {"a": ["${params.indent}", " ${ params.sort } "], "b": "${params.nope}"},
        VALUES,
        ("x",),
        lambda name, loc: seen.append((name, loc)),
    )
    assert found == {"a": [2, True], "b": "${params.nope}"}
    assert seen == [("nope", ("x", "b"))]


def test_an_unknown_param_is_a_problem_at_its_line() -> None:
    values = {**VALUES, "indnt": 2}
    del values["indent"]
    with pytest.raises(SpecError) as err:
        load_flow_text(PARAMS_FLOW, "f.yaml", params=values)
    [problem] = err.value.problems
    assert problem.code == "spec.unknown_param"
    assert (problem.location.line, problem.location.column) == (9, 22)  # type: ignore[union-attr]
    assert "no parameter 'indent'" in problem.message and "did you mean 'indnt'" in problem.message


def test_without_params_references_stay_as_written() -> None:
    text = PARAMS_FLOW.replace('"${params.indent}"', "2").replace('"${params.sort}"', "true")
    dag = load_flow_text(text)
    assert dag.get_node("say").template == "${params.greeting}, {{ name }}${params.mark}"  # type: ignore[attr-defined]
    # Other ${...} references (DB-GPT's variables) are never read as parameters.
    other = text.replace("${params.greeting}", "${dbgpt.core.variables:greeting@global}")
    dag = load_flow_text(other, params={"mark": "!"})
    assert dag.get_node("say").template == "${dbgpt.core.variables:greeting@global}, {{ name }}!"  # type: ignore[attr-defined]
