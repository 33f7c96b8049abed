"""awel.iterate and awel.split: a sub-chain per item, a few at once, results in order."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from pydantic import ValidationError

from awel import DAG, InputOperator, MapOperator, NodeError, SpecError, registry
from awel.iteration import IterateNode, SplitNode
from awel.spec import dump_flow, load_flow_text

UPPER = [{"op": "awel.map", "params": {"expr": "x | upper"}}]


async def run_one(op: str, params: dict[str, Any], value: Any) -> Any:
    with DAG(f"one-{op}"):
        start = registry.build("awel.input", task_name="start")
        node = registry.build(op, params, task_name="node")
        start >> node
    if op == "awel.split":
        return [item async for item in node.call_stream(value)]
    return await node.call(value)


class Tracker:
    """An async function that records how many calls run at once; slower for early items,
    so that finishing order differs from the items' order."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    async def __call__(self, x: int) -> int:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.002 * (5 - x % 5))
            if x == 99:
                raise ValueError("ninety-nine")
            return x * 10
        finally:
            self.running -= 1


async def test_iterate_runs_the_steps_per_item_in_order() -> None:
    assert await run_one("awel.iterate", {"steps": UPPER}, ["a", "b"]) == ["A", "B"]
    assert await run_one("awel.iterate", {"steps": UPPER}, []) == []
    steps = [*UPPER, {"op": "awel.set", "params": {"fields": {"v": "x", "n": "x | length"}}}]
    out = await run_one("awel.iterate", {"steps": steps, "concurrency": 2}, ("ab", "c"))
    assert out == [{"v": "AB", "n": 2}, {"v": "C", "n": 1}]


@pytest.mark.parametrize("limit", [1, 3, 8])
async def test_iterate_holds_its_concurrency_and_the_order(limit: int) -> None:
    track = Tracker()
    with DAG("iterate-limit"):
        start = InputOperator.from_callable()
        each = IterateNode(track, concurrency=limit)
        start >> each
    assert await each.call(list(range(12))) == [i * 10 for i in range(12)]
    assert track.most == limit


@pytest.mark.parametrize("limit", [1, 3])
async def test_split_streams_results_in_order_within_its_limit(limit: int) -> None:
    track = Tracker()
    with DAG("split-limit"):
        start = InputOperator.from_callable()
        split = SplitNode(track, concurrency=limit)
        total: MapOperator[int, int] = MapOperator(lambda x: x + 1, offload=False)
        start >> split >> total
    out = [x async for x in total.call_stream(list(range(10)))]
    assert out == [i * 10 + 1 for i in range(10)]
    assert track.most == limit


async def test_split_without_steps_streams_the_items() -> None:
    assert await run_one("awel.split", {}, [1, "a", None]) == [1, "a", None]
    assert await run_one("awel.split", {"steps": UPPER}, ["a", "b"]) == ["A", "B"]


async def test_a_failing_item_fails_the_node_naming_the_step_and_item() -> None:
    steps = [{"op": "awel.map", "params": {"expr": "10 // x"}}]
    with pytest.raises(NodeError) as info:
        await run_one("awel.iterate", {"steps": steps, "concurrency": 2}, [5, 2, 0, 1])
    outer = info.value
    assert outer.node == "node" and outer.flow == "one-awel.iterate"
    inner = outer.__cause__
    assert isinstance(inner, NodeError)
    assert inner.flow == "one-awel.iterate/node" and inner.node == "steps[0]"
    assert isinstance(inner.__cause__, ZeroDivisionError)
    assert "while running item 2 of 4" in inner.__notes__


async def test_a_failure_cancels_the_other_items() -> None:
    track = Tracker()
    with DAG("iterate-fail"):
        start = InputOperator.from_callable()
        each = IterateNode(track, concurrency=4)
        start >> each
    with pytest.raises(NodeError) as info:
        await each.call([99, 4, 4, 4, 4, 4, 4])
    assert str(info.value.__cause__) == "ninety-nine"
    assert track.running == 0  # nothing left running behind the failure


async def test_split_closed_early_cancels_what_runs_ahead() -> None:
    track = Tracker()
    with DAG("split-close"):
        start = InputOperator.from_callable()
        split = SplitNode(track, concurrency=4)
        start >> split
    async with contextlib.aclosing(split.call_stream(list(range(20)))) as items:
        async for first in items:
            assert first == 0
            break
    assert track.running == 0


async def test_split_failure_reaches_the_reader() -> None:
    track = Tracker()
    with DAG("split-fail"):
        start = InputOperator.from_callable()
        split = SplitNode(track, concurrency=2)
        start >> split
    got: list[int] = []
    with pytest.raises(NodeError) as info:
        async for x in split.call_stream([1, 2, 99, 3]):
            got.append(x)
    assert got == [10, 20]
    assert info.value.node == split.label


@pytest.mark.parametrize("op", ["awel.iterate", "awel.split"])
async def test_only_lists_are_iterated(op: str) -> None:
    with pytest.raises(NodeError, match="runs its steps per item of a list, but was given dict"):
        await run_one(op, {"steps": UPPER}, {"a": 1})


