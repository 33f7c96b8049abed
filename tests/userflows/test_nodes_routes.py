"""``GET /nodes`` through the running server (v1 and v2): every registered operator in
DB-GPT's ViewMetadata shape, named as flow files name it, with its parameters' types,
defaults and options; the tags filter; a bad tags value named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from awel import MapOperator, registry
from awel.registry import OperatorParams
from tests.server.conftest import running

SHIPPED = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "nodes.py"]


class Shout(MapOperator[str, str]):
    """Shouts its input. A test operator, registered for one test."""

    class Params(OperatorParams):
        times: int = 1

    def __init__(self, times: int = 1, **kwargs: Any) -> None:
        super().__init__(lambda text: text.upper() * times, **kwargs)


@pytest.mark.parametrize("base", ["/api/v1/serve/awel", "/api/v2/serve/awel"])
async def test_the_palette_is_the_registry(tmp_path: Path, base: str) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        with registry.registered("test.shout", Shout):
            answer = await (await client.get(f"{base}/nodes?user_name=ann&sys_code=x")).json()
        assert answer["success"] is True
        nodes = {n["name"]: n for n in answer["data"]}
        assert set(nodes) >= {"awel.map", "awel.format", "http.request", "llm.chat", "test.shout"}
        assert set(nodes) <= {*registry.names(), "test.shout"}
        shout = nodes["test.shout"]
        assert shout["id"] == "operator_test.shout___$$___common___$$___v1"
        assert (shout["flow_type"], shout["version"], shout["category"]) == (
            "operator",
            "v1",
            "common",
        )
        assert shout["description"] == "Shouts its input."
        assert shout["type_cls"] == f"{Shout.__module__}.Shout"
        assert [(i["name"], i["type_name"], i["type_cls"]) for i in shout["inputs"]] == [
            ("input", "str", "builtins.str")
        ]
        assert shout["outputs"][0]["type_name"] == "str"
        (times,) = shout["parameters"]
        assert (times["name"], times["type_name"], times["type_cls"]) == (
            "times",
            "int",
            "builtins.int",
        )
        assert (times["optional"], times["default"], times["options"]) == (True, 1, None)
        assert shout["params_schema"]["properties"]["times"]["type"] == "integer"
        assert "test.shout" in shout["yaml_example"]
        # Options of a choice, and a required parameter.
        http = {p["name"]: p for p in nodes["http.request"]["parameters"]}
        assert [o["value"] for o in http["method"]["options"]][:2] == ["GET", "POST"]
        assert http["url"]["optional"] is False and http["url"]["type_cls"] == "builtins.str"
        assert nodes["trigger.http"]["category"] == "trigger"
        assert nodes["trigger.http"]["inputs"] == []
        assert nodes["llm.chat"]["id"] == "operator_llm.chat___$$___llm___$$___v1"
        assert nodes["knowledge.retrieve"]["category"] == "rag"
        # Gone from the registry, gone from the palette.
        after = await (await client.get(f"{base}/nodes")).json()
        assert "test.shout" not in {n["name"] for n in after["data"]}


async def test_tags_filter_and_a_bad_tags_value(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        llm = await (
            await client.get("/api/v1/serve/awel/nodes", params={"tags": '{"category": "llm"}'})
        ).json()
        names = {n["name"] for n in llm["data"]}
        assert "llm.chat" in names and "awel.map" not in names
        # A tag no operator has is not a filter (DB-GPT's UI sends its own).
        ui = await (
            await client.get(
                "/api/v1/serve/awel/nodes", params={"tags": '{"ui_version": "flow2.0"}'}
            )
        ).json()
        assert len(ui["data"]) == len(registry.names())
        for bad in ("[1]", "{nope"):
            resp = await client.get("/api/v1/serve/awel/nodes", params={"tags": bad})
            answer = await resp.json()
            assert resp.status == 400 and "tags" in answer["err_msg"], answer


@pytest.mark.parametrize("base", ["/api/v1/serve/awel", "/api/v2/serve/awel"])
async def test_refresh_answers_the_nodes_metadata(tmp_path: Path, base: str) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        listed = (await (await client.get(f"{base}/nodes")).json())["data"]
        chat = next(n for n in listed if n["name"] == "llm.chat")
        body = {
            "id": chat["id"],
            "flow_type": "operator",
            "type_name": chat["type_name"],
            "type_cls": chat["type_cls"],
            "refresh": [{"name": "model", "depends": []}],
        }
        answer = await (await client.post(f"{base}/nodes/refresh", json=body)).json()
        assert answer["success"] is True and answer["data"] == chat
        # A drawn node's id (the metadata id and its count) names the same operator.
        drawn = await client.post(f"{base}/nodes/refresh", json={**body, "id": chat["id"] + "_2"})
        assert (await drawn.json())["data"] == chat
        for bad in (
            {**body, "id": "operator_nope___$$___llm___$$___v1"},
            {**body, "flow_type": "resource"},
        ):
            resp = await client.post(f"{base}/nodes/refresh", json=bad)
            said = await resp.json()
            assert resp.status == 404 and said["success"] is False, said
            assert bad["id"] in said["err_msg"]
        resp = await client.post(f"{base}/nodes/refresh", json={"flow_type": "operator"})
        assert resp.status == 400 and "id" in (await resp.json())["err_msg"]


PROBES = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "probes.py"]


@pytest.mark.parametrize("base", ["/api/v1/serve/awel", "/api/v2/serve/awel"])
async def test_health_and_test_auth(tmp_path: Path, base: str) -> None:
    async with running(tmp_path, shipped=PROBES) as client:
        for probe in ("health", "test_auth"):
            resp = await client.get(f"{base}/{probe}")
            assert resp.status == 200 and await resp.json() == {"status": "ok"}
    async with running(tmp_path, shipped=PROBES, api_keys=["k-1"]) as client:
        resp = await client.get(f"{base}/health")
        assert resp.status == 200 and await resp.json() == {"status": "ok"}
        assert (await client.get(f"{base}/test_auth")).status == 401
        wrong = await client.get(f"{base}/test_auth", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right = await client.get(f"{base}/test_auth", headers={"Authorization": "Bearer k-1"})
        assert right.status == 200 and await right.json() == {"status": "ok"}
