"""The shipped hub's agents (examples/agent_hub/) installed in the live server with the real
default model (smollm2, short answers): each flow validates with its parameters' defaults,
and answers in its shape with the values the server's agent_params setting gives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from operators.agents.checks import load_agent_flows
from operators.agents.hub import DEFAULT_HUB
from operators.agents.installs import current_agents
from operators.agents.package import read_package
from operators.knowledge.current import current_knowledge
from operators.models import ModelSet, install_models
from operators.storage import Datasource, current_store
from server import app as server_app
from server.settings import Settings
from tests.datasource.conftest import make_sqlite
from tests.server.model_api_live import DATA_DIR, LiveServer, require_built

TRIGGER = "/api/v1/awel/trigger/agents"
AGENTS = ["chart_answer", "csv_profiler", "knowledge_summary", "sql_explainer"]


def test_every_shipped_agent_validates_with_its_defaults() -> None:
    assert sorted(p.name for p in DEFAULT_HUB.iterdir() if p.is_dir()) == AGENTS
    for name in AGENTS:
        package = read_package(DEFAULT_HUB / name)
        assert package.manifest.parameters, f"{name} declares no parameters"
        flows = load_agent_flows(package)
        assert [len(dags) for dags in flows.values()] == [1], name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_built("smollm2")
    tmp = tmp_path_factory.mktemp("agents")
    shop = make_sqlite(tmp / "shop.sqlite")
    models = ModelSet.load(DATA_DIR, names=["smollm2", "all-minilm-l6-v2"])
    previous = install_models(models)
    try:
        # csv_profiler shows 2 sample rows, not its default 5: the setting reaches the flow.
        settings = Settings(
            data_dir=tmp / "data", reload=False, agent_params={"csv_profiler": {"sample_rows": 2}}
        )
        app = server_app.make_app(settings, shipped=[])
        with LiveServer(app) as live:
            ds = Datasource(db_type="sqlite", db_name="shop", db_path=str(shop))
            asyncio.run_coroutine_threadsafe(
                current_store().datasources.add(ds), live._loop
            ).result(60)
            asyncio.run_coroutine_threadsafe(_handbook(), live._loop).result(120)
            asyncio.run_coroutine_threadsafe(_install_all(), live._loop).result(120)
            yield live
            asyncio.run_coroutine_threadsafe(models.aclose(), live._loop).result(60)
    finally:
        install_models(previous)


async def _install_all() -> None:
    agents = current_agents()
    for name in AGENTS:
        package = read_package(DEFAULT_HUB / name)
        await agents.install(package, user="default", source=str(DEFAULT_HUB))


async def _handbook() -> None:
    # The space knowledge_summary reads, with one document synced.
    kb = current_knowledge()
    await kb.create_space("handbook")
    doc = await kb.add_document("handbook", "parking", "TEXT", content=HANDBOOK)
    assert (await kb.sync(doc.id)).status == "FINISHED"


HANDBOOK = (
    "# Parking\n\nVisitors park in the north lot. Staff park in the garage under the main"
    " building; the garage closes at 22:00.\n\n# Lunch\n\nThe canteen serves lunch from"
    " noon to 14:00."
)


def _post(live: LiveServer, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async def go() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(live.url + TRIGGER + path, json=body) as r,
        ):
            return r.status, await r.json()

    return asyncio.run(go())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sql_explainer(server: LiveServer) -> None:
    sql = "SELECT name, count(*) FROM users JOIN orders ON orders.user_id = users.id GROUP BY name"
    status, out = _post(server, "/sql_explainer/explain", {"sql": sql})
    assert status == 200 and isinstance(out, str) and out.strip(), out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_csv_profiler(server: LiveServer) -> None:
    csv = "city,population\nParis,2100000\nLyon,520000\nNice,340000\n"
    status, out = _post(server, "/csv_profiler/profile", {"csv": csv})
    assert status == 200, out
    assert out["columns"] == ["city", "population"] and out["row_count"] == 3, out
    assert out["sample"] == ["Paris,2100000", "Lyon,520000"] and out["summary"].strip(), out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_chart_answer(server: LiveServer) -> None:
    status, out = _post(
        server, "/chart_answer/ask", {"question": "What are the names of the users?"}
    )
    assert status == 200 and "```vis-chart" in out, out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_knowledge_summary(server: LiveServer) -> None:
    status, out = _post(server, "/knowledge_summary/summarise", {"topic": "parking"})
    assert status == 200 and isinstance(out, str) and out.strip(), out
