"""Building DAGs (``with DAG``, ``>>``, ``<<``, lists) and validating them."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from awel import (
    DAG,
    BranchOperator,
    DAGBuildError,
    DAGNode,
    DAGValidationError,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    TriggerOperator,
    current_dag,
)


def ident(x: Any) -> Any:
    return x


def m(name: str | None = None, **kw: Any) -> MapOperator[Any, Any]:
    return MapOperator(ident, offload=False, task_name=name, **kw)


def codes(err: DAGValidationError) -> list[str]:
    return [p.code for p in err.problems]


# --- building ---------------------------------------------------------------------------


def test_nodes_created_in_a_with_block_join_that_dag() -> None:
    assert current_dag() is None
    with DAG("d") as dag:
        assert current_dag() is dag
        a = InputOperator.from_callable(task_name="a")
        b = m("b")
        a >> b
    assert current_dag() is None
    assert a.dag is dag and b.dag is dag
    assert dag.nodes == [a, b]
    assert len(dag) == 2
    assert list(dag) == [a, b]


def test_nested_with_blocks_attach_to_the_innermost_dag() -> None:
    with DAG("outer") as outer:
        a = InputOperator.from_callable(task_name="a")
        with DAG("inner") as inner:
            x = InputOperator.from_callable(task_name="x")
        b = m("b")
        a >> b
    assert x.dag is inner
    assert a.dag is outer and b.dag is outer
    assert inner.nodes == [x]


def test_rshift_returns_the_right_side_so_chains_read_left_to_right() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        assert (a >> b) is b
        out = a >> b >> c
    assert out is c
    assert a.downstream == [b] and b.upstream == [a]
    assert b.downstream == [c] and c.upstream == [b]


def test_lshift_makes_the_right_side_upstream() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        assert (c << b) is b
        b << a
    assert a.downstream == [b]
    assert c.upstream == [b]


def test_lists_fan_out_and_in() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        j = JoinOperator(lambda x, y: (x, y), offload=False, task_name="j")
        assert (a >> [b, c]) == [b, c]
        out = [b, c] >> j
    assert out is j
    assert a.downstream == [b, c]
    assert j.upstream == [b, c]


def test_diamond_in_one_expression() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        j = JoinOperator(lambda x, y: (x, y), offload=False, task_name="j")
        a >> [b, c] >> j
    assert a.downstream == [b, c]
    assert j.upstream == [b, c]


def test_list_lshift_node() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        j = JoinOperator(lambda x, y: (x, y), offload=False, task_name="j")
        assert ([b, c] << a) is a
        j << [b, c]
    assert a.downstream == [b, c]
    assert j.upstream == [b, c]


def test_set_downstream_and_upstream() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        a.set_downstream(b)
        c.set_upstream([b])
    assert a.downstream == [b]
    assert c.upstream == [b]


def test_linking_twice_makes_one_edge() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        b = m("b")
        a >> b
        a >> b
    assert a.downstream == [b]
    assert b.upstream == [a]


def test_node_outside_any_dag_joins_the_dag_it_is_linked_to() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="a")
    loose_after = m("after")
    loose_before = m("before")
    assert loose_after.dag is None
    version = dag.version
    a >> loose_after
    assert loose_after.dag is dag
    assert dag.version > version
    # Either side of the link may be the loose one.
    loose_before >> a
    assert loose_before.dag is dag
    assert dag.get_node("after") is loose_after


def test_linking_nodes_of_two_dags_fails() -> None:
    with DAG("one"):
        a = InputOperator.from_callable(task_name="a")
    with DAG("two"):
        b = m("b")
    with pytest.raises(DAGBuildError) as info:
        a >> b
    assert info.value.code == "dag.foreign_node"
    assert "one" in str(info.value) and "two" in str(info.value)
    assert a.downstream == [] and b.upstream == []


def test_linking_a_list_spanning_two_dags_fails() -> None:
    one, two = DAG("one"), DAG("two")
    a = InputOperator.from_callable(task_name="a", dag=one)
    b = m("b", dag=one)
    c = m("c", dag=two)
    with pytest.raises(DAGBuildError) as info:
        a >> [b, c]
    assert info.value.code == "dag.foreign_node"


def test_adding_a_node_of_another_dag_fails() -> None:
    with DAG("one"):
        a = m("a")
    other = DAG("two")
    with pytest.raises(DAGBuildError) as info:
        other._add_node(a)
    assert info.value.code == "dag.foreign_node"


def test_linking_nodes_of_no_dag_fails() -> None:
    a, b = m("a"), m("b")
    with pytest.raises(DAGBuildError) as info:
        a >> b
    assert info.value.code == "dag.no_dag"


def test_linking_something_that_is_not_a_node_fails() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        with pytest.raises(DAGBuildError) as info:
            a >> 3
    assert info.value.code == "dag.bad_link"


def test_a_node_cannot_feed_itself() -> None:
    dag = DAG("d")
    a = m("a", dag=dag)
    with pytest.raises(DAGBuildError) as info:
        a >> a
    assert info.value.code == "dag.cycle"


def test_duplicate_task_name_fails_at_construction() -> None:
    with DAG("d") as dag:
        m("same")
        with pytest.raises(DAGBuildError) as info:
            m("same")
        InputOperator.from_callable(task_name="in") >> dag.get_node("same")
    assert info.value.code == "dag.duplicate_name"
    assert "same" in str(info.value)
    assert [n.node_name for n in dag] == ["same", "in"]


def test_duplicate_task_name_fails_when_a_loose_node_joins() -> None:
    with DAG("d"):
        a = InputOperator.from_callable(task_name="a")
    loose = m("a")
    with pytest.raises(DAGBuildError) as info:
        a >> loose
    assert info.value.code == "dag.duplicate_name"


def test_same_task_name_in_two_dags_is_fine() -> None:
    with DAG("one") as one:
        m("x")
    with DAG("two") as two:
        m("x")
    assert one.get_node("x") is not two.get_node("x")


def test_get_node_by_name_and_by_id() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="start")
        b = m()
        a >> b
    assert dag.get_node("start") is a
    assert dag.get_node(b.node_id) is b


def test_get_node_suggests_a_close_name() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="double")
        a >> m("triple")
    with pytest.raises(KeyError) as info:
        dag.get_node("doubel")
    message = info.value.args[0]
    assert "has no node 'doubel'" in message
    assert "did you mean 'double'?" in message


def test_get_node_without_close_name_gives_no_hint() -> None:
    with DAG("d") as dag:
        InputOperator.from_callable(task_name="double")
    with pytest.raises(KeyError) as info:
        dag.get_node("zzzzzzzz")
    assert "did you mean" not in info.value.args[0]


def test_node_ids_are_unique_and_labels_readable() -> None:
    with DAG("d"):
        a = InputOperator.from_callable()
        b = m("named")
        a >> b
    assert a.node_id != b.node_id
    assert b.label == "named"
    assert a.label.startswith("InputOperator_") and a.node_id[:8] in a.label
    assert "named" in repr(b) and "'d'" in repr(b)


def test_roots_leaves_and_triggers() -> None:
    class Trigger(TriggerOperator[Any]):
        pass

    with DAG("d") as dag:
        t = Trigger(task_name="t")
        b, c = m("b"), m("c")
        t >> [b, c]
    assert dag.root_nodes == [t]
    assert dag.leaf_nodes == [b, c]
    assert dag.trigger_nodes == [t]


def test_output_node_is_the_single_leaf() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="a")
        b = m("b")
        a >> b
    assert dag.output_node is b


def test_output_node_with_two_leaves_fails() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="a")
        a >> [m("b"), m("c")]
    with pytest.raises(DAGBuildError) as info:
        _ = dag.output_node
    assert info.value.code == "dag.output"
    assert "b" in str(info.value) and "c" in str(info.value)


def test_dags_are_equal_when_their_ids_are() -> None:
    one, also_one, two = DAG("x"), DAG("x"), DAG("y")
    assert one == also_one and hash(one) == hash(also_one)
    assert one != two
    assert len({one, also_one, two}) == 2


def test_dag_attributes() -> None:
    dag = DAG(
        "x",
        description="what it does",
        tags={"label": "example"},
        resource_group="g",
        default_dag_variables={"k": 1},
    )
    assert dag.dag_id == "x"
    assert dag.description == "what it does"
    assert dag.tags == {"label": "example"}
    assert dag.resource_group == "g"
    assert dag.default_dag_variables == {"k": 1}


@pytest.mark.parametrize("bad", ["", None, 3])
def test_dag_id_must_be_a_non_empty_string(bad: Any) -> None:
    with pytest.raises(DAGBuildError) as info:
        DAG(bad)
    assert info.value.code == "dag.bad_id"


def test_every_structural_change_bumps_the_version() -> None:
    dag = DAG("d")
    v0 = dag.version
    a = InputOperator.from_callable(task_name="a", dag=dag)
    v1 = dag.version
    b = m("b", dag=dag)
    v2 = dag.version
    a >> b
    v3 = dag.version
    assert v0 < v1 < v2 < v3


def test_topological_nodes_put_parents_first() -> None:
    with DAG("d") as dag:
        j = JoinOperator(lambda x, y: (x, y), offload=False, task_name="j")
        b, c = m("b"), m("c")
        a = InputOperator.from_callable(task_name="a")
        a >> [b, c] >> j
    order = dag.topological_nodes()
    assert order.index(a) < order.index(b) < order.index(j)
    assert order.index(c) < order.index(j)


def test_an_error_in_the_with_block_is_not_masked_by_validation() -> None:
    with pytest.raises(ZeroDivisionError), DAG("d"):
        InputOperator.from_callable(task_name="a")
        InputOperator.from_callable(task_name="b")  # two entries: invalid, but not checked
        1 / 0  # noqa: B018
    assert current_dag() is None


# --- validation -------------------------------------------------------------------------


def test_valid_dag_has_no_problems() -> None:
    with DAG("d") as dag:
        InputOperator.from_callable(task_name="a") >> m("b")
    assert dag.problems() == []
    dag.validate()


def test_empty_dag_is_invalid() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("empty"):
        pass
    assert codes(info.value) == ["dag.empty"]
    assert info.value.code == "dag.empty"
    assert info.value.dag_id == "empty"


def _cycle_path(message: str) -> list[str]:
    found = re.search(r"has a cycle: (.*)$", message, re.MULTILINE)
    assert found is not None, message
    return found.group(1).split(" -> ")


def test_cycle_is_reported_with_its_path() -> None:
    dag = DAG("loop")
    a = m("a", dag=dag)
    b, c = m("b", dag=dag), m("c", dag=dag)
    a >> b >> c >> a
    with pytest.raises(DAGValidationError) as info:
        dag.validate()
    assert codes(info.value) == ["dag.cycle"]
    assert info.value.code == "dag.cycle"
    path = _cycle_path(str(info.value))
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    for src, dst in itertools.pairwise(path):
        assert dag.get_node(dst) in dag.get_node(src).downstream


def test_cycle_closing_a_with_block_raises_on_exit() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("loop"):
        a = InputOperator.from_callable(task_name="a")
        b, c = m("b"), m("c")
        a >> b >> c >> b
    assert "dag.cycle" in codes(info.value)
    path = _cycle_path(str(info.value))
    assert sorted(path[:-1]) == ["b", "c"]


def test_cycle_is_reported_together_with_other_problems() -> None:
    dag = DAG("d")
    a, b = m("a", dag=dag), m("b", dag=dag)
    a >> b >> a
    x = InputOperator[Any](InputSource.from_data(1), task_name="x", dag=dag)
    fed = InputOperator[Any](InputSource.from_data(2), task_name="fed", dag=dag)
    x >> fed
    with pytest.raises(DAGValidationError) as info:
        dag.validate()
    assert {"dag.cycle", "dag.disconnected", "dag.input_fed"} <= set(codes(info.value))


def test_disconnected_parts_are_reported_with_their_nodes() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("split"):
        InputOperator.from_callable(task_name="a") >> m("b")
        InputOperator(InputSource.from_data(1), task_name="c") >> m("d")
    assert codes(info.value) == ["dag.disconnected"]
    message = str(info.value)
    assert "2 unconnected parts" in message
    assert "a, b" in message and "c, d" in message


def test_two_entries_are_reported() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("two"):
        a = InputOperator.from_callable(task_name="first")
        b = InputOperator.from_callable(task_name="second")
        [a, b] >> JoinOperator(lambda x, y: x, offload=False, task_name="j")
    assert codes(info.value) == ["dag.entry"]
    assert "'first'" in str(info.value) and "'second'" in str(info.value)


def test_a_root_map_is_an_entry_too() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("two"):
        a = InputOperator.from_callable(task_name="first")
        b = m("root_map")
        [a, b] >> JoinOperator(lambda x, y: x, offload=False, task_name="j")
    assert codes(info.value) == ["dag.entry"]


def test_roots_with_their_own_source_are_not_entries() -> None:
    with DAG("ok") as dag:
        a = InputOperator.from_callable(task_name="entry")
        b = InputOperator[Any](InputSource.from_data(1), task_name="fixed")
        c = InputOperator[Any](InputSource.from_iterable([1]), task_name="items")
        r = MapOperator[Any, Any](lambda s: s, offload=False, task_name="r")
        c >> r
        [a, b] >> JoinOperator(lambda x, y: x, offload=False, task_name="j")
        # Stays connected through a second join.
        [dag.get_node("j"), r] >> JoinOperator(lambda x, y: x, offload=False, task_name="k")
    assert dag.problems() == []


def test_two_triggers_are_reported() -> None:
    class Trigger(TriggerOperator[Any]):
        pass

    with pytest.raises(DAGValidationError) as info, DAG("t"):
        a, b = Trigger(task_name="t1"), Trigger(task_name="t2")
        [a, b] >> JoinOperator(lambda x, y: x, offload=False, task_name="j")
    assert set(codes(info.value)) == {"dag.entry"}
    assert any("2 triggers" in p.message for p in info.value.problems)


def test_input_node_with_upstream_is_reported() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        fed = InputOperator[Any](InputSource.from_data(1), task_name="fed")
        a >> fed
    assert codes(info.value) == ["dag.input_fed"]
    assert "'fed'" in str(info.value) and "'a'" in str(info.value)


def test_branch_target_must_be_directly_below_the_branch() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        br = BranchOperator[Any]({(lambda x: True): "far"}, task_name="br")
        a >> br >> m("near") >> m("far")
    assert codes(info.value) == ["dag.branch_target"]
    assert "'far'" in str(info.value) and "near" in str(info.value)


def test_branch_target_given_as_a_node_must_be_below_too() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        elsewhere = m("elsewhere")
        br = BranchOperator[Any]({(lambda x: True): elsewhere}, task_name="br")
        a >> [br, elsewhere]
        br >> m("child")
    assert codes(info.value) == ["dag.branch_target"]


def test_non_operator_node_is_reported() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("d"):
        a = InputOperator.from_callable(task_name="a")
        a >> DAGNode(task_name="plain")
    assert codes(info.value) == ["dag.not_operator"]
    assert "'plain'" in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DAGValidationError) as info, DAG("bad"):
        a = InputOperator.from_callable(task_name="a")
        b = InputOperator.from_callable(task_name="b")
        j = JoinOperator(lambda x, y: x, offload=False, task_name="j")
        [a, b] >> j
        fed = InputOperator[Any](InputSource.from_data(1), task_name="fed")
        j >> fed
        br = BranchOperator[Any]({(lambda x: True): "nowhere"}, task_name="br")
        fed >> br >> m("kid")
        InputOperator(InputSource.from_data(1), task_name="island") >> m("island_map")
    err = info.value
    assert sorted(codes(err)) == sorted(
        ["dag.disconnected", "dag.entry", "dag.input_fed", "dag.branch_target"]
    )
    message = str(err)
    assert message.startswith("flow 'bad' is invalid: 4 problems")
    for problem in err.problems:
        assert str(problem) in message
    # Sorted, so the order (and err.code) is stable from run to run.
    assert err.problems == sorted(err.problems, key=lambda p: p.sort_key())
    assert err.code == err.problems[0].code


def test_validation_is_cached_until_the_dag_changes() -> None:
    with DAG("d") as dag:
        a = InputOperator.from_callable(task_name="a")
        a >> m("b")
    dag.validate()
    # A node added afterwards is seen by the next validation.
    InputOperator(InputSource.from_data(1), task_name="island", dag=dag)
    with pytest.raises(DAGValidationError) as info:
        dag.validate()
    assert codes(info.value) == ["dag.disconnected"]


async def test_a_dag_built_without_with_is_validated_on_first_call() -> None:
    dag = DAG("d")
    a = InputOperator.from_callable(task_name="a", dag=dag)
    b = InputOperator.from_callable(task_name="b", dag=dag)
    j = JoinOperator(lambda x, y: (x, y), offload=False, task_name="j", dag=dag)
    [a, b] >> j
    with pytest.raises(DAGValidationError) as info:
        await j.call(1)
    assert codes(info.value) == ["dag.entry"]


def test_kind_mismatch_in_a_trigger_flow_is_reported_when_built() -> None:
    from awel import ReduceStreamOperator

    class Trigger(TriggerOperator[Any]):
        pass

    with pytest.raises(DAGValidationError) as info, DAG("d"):
        Trigger(task_name="t") >> ReduceStreamOperator(lambda a, b: a, task_name="r")
    assert codes(info.value) == ["dag.kind"]


async def test_concurrent_tasks_build_their_own_dags() -> None:
    import anyio

    one_entered, two_entered, one_done = anyio.Event(), anyio.Event(), anyio.Event()
    built: dict[str, DAG] = {}

    async def first() -> None:
        with DAG("one") as dag:
            a = InputOperator.from_callable(task_name="a")
            one_entered.set()
            await two_entered.wait()
            a >> m("b")
        built["one"] = dag
        one_done.set()

    async def second() -> None:
        await one_entered.wait()
        with DAG("two") as dag:
            InputOperator.from_callable(task_name="x")
            two_entered.set()
            await one_done.wait()
            assert current_dag() is dag
        built["two"] = dag

    import awel.dag

    stack_of = getattr(awel.dag, "_dag_stack", None)  # private; may go with the fix
    saved = list(stack_of()) if stack_of else []
    try:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                tg.start_soon(second)
    finally:
        # While the bug stands, the interleaved exits leave a DAG open: don't leak it.
        if stack_of:
            stack_of()[:] = saved
    assert [n.node_name for n in built["one"]] == ["a", "b"]
    assert [n.node_name for n in built["two"]] == ["x"]


def test_no_dag_is_left_open() -> None:
    # Runs after the tests above in this module: none of them leaves a DAG open.
    assert current_dag() is None


def test_duplicate_node_id_fails() -> None:
    dag = DAG("d")
    MapOperator(ident, node_id="same", dag=dag)
    with pytest.raises(DAGBuildError):
        MapOperator(ident, node_id="same", dag=dag)
