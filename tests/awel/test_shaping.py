"""awel.pick, awel.set, awel.json_parse, awel.json_dump and awel.merge."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from awel import DAG, NodeError, SpecError, registry
from awel.operators import BaseOperator
from awel.shaping import read_path
from awel.spec import dump_flow, load_flow_text


class Row(BaseModel):
    name: str
    tags: list[str] = []


async def run_one(op: str, params: dict[str, Any], value: Any) -> Any:
    with DAG(f"one.{op}"):
        start = registry.build("awel.input", task_name="start")
        node = registry.build(op, params, task_name="node")
        start >> node
    return await node.call(value)


DOC = {"rows": [{"name": "a", "n": 1}, {"name": "b", "n": 5}], "meta": {"0": "zero"}}


# --- awel.pick ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("rows", DOC["rows"]),
        ("rows.1.name", "b"),
        ("rows.-1.n", 5),
        ("meta.0", "zero"),  # a dict's key "0", not an index
    ],
)
async def test_pick_a_key_path(path: str, expected: Any) -> None:
    assert await run_one("awel.pick", {"path": path}, DOC) == expected


async def test_pick_reads_model_fields() -> None:
    assert await run_one("awel.pick", {"path": "tags.0"}, Row(name="r", tags=["t"])) == "t"
    assert await run_one("awel.pick", {"path": "0.name"}, [Row(name="r")]) == "r"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("rows.2.name", DOC, "key path 'rows.2.name': 'rows' has no item 2 (it has 2)"),
        ("rows.x", DOC, "key path 'rows.x': 'rows' has no item x (it has 2)"),
        ("nope", DOC, "key path 'nope': the input has no key 'nope'"),
        ("a.b", {"a": 3}, "key path 'a.b': 'a' is int, which has no keys or items"),
        ("name.0", "text", "key path 'name.0': the input is str, which has no keys or items"),
        ("nope", Row(name="r"), "key path 'nope': the input has no field 'nope'"),
    ],
)
async def test_pick_of_a_missing_path_fails_the_node(path: str, value: Any, message: str) -> None:
    with pytest.raises(NodeError) as info:
        await run_one("awel.pick", {"path": path}, value)
    assert info.value.node == "node"
    assert isinstance(info.value.__cause__, LookupError)
    assert str(info.value.__cause__) == message


async def test_pick_default() -> None:
    assert await run_one("awel.pick", {"path": "rows.9", "default": None}, DOC) is None
    assert await run_one("awel.pick", {"path": "x", "default": []}, DOC) == []
    assert await run_one("awel.pick", {"query": "nothing", "default": 0}, DOC) == 0
    # A found value is never replaced, even a falsy one.
    assert await run_one("awel.pick", {"path": "a", "default": 1}, {"a": 0}) == 0


async def test_pick_a_jmespath_query() -> None:
    assert await run_one("awel.pick", {"query": "rows[?n > `2`].name"}, DOC) == ["b"]
    assert await run_one("awel.pick", {"query": "length(rows)"}, DOC) == 2
    assert await run_one("awel.pick", {"query": "nothing"}, DOC) is None
    assert await run_one("awel.pick", {"query": "tags[0]"}, Row(name="r", tags=["t"])) == "t"
    with pytest.raises(NodeError) as info:
        await run_one("awel.pick", {"query": "length(rows[0].n)"}, DOC)
    assert "invalid type for value" in str(info.value)


def test_read_path_directly() -> None:
    assert read_path({"a": [[1, 2]]}, ["a", "0", "1"]) == 2


# --- awel.set ----------------------------------------------------------------------------------


async def test_set_builds_a_dict_from_expressions() -> None:
    params = {"fields": {"first": "rows[0].name", "total": "rows[0].n + rows[1].n", "k": "'v'"}}
    assert await run_one("awel.set", params, DOC) == {"first": "a", "total": 6, "k": "v"}
    assert await run_one("awel.set", {"fields": {"twice": "x * 2"}}, 4) == {"twice": 8}


async def test_set_keep_starts_from_the_input() -> None:
    out = await run_one("awel.set", {"fields": {"n": "n + 1"}, "keep": True}, {"n": 1, "m": 2})
    assert out == {"n": 2, "m": 2}
    out = await run_one("awel.set", {"fields": {"up": "name | upper"}, "keep": True}, Row(name="r"))
    assert out == {"name": "r", "tags": [], "up": "R"}
    data = {"n": 1}
    await run_one("awel.set", {"fields": {"n": "2"}, "keep": True}, data)
    assert data == {"n": 1}  # the input is not changed


async def test_set_with_an_unknown_name_fails_the_node() -> None:
    with pytest.raises(NodeError) as info:
        await run_one("awel.set", {"fields": {"a": "missing"}}, {})
    assert "'missing' is undefined" in str(info.value)


# --- JSON --------------------------------------------------------------------------------------


async def test_json_parse() -> None:
    assert await run_one("awel.json_parse", {}, '{"a": [1, 2]}') == {"a": [1, 2]}
    assert await run_one("awel.json_parse", {}, b'[1, "\xc3\xa9"]') == [1, "é"]
    with pytest.raises(NodeError) as info:
        await run_one("awel.json_parse", {}, "{'a': 1}")
    assert "JSONDecodeError" in str(info.value) and "line 1 column 2" in str(info.value)
    with pytest.raises(NodeError, match="parses JSON text, but was given dict"):
        await run_one("awel.json_parse", {}, {"a": 1})


@pytest.mark.parametrize(
    "text",
    [
        'Sure! Here it is:\n```json\n{"city": "Oslo"}\n```\nAnything else?',
        'Sure! ```\n{"city": "Oslo"}\n```',
        'The answer is {"city": "Oslo"} as asked.',
        'Options {not json} then {"city": "Oslo"}',
    ],
)
async def test_json_parse_extracts_from_prose(text: str) -> None:
    assert await run_one("awel.json_parse", {"extract": True}, text) == {"city": "Oslo"}


async def test_json_parse_extract_without_json_fails() -> None:
    with pytest.raises(NodeError, match="no JSON object or array in the text"):
        await run_one("awel.json_parse", {"extract": True}, "nothing here")
    with pytest.raises(NodeError, match="JSONDecodeError"):
        await run_one("awel.json_parse", {"extract": True}, "broken {here")


async def test_json_dump() -> None:
    value = {"b": [Row(name="é")], "a": datetime.date(2026, 1, 2)}
    out = await run_one("awel.json_dump", {}, value)
    assert out == '{"b": [{"name": "é", "tags": []}], "a": "2026-01-02"}'
    out = await run_one("awel.json_dump", {"sort_keys": True, "ensure_ascii": True}, value)
    assert out == '{"a": "2026-01-02", "b": [{"name": "\\u00e9", "tags": []}]}'
    assert await run_one("awel.json_dump", {"indent": 1}, [1]) == "[\n 1\n]"
    with pytest.raises(NodeError, match="TypeError: object is not JSON serializable"):
        await run_one("awel.json_dump", {}, object())


async def test_json_round_trip() -> None:
    text = await run_one("awel.json_dump", {}, DOC)
    assert await run_one("awel.json_parse", {}, text) == json.loads(json.dumps(DOC))


# --- awel.merge --------------------------------------------------------------------------------


def merged(params: dict[str, Any], exprs: dict[str, str]) -> BaseOperator:
    with DAG("merge"):
        start = registry.build("awel.input", task_name="start")
        parts = [
            registry.build("awel.map", {"expr": e}, task_name=name) for name, e in exprs.items()
        ]
        merge = registry.build("awel.merge", params, task_name="merge")
        start >> parts
        parts >> merge
    return merge


async def test_merge_by_name() -> None:
    merge = merged({}, {"double": "x * 2", "text": "x ~ '!'"})
    assert await merge.call(2) == {"double": 4, "text": "2!"}


async def test_merge_update() -> None:
    merge = merged({"mode": "update"}, {"one": "{'a': x, 'b': 1}", "two": "{'b': 2}"})
    assert await merge.call(0) == {"a": 0, "b": 2}
    bad = merged({"mode": "update"}, {"one": "{'a': x}", "two": "x"})
    with pytest.raises(NodeError) as info:
        await bad.call(5)
    assert info.value.node == "merge"
    assert "merge 'merge' updates with dicts, but 'two' gave int" in str(info.value)


async def test_merge_leaves_out_what_a_branch_skipped() -> None:
    text = """\
