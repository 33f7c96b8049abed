"""The chart editor through the live server, on SQLite and PostgreSQL: chart data and
Vega-Lite specs for every chart type, a dashboard round's edit cycle, and server-side
drawing to PNG and SVG."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import pytest

from operators.storage import Datasource, current_store
from tests.editor.conftest import Client, failed, ok, save_sql_round, serving

SPENT = (
    "SELECT u.name, SUM(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id"
    " GROUP BY u.name ORDER BY u.name"
)
ORDERS = "SELECT id, total FROM orders ORDER BY id"

# chart type -> (SQL, Vega-Lite mark, chart_values)
CASES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "response_line_chart": (
        ORDERS,
        "line",
        [
            {"name": 10, "type": "total", "value": 9.5},
            {"name": 11, "type": "total", "value": 20},
            {"name": 12, "type": "total", "value": 7.25},
        ],
    ),
    "response_bar_chart": (
        SPENT,
        "bar",
        [
            {"name": "alice", "type": "spent", "value": 29.5},
            {"name": "carol", "type": "spent", "value": 7.25},
        ],
    ),
    "response_pie_chart": (
        SPENT,
        "arc",
        [
            {"name": "alice", "type": "spent", "value": 29.5},
            {"name": "carol", "type": "spent", "value": 7.25},
        ],
    ),
    "response_scatter_chart": (
        ORDERS,
        "point",
        [
            {"name": 10, "type": "total", "value": 9.5},
            {"name": 11, "type": "total", "value": 20},
            {"name": 12, "type": "total", "value": 7.25},
        ],
    ),
    "response_table": (
        "SELECT id, name FROM users ORDER BY id",
        "text",
        [
            {"name": 1, "type": "name", "value": "alice"},
            {"name": 2, "type": "name", "value": "bob"},
            {"name": 3, "type": "name", "value": "carol"},
        ],
    ),
}


def _numbers(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # PostgreSQL's DECIMAL 20.00 and SQLite's REAL 20.0 are the same number.
    return [{**v, "value": float(v["value"])} if v["type"] != "name" else v for v in values]


@pytest.mark.parametrize("chart_type", list(CASES))
async def test_chart_run_for_each_type(shop: Datasource, tmp_path: Path, chart_type: str) -> None:
    sql, mark, values = CASES[chart_type]
    async with serving(tmp_path, shop) as client:
        body = {"db_name": shop.db_name, "sql": sql, "chart_type": chart_type}
        data = await ok(await client.post("/api/v1/editor/chart/run", json=body))
    assert data["chart_type"] == chart_type
    assert _numbers(data["chart_values"]) == _numbers(values)
    assert data["sql_data"]["colunms"] == sql.split("SELECT ")[1].split(" FROM")[0].replace(
        "u.name", "name"
    ).replace("SUM(o.total) AS ", "").split(", ")
    spec = data["vega_lite"]
    assert spec["$schema"].endswith("vega-lite/v5.json")
    assert spec["mark"]["type"] == mark
    if chart_type != "response_table":
        assert _numbers(spec["data"]["values"]) == _numbers(values)
    else:
        assert {"row": 1, "column": "name", "text": "alice"} in spec["data"]["values"]


async def test_chart_run_refusals(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        url = "/api/v1/editor/chart/run"
        db = shop.db_name
        names = "SELECT name FROM users"
        await failed(
            await client.post(url, json={"db_name": db, "sql": names, "chart_type": "radar"}),
            "chart_type 'radar'",
        )
        await failed(
            await client.post(url, json={"db_name": db, "sql": names, "chart_type": "pie"}),
            "chart_type: a pie chart needs a numeric column",
        )
        await failed(
            await client.post(url, json={"db_name": db, "sql": SPENT, "chart_type": "scatter"}),
            "two numeric columns",
        )
        await failed(await client.post(url, json={"db_name": db, "sql": names}), "chart_type")
        await failed(
            await client.post(
                url, json={"db_name": db, "sql": "UPDATE users SET name = 'x'", "chart_type": "bar"}
            ),
            "Operation not allowed:",
        )
        broken = await ok(
            await client.post(
                url, json={"db_name": db, "sql": "SELECT x FROM y", "chart_type": "bar"}
            )
        )
        assert broken["chart_values"] == [] and broken["vega_lite"] is None
        assert broken["sql_data"]["result_info"]


def _charts() -> list[dict[str, str]]:
    return [
        {
            "title": "Spent per user",
            "sql": SPENT,
            "showcase": "response_bar_chart",
            "thoughts": "t1",
        },
        {"title": "Orders", "sql": ORDERS, "showcase": "response_line_chart", "thoughts": "t2"},
    ]


async def _dashboard_round(conv_uid: str, db_name: str) -> int:
    report = {
        "conv_uid": conv_uid,
        "template_name": "report",
        "template_introduce": None,
        "charts": [
            {
                "chart_uid": f"uid{i}",
                "chart_name": c["title"],
                "chart_type": c["showcase"],
                "chart_desc": c["thoughts"],
                "chart_sql": c["sql"],
                "column_name": [],
                "values": [],
                "style": "",
            }
            for i, c in enumerate(_charts())
        ],
    }
    return await current_store().conversations.save_round(
        conv_uid,
        "Show me the shop",
        json.dumps(_charts()),
        view_message=json.dumps(report),
        chat_mode="chat_dashboard",
        select_param=db_name,
        context={"param_type": "DB Select", "param_value": db_name},
    )


async def test_dashboard_edit_cycle(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        await failed(
            await client.get("/api/v1/editor/chart/list", params={"con_uid": "d1"}),
            "Not have charts!",
        )
        assert await _dashboard_round("d1", shop.db_name) == 1
        listed = await ok(await client.get("/api/v1/editor/chart/list", params={"con_uid": "d1"}))
        assert listed == {"round": 1, "db_name": shop.db_name, "charts": _charts()}

        info = await ok(
            await client.post(
                "/api/v1/editor/chart/info", json={"con_uid": "d1", "chart_title": "Orders"}
            )
        )
        assert info["chart_uid"] == "uid1" and info["chart_name"] == "Orders"
        assert info["chart_type"] == "response_line_chart" and info["chart_sql"] == ORDERS
        assert info["db_name"] == shop.db_name and info["chart_desc"] == "t2"
        assert len(info["chart_value"]) == 3 and info["table_value"]["colunms"] == ["id", "total"]
        await failed(
            await client.post(
                "/api/v1/editor/chart/info", json={"con_uid": "d1", "chart_title": "Nope"}
            ),
            "no chart titled 'Nope'",
            "chart_title",
        )

        new_sql = (
            "SELECT u.name, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id"
            " GROUP BY u.name ORDER BY u.name"
        )
        submit = {
            "conv_uid": "d1",
            "chart_title": "Orders",
            "db_name": shop.db_name,
            "old_sql": ORDERS,
            "new_chart_type": "response_pie_chart",
            "new_sql": new_sql,
            "new_comment": "Orders per user.",
            "gmt_create": 0,
        }
        assert await ok(await client.post("/api/v1/chart/editor/submit", json=submit)) is None
        after = await ok(await client.get("/api/v1/editor/chart/list", params={"con_uid": "d1"}))
        edited = after["charts"][1]
        assert edited == {
            "title": "Orders",
            "sql": new_sql,
            "showcase": "response_pie_chart",
            "thoughts": "Orders per user.",
        }
        assert after["charts"][0] == _charts()[0]
        view = {m.role: m.content for m in await current_store().messages.list("d1")}["view"]
        item = json.loads(view)["charts"][1]
        assert item["chart_uid"] == "uid1" and item["chart_type"] == "response_pie_chart"
        assert item["column_name"] == ["name", "n"]
        assert item["values"] == [
            {"name": "alice", "type": "n", "value": 2},
            {"name": "carol", "type": "n", "value": 1},
        ]

        # Refused edits change nothing; undo puts the chart back.
        bad = {**submit, "new_sql": "DELETE FROM orders"}
        await failed(
            await client.post("/api/v1/chart/editor/submit", json=bad), "Operation not allowed:"
        )
        bad = {**submit, "new_chart_type": "scatter"}
        await failed(
            await client.post("/api/v1/chart/editor/submit", json=bad), "new_chart_type", "scatter"
        )
        await ok(await client.post("/api/v1/editor/sql/undo", json={"conv_uid": "d1", "round": 1}))
        back = await ok(await client.get("/api/v1/editor/chart/list", params={"con_uid": "d1"}))
        assert back["charts"] == _charts()


def _check_png(data: bytes) -> tuple[int, int]:
    """A whole, valid PNG: the signature, every chunk's CRC, IHDR first, IEND last."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) == crc, kind
        kinds.append(kind)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", payload[:8])
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    return width, height


