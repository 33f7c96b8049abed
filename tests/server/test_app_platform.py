"""DB-GPT's app-platform routes (flows/app_platform): listings answer empty in the UI's
shapes, actions a failure envelope saying they are not supported."""

from __future__ import annotations

from pathlib import Path

from .conftest import running


async def test_listings_are_empty_in_the_shapes_the_ui_reads(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        for path in (
            "/api/v1/question/list?is_hot_question=true",
            "/api/v1/skills/list",
            "/api/v2/serve/connectors/",
            "/api/v2/serve/connectors/types",
            "/api/v2/serve/connectors/pending-confirms",
            "/api/v2/serve/scheduled-tasks/?enabled_only=false",
            "/api/v2/serve/evaluate/benchmark/list_datasets",
        ):
            resp = await client.get(path)
            body = await resp.json()
            assert (resp.status, body["success"], body["data"]) == (200, True, []), path
        for path in (
            "/api/v1/evaluate/evaluations?page=2&page_size=10",
            "/api/v1/evaluate/datasets?page=2&page_size=10",
            "/api/v1/evaluate/benchmark_task_list?page=2&page_size=10",
        ):
            body = await (await client.get(path)).json()
            assert body["data"] == {
                "items": [],
                "total_count": 0,
                "total_pages": 0,
                "page": 2,
                "page_size": 10,
            }, path
        resp = await client.post("/api/v1/app/hot/list", json={"page": 1, "page_size": 6})
        body = await resp.json()
        assert body["data"]["app_list"] == [] and "host_name" in body


async def test_actions_say_they_are_not_supported(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        for path, feature in (
            ("/api/v2/serve/scheduled-tasks/", "Scheduled tasks"),
            ("/api/v2/serve/connectors/", "Connectors"),
            ("/api/v1/evaluate/start", "Evaluations"),
        ):
            resp = await client.post(path, json={"name": "x"})
            body = await resp.json()
            assert resp.status == 200 and body["success"] is False, path
            assert body["err_msg"].startswith(feature) and "not support" in body["err_msg"]
