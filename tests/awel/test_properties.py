"""Graph invariants, checked on generated DAGs.

1. A random DAG of maps, joins and branches gives the same result as a reference evaluation
   written here (a plain forward pass with the same skip rules).
2. A generated cycle is always rejected with ``dag.cycle``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awel import (
    DAG,
    SKIP_DATA,
    BaseOperator,
    BranchJoinOperator,
    BranchOperator,
    DAGBuildError,
    DAGValidationError,
    InputOperator,
    JoinOperator,
    MapOperator,
    RunError,
)

SETTINGS = settings(max_examples=75, deadline=None)


@dataclass
class NodeSpec:
    """One generated node. Node 0 is the input; every other node has earlier parents."""

    kind: str  # "input" | "map" | "join" | "branch_join" | "branch"
    parents: list[int]
    a: int = 1
    b: int = 0
    #: Only maps may be built with can_skip_in_branch=False (branch joins always are).
    can_skip: bool = True
    #: What a map that cannot be skipped returns when its input was skipped.
    on_skip: int = 0
    use_async: bool = False
    #: For a branch: child index -> the parity of the value for which that child runs.
    routes: dict[int, int] = field(default_factory=dict)


@st.composite
def topologies(draw: st.DrawFn) -> list[NodeSpec]:
    n = draw(st.integers(min_value=1, max_value=14))
    specs = [NodeSpec("input", [])]
    for i in range(1, n + 1):
        kind = draw(st.sampled_from(["map", "map", "join", "branch_join", "branch", "branch"]))
        # Parents are mostly recent nodes, so branches tend to have children to route.
        lowest = draw(st.sampled_from([max(0, i - 3), max(0, i - 3), 0]))
        earlier = st.integers(min_value=lowest, max_value=i - 1)
        if kind in ("map", "branch"):
            parents = [draw(earlier)]
        else:
            parents = draw(st.lists(earlier, min_size=1, max_size=min(3, i - lowest), unique=True))
        spec = NodeSpec(kind, parents, use_async=draw(st.booleans()))
        if kind == "map":
            spec.a = draw(st.integers(min_value=-3, max_value=3))
            spec.b = draw(st.integers(min_value=-5, max_value=5))
            spec.can_skip = draw(st.sampled_from([True, True, True, False]))
            spec.on_skip = draw(st.integers(min_value=-5, max_value=5))
        if kind == "branch_join":
            spec.can_skip = False
        specs.append(spec)
    # Route some children of each branch by parity. Children that cannot be skipped are
    # left unrouted: whether a branch may skip them is not what this property is about.
    for i, spec in enumerate(specs):
        if spec.kind != "branch":
            continue
        for child, other in enumerate(specs):
            if i in other.parents and other.can_skip:
                route = draw(st.sampled_from([None, 0, 1]))
                if route is not None:
                    spec.routes[child] = route
    return specs


def name(i: int) -> str:
    return f"n{i}"


def reference(specs: list[NodeSpec], x: int) -> list[Any]:
    """Every node's output for input ``x``, by the skip rules of the docs."""
    out: list[Any] = []
    for i, spec in enumerate(specs):
        if spec.kind == "input":
            out.append(x)
            continue
        inputs = [out[p] for p in spec.parents]
        routed_away = any(
            specs[p].kind == "branch"
            and out[p] is not SKIP_DATA
            and i in specs[p].routes
            and out[p] % 2 != specs[p].routes[i]
            for p in spec.parents
        )
        all_skipped = all(v is SKIP_DATA for v in inputs)
        if routed_away or (all_skipped and spec.can_skip):
            out.append(SKIP_DATA)
        elif spec.kind == "map":
            v = inputs[0]
            out.append(spec.on_skip if v is SKIP_DATA else spec.a * v + spec.b)
        elif spec.kind in ("join", "branch_join"):
            out.append(sum(v for v in inputs if v is not SKIP_DATA))
        else:  # branch: passes its input through
            out.append(inputs[0])
    return out


def build(specs: list[NodeSpec]) -> list[BaseOperator]:
    def affine(spec: NodeSpec) -> Any:
        def fn(v: Any) -> Any:
            return spec.on_skip if v is SKIP_DATA else spec.a * v + spec.b

        async def afn(v: Any) -> Any:
            return fn(v)

        return afn if spec.use_async else fn

    def total(*vs: Any) -> int:
        return sum(v for v in vs if v is not SKIP_DATA)

    async def atotal(*vs: Any) -> int:
        return total(*vs)

    def route(parity: int) -> Any:
        return lambda v: v % 2 == parity

    nodes: list[BaseOperator] = []
    with DAG("random"):
        for i, spec in enumerate(specs):
            node: BaseOperator
            if spec.kind == "input":
                node = InputOperator.from_callable(task_name=name(i))
            elif spec.kind == "map":
                node = MapOperator(
                    affine(spec),
                    offload=False,
                    task_name=name(i),
                    can_skip_in_branch=spec.can_skip,
                )
            elif spec.kind == "join":
                node = JoinOperator(atotal if spec.use_async else total, task_name=name(i))
            elif spec.kind == "branch_join":
                node = BranchJoinOperator(atotal if spec.use_async else total, task_name=name(i))
            else:
                node = BranchOperator(
                    {route(parity): name(child) for child, parity in spec.routes.items()},
                    task_name=name(i),
                )
            for p in spec.parents:
                nodes[p] >> node
            nodes.append(node)
    return nodes


