"""awel.switch and awel.if: exactly one path runs, a join collects it; errors in place."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from awel import DAG, NodeError, SpecError, registry
from awel.control import IfNode, SwitchNode
from awel.draw import draw_mermaid
from awel.operators import BaseOperator
from awel.spec import dump_flow, load_flow_text


def routed(op: str, params: dict[str, Any], targets: list[str]) -> BaseOperator:
    """input >> op >> each target (a format naming itself) >> a branch_join; the join."""
    with DAG(f"route.{op}"):
        start = registry.build("awel.input", task_name="start")
        route = registry.build(op, params, task_name="route")
        nodes = [registry.build("awel.format", {"template": t}, task_name=t) for t in targets]
        join = registry.build("awel.branch_join", task_name="join")
        start >> route >> nodes
        nodes >> join
    return join


async def test_switch_runs_the_first_case_that_holds_else_the_default() -> None:
    join = routed(
        "awel.switch",
        {
            "cases": [{"when": "n > 10", "to": "big"}, {"when": "n > 5", "to": "mid"}],
            "default": "small",
        },
        ["big", "mid", "small"],
    )
    assert await join.call({"n": 20}) == "big"  # both cases hold: the first wins
    assert await join.call({"n": 7}) == "mid"
    assert await join.call({"n": 1}) == "small"
    assert isinstance(join.upstream[0].upstream[0], SwitchNode)


async def test_switch_on_a_value_with_equals() -> None:
    join = routed(
        "awel.switch",
        {
            "value": "lang",
            "cases": [{"equals": "fr", "to": "french"}, {"equals": None, "to": "unknown"}],
            "default": "english",
        },
        ["french", "unknown", "english"],
    )
    assert await join.call({"lang": "fr"}) == "french"
    assert await join.call({"lang": None}) == "unknown"
    assert await join.call({"lang": "de"}) == "english"


async def test_switch_without_default_runs_nothing_when_no_case_holds() -> None:
    join = routed("awel.switch", {"cases": [{"when": "x > 0", "to": "pos"}]}, ["pos"])
    assert await join.call(1) == "pos"
    assert await join.call(-1) is None  # the join ran, with every input skipped


async def test_if_then_else() -> None:
    join = routed("awel.if", {"when": "rows", "then": "show", "else": "sorry"}, ["show", "sorry"])
    assert await join.call({"rows": [1]}) == "show"
    assert await join.call({"rows": []}) == "sorry"
    node = registry.build("awel.if", {"when": "x", "then": "a", "else": "b"})
    assert isinstance(node, IfNode) and node.params == {"when": "x", "then": "a", "else": "b"}


async def test_if_without_else() -> None:
    join = routed("awel.if", {"when": "x > 0", "then": "pos"}, ["pos"])
    assert await join.call(2) == "pos"
    assert await join.call(-2) is None


async def test_a_failing_expression_fails_the_branch_node() -> None:
    join = routed("awel.if", {"when": "missing > 0", "then": "a", "else": "b"}, ["a", "b"])
    with pytest.raises(NodeError) as info:
        await join.call({"n": 1})
    assert info.value.node == "route"
    assert "'missing' is undefined" in str(info.value)


def test_targets_are_checked_and_drawn() -> None:
    with pytest.raises(Exception, match="routes to 'nowhere', which is not directly below it"):
        routed("awel.if", {"when": "x", "then": "a", "else": "nowhere"}, ["a", "b"])
    join = routed(
        "awel.switch", {"cases": [{"when": "x > 0", "to": "a"}], "default": "b"}, ["a", "b"]
    )
    assert join.dag is not None
    drawn = draw_mermaid(join.dag)
    assert "x #gt; 0" in drawn and "default" in drawn


@pytest.mark.parametrize(
    ("op", "params", "message"),
    [
        ("awel.switch", {"cases": []}, "at least 1 item"),
        ("awel.switch", {"cases": [{"to": "a"}]}, "give exactly one of 'when' or 'equals'"),
        (
            "awel.switch",
            {"cases": [{"when": "x", "equals": 1, "to": "a"}]},
            "give exactly one of 'when' or 'equals'",
        ),
        ("awel.switch", {"cases": [{"equals": 1, "to": "a"}]}, "needs the switch's 'value'"),
        ("awel.switch", {"cases": [{"when": "x >", "to": "a"}]}, "invalid expression 'x >'"),
        ("awel.switch", {"value": "(", "cases": [{"equals": 1, "to": "a"}]}, "invalid expression"),
        ("awel.if", {"when": "x", "then": "a", "else": "a"}, "both name 'a'"),
        ("awel.if", {"when": "x", "else": "a"}, "Field required"),
        ("awel.if", {"when": "x", "then": "a", "otherwise": "b"}, "Extra inputs"),
    ],
)
def test_bad_params(op: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        registry.build(op, params)
    assert message in str(info.value)


CLASSIFIER = """\
name: classify
trigger: {}
nodes:
  route:
    op: awel.switch
    params:
      value: "intent"
      cases:
        - {equals: sql, to: ask_db}
        - {when: "score < 0.3", to: clarify}
      default: chat
  ask_db: {op: awel.format, params: {template: "db: {{ q }}"}}
  clarify: {op: awel.format, params: {template: "what is {{ q }}?"}}
  chat: {op: awel.format, params: {template: "chat: {{ q }}"}}
  check: {op: awel.if, params: {when: "x | length > 20", then: cut, else: keep}}
  cut: {op: awel.map, params: {expr: "x[:20]"}}
  keep: {op: awel.map, params: {expr: "x"}}
  answer: {op: awel.branch_join}
  done: {op: awel.branch_join}
