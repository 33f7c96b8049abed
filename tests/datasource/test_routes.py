"""The datasource routes over HTTP on the live server, against real databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.storage import PASSWORD_MASK, Datasource
from tests.datasource.conftest import db_config
from tests.server.conftest import running

Client = TestClient[web.Request, web.Application]


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True, body
    return body["data"]


async def failed(resp: Any, status: int = 400) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert body["success"] is False and body["data"] is None, body
    return body


async def test_v1_life_of_a_datasource(shop: Datasource, tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        assert await ok(await client.post("/api/v1/chat/db/test/connect", json=db_config(shop)))
        assert await ok(await client.post("/api/v1/chat/db/add", json=db_config(shop))) is True

        listed = await ok(await client.get("/api/v1/chat/db/list"))
        assert [d["db_name"] for d in listed] == [shop.db_name]
        row = listed[0]
        assert set(row) == {
            "id", "db_type", "db_name", "db_path", "db_host", "db_port", "db_user", "db_pwd",
            "comment", "sys_code", "user_id", "user_name", "gmt_created", "gmt_modified",
            "ext_config",
        }  # fmt: skip
        assert row["db_pwd"] in ("", PASSWORD_MASK)
        if shop.password:
            assert row["db_pwd"] == PASSWORD_MASK

        dup = await failed(await client.post("/api/v1/chat/db/add", json=db_config(shop)))
        assert f"'{shop.db_name}' already exists" in dup["err_msg"]
        assert "host_name" in dup

        # db/summary really rebuilds the schema summary.
        query = {"db_name": shop.db_name, "db_type": shop.db_type}
        assert await ok(await client.post("/api/v1/chat/db/summary", params=query)) is True
        from operators.storage import current_store

        summaries = await current_store().summaries.list(shop.db_name)
        assert sorted(s.table_name for s in summaries) == ["orders", "users"]
        users = next(s for s in summaries if s.table_name == "users")
        assert "name" in users.summary and "alice" in users.summary
        refreshed = await client.post("/api/v1/chat/db/refresh", json=db_config(shop))
        assert await ok(refreshed) is True

        # An edit that sends the mask back keeps the stored password.
        edit = db_config(shop, db_pwd=PASSWORD_MASK, comment="edited")
        assert await ok(await client.post("/api/v1/chat/db/edit", json=edit)) is True
        stored = await current_store().datasources.require(shop.db_name)
        assert stored.comment == "edited" and stored.password == shop.password

        gone = await client.post("/api/v1/chat/db/delete", params={"db_name": shop.db_name})
        assert await ok(gone) is True
        assert await ok(await client.get("/api/v1/chat/db/list")) == []
        again = await failed(
            await client.post("/api/v1/chat/db/delete", json={"db_name": shop.db_name})
        )
        assert f"'{shop.db_name}'" in again["err_msg"]


async def test_v2_life_of_a_datasource(shop: Datasource, tmp_path: Path) -> None:
    if shop.db_path:
        params: dict[str, Any] = {"path": shop.db_path}
    else:
        params = {
            "host": shop.db_host,
            "port": shop.db_port,
            "user": shop.db_user,
            "password": shop.password,
            "database": shop.db_name,
        }
    body = {"type": shop.db_type, "params": params, "description": "the shop"}
    async with running(tmp_path) as client:
        tested = await client.post("/api/v2/serve/datasources/test-connection", json=body)
        assert await ok(tested) is True
        created = await ok(await client.post("/api/v2/serve/datasources", json=body))
        assert created["type"] == shop.db_type and created["description"] == "the shop"
        assert "host_name" not in await (await client.get("/api/v2/serve/datasources")).json()
        if "password" in created["params"] and shop.password:
            assert created["params"]["password"] == PASSWORD_MASK
        ds_id = created["id"]
        # A plain list, as DB-GPT's server sends it (its web UI and dbgpt-client read so).
        listed = await ok(await client.get("/api/v2/serve/datasources"))
        assert [d["id"] for d in listed] == [ds_id]
        paged = await client.get("/api/v2/serve/datasources", params={"page": 2, "page_size": 1})
        assert await ok(paged) == []
        one = await ok(await client.get(f"/api/v2/serve/datasources/{ds_id}"))
        assert one == listed[0] and one["params"] == created["params"]
        # Beside type/params, the flat fields dbgpt-client's DatasourceModel requires.
        flat = {k: one[k] for k in ("db_type", "db_name", "db_host", "db_port", "db_user")}
        assert flat == {
            "db_type": shop.db_type,
            # A file's datasource is named after the file when params give only its path.
            "db_name": Path(shop.db_path).stem if shop.db_path else shop.db_name,
            "db_host": shop.db_host,
            "db_port": shop.db_port,
            "db_user": shop.db_user,
        }
        assert one["db_path"] == shop.db_path and one["comment"] == "the shop"
        assert one["db_pwd"] == (PASSWORD_MASK if shop.password else "")
        refresh = await client.post(f"/api/v2/serve/datasources/{ds_id}/refresh")
        assert await ok(refresh) is True
        updated = await ok(
            await client.put(
                "/api/v2/serve/datasources", json={**body, "id": ds_id, "description": "new"}
            )
        )
        assert updated["description"] == "new"
        await ok(await client.delete(f"/api/v2/serve/datasources/{ds_id}"))
        missing = await failed(await client.get(f"/api/v2/serve/datasources/{ds_id}"), 404)
        assert str(ds_id) in missing["err_msg"]


async def test_support_types(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        types = await ok(await client.get("/api/v1/chat/db/support/type"))
        assert {"db_type": "sqlite", "is_file_db": True} in types
        assert {"db_type": "postgresql", "is_file_db": False} in types
        v2 = await ok(await client.get("/api/v2/serve/datasource-types"))
        assert {t["name"] for t in v2["types"]} == {"mysql", "postgresql", "duckdb", "sqlite"}


async def test_bad_input_names_the_field(tmp_path: Path) -> None:
    good = tmp_path / "ok.sqlite"
    sqlite3.connect(good).close()
    async with running(tmp_path) as client:
        add = "/api/v1/chat/db/add"
        missing = await failed(await client.post(add, json={"db_type": "sqlite"}))
        assert missing["err_code"] == "E0001" and "db_name" in missing["err_msg"]
        malformed = await failed(
            await client.post(add, data="{not json", headers={"Content-Type": "application/json"})
        )
        assert "not valid JSON" in malformed["err_msg"]
        unknown = await failed(await client.post(add, json={"db_type": "oracle", "db_name": "x"}))
        assert "db_type 'oracle' is not supported" in unknown["err_msg"]
        no_file = await failed(
            await client.post(
                add, json={"db_type": "sqlite", "db_name": "x", "file_path": str(tmp_path / "no")}
            )
        )
        assert "file_path" in no_file["err_msg"]
        empty = await failed(await client.post(add, json={"db_type": "sqlite", "db_name": " "}))
        assert "db_name" in empty["err_msg"]
        edit = await failed(
            await client.post(
                "/api/v1/chat/db/edit",
                json={"db_type": "sqlite", "db_name": "nope", "file_path": str(good)},
            )
        )
        assert "'nope'" in edit["err_msg"]
        summary = await failed(
            await client.post("/api/v1/chat/db/summary", params={"db_name": "nope"})
        )
        assert "db_type" in summary["err_msg"]
        v2 = await failed(await client.post("/api/v2/serve/datasources", json={"type": "mysql"}))
        assert "params.database" in v2["err_msg"]
        assert "host_name" not in v2


async def test_bad_credentials(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from tests.storage.databases import MYSQL_URL, PG_URL

    async with running(tmp_path) as client:
        for kind, url in (("postgresql", PG_URL), ("mysql", MYSQL_URL)):
            parsed = make_url(url)
            body = {
                "db_type": kind,
                "db_name": parsed.database,
                "db_host": parsed.host,
                "db_port": parsed.port,
                "db_user": "no_such_user_awel",
                "db_pwd": "wrong",
            }
            tested = await client.post("/api/v1/chat/db/test/connect", json=body)
            answer = await tested.json()
            assert tested.status == 200 and answer["success"] is False
            assert answer["err_code"] == "E1001" and answer["host_name"]
            # The driver's own words: the login it refused (role ... / Access denied for ...).
            assert "no_such_user_awel" in answer["err_msg"], answer
            assert "cannot connect" in answer["err_msg"] and "no_such_user_awel" not in str(
                answer.get("data")
            )
            added = await failed(await client.post("/api/v1/chat/db/add", json=body))
            assert "cannot connect" in added["err_msg"] and kind in added["err_msg"]
            assert await ok(await client.get("/api/v1/chat/db/list")) == []


async def test_db_list_shows_the_user_id_header_user_its_own_and_shared_sources(
    tmp_path: Path,
) -> None:
    from operators.storage import current_store

    def sqlite(name: str, user_id: str | None) -> Datasource:
        path = tmp_path / f"{name}.db"
        sqlite3.connect(path).close()
        return Datasource(db_type="sqlite", db_name=name, db_path=str(path), user_id=user_id)

    async with running(tmp_path) as client:
        store = current_store()
        for ds in (sqlite("alices", "alice"), sqlite("bobs", "bob"), sqlite("shared", None)):
            await store.datasources.add(ds)
        listed = await ok(await client.get("/api/v1/chat/db/list", headers={"user-id": "alice"}))
        assert sorted(d["db_name"] for d in listed) == ["alices", "shared"]
        everyone = await ok(await client.get("/api/v1/chat/db/list"))
        assert sorted(d["db_name"] for d in everyone) == ["alices", "bobs", "shared"]
