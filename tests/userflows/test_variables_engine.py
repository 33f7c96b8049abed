"""``${...}`` references in YAML flows (awel.variables): the syntax, resolution at each
call through the installed provider, and secrets kept out of echoing parameters and out
of errors. The provider here is a dict; the stored one is tested through the server in
test_variables_routes.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import Field

from awel import DAG, MapOperator, registry
from awel.errors import NodeError, SpecError
from awel.operators import BaseOperator
from awel.registry import OperatorParams
from awel.spec import load_flow_text
from awel.variables import (
    SECRET_PARAM,
    ResolvedVariable,
    VariableError,
    VariableRef,
    call_variables,
    find_references,
    install_variables,
    parse_reference,
)


class DictVariables:
    """Variables by (key, name, scope, scope_key, user_name); counts lookups."""

    def __init__(self, values: dict[tuple[str, ...], ResolvedVariable]) -> None:
        self.values = values
        self.asked: list[VariableRef] = []

    async def lookup(self, ref: VariableRef, *, flow_id: str) -> ResolvedVariable | None:
        self.asked.append(ref)
        ident = (ref.key, ref.name, ref.scope, ref.scope_key or "", ref.user_name or "")
        return self.values.get(ident)


@pytest.fixture
def provider() -> Iterator[DictVariables]:
    made = DictVariables(
        {
            ("greeting", "text", "global", "", ""): ResolvedVariable("Bonjour"),
            ("limits", "n", "global", "", ""): ResolvedVariable(3),
            ("flag", "on", "global", "", ""): ResolvedVariable(True),
            ("mine", "x", "flow_priv", "vars.demo", ""): ResolvedVariable("private"),
            ("api", "token", "global", "", ""): ResolvedVariable("sk-s3cret", secret=True),
        }
    )
    previous = install_variables(made)
    yield made
    install_variables(previous)


class Leaky(MapOperator[Any, str]):
    """Fails saying its key (as a careless client library would)."""

    class Params(OperatorParams):
        key: str = Field(json_schema_extra=SECRET_PARAM)
        note: str = ""

    def __init__(self, key: str, note: str = "", **kwargs: Any) -> None:
        self.key = key
        self.note = note
        super().__init__(self.run, **kwargs)

    async def run(self, value: Any) -> str:
        if value == "fail":
            raise ValueError(f"the API refused key {self.key}")
        return f"used a key of {len(self.key)} characters; {self.note}"


@pytest.fixture
def leaky() -> Iterator[None]:
    with registry.registered("test.leaky", Leaky):
        yield


def node_of(dag: DAG, name: str) -> BaseOperator:
    node = dag.get_node(name)
    assert isinstance(node, BaseOperator)
    return node


def flow(template: str, *, name: str = "vars.demo") -> str:
    return f"""
name: {name}
trigger: {{}}
nodes:
  greet: {{op: awel.format, params: {{template: {template!r}}}}}
edges:
  - trigger >> greet
