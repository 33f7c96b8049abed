"""The flows folder and the API as one set: files on disk show up in the API, flows saved
through the API are files; export and import round trip."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from server.app import reload_user_flows
from tests.server.conftest import running

from .kit import BROKEN, CRUD, V1, failed, greeting, ok, say


async def test_a_file_added_edited_and_removed_on_disk_shows_in_the_api(tmp_path: Path) -> None:
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True)
    async with running(tmp_path, shipped=CRUD) as client:
        (dags / "hand.yaml").write_text(greeting("hand"))
        page = await ok(await client.get(f"{V1}/flows"))
        assert [(f["name"], f["state"], f["source"]) for f in page["items"]] == [
            ("hand", "running", "file")
        ]
        uid = page["items"][0]["uid"]
        (dags / "hand.yaml").write_text(greeting("hand", word="Hey"))
        edited = await ok(await client.get(f"{V1}/flows/{uid}"))
        assert edited["revision"] == 2 and "Hey" in edited["yaml"]
        # Served once the server reads the folder (the watcher does it while serving).
        await reload_user_flows(client.app)
        assert (await say(client))[1] == '"Hey, ann"'
        (dags / "hand.yaml").write_text(BROKEN)
        broken = await ok(await client.get(f"{V1}/flows/{uid}"))
        assert broken["state"] == "load_failed" and "awel.formatt" in broken["error_message"]
        # An update through the API writes the file back, and serves it.
        fixed = await ok(await client.put(f"{V1}/flows/{uid}", json={"yaml": greeting("hand")}))
        assert fixed["state"] == "running"
        assert (dags / "hand.yaml").read_text() == greeting("hand")
        assert (await say(client))[1] == '"Hello, ann"'
        (dags / "hand.yaml").unlink()
        gone = await ok(await client.get(f"{V1}/flows/{uid}"))
        assert gone["state"] == "disabled" and "removed" in gone["error_message"]
        versions = await ok(await client.get(f"{V1}/flows/{uid}/versions"))
        assert versions["total_count"] == 5


async def test_a_file_named_as_a_draft_deploys_it_and_a_flow_is_served_once(
    tmp_path: Path,
) -> None:
    dags = tmp_path / "data" / "dags"
    async with running(tmp_path, shipped=CRUD) as client:
        draft = await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()}))
        dags.mkdir(parents=True, exist_ok=True)
        (dags / "elsewhere.yaml").write_text(greeting(word="Yo"))
        got = await ok(await client.get(f"{V1}/flows/{draft['uid']}"))
        assert got["state"] == "running" and "Yo" in got["yaml"]
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 1
        # Deploying again through the API rewrites that same file: one flow, one route.
        await ok(await client.put(f"{V1}/flows/{draft['uid']}", json={"yaml": greeting()}))
        assert sorted(p.name for p in dags.iterdir()) == ["elsewhere.yaml"]
        assert (await say(client))[1] == '"Hello, ann"'


async def test_a_file_the_api_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    dags = tmp_path / "data" / "dags"
    dags.mkdir(parents=True)
    # Too large for the API to read: left out of the store, and left alone.
    (dags / "greet.yaml").write_text(greeting(endpoint="/t/big") + "#" * (300 * 1024))
    async with running(tmp_path, shipped=CRUD) as client:
        body = {"yaml": greeting(), "state": "deployed"}
        assert "greet" in await failed(await client.post(f"{V1}/flows", json=body), 409)
        assert (dags / "greet.yaml").stat().st_size > 300 * 1024


async def test_export_and_import_round_trip(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=CRUD) as client:
        made = await ok(await client.post(f"{V1}/flows", json={"yaml": greeting()}))
        resp = await client.get(f"{V1}/flow/export/{made['uid']}")
        assert resp.status == 200
        exported = await resp.json()
        assert exported["flow"]["uid"] == made["uid"] and exported["flow"]["yaml"] == greeting()
        resp = await client.get(f"{V1}/flow/export/{made['uid']}?format=file&file_name=../x")
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        assert "/" not in resp.headers["Content-Disposition"]
        data = await resp.read()
        assert json.loads(data)["flow"]["name"] == "greet"

        def form(content: bytes, name: str = "greet.json") -> aiohttp.FormData:
            f = aiohttp.FormData()
            f.add_field("file", content, filename=name, content_type="application/json")
            return f

        # Checked, not saved: the name is taken by the original, which is fine unsaved.
        await ok(await client.delete(f"{V1}/flows/{made['uid']}"))
        checked = await ok(await client.post(f"{V1}/flow/import", data=form(data)))
        assert checked["name"] == "greet" and checked["yaml"] == greeting()
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 0
        saved = await ok(await client.post(f"{V1}/flow/import?save_flow=true", data=form(data)))
        assert saved["uid"] == made["uid"] and saved["revision"] == 1
        assert (await ok(await client.get(f"{V1}/flows")))["total_count"] == 1
        assert "top-level" in await failed(
            await client.post(f"{V1}/flow/import", data=form(b'{"x": 1}')), 400
        )
        assert "not JSON" in await failed(
            await client.post(f"{V1}/flow/import", data=form(b"nope")), 400
        )
        assert "zip" in await failed(
            await client.post(f"{V1}/flow/import", data=form(b"PK", "f.zip")), 400
        )
        await failed(await client.get(f"{V1}/flow/export/{made['uid']}?export_type=zip"), 400)
        await failed(await client.get(f"{V1}/flow/export/nope"), 404)
