"""The trigger server against a real HTTP client on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest

from awel.errors import SpecError
from server.app import ROUTES, make_app, reload_user_flows
from server.settings import Settings

from . import flows_src
from .conftest import FLOWS as SHIPPED_DIR
from .conftest import abandon_slow_request, running

HELLO = [SHIPPED_DIR / "awel_examples" / "hello.py"]


async def test_hello_example_answers_exactly_as_dbgpt(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get(
            "/api/v1/awel/trigger/examples/hello", params={"name": "Ann", "age": "31"}
        )
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert await resp.read() == b'"Hello, Ann, your age is 31"'
        resp = await client.get("/api/v1/awel/trigger/examples/hello?name=Bo")
        assert await resp.json() == "Hello, Bo, your age is 18"


async def test_bad_query_names_every_field_in_the_envelope(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get("/api/v1/awel/trigger/examples/hello?age=old")
        assert resp.status == 400
        body = await resp.json()
        assert body["success"] is False
        assert body["err_code"] == "E0001"
        assert body["data"] is None
        assert "host_name" not in body
        assert "query.name:Field required;" in body["err_msg"]
        assert "query.age:" in body["err_msg"]


async def test_unknown_route_and_wrong_method_answer_json(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.get("/api/v1/nothing/here")
        assert resp.status == 404
        body = await resp.json()
        assert body["success"] is False and body["err_code"] == "404"
        resp = await client.post("/api/v1/awel/trigger/examples/hello")
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
        assert (await resp.json())["err_code"] == "405"


async def test_operator_failure_is_a_500_with_an_error_id_in_the_log(
    tmp_path: Path, dags: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (dags / "boom.py").write_text(flows_src.FAIL)
    async with running(tmp_path, shipped=[]) as client:
        with caplog.at_level(logging.ERROR, logger="awel.server"):
            resp = await client.post("/api/v1/awel/trigger/boom", json={})
        assert resp.status == 500
        body = await resp.json()
        assert "Traceback" not in json.dumps(body)
        match = re.search(r"error id ([0-9a-f]{12})", body["err_msg"])
        assert match, body
        assert "'divide'" in body["err_msg"]
        assert match.group(1) in caplog.text
        assert "ZeroDivisionError" in caplog.text


async def test_a_user_flows_error_code_family_picks_its_status(tmp_path: Path, dags: Path) -> None:
    (dags / "refuse.py").write_text(flows_src.REFUSE)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/refuse", json={})
        assert resp.status == 404
        body = await resp.json()
        assert body["success"] is False
        assert body["err_code"] == "not_found.shelf"
        assert body["err_msg"] == "no such shelf: 'x'"


async def test_a_5xx_an_operator_chose_is_answered_with_its_own_message(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "unavailable.py").write_text(flows_src.UNAVAILABLE)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/unavailable", json={})
        assert resp.status == 503
        body = await resp.json()
        assert body["err_msg"] == "no healthy instance of 'm' can answer"


async def test_a_declared_header_fills_its_field_and_wins_over_the_body(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "who.py").write_text(flows_src.WHO)
    async with running(tmp_path, shipped=[]) as client:
        url = "/api/v1/awel/trigger/who"
        body = {"user_name": "body", "text": "hi"}
        resp = await client.post(url, json=body, headers={"user-id": "alice"})
        assert await resp.json() == "alice: hi"
        assert await (await client.post(url, json=body)).json() == "body: hi"
        assert await (await client.post(url, json={"text": "x"})).json() == "001: x"
        doc = await (await client.get("/openapi.json")).json()
        params = doc["paths"][url]["post"]["parameters"]
        assert {"name": "user-id", "in": "header"}.items() <= params[0].items()


async def test_a_request_the_model_cannot_run_is_a_400_naming_the_field(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "too_long.py").write_text(flows_src.TOO_LONG)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/too_long", json={})
        assert resp.status == 400
        assert (await resp.json())["err_msg"].startswith("prompt: 2,100 tokens")


async def test_json_form_and_query_bodies_all_reach_the_model(tmp_path: Path, dags: Path) -> None:
    (dags / "echo.py").write_text(flows_src.ECHO)
    async with running(tmp_path, shipped=[]) as client:
        url = "/api/v1/awel/trigger/echo"
        resp = await client.post(url, json={"name": "a", "tags": ["x"], "count": 2})
        body = await resp.json()
        assert body["success"] is True and body["host_name"]
        assert body["data"] == {"name": "a", "tags": ["x"], "count": 2}
        resp = await client.post(url + "?name=q&tags=1&tags=2")
        assert (await resp.json())["data"] == {"name": "q", "tags": ["1", "2"], "count": 1}
        resp = await client.put(url, data={"name": "f", "count": "5"})
        assert (await resp.json())["data"] == {"name": "f", "tags": [], "count": 5}
        resp = await client.post(url, data=b"{nope", headers={"Content-Type": "application/json"})
        assert resp.status == 400
        err = await resp.json()
        assert err["err_code"] == "E0001" and "not valid JSON" in err["err_msg"]
        # Validation failures come from DB-GPT's global handler: the serve shape.
        assert "host_name" not in err


async def test_sse_stream_framing_byte_by_byte(tmp_path: Path, dags: Path) -> None:
    (dags / "count.py").write_text(flows_src.STREAM)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/count", json={"n": 3})
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert await resp.read() == (
            b"data: item 0\n\ndata: item 1\n\ndata: item 2\n\ndata: [DONE]\n\n"
        )
        # The same flow without streaming answers one complete event stream too.
        resp = await client.post("/api/v1/awel/trigger/count", json={"n": 2, "stream": False})
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert await resp.read() == b"data: item 0\n\ndata: item 1\n\ndata: [DONE]\n\n"


async def test_stream_failing_after_headers_ends_with_the_error_event(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "count.py").write_text(flows_src.STREAM)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/count", json={"n": 5, "fail_at": 2})
        assert resp.status == 200
        raw = await resp.read()
        assert raw.startswith(b"data: item 0\n\ndata: item 1\n\ndata: [SERVER_ERROR]")
        assert b"count" in raw and b"error id" in raw
        assert raw.endswith(b"\n\ndata: [DONE]\n\n")
        # Failing before the first item still fails after the headers: the stream is lazy.
        resp = await client.post("/api/v1/awel/trigger/count", json={"n": 5, "fail_at": 0})
        assert (await resp.read()).startswith(b"data: [SERVER_ERROR]")


async def test_nul_delimited_json_stream(tmp_path: Path, dags: Path) -> None:
    (dags / "nul.py").write_text(flows_src.NUL)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/nul", json={})
        raw = await resp.read()
        chunks = [json.loads(c) for c in raw.split(b"\0") if c]
        assert [c["text"] for c in chunks] == ["a", "ab", "abc"]
        assert raw.endswith(b"\0")


async def test_client_disconnect_cancels_the_flow_run(tmp_path: Path, dags: Path) -> None:
    (dags / "slow.py").write_text(flows_src.SLOW)
    async with running(tmp_path, shipped=[]) as client:
        state = await abandon_slow_request(client)
    assert state == {"started": 1, "cancelled": 1}


async def test_broken_user_flow_is_reported_and_the_rest_keep_serving(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "echo.py").write_text(flows_src.ECHO)
    (dags / "broken.py").write_text("from awel import DAG\n\nx = 1 +\n")
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.post("/api/v1/awel/trigger/echo", json={"name": "ok"})
        assert resp.status == 200
        errors = (await (await client.get("/api/v1/awel/flows/errors")).json())["data"]
        assert [Path(e["file"]).name for e in errors] == ["broken.py"]
        assert re.search(r"broken\.py:3", errors[0]["location"])


async def test_reload_swaps_in_changed_flows(tmp_path: Path, dags: Path) -> None:
    async with running(tmp_path, shipped=[]) as client:
        assert (await client.post("/api/v1/awel/trigger/echo", json={"name": "a"})).status == 404
        (dags / "echo.py").write_text(flows_src.ECHO)
        await reload_user_flows(client.app)
        assert (await client.post("/api/v1/awel/trigger/echo", json={"name": "a"})).status == 200
        (dags / "echo.py").write_text("this is not python(\n")
        await reload_user_flows(client.app)
        assert (await client.post("/api/v1/awel/trigger/echo", json={"name": "a"})).status == 404
        assert len(client.app[ROUTES].table.routes) == 0


async def test_reload_watches_the_dags_directory(tmp_path: Path, dags: Path) -> None:
    async with running(tmp_path, shipped=[], reload=True) as client:
        await asyncio.sleep(0.3)  # let the watcher start
        (dags / "echo.py").write_text(flows_src.ECHO)
        for _ in range(100):
            resp = await client.post("/api/v1/awel/trigger/echo", json={"name": "w"})
            if resp.status == 200:
                break
            await asyncio.sleep(0.1)
        assert resp.status == 200


def test_two_shipped_flows_on_one_route_stop_start_up(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text(flows_src.ECHO)
    b.write_text(flows_src.ECHO.replace('DAG("echo")', 'DAG("echo2")'))
    with pytest.raises(Exception, match=r"claimed by two flows: 'echo' and 'echo2'"):
        make_app(Settings(data_dir=tmp_path, reload=False), shipped=[a, b])


def test_a_broken_shipped_flow_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('nope')\n")
    with pytest.raises(SpecError, match=r"bad\.py:1"):
        make_app(Settings(data_dir=tmp_path, reload=False), shipped=[bad])


async def test_health(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.get("/health")
        assert await resp.json() == {"status": "ok"}


async def test_a_yaml_user_flow_is_served_at_its_trigger(tmp_path: Path, dags: Path) -> None:
    (dags / "hello.yaml").write_text((Path(__file__).parent / "hello_flow.yaml").read_text())
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.get("/api/v1/awel/trigger/yaml/hello?name=Yu&age=7")
        assert await resp.read() == b'"Hello, Yu, your age is 7"'
        resp = await client.get("/api/v1/awel/trigger/yaml/hello")
        assert resp.status == 400
        assert "query.name:Field required;" in (await resp.json())["err_msg"]


async def test_a_yaml_flow_with_a_bad_trigger_is_reported_with_its_line(
    tmp_path: Path, dags: Path
) -> None:
    text = (Path(__file__).parent / "hello_flow.yaml").read_text()
    (dags / "bad.yaml").write_text(text.replace("methods: [GET]", "methods: [FETCH]"))
    async with running(tmp_path, shipped=[]) as client:
        errors = (await (await client.get("/api/v1/awel/flows/errors")).json())["data"]
        assert len(errors) == 1
        assert "FETCH" in errors[0]["message"]
        assert errors[0]["location"].startswith(str(dags / "bad.yaml") + ":")


async def test_a_file_response_is_a_download(tmp_path: Path, dags: Path) -> None:
    (dags / "export.py").write_text(flows_src.FILE)
    async with running(tmp_path, shipped=[]) as client:
        resp = await client.post("/api/v1/awel/trigger/export", json={"row": "3,4"})
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="report.csv"'
        assert await resp.read() == b"a,b\n3,4\n"


async def test_a_quiet_stream_sends_keep_alive_comments(tmp_path: Path, dags: Path) -> None:
    (dags / "ticks.py").write_text(flows_src.TICKS)
    async with running(tmp_path, shipped=[], keepalive=0.1) as client:
        resp = await client.post("/api/v1/awel/trigger/ticks", json={})
        raw = await resp.read()
        events = raw.split(b"\n\n")
        assert events[0] == b"data: first"
        assert b": ping" in events[1:-2]  # while the flow waited
        assert raw.endswith(b"data: second\n\n")


MISTYPED = """
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Shout(MapOperator[str, str]):
    async def map(self, text: str) -> str:
        return text.upper()


class Count(MapOperator[int, int]):
    async def map(self, n: int) -> int:
        return n + 1


with DAG("mistyped") as dag:
    HttpTrigger("/mistyped", methods="POST", request_body=str) >> Shout(
        task_name="shout"
    ) >> Count(task_name="count")
"""


async def test_a_python_user_flow_with_a_mistyped_edge_is_reported_not_served(
    tmp_path: Path, dags: Path
) -> None:
    (dags / "mistyped.py").write_text(MISTYPED)
    async with running(tmp_path, shipped=HELLO) as client:
        resp = await client.post("/api/v1/awel/trigger/mistyped", data="hi")
        assert resp.status == 404
        errors = (await (await client.get("/api/v1/awel/flows/errors")).json())["data"]
        assert [e["code"] for e in errors] == ["dag.edge_type"], errors
        assert "shout >> count" in errors[0]["message"], errors