"""


def test_the_syntax() -> None:
    ref = parse_reference("${k.x:n@app:s1#sys%ann}")
    assert ref is not None
    assert (ref.key, ref.name, ref.scope, ref.scope_key, ref.sys_code, ref.user_name) == (
        "k.x",
        "n",
        "app",
        "s1",
        "sys",
        "ann",
    )
    assert parse_reference("${k:n}") == VariableRef("k", "n", text="${k:n}")
    assert parse_reference(r"${k:a\@b}") == VariableRef("k", "a@b", text=r"${k:a\@b}")
    # Not references: no name, a bad key, delimiters out of order, text around it.
    for text in ("${k}", "${HOME}", "${ k:n}", "${k:n@s:k:x}", "${k:n%u#s}", "x ${k:n}"):
        assert parse_reference(text) is None, text
    assert [r.text for _, _, r in find_references("a ${k:n} b ${j:m@flow} c")] == [
        "${k:n}",
        "${j:m@flow}",
    ]


async def test_resolved_at_each_call_and_seen_when_changed(provider: DictVariables) -> None:
    dag = load_flow_text(flow("${greeting:text}, {{ name }} (${limits:n}, ${flag:on})"))
    node = node_of(dag, "greet")
    assert await node.call({"name": "Ann"}) == "Bonjour, Ann (3, true)"
    provider.values[("greeting", "text", "global", "", "")] = ResolvedVariable("Hola")
    assert await node.call({"name": "Ann"}) == "Hola, Ann (3, true)"
    # The node as written is what the flow file says (dump and the editor see it so).
    assert node.params == {"template": "${greeting:text}, {{ name }} (${limits:n}, ${flag:on})"}


async def test_flow_priv_without_a_scope_key_is_the_flows_own(provider: DictVariables) -> None:
    dag = load_flow_text(flow("${mine:x@flow_priv}"))
    assert await node_of(dag, "greet").call({}) == "private"
    assert provider.asked[-1].scope_key == "vars.demo"


async def test_an_unknown_reference_names_itself_and_the_node(provider: DictVariables) -> None:
    dag = load_flow_text(flow("${greeting:nope}"))
    with pytest.raises(NodeError) as caught:
        await node_of(dag, "greet").call({})
    cause = caught.value.__cause__
    assert isinstance(cause, VariableError)
    assert "${greeting:nope}" in cause.message and "node 'greet'" in cause.message
    assert "parameter 'template'" in cause.message


def ref(text: str) -> VariableRef:
    found = parse_reference(text)
    assert found is not None
    return found


async def test_call_variables_win_for_calls_inside_the_block_only(
    provider: DictVariables,
) -> None:
    dag = load_flow_text(flow("${greeting:text} ${limits:n} ${mine:x@flow_priv}"))
    node = node_of(dag, "greet")
    given = {
        ref("${greeting:text}"): ResolvedVariable("Hola"),
        # flow_priv without a scope key: the flow's own, as the reference is looked up.
        ref("${mine:x@flow_priv:vars.demo}"): ResolvedVariable("given"),
        # Another scope: not the reference's variable.
        ref("${limits:n@app}"): ResolvedVariable(99),
    }
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def in_block() -> str:
        with call_variables(given):
            inside.set()
            await go_on.wait()
            # A task started in the block sees the values too.
            out: str = await asyncio.create_task(node.call({}))
            return out

    task = asyncio.create_task(in_block())
    await inside.wait()
    # A call outside the block, while it is open, sees the provider's values.
    assert await node.call({}) == "Bonjour 3 private"
    go_on.set()
    assert await task == "Hola 3 given"
    assert await node.call({}) == "Bonjour 3 private"
    outer = {
        ref("${greeting:text}"): ResolvedVariable("Hej"),
        ref("${limits:n}"): ResolvedVariable(4),
    }
    inner = {ref("${greeting:text}"): ResolvedVariable("Hi")}
    with call_variables(outer), call_variables(inner):
        assert await node.call({}) == "Hi 4 private"


async def test_call_variables_stand_where_no_provider_is() -> None:
    previous = install_variables(None)
    try:
        dag = load_flow_text(flow("${greeting:text}"))
        with call_variables({ref("${greeting:text}"): ResolvedVariable("Hola")}):
            assert await node_of(dag, "greet").call({}) == "Hola"
    finally:
        install_variables(previous)


async def test_no_provider_is_a_clear_error() -> None:
    previous = install_variables(None)
    try:
        dag = load_flow_text(flow("${greeting:text}"))  # loads: nothing is resolved yet
        with pytest.raises(NodeError, match=r"no variables are available here"):
            await node_of(dag, "greet").call({})
    finally:
        install_variables(previous)


async def test_a_secret_never_goes_where_it_could_be_echoed(provider: DictVariables) -> None:
    dag = load_flow_text(flow("token: ${api:token}"))
    with pytest.raises(NodeError) as caught:
        await node_of(dag, "greet").call({})
    said = str(caught.value)
    assert "${api:token} is a secret" in said and "sk-s3cret" not in said


async def test_a_secret_is_used_but_masked_in_errors(provider: DictVariables, leaky: None) -> None:
    text = """
name: vars.leaky
trigger: {}
nodes:
  call: {op: test.leaky, params: {key: "Bearer ${api:token}", note: "${greeting:text}"}}
edges:
  - trigger >> call
"""
    node = node_of(load_flow_text(text), "call")
    assert await node.call("ok") == "used a key of 16 characters; Bonjour"
    with pytest.raises(NodeError) as caught:
        await node.call("fail")
    chain: list[BaseException] = []
    err: BaseException | None = caught.value
    while err is not None:
        chain.append(err)
        err = err.__cause__ or err.__context__
    assert "the API refused key Bearer ******" in str(caught.value)
    assert all("sk-s3cret" not in str(e) for e in chain)
    # The secret may not go into the operator's other parameters.
    bad = text.replace('note: "${greeting:text}"', 'note: "${api:token}"')
    bad = bad.replace('key: "Bearer ${api:token}"', 'key: "x"')
    with pytest.raises(NodeError, match=r"parameter 'note' does not take secrets"):
        await node_of(load_flow_text(bad), "call").call("ok")


def test_where_variables_cannot_stand_is_reported_at_load() -> None:
    in_trigger = """
name: vars.trigger
trigger: {http: {endpoint: "/x/${k:n}"}}
nodes:
  a: {op: awel.map, params: {expr: x}}
edges:
  - trigger >> a
"""
    with pytest.raises(SpecError, match=r"cannot be used in the trigger"):
        load_flow_text(in_trigger)
    not_text = """
name: vars.int
trigger: {}
nodes:
  call: {op: http.request, params: {url: "https://example.com", timeout: "${t:s}"}}
edges:
  - trigger >> call
"""
    with pytest.raises(SpecError, match=r"put in as text"):
        load_flow_text(not_text)


async def test_a_value_that_does_not_fit_is_refused_without_showing_it(
    provider: DictVariables,
) -> None:
    provider.values[("tpl", "bad", "global", "", "")] = ResolvedVariable("{{ oops", secret=False)
    dag = load_flow_text(flow("${tpl:bad}"))
    with pytest.raises(NodeError, match=r"parameter 'template' is refused"):
        await node_of(dag, "greet").call({})
