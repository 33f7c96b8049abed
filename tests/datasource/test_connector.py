"""Connectors against real SQLite, DuckDB, PostgreSQL and MariaDB."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from operators.datasource import (
    ConnectFailed,
    Connector,
    QueryFailed,
    QueryTimeout,
    SQLRejected,
    connector_for,
    inspect_schema,
    rebuild_summaries,
    search_tables,
)
from operators.storage import Datasource, open_store

SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
    " SELECT count(*) FROM c",
    "duckdb": "SELECT count(*) FROM range(100000000) a, range(100000000) b",
    "postgresql": "SELECT pg_sleep(5)",
    "mysql": "SELECT count(*) FROM information_schema.columns a, information_schema.columns b,"
    " information_schema.columns c, information_schema.columns d",
}


async def test_query_and_cap(shop: Datasource) -> None:
    connector = connector_for(shop)
    await connector.test()
    result = await connector.run_query(
        "SELECT u.name AS name, o.total AS total FROM users u JOIN orders o ON o.user_id = u.id"
        " ORDER BY o.id",
        max_rows=2,
    )
    assert result.columns == ["name", "total"]
    assert [r[0] for r in result.rows] == ["alice", "alice"]
    assert Decimal(str(result.rows[0][1])) == Decimal("9.5")
    assert result.sql.endswith("LIMIT 2")
    uncapped = await connector.run_query("SELECT id FROM users ORDER BY id LIMIT 10")
    assert uncapped.rows == [[1], [2], [3]] and not uncapped.truncated


async def test_writes_refused_by_the_gate(shop: Datasource) -> None:
    connector = connector_for(shop)
    with pytest.raises(SQLRejected, match="DELETE writes"):
        await connector.run_query("DELETE FROM users")
    with pytest.raises(SQLRejected, match="2 statements"):
        await connector.run_query("SELECT 1; DELETE FROM users")
    assert len((await connector.run_query("SELECT * FROM users")).rows) == 3


async def test_the_database_itself_refuses_writes(shop: Datasource) -> None:
    """Beneath the gate, every connection is read-only at the database."""
    from sqlalchemy import text

    connector = connector_for(shop)
    with pytest.raises(Exception) as caught:
        await connector.run_sync(lambda c: c.execute(text("DELETE FROM users")))
    assert "read" in str(caught.value).lower()
    assert len((await connector.run_query("SELECT * FROM users")).rows) == 3


async def test_errors_name_the_datasource(shop: Datasource) -> None:
    connector = connector_for(shop)
    with pytest.raises(QueryFailed, match=f"datasource '{shop.db_name}'"):
        await connector.run_query("SELECT nope FROM users")


async def test_statement_timeout(shop: Datasource) -> None:
    connector = Connector(shop, timeout=1.0)
    try:
        with pytest.raises(QueryTimeout, match="statement timeout"):
            await connector.run_query(SLOW[shop.db_type], max_rows=1)
        # The connector still works after a stopped statement.
        assert (await connector.run_query("SELECT 1 AS one")).rows == [[1]]
    finally:
        await connector.aclose()


async def test_schema_summary_and_search(shop: Datasource, tmp_path: Path) -> None:
    tables = {t.name: t for t in await inspect_schema(connector_for(shop))}
    assert set(tables) == {"users", "orders"}
    orders = {c.name: c for c in tables["orders"].columns}
    assert orders["id"].primary_key
    assert orders["user_id"].references == "users.id"
    assert {c.name: c for c in tables["users"].columns}["name"].samples == [
        "alice",
        "bob",
        "carol",
    ]
    if shop.db_type != "sqlite":  # SQLite has no comments
        assert tables["users"].comment == "people who buy"
    async with open_store(None, data_dir=tmp_path) as store:
        stored = await store.datasources.add(shop)
        summaries = await rebuild_summaries(store, stored)
        assert len(summaries) == 2
        found = await search_tables(store, shop.db_name, "list the names", top_k=1)
        assert [s.table_name for s in found] == ["users"]


async def test_unreachable_server_is_a_clear_error() -> None:
    ds = Datasource(db_type="postgresql", db_name="x", db_host="127.0.0.1", db_port=1, db_user="u")
    connector = Connector(ds)
    try:
        with pytest.raises(ConnectFailed, match="cannot connect to postgresql datasource 'x'"):
            await connector.test()
    finally:
        await connector.aclose()


async def test_schema_search_ranks_tables_with_the_real_embeddings_model(tmp_path: Path) -> None:
    """The path a large schema takes: summaries embedded, questions matched by cosine."""
    import os

    from operators.embed.engine import load_embedder
    from operators.export.cache import find_model
    from operators.models import ModelSet, using_models

    from .conftest import make_sqlite

    data = Path(os.environ.get("AWEL_TEST_DATA_DIR", "data"))
    info = find_model(data, "all-minilm-l6-v2")
    if info is None:
        pytest.skip(f"all-minilm-l6-v2 is not built in {data} (make models)")
    db = make_sqlite(tmp_path / "shop.db")
    shop = Datasource(db_type="sqlite", db_name="shop", db_path=str(db))
    embedder = load_embedder(info.path, name="all-minilm-l6-v2")
    async with (
        using_models(ModelSet(embedders=[embedder])),
        open_store(None, data_dir=tmp_path) as store,
    ):
        stored = await store.datasources.add(shop)
        summaries = await rebuild_summaries(store, stored)
        assert all(s.embedder == "all-minilm-l6-v2" for s in summaries)
        found = await search_tables(store, "shop", "what did each purchase cost?", top_k=1)
        assert [s.table_name for s in found] == ["orders"]
        found = await search_tables(store, "shop", "who are our customers?", top_k=1)
        assert [s.table_name for s in found] == ["users"]
