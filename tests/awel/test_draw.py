"""Mermaid and DOT drawings, pinned by snapshot strings."""

from __future__ import annotations

from collections.abc import AsyncIterator

from awel import (
    DAG,
    BranchJoinOperator,
    BranchOperator,
    InputOperator,
    JoinOperator,
    MapOperator,
    ReduceStreamOperator,
    StreamifyAbsOperator,
)
from awel.draw import draw_dot, draw_mermaid


class Chars(StreamifyAbsOperator[str, str]):
    async def streamify(self, input_value: str) -> AsyncIterator[str]:
        for c in input_value:
            yield c


def is_big(x: int) -> bool:
    return x > 5


def build() -> DAG:
    with DAG("demo") as dag:
        start = InputOperator.from_callable(task_name="in")
        route: BranchOperator[int] = BranchOperator(
            {is_big: "big", (lambda x: x <= 5): "small"}, task_name="route"
        )
        big = MapOperator[int, str](lambda x: f"big {x}", task_name="big")
        small = MapOperator[int, str](lambda x: f"small {x}", task_name="small")
        merge: BranchJoinOperator[str] = BranchJoinOperator(task_name="merge")
        chars = Chars(task_name="chars")
        upper = MapOperator(str.upper, task_name="upper")
        concat = ReduceStreamOperator[str, str](lambda a, b: a + b, task_name="concat")
        start >> route >> [big, small] >> merge >> chars >> upper >> concat
    return dag


MERMAID = """\
---
title: "demo"
---
flowchart TD
    n0(["in<br/>InputOperator"])
    n1{"route<br/>BranchOperator"}
    n2["big<br/>MapOperator"]
    n3["small<br/>MapOperator"]
    n4{{"merge<br/>BranchJoinOperator"}}
    n5[/"chars<br/>Chars [stream]"/]
    n6["upper<br/>MapOperator [stream]"]
    n7[/"concat<br/>ReduceStreamOperator"\\]
    n0 --> n1
    n1 -.->|"is_big"| n2
    n1 -.-> n3
    n2 --> n4
    n3 --> n4
    n4 --> n5
    n5 ==> n6
    n6 ==> n7
    classDef stream stroke-dasharray: 5 5
    class n5,n6 stream
"""

DOT = """\
digraph "demo" {
    rankdir=TB;
    node [fontname="Helvetica", fontsize=11];
    edge [fontname="Helvetica", fontsize=10];
    n0 [label="in\\nInputOperator", shape=box, style="rounded"];
    n1 [label="route\\nBranchOperator", shape=diamond];
    n2 [label="big\\nMapOperator", shape=box];
    n3 [label="small\\nMapOperator", shape=box];
    n4 [label="merge\\nBranchJoinOperator", shape=hexagon];
    n5 [label="chars\\nChars [stream]", shape=parallelogram, style="dashed"];
    n6 [label="upper\\nMapOperator [stream]", shape=box, style="dashed"];
    n7 [label="concat\\nReduceStreamOperator", shape=invtrapezium];
    n0 -> n1;
    n1 -> n2 [style=dashed, label="is_big"];
    n1 -> n3 [style=dashed];
    n2 -> n4;
    n3 -> n4;
    n4 -> n5;
    n5 -> n6 [style=bold];
    n6 -> n7 [style=bold];
}
"""


def test_mermaid_snapshot() -> None:
    assert draw_mermaid(build()) == MERMAID


def test_dot_snapshot() -> None:
    assert draw_dot(build()) == DOT


def test_drawings_are_deterministic() -> None:
    # Node ids are uuids; nothing random may leak into the text.
    assert draw_mermaid(build()) == draw_mermaid(build())
    assert draw_dot(build()) == draw_dot(build())


def test_order_is_topological_with_ties_in_insertion_order() -> None:
    dag = DAG("order")
    # Created out of order: the sink first, the entry last.
    sink = JoinOperator(lambda a, b: a + b, task_name="sink", dag=dag)
    b = MapOperator[int, int](lambda x: x, task_name="b", dag=dag)
    a = MapOperator[int, int](lambda x: x, task_name="a", dag=dag)
    start = InputOperator.from_callable(task_name="start", dag=dag)
    start >> [b, a]
    [b, a] >> sink
    assert draw_mermaid(dag).splitlines()[4:] == [
        '    n0(["start<br/>InputOperator"])',
        '    n1["b<br/>MapOperator"]',
        '    n2["a<br/>MapOperator"]',
        '    n3{{"sink<br/>JoinOperator"}}',
        "    n0 --> n1",
        "    n0 --> n2",
        "    n1 --> n3",
        "    n2 --> n3",
    ]


def test_unnamed_nodes_show_their_class_only() -> None:
    with DAG("anon") as dag:
        InputOperator.from_callable() >> MapOperator(lambda x: x)
    assert draw_mermaid(dag).splitlines()[4:] == [
        '    n0(["InputOperator"])',
        '    n1["MapOperator"]',
        "    n0 --> n1",
    ]
    assert '    n0 [label="InputOperator", shape=box, style="rounded"];' in draw_dot(dag)


def test_labels_are_escaped() -> None:
    with DAG('say "hi" & <bye> #1') as dag:
        InputOperator.from_callable(task_name='a "quoted" <name> & #tag') >> MapOperator(
            lambda x: x, task_name="back\\slash"
        )
    mermaid = draw_mermaid(dag)
    assert 'title: "say \\"hi\\" & <bye> #1"' in mermaid
    assert '(["a #quot;quoted#quot; #lt;name#gt; #amp; #35;tag<br/>InputOperator"])' in mermaid
    dot = draw_dot(dag)
    assert dot.startswith('digraph "say \\"hi\\" & <bye> #1" {')
    assert 'label="a \\"quoted\\" <name> & #tag\\nInputOperator"' in dot
    assert 'label="back\\\\slash\\nMapOperator"' in dot


def test_an_invalid_flow_is_still_drawn() -> None:
    # Built without `with`, so nothing validated it: a cycle and a stream fed to a map's
    # sibling both stay drawable, in insertion order.
    dag = DAG("broken")
    a = MapOperator[int, int](lambda x: x, task_name="a", dag=dag)
    b = MapOperator[int, int](lambda x: x, task_name="b", dag=dag)
    a >> b
    b >> a
    assert draw_mermaid(dag).splitlines()[4:] == [
        '    n0["a<br/>MapOperator"]',
        '    n1["b<br/>MapOperator"]',
        "    n0 --> n1",
        "    n1 --> n0",
    ]


def test_a_flow_that_does_not_compile_marks_only_stream_operators() -> None:
    dag = DAG("kinds")
    start: InputOperator[str] = InputOperator(task_name="start", dag=dag)
    chars = Chars(task_name="chars", dag=dag)
    # A streamify fed a stream cannot compile; the drawing says what it can.
    again = Chars(task_name="again", dag=dag)
    start >> chars >> again
    text = draw_mermaid(dag)
    assert "class n1,n2 stream" in text