async def _render(client: Client, **params: Any) -> tuple[str, bytes]:
    resp = await client.get("/api/v1/editor/chart/render", params=params)
    data = await resp.read()
    assert resp.status == 200, data[:300]
    return resp.content_type, data


async def test_render_png_and_svg(shop: Datasource, tmp_path: Path) -> None:
    async with serving(tmp_path, shop) as client:
        await save_sql_round("r1", shop.db_name)
        await _dashboard_round("r2", shop.db_name)
        db = shop.db_name
        for chart_type, (sql, _, _) in CASES.items():
            kind, png = await _render(
                client, format="png", db_name=db, sql=sql, chart_type=chart_type
            )
            assert kind == "image/png"
            width, height = _check_png(png)
            assert width > 100 and height > 50
            kind, svg = await _render(
                client, format="svg", db_name=db, sql=sql, chart_type=chart_type
            )
            assert kind == "image/svg+xml"
            root = ET.fromstring(svg)
            assert root.tag.endswith("svg")
        # A stored SQL round and a dashboard chart, by reference.
        _, svg = await _render(client, format="svg", con_uid="r1", round=1)
        assert b"alice" in svg and b"carol" in svg
        _, png = await _render(client, format="png", con_uid="r2", chart_title="Orders")
        _check_png(png)

        bad = await client.get(
            "/api/v1/editor/chart/render", params={"format": "gif", "db_name": db, "sql": ORDERS}
        )
        assert bad.status == 400 and "format 'gif'" in (await bad.json())["err_msg"]
        nothing = await client.get("/api/v1/editor/chart/render", params={"format": "png"})
        assert nothing.status == 400 and "say what to draw" in (await nothing.json())["err_msg"]
