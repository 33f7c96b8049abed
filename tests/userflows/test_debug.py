"""``POST /flow/debug`` and ``/flow/validate`` on the live app, under both prefixes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.server.conftest import running, until

Client = TestClient[web.Request, web.Application]
PREFIXES = ["/api/v1/serve/awel", "/api/v2/serve/awel"]

#: A list in, each item upper-cased as a stream, the stream folded back into text.
STREAMING = """\
name: dbg.stream
trigger: {}
nodes:
  items: {op: awel.split}
  up: {op: awel.map, params: {expr: "x | upper"}}
  all: {op: awel.reduce, params: {expr: "a ~ b", initial: ""}}
edges:
  - trigger >> items >> up >> all
"""

#: The second node fails on what the first hands it.
FAILING = """\
name: dbg.fail
trigger: {}
nodes:
  text: {op: awel.format, params: {template: "not json {{ x }}"}}
  parse: {op: awel.json_parse}
edges:
  - trigger >> text >> parse
"""


def events(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            out.append(json.loads(block[len("data: ") :]))
    return out


async def debug(client: Client, prefix: str, body: dict[str, Any]) -> tuple[int, str]:
    resp = await client.post(f"{prefix}/flow/debug", json=body)
    return resp.status, await resp.text()


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_debug_nodes_reports_each_node_and_its_stream_items(
    tmp_path: Path, prefix: str
) -> None:
    async with running(tmp_path) as client:
        body = {"flow": {"yaml": STREAMING}, "request": ["a", "b"], "format": "nodes"}
        status, text = await debug(client, prefix, body)
    assert status == 200
    got = events(text)
    assert got[0] == {"event": "start", "flow": "dbg.stream", "node": "all"}
    kinds = [(e["event"], e.get("node")) for e in got]
    for node in ("trigger", "items", "up", "all"):
        assert ("node_start", node) in kinds
        assert ("node_end", node) in kinds
    # Items leave as the final node pulls them: each item of items before the next one.
    items = [(e["node"], e["data"]) for e in got if e["event"] == "item"]
    assert items == [("items", "a"), ("up", "A"), ("items", "b"), ("up", "B")]
    ends = {e["node"]: e for e in got if e["event"] == "node_end"}
    assert ends["trigger"]["output"] == ["a", "b"]
    assert ends["up"]["items"] == 2
    assert ends["all"]["output"] == "AB"
    assert all(e["ms"] >= 0 for e in ends.values())
    last = got[-1]
    assert last["event"] == "result"
    assert last["data"] == "AB"
    assert last["ran"] == ["trigger", "items", "up", "all"]


async def test_debug_dbgpt_form_is_plain_cumulative_text(tmp_path: Path) -> None:
    flow = STREAMING.replace("  - trigger >> items >> up >> all", "  - trigger >> items >> up")
    flow = flow.replace('  all: {op: awel.reduce, params: {expr: "a ~ b", initial: ""}}\n', "")
    async with running(tmp_path) as client:
        status, text = await debug(
            client, PREFIXES[0], {"flow": {"yaml": flow}, "request": ["a", "b\nc"]}
        )
        status2, whole = await debug(
            client, PREFIXES[0], {"flow": {"yaml": STREAMING}, "request": ["x", "y"]}
        )
    assert status == status2 == 200
    assert text == "data:A\n\ndata:AB\\nC\n\n"
    assert whole == "data:XY\n\n"


async def test_debug_failure_mid_run_names_the_node(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        body = {"flow": {"yaml": FAILING}, "request": {"x": 1}, "format": "nodes"}
        status, text = await debug(client, PREFIXES[1], body)
        _, plain = await debug(
            client, PREFIXES[1], {"flow": {"yaml": FAILING}, "request": {"x": 1}}
        )
    assert status == 200
    got = events(text)
    ends = [e["node"] for e in got if e["event"] == "node_end"]
    assert ends == ["trigger", "text"]
    failed = [e for e in got if e["event"] == "node_error"]
    assert [e["node"] for e in failed] == ["parse"]
    last = got[-1]
    assert last["event"] == "error"
    assert last["code"] == "run.node_failed"
    assert last["failed_node"] == "parse"
    assert last["line"] == 5
    assert last["ran"] == ["trigger", "text"]
    assert plain.startswith("data:[SERVER_ERROR]")
    assert "node 'parse'" in plain


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"flow": {"yaml": "name: [x"}, "request": {}}, "flow.yaml", "YAML syntax"),
        (
            {"flow": {"yaml": "name: x\nnodes: {a: {op: awel.nope}}"}, "request": {}},
            "flow.yaml",
            "line 2: node 'a': unknown operator 'awel.nope'",
        ),
        ({"flow": {"name": "from the UI", "flow_data": {}}, "request": {}}, "flow.yaml", "YAML"),
        ({"flow": {"yaml": STREAMING}, "request": {}, "variables": 3}, "variables", "object"),
        (
            {"flow": {"yaml": STREAMING}, "request": {}, "variables": {"nope": "x"}},
            "variables.nope",
            "'nope' is not a variable reference",
        ),
        (
            {"flow": {"yaml": STREAMING}, "request": {}, "variables": {"a:b": [1]}},
            "variables.a:b",
            "a value is text, a number or a boolean",
        ),
        (
            {"flow": {"yaml": STREAMING}, "request": {}, "variables": [{"key": "a"}]},
            "variables[0]",
            "needs a 'key' and a 'name'",
        ),
        ({"flow": {"yaml": STREAMING}}, None, "body.request"),
    ],
    ids=[
        "bad-yaml",
        "unknown-op",
        "no-yaml",
        "variables-not-object",
        "variables-bad-ref",
        "variables-bad-value",
        "variables-bad-item",
        "no-request",
    ],
)
async def test_debug_refuses_before_streaming(
    tmp_path: Path, body: dict[str, Any], param: str | None, words: str
) -> None:
    async with running(tmp_path) as client:
        status, text = await debug(client, PREFIXES[0], body)
    assert status == 400
    answer = json.loads(text)
    assert answer["success"] is False
    assert words in answer["err_msg"]


async def test_debug_parses_the_input_as_the_trigger_would(tmp_path: Path) -> None:
    flow = (
        "name: dbg.typed\n"
        "trigger:\n"
        "  http: {endpoint: /dbg, methods: POST, request: {name: {type: str}}}\n"
        "nodes:\n"
        "  greet: {op: awel.format, params: {template: 'hi {{ name }}'}}\n"
        "edges: ['trigger >> greet']\n"
    )
    async with running(tmp_path) as client:
        ok_status, ok = await debug(
            client, PREFIXES[0], {"flow": {"yaml": flow}, "request": {"name": "Ann"}}
        )
        bad_status, bad = await debug(
            client, PREFIXES[0], {"flow": {"yaml": flow}, "request": {"name": [1]}}
        )
    assert (ok_status, ok) == (200, "data:hi Ann\n\n")
    assert bad_status == 400
    assert "request does not fit" in json.loads(bad)["err_msg"]


async def test_debug_never_serves_the_flow(tmp_path: Path) -> None:
    flow = (
        "name: dbg.unserved\n"
        "trigger:\n"
        "  http: {endpoint: /dbg_unserved, methods: POST}\n"
        "nodes:\n"
        "  echo: {op: awel.map, params: {expr: x}}\n"
        "edges: ['trigger >> echo']\n"
    )
    async with running(tmp_path) as client:
        status, _ = await debug(client, PREFIXES[0], {"flow": {"yaml": flow}, "request": {}})
        after = await client.post("/api/v1/awel/trigger/dbg_unserved", json={})
    assert status == 200
    assert after.status == 404


# --- validate ---------------------------------------------------------------------------------


async def validate(client: Client, prefix: str, text: str) -> dict[str, Any]:
    resp = await client.post(f"{prefix}/flow/validate", json={"yaml": text})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["success"] is True
    data: dict[str, Any] = answer["data"]
    return data


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_validate_a_good_flow_gives_its_graph(tmp_path: Path, prefix: str) -> None:
    async with running(tmp_path) as client:
        data = await validate(client, prefix, STREAMING)
    assert data["ok"] is True
    assert data["problems"] == []
    assert data["name"] == "dbg.stream"
    nodes = {n["id"]: n for n in data["graph"]["nodes"]}
    assert list(nodes) == ["trigger", "items", "up", "all"]
    assert nodes["up"] == {
        "id": "up",
        "op": "awel.map",
        "line": 5,
        "column": 3,
        "end_line": 5,
        "trigger": False,
    }
    assert nodes["trigger"]["trigger"] is True
    assert data["graph"]["edges"] == [
        {"source": "trigger", "target": "items"},
        {"source": "items", "target": "up"},
        {"source": "up", "target": "all"},
    ]


async def test_validate_reports_each_problem_at_its_line_and_node(tmp_path: Path) -> None:
    broken = STREAMING.replace("awel.map", "awel.mapp")
    broken = broken.replace("up >> all", "up >> al")
    async with running(tmp_path) as client:
        data = await validate(client, PREFIXES[0], broken)
    assert data["ok"] is False
    got = [(p["code"], p["line"], p["column"], p["node"]) for p in data["problems"]]
    assert got == [
        ("spec.unknown_operator", 5, 12, "up"),
        ("spec.unknown_node", 8, 31, None),
    ]
    assert "did you mean 'awel.map'" in data["problems"][0]["message"]
    assert "did you mean 'all'" in data["problems"][1]["message"]
    # The drawing keeps what the text declares.
    assert [n["id"] for n in data["graph"]["nodes"]] == ["trigger", "items", "up", "all"]
    assert {"source": "items", "target": "up"} in data["graph"]["edges"]


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("name: x\nnodes: {a: [1\n", "spec.yaml_syntax", 3),
        ("- just a list\n", "spec.not_mapping", 1),
        ("name: x\nnodes: {}\n# \x99\n", "spec.yaml_syntax", 3),
        ("name: x\nnodes:\n  a: {op: awel.map, params: {nope: 1}}\n", "spec.invalid_params", 3),
        ("name: x\nnodes:\n  a: {op: 'antigravity:Fly'}\n", "spec.import_refused", 3),
        (
            "name: x\ntrigger: {}\nnodes:\n  a:\n    op: awel.map\n    params: {fn: 'os:system'}\n",
            "spec.import_refused",
            6,
        ),
        ("name: x\ntrigger: {http: {request_body: 'os:environ'}}\n", "spec.import_refused", 2),
    ],
    ids=[
        "syntax",
        "not-mapping",
        "control-char",
        "bad-param",
        "import-op",
        "import-fn",
        "import-body",
    ],
)
async def test_validate_problems(tmp_path: Path, text: str, code: str, line: int) -> None:
    async with running(tmp_path) as client:
        data = await validate(client, PREFIXES[1], text)
    assert data["ok"] is False
    assert (data["problems"][0]["code"], data["problems"][0]["line"]) == (code, line)
    assert "antigravity" not in sys.modules


async def test_validate_needs_yaml(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        resp = await client.post(f"{PREFIXES[0]}/flow/validate", json={})
        answer = await resp.json()
    assert resp.status == 400
    assert "body.yaml" in answer["err_msg"]


async def test_schema_names_the_operators(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        resp = await client.get(f"{PREFIXES[0]}/flow/schema")
        schema = await resp.json()
    assert resp.status == 200
    ops = schema["$defs"]["NodeSpec"]["properties"]["op"]["anyOf"][0]["enum"]
    assert {"awel.map", "awel.split", "llm.chat"} <= set(ops)


# --- DB-GPT's flow_data -----------------------------------------------------------------------

GREET = (
    "name: dbg.greet\n"
    "trigger:\n"
    "  http: {endpoint: /dbg_greet, methods: POST, request: {name: {type: str}}}\n"
    "nodes:\n"
    "  greet: {op: awel.format, params: {template: 'hi {{ name }}'}}\n"
    "  up: {op: awel.map, params: {expr: x | upper}}\n"
    "edges: ['trigger >> greet >> up']\n"
)


async def drawn(client: Client, text: str) -> dict[str, Any]:
    """The flow_data the flow API draws for ``text`` (what DB-GPT's web UI holds)."""
    resp = await client.post(f"{PREFIXES[0]}/flows", json={"yaml": text})
    answer = await resp.json()
    assert resp.status == 200, answer
    flow_data: dict[str, Any] = answer["data"]["flow_data"]
    await client.delete(f"{PREFIXES[0]}/flows/{answer['data']['uid']}")
    return flow_data


CRUD = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "crud.py"]
DEBUG = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "debug.py"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_debug_runs_dbgpt_flow_data_without_yaml(tmp_path: Path, prefix: str) -> None:
    async with running(tmp_path, shipped=CRUD + DEBUG) as client:
        flow_data = await drawn(client, GREET)
        body = {
            "flow": {"name": "from the UI", "label": "UI", "flow_data": flow_data},
            "request": {"name": "Ann"},
        }
        status, text = await debug(client, prefix, body)
        assert (status, text) == (200, "data:HI ANN\n\n")
        body["format"] = "nodes"
        status, text = await debug(client, prefix, body)
    got = events(text)
    assert got[0] == {"event": "start", "flow": "debug", "node": "up"}
    assert got[-1]["event"] == "result" and got[-1]["ran"] == ["trigger", "greet", "up"]


