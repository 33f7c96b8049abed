"""Installing agents through the running server: uploads, a folder, their triggers, the
per-user lists, uninstalling while a request runs, and every unsafe upload refused."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from operators.agents.installs import current_agents
from operators.agents.package import read_package
from tests.server.conftest import running

from . import slow
from .kit import agent_files, one_node_flow, write_folder, zip_bytes, zip_with_symlink

SHIPPED = [Path(__file__).resolve().parents[2] / "flows" / "agents" / "install.py"]
TRIGGER = "/api/v1/awel/trigger/agents"
HUB_FLOWS = SHIPPED[0].with_name("hub.py")

Client = TestClient[web.Request, web.Application]
#: The user the tests install for; an agent's routes answer only the users who have it.
ANN = {"user-id": "ann"}


async def upload(client: Client, data: bytes, *, user: str = "ann", name: str = "echo.zip") -> Any:
    form = aiohttp.FormData()
    form.add_field("doc_file", data, filename=name, content_type="application/zip")
    resp = await client.post(f"/api/v1/personal/agent/upload?user={user}", data=form)
    assert resp.status == 200
    return await resp.json()


def listing(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def test_upload_install_run_list_and_uninstall(tmp_path: Path) -> None:
    async with running(tmp_path, shipped=SHIPPED) as client:
        assert (
            await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "hi"})
        ).status == 404
        body = await upload(client, zip_bytes(dict(agent_files())))
        assert body["success"] is True, body
        resp = await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "hello"})
        assert resp.status == 200 and "HELLO!" in await resp.text()
        # Only ann installed it: bob (by header or query) and a caller naming nobody get
        # the 404 that says so, before the body is read.
        for path, headers in [
            ("echo", {"user-id": "bob"}),
            ("echo?user=bob", {}),
            ("echo", {}),
        ]:
            other = await client.post(
                f"{TRIGGER}/echo/{path}", headers=headers, json={"user_input": "x"}
            )
            assert other.status == 404, (path, headers)
            assert "is not installed for user" in (await other.json())["err_msg"]
        by_query = await client.post(f"{TRIGGER}/echo/echo?user=ann", json={"user_input": "q"})
        assert by_query.status == 200
        mine = (await (await client.post("/api/v1/agent/my?user=ann")).json())["data"]
        assert [(m["name"], m["user_name"], m["version"]) for m in mine] == [
            ("echo", "ann", "0.1.0")
        ]
        # Another user sees none of ann's, in the query or in a JSON body.
        assert (await (await client.post("/api/v1/agent/my", json={"user": "bob"})).json())[
            "data"
        ] == []
        page = await client.post("/api/v1/serve/dbgpts/my/query_page", json={"user_name": "ann"})
        assert (await page.json())["data"]["total_count"] == 1
        gone = await client.post(
            "/api/v1/agent/uninstall", json={"plugin_name": "echo", "user": "ann"}
        )
        assert (await gone.json())["success"] is True
        assert (
            await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "x"})
        ).status == 404
        assert listing(tmp_path / "data" / "agents") == []


async def test_install_from_a_folder_and_per_user_installs(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pkg", agent_files())
    async with running(tmp_path, shipped=SHIPPED) as client:
        agents = current_agents()
        await agents.install(read_package(folder), user="ann", source=str(folder))
        await agents.install(read_package(folder), user="bob", source=str(folder))
        # ann leaves: bob still has it, so it still answers him, and no longer her.
        await client.post("/api/v1/agent/uninstall?plugin_name=echo&user=ann")
        bob = {"user-id": "bob"}
        hi = {"user_input": "hi"}
        assert (await client.post(f"{TRIGGER}/echo/echo", headers=bob, json=hi)).status == 200
        assert (await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json=hi)).status == 404
        again = await client.post("/api/v1/agent/uninstall?plugin_name=echo&user=ann")
        assert (await again.json())["err_code"] == "E0022"
        await client.post(
            "/api/v1/serve/dbgpts/my/uninstall", json={"name": "echo", "user_name": "bob"}
        )
        assert (
            await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "hi"})
        ).status == 404


SLOW_FLOW = one_node_flow("wait", '{{op: awel.map, params: {{fn: "tests.agents.slow:hold"}}}}')


async def test_uninstall_while_a_request_runs(tmp_path: Path) -> None:
    slow.started.clear()
    slow.release.clear()
    # Trusted: its flow names the test's function by import path.
    async with running(tmp_path, shipped=SHIPPED, agent_trusted_sources=["upload"]) as client:
        assert (await upload(client, zip_bytes(dict(agent_files(flow=SLOW_FLOW)))))["success"]
        request = asyncio.create_task(
            client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "me"})
        )
        await asyncio.wait_for(slow.started.wait(), 10)
        gone = await client.post("/api/v1/agent/uninstall?plugin_name=echo&user=ann")
        assert (await gone.json())["success"] is True
        assert (
            await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "x"})
        ).status == 404
        slow.release.set()
        resp = await asyncio.wait_for(request, 10)
        assert resp.status == 200 and "held me" in await resp.text()


BAD_FLOW = """\
name: {name}_bad
trigger:
  http:
    endpoint: /agents/{name}/echo
    methods: POST
nodes:
  shout:
    op: awel.nope
edges:
  - trigger >> shout