name: merge-branch
trigger: {}
nodes:
  gate: {op: awel.if, params: {when: "x > 0", then: pos, else: neg}}
  pos: {op: awel.set, params: {fields: {sign: "'+'"}}}
  neg: {op: awel.set, params: {fields: {sign: "'-'"}}}
  echo: {op: awel.map, params: {expr: "x"}}
  out: {op: awel.merge}
edges:
  - trigger >> gate >> [pos, neg, echo] >> out
"""
    out = load_flow_text(text, "m.yaml").get_node("out")
    assert isinstance(out, BaseOperator)
    assert await out.call(3) == {"pos": {"sign": "+"}, "echo": 3}
    assert await out.call(-3) == {"neg": {"sign": "-"}, "echo": -3}


def test_merge_refuses_streams() -> None:
    with (
        pytest.raises(Exception, match="merges values, but a stream feeds it"),
        DAG("merge-stream"),
    ):
        items = registry.build("awel.input", {"stream": [1, 2]}, task_name="items")
        merge = registry.build("awel.merge", task_name="merge")
        items >> merge


# --- parameters and YAML -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "params", "message"),
    [
        ("awel.pick", {}, "give exactly one of 'path' or 'query'"),
        ("awel.pick", {"path": "a", "query": "a"}, "give exactly one of 'path' or 'query'"),
        ("awel.pick", {"path": "a..b"}, "key path 'a..b' has an empty part"),
        ("awel.pick", {"query": "rows[?"}, "invalid JMESPath query 'rows[?'"),
        ("awel.set", {"fields": {}}, "at least 1 item"),
        ("awel.set", {"fields": {"a": "x +", "b": "1"}}, "invalid expression 'x +'"),
        ("awel.json_dump", {"indent": -1}, "greater than or equal to 0"),
        ("awel.json_parse", {"strict": True}, "Extra inputs"),
        ("awel.merge", {"mode": "deep"}, "'by_name' or 'update'"),
    ],
)
def test_bad_params(op: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        registry.build(op, params)
    assert message in str(info.value)


PIPELINE = """\
name: shape
trigger: {}
nodes:
  parse: {op: awel.json_parse, params: {extract: true}}
  first: {op: awel.pick, params: {path: "results.0"}}
  open: {op: awel.pick, params: {query: "results[?open].name"}}
  both: {op: awel.merge}
  summary:
    op: awel.set
    params:
      fields:
        city: "first.city"
        open: "open"
  text: {op: awel.json_dump, params: {sort_keys: true}}