async def test_debug_names_the_flow_data_node_it_cannot_map(tmp_path: Path) -> None:
    foreign = {
        "id": "llm_0",
        "data": {"name": "llm_operator", "type_cls": "dbgpt.core.LLMOperator"},
    }
    async with running(tmp_path, shipped=CRUD + DEBUG) as client:
        flow_data = await drawn(client, GREET)
        flow_data["nodes"].append(foreign)
        status, text = await debug(
            client, PREFIXES[0], {"flow": {"flow_data": flow_data}, "request": {}}
        )
        assert status == 400
        message = json.loads(text)["err_msg"]
        assert "flow_data.nodes[3] (llm_0)" in message
        assert "'dbgpt.core.LLMOperator' has no awel counterpart" in message
        # An import path in a mapped node's params is refused, as in YAML.
        flow_data["nodes"].pop()
        up = next(n for n in flow_data["nodes"] if n["data"]["custom_label"] == "up")
        up["data"]["parameters"] = [{"name": "fn", "value": "os:system"}]
        status, text = await debug(
            client, PREFIXES[0], {"flow": {"flow_data": flow_data}, "request": {}}
        )
    assert status == 400
    assert "fn 'os:system' is an import path" in json.loads(text)["err_msg"]


# --- per-call variables -----------------------------------------------------------------------