"""


async def test_every_unsafe_upload_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "data" / "agents"
    good = agent_files()
    cases: list[tuple[bytes, str]] = [
        (zip_bytes({**good, "../../evil.txt": "x"}), "climbs out of the package with '..'"),
        (zip_bytes({**good, "/tmp/evil.txt": "x"}), "the path '/tmp/evil.txt' is absolute"),
        (zip_with_symlink(good, "flows/l.yaml", "/etc/passwd"), "'flows/l.yaml' is a symlink"),
        (zip_bytes({**good, "b.txt": b"\0" * (8 * 1024 * 1024)}), "(a zip bomb?)"),
        (zip_bytes({"flows/echo.yaml": good["flows/echo.yaml"]}), "no manifest"),
        (zip_bytes({**good, "ops/x.py": "import os\n"}), "ships Python code (ops/x.py)"),
        (
            zip_bytes(dict(agent_files("other", BAD_FLOW))),
            "other/flows/echo.yaml:8:9: node 'shout': unknown operator",
        ),
    ]
    async with running(tmp_path, shipped=SHIPPED) as client:
        # One agent installed first: the refusals must leave it exactly as it is.
        assert (await upload(client, zip_bytes(dict(good)), user="carl"))["success"]
        before = listing(root)
        for data, reason in cases:
            body = await upload(client, data)
            assert body["success"] is False, reason
            assert reason in body["err_msg"], (reason, body["err_msg"])
            assert listing(root) == before, reason
        assert not any(p.startswith(".staging") for p in os.listdir(root))
        mine = (await (await client.post("/api/v1/agent/my?user=ann")).json())["data"]
        assert mine == []


async def test_trusted_uploads_may_ship_code(tmp_path: Path) -> None:
    code = zip_bytes({**agent_files(), "ops/helper.py": "VALUE = 1\n"})
    async with running(tmp_path, shipped=SHIPPED, agent_trusted_sources=["upload"]) as client:
        body = await upload(client, code)
        assert body["success"] is True, body


async def test_a_shipped_hub_agent_installs_by_name_and_answers(tmp_path: Path) -> None:
    # The hub (examples/agent_hub, the default) indexed, then installed by name: the two
    # halves of the agent routes meet at hub_package.
    async with running(tmp_path, shipped=[*SHIPPED, HUB_FLOWS]) as client:
        synced = await client.post("/api/v1/agent/hub/update")
        assert (await synced.json())["success"] is True
        missing = await client.post("/api/v1/agent/install?plugin_name=nope&user=ann")
        assert (await missing.json())["err_code"] == "E0021"
        done = await client.post("/api/v1/agent/install?plugin_name=sql_explainer&user=ann")
        assert (await done.json())["success"] is True, await done.text()
        query = await client.post("/api/v1/agent/query", json={"filter": {"name": "sql_explainer"}})
        (row,) = (await query.json())["data"]["datas"]
        assert row["installed"] == 1
        mine = await (await client.post("/api/v1/agent/my?user=ann")).json()
        assert [a["name"] for a in mine["data"]] == ["sql_explainer"]
        # Mounted: the route exists (a request without its fields is a 400, not a 404).
        mounted = await client.post(f"{TRIGGER}/sql_explainer/explain", headers=ANN, json={})
        assert mounted.status == 400, await mounted.text()
        await client.post("/api/v1/agent/uninstall?plugin_name=sql_explainer&user=ann")
        gone = await client.post(f"{TRIGGER}/sql_explainer/explain", headers=ANN, json={})
        assert gone.status == 404


SHOUT_PY = """\
from awel import MapOperator
from awel_agent_echo import PARAMETERS


class Shout(MapOperator[dict, str]):
    async def map(self, body: dict) -> str:
        return str(body.get("user_input", "")).upper() + PARAMETERS["suffix"] * 2
"""

SHOUT_FLOW = one_node_flow("shout", '{{op: "awel_agent_{name}.ops.shout:Shout"}}')


async def test_a_trusted_packages_python_operator_runs_from_its_yaml(tmp_path: Path) -> None:
    code = zip_bytes({**agent_files(flow=SHOUT_FLOW), "ops/shout.py": SHOUT_PY})
    async with running(
        tmp_path,
        shipped=SHIPPED,
        agent_trusted_sources=["upload"],
        agent_params={"echo": {"suffix": "?"}},
    ) as client:
        body = await upload(client, code)
        assert body["success"] is True, body
        answer = await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={"user_input": "hey"})
        # Its Python reads the agent's parameters, the server's value over the default "!".
        assert await answer.json() == "HEY??"
        await client.post("/api/v1/agent/uninstall?plugin_name=echo&user=ann")
        assert (await client.post(f"{TRIGGER}/echo/echo", headers=ANN, json={})).status == 404
    # Untrusted, the same package is refused before any of its code is imported.
    async with running(tmp_path / "other", shipped=SHIPPED) as client:
        refused = await upload(client, code)
        assert refused["success"] is False and "not trusted" in refused["err_msg"], refused


MAP_FLOW = one_node_flow("run", '{{op: awel.map, params: {{fn: "os:system"}}}}')


async def test_an_untrusted_yaml_agent_may_not_import_python_by_path(tmp_path: Path) -> None:
    # YAML only, so it installs from anywhere; but fn: "os:system" would run commands for
    # every caller, and op: "pkg.mod:Class" imports what it names: both are refused.
    by_op = agent_files(flow=one_node_flow("run", '{{op: "os:getcwd"}}'))
    async with running(tmp_path, shipped=SHIPPED) as client:
        root = tmp_path / "data" / "agents"
        for files in (agent_files(flow=MAP_FLOW), by_op):
            body = await upload(client, zip_bytes(dict(files)))
            assert body["success"] is False, body
            assert "names Python by import path" in body["err_msg"], body["err_msg"]
            assert "echo/flows/echo.yaml:8:" in body["err_msg"], body["err_msg"]
            assert listing(root) == []
    # From a trusted source the same flow loads (its author is trusted with Python).
    async with running(tmp_path / "t", shipped=SHIPPED, agent_trusted_sources=["upload"]) as client:
        body = await upload(client, zip_bytes(dict(agent_files(flow=MAP_FLOW))))
        assert body["success"] is True, body
