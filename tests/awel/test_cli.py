"""The ``awel`` command, driven through click's CliRunner, on the shipped examples too."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import awel
from awel.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def awel_cmd(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def events(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    return write(
        tmp_path / "failing.py",
        """
        from awel import DAG, InputOperator, MapOperator


        def boom(value):
            raise ValueError(f"cannot take {value!r}")


        with DAG("failing") as dag:
            start = InputOperator.from_callable(task_name="start")
            explode = MapOperator(boom, task_name="explode")
            start >> explode
        """,
    )


# --- examples ------------------------------------------------------------------------------


def test_hello_py() -> None:
    result = awel_cmd("run", EXAMPLES / "hello.py", "--input", '{"name": "Alice", "age": 30}')
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello, Alice, your age is 30\n"
    assert "flow 'examples.hello': 2 nodes ran (trigger, greet) in" in result.stderr


def test_hello_yaml_is_the_same_flow() -> None:
    person = '{"name": "Alice", "age": 30}'
    result = awel_cmd("run", EXAMPLES / "hello.yaml", "--input", person)
    assert result.exit_code == 0, result.output
    assert result.stdout == awel_cmd("run", EXAMPLES / "hello.py", "--input", person).stdout
    assert "flow 'examples.hello_yaml': 2 nodes ran (trigger, greet) in" in result.stderr


def test_a_yaml_node_failure_points_into_the_file() -> None:
    result = awel_cmd("run", EXAMPLES / "hello.yaml", "--input", '{"name": "Alice"}', "--json")
    assert result.exit_code == 1
    error = events(result)[-1]
    assert error["code"] == "run.node_failed"
    assert error["location"] == f"{EXAMPLES / 'hello.yaml'}:7:3"
    assert error["message"].endswith("failed: UndefinedError: 'age' is undefined")


def test_branch_join_takes_the_side_that_ran() -> None:
    short = awel_cmd("run", EXAMPLES / "branch_join.py", "-i", '{"text": "a short note"}')
    assert short.exit_code == 0, short.output
    assert short.stdout == "short text: 3 words\n"
    assert "skipped long" in short.stderr
    text = "one two three four five six seven"
    long = awel_cmd("run", EXAMPLES / "branch_join.py", "--json", "-i", json.dumps({"text": text}))
    assert long.exit_code == 0, long.output
    result = events(long)[-1]
    assert result["data"] == "long text: 7 words, 33 characters"
    assert result["ran"] == ["trigger", "words", "chars", "stats", "route", "long", "reply"]
    assert result["skipped"] == ["short"]


def test_streams_print_each_item() -> None:
    args: list[str | Path] = [
        "run",
        EXAMPLES / "streams.py",
        "--flow",
        "examples.streams",
        "-i",
        '"the quick fox"',
    ]
    streamed = awel_cmd(*args, "--stream")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == "1. THE\n2. QUICK\n3. FOX\n"
    assert "3 items (first after" in streamed.stderr
    # Without --stream, a stream output is read to the end and printed as one list.
    whole = awel_cmd(*args)
    assert json.loads(whole.stdout) == ["1. THE", "2. QUICK", "3. FOX"]


def test_streams_as_ndjson_events() -> None:
    result = awel_cmd(
        "run",
        EXAMPLES / "streams.py",
        "-f",
        "examples.streams",
        "-i",
        '"a b"',
        "--stream",
        "--json",
    )
    assert result.exit_code == 0, result.output
    got = events(result)
    assert [e["event"] for e in got] == ["start", "item", "item", "result"]
    assert got[0] == {
        "event": "start",
        "flow": "examples.streams",
        "node": "numbered",
        "file": str(EXAMPLES / "streams.py"),
        "stream": True,
    }
    assert [e["data"] for e in got[1:3]] == ["1. A", "2. B"]
    assert [e["index"] for e in got[1:3]] == [0, 1]
    assert got[-1]["items"] == 2
    assert got[-1]["ran"] == ["text", "words", "upper", "numbered"]


def test_a_reduce_flow_picked_with_flow() -> None:
    result = awel_cmd(
        "run", EXAMPLES / "streams.py", "--flow", "examples.streams.count", "-i", '"a b c d"'
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "4\n"


def test_the_examples_validate_and_list() -> None:
    result = awel_cmd("validate", EXAMPLES)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 9 flows in 8 files, no problems\n"
    listed = awel_cmd("list", EXAMPLES, "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows["examples.hello"] == {
        "id": "examples.hello",
        "nodes": 2,
        "entry": "trigger",
        "output": "greet",
        "route": "POST /api/v1/awel/trigger/examples/greet",
        "file": str(EXAMPLES / "hello.py"),
    }
    assert rows["examples.streams"]["route"] is None


# --- run -----------------------------------------------------------------------------------


def test_input_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    person = tmp_path / "person.json"
    person.write_text('{"name": "Bo", "age": 7}', encoding="utf-8")
    from_file = awel_cmd("run", EXAMPLES / "hello.py", "--input", f"@{person}")
    assert from_file.stdout == "Hello, Bo, your age is 7\n"
    from_stdin = awel_cmd(
        "run", EXAMPLES / "hello.py", "--input", "@-", input='{"name": "Cy", "age": 1}'
    )
    assert from_stdin.stdout == "Hello, Cy, your age is 1\n"


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    result = awel_cmd("run", EXAMPLES / "hello.py", "--input", "Alice")
    assert result.exit_code == 2
    assert "Invalid value for --input: not JSON" in result.stderr
    assert "--input '\"text\"'" in result.stderr
    missing = awel_cmd("run", EXAMPLES / "hello.py", "--input", f"@{tmp_path / 'nope.json'}")
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr


def test_no_input_calls_with_empty() -> None:
    # A trigger needs input; the engine says so, and it is an error of the flow (exit 1).
    result = awel_cmd("run", EXAMPLES / "hello.py")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: trigger 'trigger' needs input data, but the call had none [run.no_input]\n"
    )
    assert "Traceback" not in result.output


def test_a_failing_node_is_reported_without_a_traceback(failing: Path) -> None:
    result = awel_cmd("run", failing, "--input", "1")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "flow 'failing': 1 node ran (start)" in result.stderr
    assert (
        "error: flow 'failing', node 'explode' (MapOperator) failed: ValueError: cannot take 1"
        " [run.node_failed]"
    ) in result.stderr
    assert "Traceback" not in result.output
    verbose = awel_cmd("run", failing, "--input", "1", "-v")
    assert "Traceback" in verbose.stderr
    assert 'raise ValueError(f"cannot take {value!r}")' in verbose.stderr
    # -v also works before the command.
    assert "Traceback" in awel_cmd("-v", "run", failing, "--input", "1").stderr


def test_a_failing_node_as_an_error_event(failing: Path) -> None:
    result = awel_cmd("run", failing, "--input", '"x"', "--json")
    assert result.exit_code == 1
    start, error = events(result)
    assert start["event"] == "start"
    assert error["event"] == "error"
    assert error["code"] == "run.node_failed"
    assert error["failed_node"] == "explode"
    assert error["operator"] == "MapOperator"
    assert error["message"].endswith("failed: ValueError: cannot take 'x'")
    assert error["ran"] == ["start"]


def test_a_broken_file_as_an_error_event(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.py", "x = (\n")
    result = awel_cmd("run", broken, "--json")
    assert result.exit_code == 1
    [error] = events(result)
    assert error["event"] == "error"
    assert error["code"] == "spec.syntax"
    assert error["problems"][0]["line"] == 1
    human = awel_cmd("run", broken)
    assert human.exit_code == 1
    assert human.stderr.startswith(f"{broken}:1:")


def test_node_picks_an_intermediate_node() -> None:
    args: list[str | Path] = [
        "run",
        EXAMPLES / "branch_join.py",
        "-i",
        '{"text": "a b"}',
        "--node",
        "stats",
    ]
    result = awel_cmd(*args, "--json")
    assert result.exit_code == 0, result.output
    assert events(result)[-1]["data"] == {"words": 2, "chars": 3}
    unknown = awel_cmd("run", EXAMPLES / "branch_join.py", "-i", "{}", "--node", "stat")
    assert unknown.exit_code == 2
    assert "has no node 'stat'; did you mean 'stats'?" in unknown.stderr


def test_several_flows_need_flow() -> None:
    result = awel_cmd("run", EXAMPLES / "streams.py", "-i", '"a"')
    assert result.exit_code == 2
    assert "defines 2 flows (examples.streams, examples.streams.count)" in result.stderr
    wrong = awel_cmd("run", EXAMPLES / "streams.py", "-i", '"a"', "--flow", "nope")
    assert wrong.exit_code == 2
    assert "has no flow 'nope'" in wrong.stderr


def test_several_output_nodes_need_node(tmp_path: Path) -> None:
    file = write(
        tmp_path / "two_leaves.py",
        """
        from awel import DAG, InputOperator, MapOperator

        with DAG("two_leaves") as dag:
            start = InputOperator.from_callable(task_name="start")
            start >> MapOperator(str.upper, task_name="up")
            start >> MapOperator(str.lower, task_name="down")
        """,
    )
    result = awel_cmd("run", file, "-i", '"Hi"')
    assert result.exit_code == 2
    assert "2 output nodes (up, down)" in result.stderr
    assert "choose one with --node" in result.stderr
    assert awel_cmd("run", file, "-i", '"Hi"', "-n", "down").stdout == "hi\n"


def test_a_pydantic_request_body_parses_the_input(tmp_path: Path) -> None:
    file = write(
        tmp_path / "model.py",
        """
        from pydantic import BaseModel

        from awel import DAG, MapOperator
        from awel.trigger import HttpTrigger


        class Person(BaseModel):
            name: str
            age: int = 18


        with DAG("model") as dag:
            trigger = HttpTrigger("/model", request_body=Person, task_name="trigger")
            trigger >> MapOperator(lambda p: {"who": p.name, "next": p.age + 1}, task_name="out")
        """,
    )
    result = awel_cmd("run", file, "-i", '{"name": "Di"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"who": "Di", "next": 19}
    bad = awel_cmd("run", file, "-i", '{"age": "old"}')
    assert bad.exit_code == 1
    assert "error: the input does not fit Person" in bad.stderr
    assert "[run.bad_input]" in bad.stderr


def test_a_timeout(tmp_path: Path) -> None:
    file = write(
        tmp_path / "slow.py",
        """
        import anyio

        from awel import DAG, InputOperator, MapOperator


        async def slow(x):
            await anyio.sleep(5)
            return x


        with DAG("slow") as dag:
            InputOperator.from_callable(task_name="start") >> MapOperator(slow, task_name="slow")
        """,
    )
    result = awel_cmd("run", file, "-i", "1", "--timeout", "0.05", "--json")
    assert result.exit_code == 1
    error = events(result)[-1]
    assert error["code"] == "run.deadline"
    assert error["message"] == "flow 'slow' ran past its 0.05s deadline"


# --- validate, graph, list, schema ---------------------------------------------------------


def test_validate_prints_every_problem_and_a_count(tmp_path: Path) -> None:
    write(tmp_path / "bad.py", "import awel\n\nx = (\n")
    write(tmp_path / "worse.py", "import awel\nmissing_name\n")
    result = awel_cmd("validate", tmp_path, EXAMPLES / "hello.py")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'bad.py'}:3:5: SyntaxError: '(' was never closed",
        f"{tmp_path / 'worse.py'}:2: NameError: name 'missing_name' is not defined",
        "2 problems; 1 flow in 3 files loaded without problems",
    ]


def test_validate_yaml_problems(tmp_path: Path) -> None:
    write(
        tmp_path / "typo.yaml",
        """
        name: typo
        trigger: {}
        nodes:
          greet: {op: awel.format, params: {templat: "Hi"}}
        edges:
          - trigger >> greet
        """,
    )
    result = awel_cmd("validate", tmp_path)
    assert result.exit_code == 1
    file = tmp_path / "typo.yaml"
    assert result.stdout.splitlines() == [
        f"{file}:4:28: node 'greet': awel.format needs parameter 'template'",
        f"{file}:4:37: node 'greet': awel.format has no parameter 'templat';"
        " did you mean 'template'?",
        "2 problems; 0 flows in 1 file loaded without problems",
    ]


def test_validate_json(tmp_path: Path) -> None:
    write(tmp_path / "bad.py", "x = (\n")
    result = awel_cmd("validate", "--json", tmp_path, EXAMPLES / "hello.py")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["files"] == 2
    assert report["flows"] == [
        {"id": "examples.hello", "file": str(EXAMPLES / "hello.py"), "nodes": 2}
    ]
    assert report["problems"] == [
        {
            "code": "spec.syntax",
            "message": "SyntaxError: '(' was never closed",
            "file": str(tmp_path / "bad.py"),
            "line": 1,
            "column": 5,
        }
    ]
    ok = awel_cmd("validate", "--json", EXAMPLES / "hello.py")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["ok"] is True


def test_validate_needs_a_path() -> None:
    assert awel_cmd("validate").exit_code == 2


def test_graph_mermaid_and_dot(tmp_path: Path) -> None:
    mermaid = awel_cmd("graph", EXAMPLES / "hello.py")
    assert mermaid.exit_code == 0, mermaid.output
    assert mermaid.stdout == (
        "---\n"
        'title: "examples.hello"\n'
        "---\n"
        "flowchart TD\n"
        '    n0(["trigger<br/>HttpTrigger"])\n'
        '    n1["greet<br/>GreetOperator"]\n'
        "    n0 --> n1\n"
    )
    dot = awel_cmd("graph", "--format", "dot", EXAMPLES / "hello.py")
    assert dot.stdout.startswith('digraph "examples.hello" {\n')
    out = tmp_path / "hello.dot"
    written = awel_cmd("graph", EXAMPLES / "hello.py", "-o", out)
    assert written.exit_code == 0
    assert written.stderr == f"wrote {out}\n"
    assert out.read_text(encoding="utf-8") == dot.stdout
    picked = awel_cmd("graph", EXAMPLES / "streams.py", "--flow", "examples.streams.count")
    assert 'title: "examples.streams.count"' in picked.stdout


def test_graph_of_a_broken_file(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.py", "x = (\n")
    result = awel_cmd("graph", broken)
    assert result.exit_code == 1
    assert "error: cannot load" in result.stderr


def test_list_table_and_problems(tmp_path: Path) -> None:
    write(tmp_path / "bad.py", "x = (\n")
    result = awel_cmd("list", EXAMPLES / "hello.py", tmp_path)
    assert result.exit_code == 1
    header, row = result.stdout.splitlines()
    assert header.split() == ["ID", "NODES", "ENTRY", "OUTPUT", "ROUTE", "FILE"]
    assert row.split() == [
        "examples.hello",
        "2",
        "trigger",
        "greet",
        "POST",
        "/api/v1/awel/trigger/examples/greet",
        str(EXAMPLES / "hello.py"),
    ]
    assert f"{tmp_path / 'bad.py'}:1:5: SyntaxError" in result.stderr
    assert "1 problem; run `awel validate`" in result.stderr


def test_schema(tmp_path: Path) -> None:
    from awel.spec import flow_schema

    result = awel_cmd("schema")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(flow_schema()))
    out = tmp_path / "flow.schema.json"
    written = awel_cmd("schema", "-o", out)
    assert written.exit_code == 0
    assert out.read_text(encoding="utf-8") == result.stdout


def test_graph_of_a_yaml_flow_names_registered_operators() -> None:
    result = awel_cmd("graph", EXAMPLES / "hello.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[4:] == [
        '    n0(["trigger<br/>awel.trigger"])',
        '    n1["greet<br/>awel.format"]',
        "    n0 --> n1",
    ]


def test_list_names_unnamed_nodes_by_class(tmp_path: Path) -> None:
    file = write(
        tmp_path / "anon.py",
        """
        from awel import DAG, InputOperator, MapOperator

        with DAG("anon") as dag:
            InputOperator.from_callable() >> MapOperator(str.upper)
        """,
    )
    result = awel_cmd("list", "--json", file)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["entry"], row["output"]) == ("InputOperator", "MapOperator")


def test_version() -> None:
    result = awel_cmd("--version")
    assert result.exit_code == 0
    assert result.stdout == f"awel, version {awel.__version__}\n"


def test_help_lists_the_commands() -> None:
    result = awel_cmd("--help")
    assert result.exit_code == 0
    for command in ("validate", "run", "graph", "list", "schema"):
        assert f"  {command} " in result.stdout