VARS_FLOW = """\
name: dbg.vars
trigger:
  http: {endpoint: /dbg_vars, methods: POST, request: {name: {type: str}}}
nodes:
  greet: {op: awel.format, params: {template: "${greeting:text}, {{ name }}"}}
  hold: {op: awel.map, params: {fn: "tests.userflows.slow:hold_text"}}
edges:
  - trigger >> greet >> hold
"""
VARIABLES = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "variables.py"]


@pytest.mark.parametrize(
    "given",
    [
        {"greeting:text": "Hola"},
        {"${greeting:text@global}": "Hola"},
        [{"key": "greeting", "name": "text", "value": "Hola", "scope": "global"}],
    ],
    ids=["reference", "written", "items"],
)
async def test_debug_variables_are_for_that_run_only(tmp_path: Path, given: Any) -> None:
    """A debug run sees the values it was given; a trigger call running at the same time
    sees the stored value, which is unchanged."""
    from . import slow

    slow.reset()
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True)
    served = VARS_FLOW.replace("dbg.vars", "dbg.served").replace("/dbg_vars", "/dbg_served")
    (dags / "served.yaml").write_text(served)
    async with running(tmp_path, shipped=DEBUG + VARIABLES, flow_api_code=True) as client:
        made = await client.post(
            f"{PREFIXES[0]}/variables",
            json={"key": "greeting", "name": "text", "label": "Greeting", "value": "Bonjour"},
        )
        assert made.status == 200
        stored = (await made.json())["data"]
        body = {"flow": {"yaml": VARS_FLOW}, "request": {"name": "Ann"}, "variables": given}
        run = asyncio.create_task(debug(client, PREFIXES[1], body))
        await asyncio.wait_for(slow.started.wait(), 10)
        assert slow.seen == ["Hola, Ann"]
        # The debug run is held after its variable was put in: a call runs beside it, and
        # is held too, until both are released.
        call = asyncio.create_task(
            client.post("/api/v1/awel/trigger/dbg_served", json={"name": "Bob"})
        )
        await until(lambda: len(slow.seen) == 2)
        assert slow.seen == ["Hola, Ann", "Bonjour, Bob"]
        slow.release.set()
        called = await asyncio.wait_for(call, 10)
        assert called.status == 200 and "Bonjour, Bob" in await called.text()
        status, text = await asyncio.wait_for(run, 10)
        assert (status, text) == (200, "data:Hola, Ann\n\n")
        after = await client.get(f"{PREFIXES[0]}/variables/{stored['id']}")
        assert (await after.json())["data"]["value"] == "Bonjour"
        plain = {"flow": {"yaml": VARS_FLOW}, "request": {"name": "Cy"}}
        assert await debug(client, PREFIXES[0], plain) == (200, "data:Bonjour, Cy\n\n")
    assert slow.seen == ["Hola, Ann", "Bonjour, Bob", "Bonjour, Cy"]