def test_the_steps_are_a_flow_of_their_own() -> None:
    with DAG("outer"):
        node = registry.build("awel.iterate", {"steps": UPPER}, task_name="each")
    assert isinstance(node, IterateNode)
    (sub,) = node.subflows()
    assert sub.dag_id == "outer/each"
    assert [n.label for n in sub.topological_nodes()] == ["item", "steps[0]"]
    assert node.dag is not None and node.dag.subflows() == [sub]


async def test_a_python_sub_flow() -> None:
    with DAG("per-item"):
        item = InputOperator.from_callable()
        leaf = item >> MapOperator(lambda x: x * 2, offload=False)
    with DAG("outer-py"):
        start = InputOperator.from_callable()
        each = IterateNode(leaf, concurrency=2)
        start >> each
    assert await each.call([1, 2, 3]) == [2, 4, 6]
    assert each.subflows() == [leaf.dag]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"steps": []}, "at least 1 item"),
        ({"steps": UPPER, "concurrency": 0}, "greater than or equal to 1"),
        ({"steps": [{"op": "awel.mpa"}]}, "unknown operator 'awel.mpa'; did you mean 'awel.map'?"),
        ({"steps": [{"op": "awel.map", "params": {"expr": "x +"}}]}, "invalid expression"),
        ({"steps": [{"op": "awel.map", "params": {"exp": "x"}}]}, "Extra inputs"),
        ({"steps": [{"op": "awel.map", "parms": {}}]}, "Extra inputs"),
        ({"steps": [{"op": "awel.input"}]}, "reads its own source but 'item' feeds it"),
        (
            {"steps": [{"op": "awel.map", "params": {"expr": "x"}}, {"op": "awel.split"}]},
            "the last step (awel.split) gives a stream",
        ),
    ],
)
def test_bad_params(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        registry.build("awel.iterate", params)
    assert message in str(info.value)


FLOW = """\
name: titles
trigger: {}
nodes:
  rows: {op: awel.pick, params: {path: rows}}
  titles:
    op: awel.iterate
    params:
      concurrency: 2
      steps:
        - {op: awel.pick, params: {path: name}}
        - {op: awel.format, params: {template: "# {{ input | title }}"}}
  each:
    op: awel.split
    params:
      steps:
        - op: awel.iterate
          params:
            steps: [{op: awel.map, params: {expr: "x * 2"}}]
  sum: {op: awel.reduce, params: {expr: "a + b", initial: []}}
  out: {op: awel.merge}
edges:
  - trigger >> rows >> titles >> out
  - rows >> each >> sum >> out
"""


async def test_nested_steps_run() -> None:
    text = """\
name: nested
trigger: {}
nodes:
  each:
    op: awel.split
    params:
      steps:
        - op: awel.iterate
          params:
            steps: [{op: awel.map, params: {expr: "x * 2"}}]
  sum: {op: awel.reduce, params: {expr: "a + b", initial: []}}
edges:
  - trigger >> each >> sum
"""
    dag = load_flow_text(text, "nested.yaml")
    assert await dag.output_node.call([[1, 2], [3]]) == [2, 4, 6]
    again = load_flow_text(dump_flow(dag), "again.yaml")
    assert await again.output_node.call([[1], [2]]) == [2, 4]


async def test_titles_in_yaml() -> None:
    text = FLOW.split("  each:")[0] + "edges:\n  - trigger >> rows >> titles\n"
    dag = load_flow_text(text, "titles.yaml")
    value = {"rows": [{"name": "ann lee"}, {"name": "bo"}]}
    assert await dag.output_node.call(value) == ["# Ann Lee", "# Bo"]
    with pytest.raises(NodeError) as info:
        await dag.output_node.call({"rows": [{"name": "a"}, {"nom": "b"}]})
    assert str(info.value).startswith("titles.yaml:5:3: flow 'titles', node 'titles'")
    assert "key path 'name': the input has no key 'name'" in str(info.value)


def test_yaml_errors_in_steps_point_at_their_line() -> None:
    bad = (
        FLOW.replace("{path: name}", "{path: name, deflt: 1}")
        .replace('"# {{ input | title }}"', '"# {{ input | title }"')
        .replace('expr: "x * 2"', 'expr: "x *"')
    )
    with pytest.raises(SpecError) as info:
        load_flow_text(bad, "bad.yaml")
    assert [str(p) for p in info.value.problems] == [
        "bad.yaml:10:48: node 'titles': awel.iterate has no parameter 'steps[0].params.deflt'",
        "bad.yaml:11:48: node 'titles': parameter 'steps[1].params.template': invalid"
        " template (line 1): unexpected '}'",
        "bad.yaml:18:51: node 'each': parameter 'steps[0].params.steps[0].params.expr':"
        " invalid expression 'x *': unexpected 'end of template'",
    ]


def test_yaml_step_with_an_unknown_operator() -> None:
    bad = FLOW.replace("- {op: awel.pick, params: {path: name}}", "- {op: awel.pik}")
    with pytest.raises(SpecError) as info:
        load_flow_text(bad, "bad.yaml")
    assert [str(p) for p in info.value.problems] == [
        "bad.yaml:10:16: node 'titles': parameter 'steps[0].op': unknown operator"
        " 'awel.pik'; did you mean 'awel.pick'?"
    ]
