"""chat_excel over HTTP: uploads (CSV, Parquet, XLSX) into DuckDB, the learning round,
text-to-SQL over the file, and every bad upload with its error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import pytest

from operators.chat import files

from .conftest import Client, ScriptedLLM, chat, events, history, ok, plain_texts, serving

UPLOAD = "/api/v1/resource/file/upload"
CSV = b"city,amount\nParis,10\nLyon,5\nParis,7\n"
TOTALS = "SELECT city, sum(amount) AS total FROM data_analysis_table GROUP BY city ORDER BY city"


async def upload(
    client: Client,
    name: str,
    data: bytes,
    *,
    path: str = UPLOAD,
    field: str = "doc_files",
    conv_uid: str = "x1",
) -> Any:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=name, content_type="application/octet-stream")
    return await client.post(
        path, params={"conv_uid": conv_uid, "chat_mode": "chat_excel"}, data=form
    )


async def test_csv_upload_learns_then_answers_with_sql(tmp_path: Path, llm: ScriptedLLM) -> None:
    llm.when("Learn the file", "The table has a city and an amount per row.")
    llm.when("per city", json.dumps({"thoughts": "Sum per city.", "sql": TOTALS,
                                     "display_type": "response_bar_chart"}))  # fmt: skip
    async with serving(tmp_path) as client:
        desc = await ok(await upload(client, "../../etc/sales data.csv", CSV))
        assert desc["file_name"] == "sales_data.csv"
        assert desc["file_learning"] is True and desc["bucket"] == "dbgpt_app_file"
        assert desc["is_oss"] is True and desc["file_path"].startswith("awel-fs://")
        # The file lives in a folder of its own under the data folder, by its clean name.
        stored = list((tmp_path / "data" / "files").glob("*/sales_data.csv"))
        assert len(stored) == 1 and stored[0].read_bytes() == CSV
        # The learning round is the conversation's first; its prompt held the columns.
        msgs = await history(client, "x1")
        assert msgs[2]["context"] == "The table has a city and an amount per row."
        assert "city" in (llm.requests[0].messages or [])[0].content

        _, _, raw = await chat(
            client, conv_uid="x1", chat_mode="chat_excel", select_param=json.dumps(desc),
            user_input="total per city",
        )  # fmt: skip
        view = plain_texts(raw)[-1]
        assert "<chart-view" in view and "Lyon" in view
        msgs = await history(client, "x1")
        assert len(msgs) == 6 and json.loads(msgs[4]["context"])["sql"] == TOTALS

        # prepare answers the conversation's messages (the file was learned already).
        prepared = await ok(
            await client.post(
                "/api/v1/chat/prepare",
                json={"conv_uid": "x1", "chat_mode": "chat_excel", "select_param": desc},
            )
        )
        assert len(prepared) == 6


@pytest.mark.parametrize("kind", ["parquet", "xlsx", "json"])
async def test_other_file_kinds(tmp_path: Path, llm: ScriptedLLM, kind: str) -> None:
    source = tmp_path / f"sales.{kind}"
    if kind == "parquet":
        conn = duckdb.connect()
        conn.execute(
            "COPY (SELECT * FROM (VALUES ('Paris', 10), ('Lyon', 5), ('Paris', 7))"
            f" t(city, amount)) TO '{source}' (FORMAT parquet)"
        )
        conn.close()
    elif kind == "xlsx":
        import openpyxl  # type: ignore[import-untyped]

        book = openpyxl.Workbook()
        sheet = book.active
        for row in (("city", "amount"), ("Paris", 10), ("Lyon", 5), ("Paris", 7)):
            sheet.append(row)
        book.save(source)
    else:
        rows = [{"city": "Paris", "amount": 10}, {"city": "Lyon", "amount": 5},
                {"city": "Paris", "amount": 7}]  # fmt: skip
        source.write_text(json.dumps(rows))
    llm.when("per city", json.dumps({"thoughts": "", "sql": TOTALS}))
    async with serving(tmp_path) as client:
        # The v0.5 route name and its single-file field work too; it answers the
        # conversation's messages (the learning round), as DB-GPT's old route did.
        resp = await upload(
            client, source.name, source.read_bytes(),
            path="/api/v1/chat/mode/params/file/load", field="doc_file",
        )  # fmt: skip
        assert (await resp.json())["host_name"]
        messages = await ok(resp)
        assert [m["role"] for m in messages] == ["human", "ai", "view"]
        assert {m["order"] for m in messages} == {1}
        assert messages == await history(client, "x1")
        conv = await ok(await client.post("/api/v1/chat/dialogue/query", json={"conv_uid": "x1"}))
        desc = json.loads(conv["select_param"])
        _, _, raw = await chat(
            client, conv_uid="x1", chat_mode="chat_excel", select_param=desc["file_path"],
            user_input="total per city",
        )  # fmt: skip
        view = plain_texts(raw)[-1]
        assert '"total": 17' in view.replace("&quot;", '"')


async def test_bad_uploads_name_the_field(
    tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path) as client:
        resp = await upload(client, "tool.exe", b"MZ")
        body = await resp.json()
        assert resp.status == 400 and body["err_msg"].startswith("doc_files: 'tool.exe' is not")
        assert "host_name" in body

        resp = await upload(client, "empty.csv", b"")
        assert resp.status == 400 and "is empty" in (await resp.json())["err_msg"]

        resp = await upload(client, "broken.parquet", b"not parquet at all")
        body = await resp.json()
        assert resp.status == 400 and "could not be read as parquet" in body["err_msg"]
        # Nothing half made is left behind.
        assert not list((tmp_path / "data" / "files").glob("*/broken.parquet"))

        monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 16)
        resp = await upload(client, "big.csv", CSV)
        body = await resp.json()
        assert resp.status == 413 and "the limit is 16 bytes" in body["err_msg"]
        assert body["err_msg"].startswith("doc_files:")

        resp = await client.post(UPLOAD, params={"conv_uid": "x1", "chat_mode": "chat_excel"})
        assert resp.status == 400 and "doc_files" in (await resp.json())["err_msg"]
        resp = await client.post(UPLOAD, data=aiohttp.FormData({"x": "y"}))
        assert resp.status == 400 and "conv_uid" in (await resp.json())["err_msg"]

        # A path or an unknown file as the scene's argument is refused, by name.
        _, _, raw = await chat(
            client, chat_mode="chat_excel", select_param="/etc/passwd", user_input="q"
        )
        assert events(raw)[0].startswith("[ERROR]select_param: no uploaded file matches")
