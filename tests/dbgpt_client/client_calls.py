"""Calls made with the real ``dbgpt-client`` 0.8.2, run by its own venv's python (never
imported by the tests: that venv holds the client, ours does not).

``python client_calls.py SCENARIO`` reads ``{"base": ..., "key": ..., ...}`` as JSON on
stdin, makes the scenario's calls as a user of the client would, and prints one JSON object:
each call's result as the client returned it (its model, dumped), or ``{"error": ...}``
with what it raised.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from dbgpt.core.awel.flow.flow_factory import FlowPanel
from dbgpt_client import Client, ClientException, knowledge
from dbgpt_client import app as apps
from dbgpt_client import datasource as datasources
from dbgpt_client import flow as flows
from dbgpt_client.schema import DatasourceModel, DocumentModel, SpaceModel, SyncModel

Scenario = Callable[[Client, dict[str, Any]], Awaitable[dict[str, Any]]]


def dumped(value: Any) -> Any:
    """A client model (or a list of them) as JSON-ready data."""
    if isinstance(value, list):
        return [dumped(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude={"doc_file"})
    return value


async def attempt(call: Awaitable[Any]) -> Any:
    """What the call returned (dumped), or ``{"error": ..., "status": ...}``."""
    try:
        return dumped(await call)
    except ClientException as exc:
        # The client wraps its own exceptions: the first carries the server's answer.
        return {"error": str(exc), "status": exc.status, "reason": str(exc.reason)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


async def streamed(client: Client, **kwargs: Any) -> Any:
    async def collect() -> list[Any]:
        return [dumped(chunk) async for chunk in client.chat_stream(**kwargs)]

    return await attempt(collect())


async def chat(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    """``chat`` and ``chat_stream`` once each for every case ``{name: kwargs}``."""
    out: dict[str, Any] = {}
    for name, kwargs in args["cases"].items():
        out[name] = {
            "chat": await attempt(client.chat(**kwargs)),
            "stream": await streamed(client, **kwargs),
        }
    return out


async def datasource(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    made = DatasourceModel(
        db_type="sqlite", db_name=args["name"], db_path=args["path"], comment="from the client"
    )
    out: dict[str, Any] = {"create": await attempt(datasources.create_datasource(client, made))}
    ds_id = str(out["create"].get("id"))
    out["get"] = await attempt(datasources.get_datasource(client, ds_id))
    changed = made.model_copy(update={"id": int(ds_id), "comment": "changed"})
    out["update"] = await attempt(datasources.update_datasource(client, changed))
    out["list"] = await attempt(datasources.list_datasource(client))
    question = {"model": args["model"], "max_new_tokens": args["max_new_tokens"]}
    out["chat_data"] = await attempt(
        client.chat(
            messages=args["question"], chat_mode="chat_data", chat_param=args["name"], **question
        )
    )
    out["delete"] = await attempt(datasources.delete_datasource(client, ds_id))
    out["get_deleted"] = await attempt(datasources.get_datasource(client, ds_id))
    out["list_after"] = await attempt(datasources.list_datasource(client))
    return out


async def spaces(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    name = args["space"]
    space = SpaceModel(name=name, vector_type="Chroma", desc="from the client", owner="ann")
    out: dict[str, Any] = {"create_space": await attempt(knowledge.create_space(client, space))}
    space_id = str(out["create_space"].get("id"))
    out["get_space"] = await attempt(knowledge.get_space(client, space_id))
    out["list_space"] = await attempt(knowledge.list_space(client))
    edited = SpaceModel(id=int(space_id), name=name, vector_type="Chroma", desc="edited")
    out["update_space"] = await attempt(knowledge.update_space(client, edited))
    doc = DocumentModel(
        doc_name="handbook", doc_type="TEXT", content=args["text"], space_id=space_id
    )
    out["create_document"] = await attempt(knowledge.create_document(client, doc))
    doc_id = str(out["create_document"].get("id"))
    out["list_document"] = await attempt(knowledge.list_document(client))
    sync = SyncModel(doc_id=doc_id, space_id=space_id)
    out["sync_document"] = await attempt(knowledge.sync_document(client, sync))
    out["get_document"] = await attempt(knowledge.get_document(client, doc_id))
    question = {
        "model": args["model"],
        "max_new_tokens": args["max_new_tokens"],
        "messages": args["question"],
        "chat_mode": "chat_knowledge",
        "chat_param": name,
    }
    out["chat"] = await attempt(client.chat(**question))
    out["chat_stream"] = await streamed(client, **question)
    out["delete_document"] = await attempt(knowledge.delete_document(client, doc_id))
    out["delete_space"] = await attempt(knowledge.delete_space(client, space_id))
    out["list_space_after"] = await attempt(knowledge.list_space(client))
    return out


async def flow(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    # FlowPanel.to_dict leaves flow_data out: what create_flow sends has no definition.
    panel = FlowPanel(name=args["name"], label="Drafted", description="from the client")
    out: dict[str, Any] = {"create": await attempt(flows.create_flow(client, panel))}
    uid = out["create"].get("uid", "")
    out["get"] = await attempt(flows.get_flow(client, uid))
    fetched = await flows.get_flow(client, uid)
    fetched.description = "changed by update_flow"
    fetched.label = "Renamed"
    out["update"] = await attempt(flows.update_flow(client, fetched))
    out["list"] = await attempt(flows.list_flow(client))
    out["list_by_name"] = await attempt(flows.list_flow(client, name=args["name"]))
    # A flow with its definition: the client's own post, with our yaml field.
    res = await client.post("/awel/flows", {"yaml": args["yaml"], "state": "deployed"})
    out["post_yaml"] = res.json()
    chat_uid = out["post_yaml"].get("data", {}).get("uid", "")
    question = {
        "model": args["model"],
        "messages": "hello",
        "chat_mode": "chat_flow",
        "chat_param": chat_uid,
    }
    out["chat_flow"] = await attempt(client.chat(**question))
    out["chat_flow_stream"] = await streamed(client, **question)
    # The client's command line runs a flow by its trigger (metadata's path and method).
    said: list[str] = []
    run = flows.run_flow_cmd(
        client, uid=chat_uid, data={"user_input": "hi"}, non_streaming_callback=said.append
    )
    out["run_flow_cmd"] = {"result": await attempt(run), "said": said}
    out["delete"] = await attempt(flows.delete_flow(client, uid))
    out["delete_chat"] = await attempt(flows.delete_flow(client, chat_uid))
    out["get_deleted"] = await attempt(flows.get_flow(client, uid))
    return out


async def app(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"list": await attempt(apps.list_app(client))}
    for code in args["codes"]:
        out[code] = await attempt(apps.get_app(client, code))
    question = {"model": args["model"], "messages": "quiet please", "chat_mode": "chat_app"}
    out["chat_app"] = await attempt(client.chat(chat_param=args["agent"], **question))
    out["chat_app_stream"] = await streamed(client, chat_param=args["agent"], **question)
    return out


async def keys(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    """Every kind of call the client makes, with the key this client was given."""
    question = {"model": args["model"], "max_new_tokens": 4}
    # Over the server's 1 MiB body limit: read, it would be a 413, not a 401.
    huge = "x" * (2 * 1024 * 1024)
    return {
        "chat": await attempt(client.chat(messages="hi", **question)),
        "chat_stream": await streamed(client, messages="hi", **question),
        "chat_huge": await attempt(client.chat(messages=huge, **question)),
        "list_datasource": await attempt(datasources.list_datasource(client)),
        "list_space": await attempt(knowledge.list_space(client)),
        "create_document": await attempt(
            knowledge.create_document(
                client, DocumentModel(doc_name="d", doc_type="TEXT", content="c", space_id="1")
            )
        ),
        "list_flow": await attempt(flows.list_flow(client)),
        "list_app": await attempt(apps.list_app(client)),
        "post_huge": (await client.post("/knowledge/spaces", {"name": huge})).json(),
    }


SCENARIOS: dict[str, Scenario] = {
    "chat": chat,
    "datasource": datasource,
    "spaces": spaces,
    "flow": flow,
    "app": app,
    "keys": keys,
}


async def main(name: str, args: dict[str, Any]) -> None:
    client = Client(api_base=args["base"], api_key=args.get("key"), timeout=600)
    try:
        out = await SCENARIOS[name](client, args)
    finally:
        await client.aclose()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.load(sys.stdin)))