async def run_and_compare(specs: list[NodeSpec], xs: list[int]) -> None:
    nodes = build(specs)
    leaves = [n for n in nodes if not n.downstream]
    targets = [*leaves, nodes[-1]]
    for x in xs:
        expected = reference(specs, x)
        for target in targets:
            want = expected[nodes.index(target)]
            if want is SKIP_DATA:
                with pytest.raises(RunError) as info:
                    await target.call(x)
                assert info.value.code == "run.output_skipped"
            else:
                assert await target.call(x) == want
        last = nodes[-1]
        if expected[-1] is not SKIP_DATA:
            assert [v async for v in last.call_stream(x)] == [expected[-1]]


@SETTINGS
@given(specs=topologies(), xs=st.lists(st.integers(-6, 6), min_size=1, max_size=3))
def test_random_dag_matches_reference_evaluation(specs: list[NodeSpec], xs: list[int]) -> None:
    asyncio.run(run_and_compare(specs, xs))


def test_reference_follows_the_documented_skip_rules() -> None:
    # input -> branch(n1) -> n2 (runs on even) / n3 (runs on odd) -> join n4 ; n5 stubborn map
    specs = [
        NodeSpec("input", []),
        NodeSpec("branch", [0], routes={2: 0, 3: 1}),
        NodeSpec("map", [1], a=10),
        NodeSpec("map", [1], a=100),
        NodeSpec("join", [2, 3]),
        NodeSpec("map", [2], can_skip=False, on_skip=-1),
    ]
    assert reference(specs, 2) == [2, 2, 20, SKIP_DATA, 20, 20]
    assert reference(specs, 3) == [3, 3, SKIP_DATA, 300, 300, -1]
    asyncio.run(run_and_compare(specs, [2, 3]))


# --- cycles ---------------------------------------------------------------------------------


@st.composite
def cyclic(draw: st.DrawFn) -> tuple[list[list[int]], int, int]:
    """Parent lists of a random DAG, and a back edge (from, to) that closes a cycle."""
    n = draw(st.integers(min_value=1, max_value=12))
    parents: list[list[int]] = [[]]
    for i in range(1, n + 1):
        parents.append(
            draw(
                st.lists(
                    st.integers(min_value=0, max_value=i - 1),
                    min_size=1,
                    max_size=min(3, i),
                    unique=True,
                )
            )
        )
    src = draw(st.integers(min_value=0, max_value=n))
    ancestors = {src}
    stack = [src]
    while stack:
        for p in parents[stack.pop()]:
            if p not in ancestors:
                ancestors.add(p)
                stack.append(p)
    dst = draw(st.sampled_from(sorted(ancestors)))
    return parents, src, dst


@SETTINGS
@given(case=cyclic())
def test_a_generated_cycle_is_always_rejected(case: tuple[list[list[int]], int, int]) -> None:
    parents, src, dst = case
    dag = DAG("cyclic")
    nodes: list[BaseOperator] = []
    for i, ps in enumerate(parents):
        node: BaseOperator
        if not ps:
            node = InputOperator.from_callable(task_name=name(i), dag=dag)
        elif len(ps) == 1:
            node = MapOperator(lambda v: v, offload=False, task_name=name(i), dag=dag)
        else:
            node = JoinOperator(lambda *vs: vs, offload=False, task_name=name(i), dag=dag)
        for p in ps:
            nodes[p] >> node
        nodes.append(node)
    dag.validate()  # valid before the back edge
    if src == dst:
        with pytest.raises(DAGBuildError) as build_info:
            nodes[src] >> nodes[dst]
        assert build_info.value.code == "dag.cycle"
        return
    nodes[src] >> nodes[dst]
    with pytest.raises(DAGValidationError) as info:
        dag.validate()
    assert "dag.cycle" in [p.code for p in info.value.problems]
    # The printed path is a real cycle of the graph.
    found = re.search(r"has a cycle: (.*)$", str(info.value), re.MULTILINE)
    assert found is not None
    path = found.group(1).split(" -> ")
    assert len(path) >= 3 and path[0] == path[-1]
    for a, b in itertools.pairwise(path):
        assert dag.get_node(b) in dag.get_node(a).downstream
    # A call fails the same way.
    with pytest.raises(DAGValidationError):
        asyncio.run(nodes[-1].call(1))
