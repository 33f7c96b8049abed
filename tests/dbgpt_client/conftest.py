"""A live awel server (real default models, an API key) driven by the real ``dbgpt-client``
0.8.2, from the venv `make test` builds for it (Makefile: ``dbgpt-client``).

That venv is part of our build: when it is missing the tests fail, saying how to build it.
They skip only when building it found PyPI unreachable (the Makefile then keeps pip's log
as ``.unreachable``), or when the default model is not built, as the other live tests do.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from operators.agents.installs import current_agents
from operators.agents.package import read_package
from operators.models import ModelSet, install_models
from operators.storage import Datasource, current_store
from server import app as server_app
from server.settings import Settings
from tests.agents.kit import agent_files, write_folder
from tests.datasource.conftest import make_sqlite
from tests.server.model_api_live import DATA_DIR, ROOT, LiveServer, require_built

CLIENT_VENV = ROOT / ".venv-dbgpt-client"
CLIENT_PYTHON = CLIENT_VENV / "bin" / "python"
CALLS = Path(__file__).with_name("client_calls.py")
KEY = "sk-dbgpt-client-test"
MODEL = "smollm2"
#: New tokens per model call: enough for an answer to start, short on two shared cores.
TOKENS = 8

CHAT_FLOW = """\
name: client_chat_flow
description: A chat flow the client chats with.
tags: {flow_category: chat_flow}
trigger:
  http:
    endpoint: /client/chat
    methods: [POST]
    request:
      user_input: {type: str}
nodes:
  answer: {op: awel.format, params: {template: "flow says: {{ user_input }}"}}
edges:
  - trigger >> answer
"""


def client_python() -> Path:
    """The client venv's python; a failure (our build is incomplete) unless PyPI could not
    be reached when it was built, which skips."""
    unreachable = CLIENT_VENV / ".unreachable"
    if unreachable.exists():
        pytest.skip(
            "PyPI could not be reached to install dbgpt-client 0.8.2 "
            f"(pip's log: {unreachable}); run `make dbgpt-client` once it can"
        )
    if not (CLIENT_VENV / ".installed").exists() or not CLIENT_PYTHON.exists():
        pytest.fail(
            f"dbgpt-client's venv is missing ({CLIENT_VENV}): `make test` builds it, or"
            " `make dbgpt-client` alone",
            pytrace=False,
        )
    return CLIENT_PYTHON


class ClientRunner:
    """Runs a scenario of :mod:`client_calls` in the client's venv against the server."""

    def __init__(self, python: Path, server: LiveServer, extra: dict[str, Any]) -> None:
        self.python = python
        self.server = server
        self.extra = extra

    def __call__(self, scenario: str, *, key: str | None = KEY, **args: Any) -> Any:
        body = {"base": self.server.url + "/api/v2", "key": key, "model": MODEL, **args}
        # The client reads DBGPT_API_BASE / DBGPT_API_KEY when given none: not from us.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBGPT_")}
        done = subprocess.run(
            [str(self.python), str(CALLS), scenario],
            input=json.dumps(body),
            capture_output=True,
            text=True,
            timeout=540,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


def _on(live: LiveServer, coro: Any, timeout: float = 120) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, live._loop).result(timeout)


async def _install_echo_agent(root: Path) -> None:
    folder = write_folder(root / "echo_agent", agent_files("echo"))
    await current_agents().install(read_package(folder), user="default", source=str(folder))


async def _post_chat_flow(url: str) -> str:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(
            url + "/api/v2/serve/awel/flows", json={"yaml": CHAT_FLOW, "state": "deployed"}
        ) as resp,
    ):
        out = await resp.json()
    assert out["success"], out
    return str(out["data"]["uid"])


# Package scope: the live server installs its store, models and knowledge base process-wide,
# so it must stop before the next package's tests (a session-scoped one leaked into them).
@pytest.fixture(scope="package")
def dbgpt_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientRunner]:
    python = client_python()
    require_built(MODEL)
    tmp = tmp_path_factory.mktemp("dbgpt_client")
    shop = make_sqlite(tmp / "shop.sqlite")
    models = ModelSet.load(DATA_DIR, names=[MODEL, "all-minilm-l6-v2"])
    previous = install_models(models)
    try:
        settings = Settings(data_dir=tmp / "data", reload=False, api_keys=[KEY])
        with LiveServer(server_app.make_app(settings)) as live:
            ds = Datasource(db_type="sqlite", db_name="shop", db_path=str(shop))
            _on(live, current_store().datasources.add(ds))
            _on(live, _install_echo_agent(tmp))
            flow_uid = _on(live, _post_chat_flow(live.url))
            extra = {"shop": str(make_sqlite(tmp / "shop2.sqlite")), "flow_uid": flow_uid}
            yield ClientRunner(python, live, extra)
            _on(live, models.aclose())
    finally:
        install_models(previous)
