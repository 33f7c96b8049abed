"""Typed edges: operators' types from their generic bases, checked before a flow runs.

A sure mismatch is a problem located at the edge (``dag.edge_type``), with the registered
operators that would fit suggested; anything unsure (``Any``, a wider declared type, a
dict where a model is taken) is never reported, and no shipped flow reports.
"""

from __future__ import annotations

import importlib
import pkgutil
import textwrap
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, NewType, Optional, TypeVar, Union

import pytest
from pydantic import BaseModel

from awel import (
    DAG,
    BranchOperator,
    DAGValidationError,
    InputOperator,
    JoinOperator,
    MapOperator,
    ReduceStreamOperator,
    SpecError,
    StreamifyAbsOperator,
    TriggerOperator,
    registry,
)
from awel.iotypes import NodeTypes, fits, generic_args, type_name
from awel.loader import check_dag, load_paths
from awel.spec import load_flow_text
from awel.trigger import HttpTrigger
from awel.validate import flow_problems, type_problems

ROOT = Path(__file__).parent.parent.parent
T = TypeVar("T")


class ChatMessage(BaseModel):
    role: str
    content: str


class Request(BaseModel):
    prompt: str


class SpecialRequest(Request):
    pass


# --- fits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        (str, str),
        (bool, int),
        (int, float),
        (SpecialRequest, Request),
        (str, str | None),
        (str, Union[int, str]),  # noqa: UP007
        (None, Optional[str]),  # noqa: UP045
        (list[SpecialRequest], list[Request]),
        (list[str], Sequence[str]),
        (str, Sequence[str]),
        (dict[str, int], Mapping[str, float]),
        (list[str], list),
        (Literal["a", "b"], str),
        (Annotated[str, "why"], str),
        (NewType("UserId", int), int),
        (AsyncIterator[str], str),
    ],
)
def test_what_certainly_fits(given: Any, taken: Any) -> None:
    assert fits(given, taken) is True


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        (str, Request),
        (int, str),
        (list[ChatMessage], Request),
        (list[str], list[Request]),
        (str, Sequence[Request]),
        (str, Request | Sequence[Request]),
        (None, str),
        (dict[str, Any], list[Any]),
        (int | str, bytes),
        (Literal[1, 2], str),
    ],
)
def test_what_certainly_does_not(given: Any, taken: Any) -> None:
    assert fits(given, taken) is False


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        (Any, str),
        (str, Any),
        (T, str),
        (object, str),
        ("SomeForwardRef", str),
        (BaseModel, Request),  # declared wider: the value may be a Request
        (Mapping[str, Any], dict[str, Any]),
        (dict[str, Any], Request),  # records: a dict may be validated into the model
        (Request, dict[str, Any]),
        (list, list[str]),  # a bare list may hold strings
        (str | int, str),  # the str member fits: not sure
        (str, Literal["a"]),
        (Iterator[str], Sequence[str]),
    ],
)
def test_what_is_unsure_is_never_a_mismatch(given: Any, taken: Any) -> None:
    assert fits(given, taken) is None


def test_type_names_read_as_written() -> None:
    assert type_name(list[ChatMessage]) == "list[ChatMessage]"
    assert type_name(str | None) == "str | None"
    assert type_name(Optional[dict[str, Any]]) == "dict[str, Any] | None"  # noqa: UP045
    assert type_name(Any) == "Any"
    assert type_name(T) == "Any"
    assert type_name(Literal["a"]) == "Literal['a']"
    assert type_name(Sequence[int]) == "Sequence[int]"


# --- declared types ---------------------------------------------------------------------------


class Ask(MapOperator[str, list[ChatMessage]]):
    async def map(self, x: str) -> list[ChatMessage]:
        return [ChatMessage(role="user", content=x)]


class Middle(MapOperator[T, list[T]], Generic[T]):
    async def map(self, x: T) -> list[T]:
        return [x]


class Ints(Middle[int]):
    pass


class Words(StreamifyAbsOperator[str, str]):
    async def streamify(self, x: str) -> AsyncIterator[str]:
        for word in x.split():
            yield word


def test_type_arguments_are_read_through_subclasses() -> None:
    assert generic_args(Ask, MapOperator) == (str, list[ChatMessage])
    assert generic_args(Ints, MapOperator) == (int, list[int])
    taken, given = generic_args(Middle, MapOperator)
    assert (taken, type_name(given)) == (Any, "list[Any]")
    assert generic_args(MapOperator, MapOperator) == (Any, Any)
    assert generic_args(MapOperator[int, str], MapOperator) == (int, str)
    assert generic_args(Middle[bytes], MapOperator) == (bytes, list[bytes])