edges:
  - trigger >> parse >> [first, open] >> both >> summary >> text
"""


async def test_a_shaping_pipeline_in_yaml() -> None:
    dag = load_flow_text(PIPELINE, "shape.yaml")
    # Written back out and read again, it is the same flow.
    assert dump_flow(load_flow_text(dump_flow(dag), "again.yaml")) == dump_flow(dag)
    answer = 'Here:\n```json\n{"results": [{"city": "Oslo", "name": "a", "open": true}]}\n```'
    assert await dag.output_node.call(answer) == '{"city": "Oslo", "open": ["a"]}'


async def test_a_run_time_failure_names_the_node_and_its_line() -> None:
    dag = load_flow_text(PIPELINE, "shape.yaml")
    with pytest.raises(NodeError) as info:
        await dag.output_node.call('{"results": []}')
    assert info.value.node == "first"
    assert str(info.value).startswith("shape.yaml:5:3: flow 'shape', node 'first' (PickNode)")
    assert "key path 'results.0': 'results' has no item 0 (it has 0)" in str(info.value)


def test_yaml_errors_point_at_their_line() -> None:
    bad = PIPELINE.replace('query: "results[?open].name"', 'query: "results[?open"').replace(
        'city: "first.city"', 'city: "first.city +"'
    )
    with pytest.raises(SpecError) as info:
        load_flow_text(bad, "bad.yaml")
    assert [str(p) for p in info.value.problems] == [
        "bad.yaml:6:41: node 'open': parameter 'query': invalid JMESPath query"
        " 'results[?open': Invalid jmespath expression: Incomplete expression",
        "bad.yaml:12:15: node 'summary': parameter 'fields.city': invalid expression"
        " 'first.city +': unexpected 'end of template'",
    ]