edges:
  - trigger >> route >> [ask_db, clarify, chat] >> answer
  - answer >> check >> [cut, keep] >> done
"""


async def test_a_classifier_in_yaml() -> None:
    dag = load_flow_text(CLASSIFIER, "classify.yaml")
    # Written back out and read again, it is the same flow (`else` keeps its name).
    assert dump_flow(load_flow_text(dump_flow(dag), "again.yaml")) == dump_flow(dag)
    done = dag.get_node("done")
    assert isinstance(done, BaseOperator)
    assert await done.call({"intent": "sql", "score": 0.9, "q": "sales"}) == "db: sales"
    assert await done.call({"intent": "x", "score": 0.1, "q": "it"}) == "what is it?"
    assert await done.call({"intent": "x", "score": 0.9, "q": "hello there, friend"}) == (
        "chat: hello there, f"
    )


def test_yaml_errors_point_at_their_line() -> None:
    bad = (
        CLASSIFIER.replace('{when: "score < 0.3", to: clarify}', '{when: "score <", to: clarify}')
        .replace("then: cut, else: keep", "then: cut, else: cut")
        .replace("default: chat", "default: chat\n      otherwise: chat")
    )
    with pytest.raises(SpecError) as info:
        load_flow_text(bad, "bad.yaml")
    assert [str(p) for p in info.value.problems] == [
        "bad.yaml:10:18: node 'route': parameter 'cases[1].when': invalid expression"
        " 'score <': unexpected 'end of template'",
        "bad.yaml:12:7: node 'route': awel.switch has no parameter 'otherwise'",
        "bad.yaml:16:24: node 'check': awel.if: 'then' and 'else' both name 'cut'",
    ]


def test_a_yaml_target_that_is_not_below_the_switch() -> None:
    bad = CLASSIFIER.replace("default: chat", "default: chatt")
    with pytest.raises(SpecError) as info:
        load_flow_text(bad, "bad.yaml")
    (problem,) = info.value.problems
    assert problem.code == "dag.branch_target"
    assert "routes to 'chatt', which is not directly below it" in problem.message
