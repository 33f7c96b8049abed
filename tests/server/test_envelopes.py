"""Every route answering DB-GPT's app ``Result`` carries ``host_name``, failures included.

The walk goes over the live app's whole route table, so a route added later is covered
without anyone listing it: each app-Result route is asked once as a client might (its
method, no body: most answer a success or a 400 naming the missing field), once with a body
that is not JSON (a 400 from the parser), and once with a method it does not take (a 405).
Every envelope that comes back must carry ``host_name``; every serve-Result route's must not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from awel.trigger import ResponseKind
from server.app import ROUTES
from server.errors import ErrorStyle

from .conftest import running

_PARAM = re.compile(r"\{\w+\}")
#: Routes whose success is not an envelope: the chat round's event stream, a rendered chart.
_NOT_ENVELOPES = ("text/event-stream", "image/", "application/octet-stream", "text/html")


def _unused_method(methods: frozenset[str]) -> str:
    return next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in methods)


async def _envelope(resp: Any) -> dict[str, Any] | None:
    kind = resp.headers.get("Content-Type", "")
    if kind.startswith(_NOT_ENVELOPES):
        await resp.read()
        return None
    body = await resp.json()
    return body if isinstance(body, dict) and "success" in body else None


async def test_every_app_result_route_answers_host_name_on_success_and_failure(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as client:
        routes = client.app[ROUTES].table.routes
        app_routes = [r for r in routes if r.trigger.response is ResponseKind.RESULT]
        # The chat, datasource, editor, model, resource, agent hub and knowledge routes.
        assert len(app_routes) > 40
        missing: list[str] = []
        successes = failures = 0
        for route in app_routes:
            path = _PARAM.sub("x", route.path)
            assert route.style is ErrorStyle.RESULT, f"{path}: failures in another envelope"
            for method in sorted(route.methods):
                tries: list[dict[str, Any]] = [{}]
                if method != "GET":
                    tries.append({"data": b"{", "headers": {"Content-Type": "application/json"}})
                for extra in tries:
                    resp = await client.request(method, path, **extra)
                    body = await _envelope(resp)
                    if body is None:
                        continue
                    successes += body["success"] is True
                    failures += body["success"] is False
                    if not body.get("host_name"):
                        missing.append(f"{method} {path} {resp.status}: {body}")
            resp = await client.request(_unused_method(route.methods), path)
            body = await resp.json()
            assert resp.status == 405, path
            if not body.get("host_name"):
                missing.append(f"405 on {path}: {body}")
        assert not missing, "answers without host_name:\n" + "\n".join(missing)
        assert successes > 10 and failures > 40


async def test_dialogue_scenes_is_an_app_result_and_the_other_dialogue_routes_are_not(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as client:
        scenes = await (await client.post("/api/v1/chat/dialogue/scenes")).json()
        assert scenes["success"] is True and scenes["host_name"]
        listed = await (await client.get("/api/v1/chat/dialogue/list")).json()
        assert listed["success"] is True and "host_name" not in listed
        refused = await client.get("/api/v1/chat/dialogue/scenes")
        assert refused.status == 405 and (await refused.json())["host_name"]
