"""Discovering what a YAML flow can use: ``awel operators``, ``awel schema``, ``awel list``.

Every registered operator is described from what it declares (docstring, generic types,
``Params``), so these tests use the built-in ones and one registered here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import Field

from awel import MapOperator, registry
from awel.cli import main
from awel.describe import describe
from awel.registry import OperatorParams
from awel.spec import flow_schema, load_flow_text

ROOT = Path(__file__).parent.parent.parent


def awel_cmd(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


class Shout(MapOperator[str, list[str]]):
    """``demo.shout``: says the input louder, ``times`` times.

    Longer text that the catalogue leaves out.
    """

    class Params(OperatorParams):
        times: int = Field(description="How many times.", examples=[3])
        mark: str = Field("!", description="What ends each one.")

    def __init__(self, times: int, mark: str = "!", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.times = times
        self.mark = mark

    async def map(self, x: str) -> list[str]:
        return [x.upper() + self.mark] * self.times


@pytest.fixture
def shout() -> Any:
    with registry.registered("demo.shout", Shout):
        yield


def test_the_catalogue_lists_name_types_and_summary(shout: None) -> None:
    result = awel_cmd("operators")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TAKES", "->", "GIVES", "SUMMARY"]
    [row] = [line for line in lines if line.startswith("demo.shout ")]
    summary = "Says the input louder, `times` times."
    assert row.split(None, 4)[1:] == ["str", "->", "list[str]", summary]
    for name in ("awel.map", "awel.format", "trigger.http"):
        assert any(line.startswith(name + " ") for line in lines)
    [fmt] = [line for line in lines if line.startswith("awel.format ")]
    assert "Any -> str" in fmt


def test_the_catalogue_as_json(shout: None) -> None:
    rows = json.loads(awel_cmd("operators", "--json").stdout)
    [row] = [r for r in rows if r["name"] == "demo.shout"]
    assert (row["takes"], row["gives"]) == ("str", "list[str]")
    assert row["signature"] == "str -> list[str]"


def test_one_operator_shows_params_and_a_yaml_example_that_loads(shout: None) -> None:
    result = awel_cmd("operators", "demo.shout")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Longer text that the catalogue leaves out." in out
    assert "takes: str\ngives: list[str]\n" in out
    assert "  times  int  required     How many times." in out
    assert '  mark   str  default "!"  What ends each one.' in out
    assert "every node also takes: retries (int, default 0), timeout_s" in out
    example = out.split("example:\n", 1)[1]
    snippet = yaml.safe_load("\n".join(line[2:] for line in example.splitlines()))
    assert snippet == {"nodes": {"shout": {"op": "demo.shout", "params": {"times": 3}}}}
    flow = {"name": "ex", "trigger": {}, **snippet, "edges": ["trigger >> shout"]}
    load_flow_text(yaml.safe_dump(flow), "ex.yaml")


def test_a_trigger_example_is_a_trigger_section() -> None:
    info = describe("trigger.http")
    assert yaml.safe_load(info.example) == {"trigger": {"http": {"endpoint": "/my-flow"}}}
    assert "'json' | 'result'" in next(p.type for p in info.params if p.name == "response")


def test_an_unknown_operator_names_close_matches() -> None:
    result = awel_cmd("operators", "awel.fromat")
    assert result.exit_code == 1
    assert "unknown operator 'awel.fromat'; did you mean awel.format" in result.stderr
    assert "[spec.unknown_operator]" in result.stderr
    nothing = awel_cmd("operators", "zzzzzz")
    assert "`awel operators` lists them" in nothing.stderr


def test_the_schema_checks_each_operators_params_and_every_nodes_keys(shout: None) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(flow_schema())
    flow = {
        "name": "x",
        "trigger": {"http": {"endpoint": "/x"}},
        "nodes": {
            "a": {"op": "demo.shout", "params": {"times": 2}, "retries": 1, "timeout_s": 2.5},
            "b": {"op": "demo.shout", "params": {"time": 2}},
            "c": {"op": "awel.map", "params": {"expr": "x"}, "retries": -1},
        },
        "edges": ["trigger >> a"],
    }
    errors = {(tuple(e.absolute_path), e.validator) for e in validator.iter_errors(flow)}
    assert errors == {
        (("nodes", "b", "params"), "additionalProperties"),
        (("nodes", "b", "params"), "required"),
        (("nodes", "c", "retries"), "minimum"),
    }


def test_list_finds_the_shipped_flows_in_their_packages() -> None:
    result = awel_cmd("list", ROOT / "flows", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    ids = {row["id"] for row in rows}
    assert {"chat_completions", "openai_chat_completions", "openai_models"} <= ids
    files = {row["file"] for row in rows}
    assert any("/model_api/" in f for f in files) and any("/datasource/" in f for f in files)


def test_a_plain_folder_is_not_walked(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    node = {"op": "awel.map", "params": {"expr": "x"}}
    flow = {"name": "inner", "trigger": {}, "nodes": {"a": node}, "edges": ["trigger >> a"]}
    (sub / "flow.yaml").write_text(yaml.safe_dump(flow))
    assert "no flows" in awel_cmd("list", tmp_path).stderr
    (tmp_path / "__init__.py").write_text("")
    assert "inner" in awel_cmd("list", tmp_path).stdout
