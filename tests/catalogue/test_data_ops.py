"""sql.query, sql.schema and text_to_sql on a real SQLite datasource in a real store, with
a fake model whose SQL answer a test chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from awel import NodeError, registry
from operators.datasource import close_connectors
from operators.llm.types import Completion, GenerationRequest, Usage
from operators.models import ModelSet, using_models
from operators.storage import Datasource, MetadataStore, open_store
from tests.datasource.conftest import make_sqlite
from tests.server.model_api_live import FakeEmbedder, FakeLLM

from .conftest import run_one


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[MetadataStore]:
    path = make_sqlite(tmp_path / "shop.sqlite")
    async with open_store(None, data_dir=tmp_path / "data") as store:
        await store.datasources.add(Datasource(db_type="sqlite", db_name="shop", db_path=str(path)))
        yield store
    await close_connectors()


async def test_sql_query_runs_the_param_or_the_input(shop: MetadataStore) -> None:
    rows = await run_one(
        "sql.query", {"datasource": "shop", "sql": "SELECT id, name FROM users ORDER BY id"}, None
    )
    assert rows == [
        {"id": 1, "name": "alice"},
        {"id": 2, "name": "bob"},
        {"id": 3, "name": "carol"},
    ]
    sql = "SELECT name FROM users WHERE id = 2"
    assert await run_one("sql.query", {"datasource": "shop"}, sql) == [{"name": "bob"}]
    assert await run_one("sql.query", {"datasource": "shop"}, {"sql": sql}) == [{"name": "bob"}]
    capped = await run_one(
        "sql.query", {"datasource": "shop", "max_rows": 2}, "SELECT * FROM users"
    )
    assert len(capped) == 2


@pytest.mark.parametrize(
    ("params", "value", "code"),
    [
        ({"datasource": "shop"}, "DELETE FROM users", "sql.rejected"),
        ({"datasource": "shop"}, "SELECT * FROM users; SELECT 1", "sql.rejected"),
        ({"datasource": "shop"}, "SELECT nope FROM users", "sql.failed"),
        ({"datasource": "shop"}, 42, "sql.missing"),
        ({"datasource": "shop"}, {"question": "no sql"}, "sql.missing"),
        ({"datasource": "elsewhere"}, "SELECT 1", "datasource.not_found"),
    ],
)
async def test_sql_query_failures_name_the_node(
    shop: MetadataStore, params: dict[str, object], value: object, code: str
) -> None:
    with pytest.raises(NodeError) as caught:
        await run_one("sql.query", params, value)
    assert caught.value.node == "node"
    assert getattr(caught.value.__cause__, "code", None) == code


def test_sql_params_are_checked() -> None:
    with pytest.raises(ValidationError):
        registry.build("sql.query", {})
    with pytest.raises(ValidationError):
        registry.build("sql.query", {"datasource": "shop", "max_rows": 0})
    with pytest.raises(ValidationError):
        registry.build("sql.schema", {"datasource": "shop", "top": 3})
    with pytest.raises(ValidationError, match="invalid template"):
        registry.build("text_to_sql", {"datasource": "shop", "prompt": "{% if %}"})


async def test_sql_schema_describes_the_tables_of_a_question(shop: MetadataStore) -> None:
    async with using_models(ModelSet([], [FakeEmbedder()]), close=False):
        text = await run_one("sql.schema", {"datasource": "shop", "top_k": 1}, "which users?")
        assert "users" in text and "orders" not in text
        both = await run_one("sql.schema", {"datasource": "shop"}, {"question": "orders"})
        assert "users" in both and "orders" in both
        with pytest.raises(NodeError) as caught:
            await run_one("sql.schema", {"datasource": "shop"}, {"nothing": 1})
    assert getattr(caught.value.__cause__, "code", None) == "sql.no_question"


class SqlLLM(FakeLLM):
    """Answers the text-to-SQL JSON a test sets, and keeps the requests."""

    def __init__(self, answer: str) -> None:
        super().__init__("sql-llm")
        self.answer = answer

    async def generate(self, request: GenerationRequest) -> Completion:
        self.requests.append(request)
        return Completion(text=self.answer, finish_reason="stop", usage=Usage())


async def test_text_to_sql_asks_checks_and_runs(shop: MetadataStore) -> None:
    llm = SqlLLM('{"thoughts": "count them", "sql": "SELECT count(*) AS n FROM users"}')
    async with using_models(ModelSet([llm], [FakeEmbedder()]), close=False):
        out = await run_one("text_to_sql", {"datasource": "shop"}, "How many users?")
        assert out == {
            "question": "How many users?",
            "thoughts": "count them",
            "sql": "SELECT COUNT(*) AS n FROM users LIMIT 200",
            "rows": [{"n": 3}],
            "answer": "",
        }
        request = llm.requests[-1]
        assert request.params.guidance is not None
        assert request.messages is not None and "users" in request.messages[0].content
        assert request.messages[1].content == "How many users?"

        llm.answer = '{"thoughts": "", "sql": "", "direct_response": "There is no such table."}'
        out = await run_one("text_to_sql", {"datasource": "shop"}, {"question": "Weather?"})
        assert (out["sql"], out["rows"], out["answer"]) == ("", [], "There is no such table.")

        for answer, code in [
            ('{"thoughts": "wipe", "sql": "DELETE FROM users"}', "sql.rejected"),
            ("no JSON at all", "sql.no_answer"),
        ]:
            llm.answer = answer
            with pytest.raises(NodeError) as caught:
                await run_one("text_to_sql", {"datasource": "shop"}, "Anything")
            assert getattr(caught.value.__cause__, "code", None) == code, answer