def test_each_kind_says_what_its_arguments_mean() -> None:
    assert Ask.kind_types() == NodeTypes(str, list[ChatMessage])
    assert Words.kind_types() == NodeTypes(str, str, gives_stream=True)
    assert ReduceStreamOperator.kind_types() == NodeTypes(Any, Any, takes_stream=True)
    made_from = ReduceStreamOperator[int, str]
    assert ReduceStreamOperator.kind_types(made_from) == NodeTypes(int, str, takes_stream=True)
    assert BranchOperator.kind_types().passes_through
    assert InputOperator.kind_types() == NodeTypes()


def test_a_node_may_set_its_own_types() -> None:
    class Parse(MapOperator[Any, Any]):
        def __init__(self, as_json: bool, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.out_type = dict[str, Any] if as_json else str

    assert Parse(True).io_types().gives == dict[str, Any]
    assert Parse(False).io_types().gives is str
    assert Parse.kind_types().gives is Any


def test_an_http_trigger_gives_its_request_body() -> None:
    assert HttpTrigger("/x", request_body=Request).io_types().gives is Request
    assert HttpTrigger("/x").io_types().gives is Any


def test_a_join_takes_what_its_combine_arguments_declare() -> None:
    def combine(a: str, b: int, *rest: float) -> str:
        return a

    types = JoinOperator(combine).io_types()
    assert [types.takes_at(i) for i in range(4)] == [str, int, float, float]
    assert JoinOperator(lambda *xs: xs).io_types().takes_at(0) is Any


# --- checks on flows -------------------------------------------------------------------------


def python_flow(*edges: tuple[str, str]) -> DAG:
    with DAG("typed") as dag:
        trigger = TriggerOperator[str](task_name="trigger")
        ask = Ask(task_name="ask")
        nums = MapOperator[int, int](lambda x: x, task_name="nums")
        words = Words(task_name="words")
        trigger >> ask >> nums
        trigger >> words
    return dag


def test_a_python_flow_reports_a_sure_mismatch() -> None:
    dag = python_flow()
    [problem] = flow_problems(dag)
    assert problem.code == "dag.edge_type"
    expected = "edge 'ask >> nums': Ask gives list[ChatMessage], MapOperator takes int"
    assert problem.message == expected


def test_problems_wait_for_the_structure_to_hold() -> None:
    # A kind problem (a stream where a value is needed) is reported; types are not.
    with pytest.raises(DAGValidationError) as caught, DAG("kinds"):
        trigger = TriggerOperator[int](task_name="trigger")
        words = Words(task_name="words")
        again = Words(task_name="again")
        trigger >> words >> again
    assert [p.code for p in caught.value.problems] == ["dag.kind"]


def test_a_parameterised_engine_kind_is_typed_by_its_arguments() -> None:
    assert MapOperator[int, str](str).io_types() == NodeTypes(int, str)


def test_a_map_over_a_stream_takes_its_items() -> None:
    with DAG("items") as dag:
        trigger = TriggerOperator[str](task_name="trigger")
        words = Words(task_name="words")
        upper = MapOperator[str, str](str.upper, task_name="upper")
        count = MapOperator[int, int](lambda x: x, task_name="count")
        trigger >> words >> upper >> count
    [problem] = type_problems(dag)
    assert "upper gives" not in problem.message
    assert problem.message == (
        "edge 'upper >> count': MapOperator gives a stream of str, MapOperator takes int"
    )


def test_a_branch_passes_on_what_it_was_given() -> None:
    with DAG("branch") as dag:
        trigger = TriggerOperator[str](task_name="trigger")
        route = BranchOperator[Any](task_name="route")
        ask = Ask(task_name="ask")
        nums = MapOperator[int, int](lambda x: x, task_name="nums")
        trigger >> route >> [ask, nums]
    [problem] = type_problems(dag)
    assert problem.message.startswith("edge 'route >> nums': BranchOperator gives str,")


def test_joins_check_each_input_against_its_argument() -> None:
    def combine(messages: list[ChatMessage], count: int) -> str:
        return ""

    with DAG("join") as dag:
        trigger = TriggerOperator[str](task_name="trigger")
        ask = Ask(task_name="ask")
        also = Ask(task_name="also")
        both = JoinOperator(combine, task_name="both")
        trigger >> [ask, also]
        [ask, also] >> both
    [problem] = type_problems(dag)
    assert problem.message == (
        "edge 'also >> both': Ask gives list[ChatMessage], JoinOperator takes int"
    )


def test_anything_goes_into_and_out_of_untyped_operators() -> None:
    with DAG("untyped") as dag:
        trigger: TriggerOperator[Any] = TriggerOperator(task_name="trigger")
        a = MapOperator(lambda x: x, task_name="a")
        b = Ask(task_name="b")
        c = MapOperator(lambda x: x, task_name="c")
        d = MapOperator[int, int](lambda x: x, task_name="d")
        trigger >> a >> b >> c >> d
    assert type_problems(dag) == []


YAML_FLOW = """\
    name: typed
    trigger: {}
    nodes:
      prompt: {op: test.ask}
      answer: {op: test.takes_request}
    edges:
      - trigger >> prompt >> answer
"""


class TakesRequest(MapOperator[Request, str]):
    """Takes a request."""

    async def map(self, x: Request) -> str:
        return x.prompt


class TakesMessages(MapOperator[list[ChatMessage], str]):
    """Takes chat messages."""

    async def map(self, x: list[ChatMessage]) -> str:
        return x[-1].content


def test_a_yaml_flow_reports_at_the_edge_and_suggests_operators_that_fit() -> None:
    with (
        registry.registered("test.ask", Ask),
        registry.registered("test.takes_request", TakesRequest),
        registry.registered("test.takes_messages", TakesMessages),
        pytest.raises(SpecError) as caught,
    ):
        load_flow_text(textwrap.dedent(YAML_FLOW), "typed.yaml")
    [problem] = caught.value.problems
    assert problem.code == "dag.edge_type"
    assert str(problem) == (
        "typed.yaml:7:26: edge 'prompt >> answer': test.ask gives list[ChatMessage],"
        " test.takes_request takes Request; did you mean test.takes_messages?"
    )


def test_no_suggestion_when_nothing_fits() -> None:
    with (
        registry.registered("test.ask", Ask),
        registry.registered("test.takes_request", TakesRequest),
        pytest.raises(SpecError) as caught,
    ):
        load_flow_text(textwrap.dedent(YAML_FLOW), "typed.yaml")
    assert caught.value.problems[0].message.endswith("takes Request")


def test_suggestions_prefer_the_same_family_then_likeness() -> None:
    with (
        registry.registered("zz.takes_messages", TakesMessages),
        registry.registered("test.takes_messages", TakesMessages),
        registry.registered("test.takes_request", TakesRequest),
    ):
        found = registry.operators_taking(list[ChatMessage], "test.takes_request")
    assert found[:2] == ["test.takes_messages", "zz.takes_messages"]
    assert "awel.map" not in found  # takes anything: it would fit every mismatch


def test_the_issues_example_fails_before_it_runs() -> None:
    flow = """\
        name: generate
        trigger: {}
        nodes:
          prompt: {op: awel.format, params: {template: "Hi {{ name }}"}}
          answer: {op: llm.generate}
        edges:
          - trigger >> prompt >> answer
    """
    with pytest.raises(SpecError) as caught:
        load_flow_text(textwrap.dedent(flow), "generate.yaml")
    [problem] = caught.value.problems
    assert str(problem).startswith(
        "generate.yaml:7:26: edge 'prompt >> answer': awel.format gives str, llm.generate"
        " takes GenerationRequest | Sequence[GenerationRequest]"
    )


def test_check_dag_suggests_for_python_flows_too() -> None:
    with registry.registered("test.takes_messages", TakesMessages):
        [problem] = check_dag(python_flow())
    assert problem.message.endswith("takes int; did you mean test.takes_messages?")


def test_no_shipped_or_example_flow_reports_a_type_problem() -> None:
    found = []
    for folder in ("flows", "examples", "tests/fixtures/flows/valid"):
        dags, problems = load_paths([ROOT / folder])
        assert [str(p) for p in problems] == []
        found += dags
    assert len(found) > 80  # the shipped flows' packages are walked, not just the top folder
    for dag in found:
        assert type_problems(dag) == [], dag.dag_id


def test_no_chat_scene_reports_a_type_problem() -> None:
    # Scenes are sub-flows built by a function each, not module-level DAGs.
    import flows.chat.scenes as scenes

    built = 0
    for info in pkgutil.iter_modules(scenes.__path__):
        scene = getattr(importlib.import_module(f"{scenes.__name__}.{info.name}"), "scene", None)
        if scene is not None and scene.flow is not None:
            assert flow_problems(scene.flow(scene)) == [], info.name
            built += 1
    assert built >= 5
