"""Flows and helpers the flow API tests share."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

CRUD = [Path(__file__).resolve().parents[2] / "flows" / "awel_flows" / "crud.py"]
V1 = "/api/v1/serve/awel"
V2 = "/api/v2/serve/awel"
TRIGGER = "/api/v1/awel/trigger"

Client = TestClient[web.Request, web.Application]


def greeting(name: str = "greet", *, word: str = "Hello", endpoint: str = "/t/greet") -> str:
    """A flow answering ``{word}, {name}`` at ``endpoint``."""
    return f"""\
name: {name}
description: Greets.
trigger:
  http:
    endpoint: {endpoint}
    methods: POST
    request: {{who: {{type: str}}}}
nodes:
  say: {{op: awel.format, params: {{template: "{word}, {{{{ who }}}}"}}}}
edges:
  - trigger >> say
"""


#: Three problems on known lines: an unknown op, a bad param, an unknown node in an edge.
BROKEN = """\
name: greet
trigger:
  http: {endpoint: /t/greet, methods: POST}
nodes:
  a: {op: awel.formatt}
  b: {op: awel.format, params: {templat: x}}
edges:
  - trigger >> a >> c
"""

SLOW = """\
name: greet
trigger:
  http: {endpoint: /t/greet, methods: POST, request_body: dict}
nodes:
  wait: {op: awel.map, params: {fn: "tests.userflows.slow:hold"}}
edges:
  - trigger >> wait
"""


async def ok(resp: Any) -> Any:
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True, (resp.status, body)
    return body["data"]


async def failed(resp: Any, status: int) -> str:
    body = await resp.json()
    assert resp.status == status and body["success"] is False, (resp.status, body)
    return str(body["err_msg"])


async def say(client: Client, who: str = "ann", endpoint: str = "/t/greet") -> tuple[int, str]:
    resp = await client.post(TRIGGER + endpoint, json={"who": who})
    return resp.status, await resp.text()


async def wait_for(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), 10)
