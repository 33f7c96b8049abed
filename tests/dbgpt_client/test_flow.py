"""The flow functions of the real dbgpt-client, and chat_flow on a flow it posted.

``create_flow`` cannot send a definition (DB-GPT's ``FlowPanel.to_dict`` leaves
``flow_data`` out), so what it creates is a draft; a flow with its YAML goes through the
client's own ``post``."""

from __future__ import annotations

import pytest

from .conftest import CHAT_FLOW, ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SECOND_FLOW = CHAT_FLOW.replace("client_chat_flow", "client_second_flow").replace(
    "/client/chat", "/client/second"
)


def test_flow_lifecycle_and_chat_flow(dbgpt_client: ClientRunner) -> None:
    out = dbgpt_client("flow", name="client_draft", yaml=SECOND_FLOW)
    made = out["create"]
    assert "error" not in made, made
    assert (made["name"], made["label"], made["description"]) == (
        "client_draft",
        "Drafted",
        "from the client",
    )
    assert made["state"] == "initializing"
    assert out["get"]["uid"] == made["uid"]
    changed = out["update"]
    assert (changed["label"], changed["description"]) == ("Renamed", "changed by update_flow")
    assert made["uid"] in [f["uid"] for f in out["list"]]
    assert [f["uid"] for f in out["list_by_name"]] == [made["uid"]]

    posted = out["post_yaml"]
    assert posted["success"] and posted["data"]["state"] == "running", posted
    assert posted["data"]["flow_category"] == "chat_flow"
    answer = out["chat_flow"]
    assert answer["choices"][0]["message"]["content"] == "flow says: hello", answer
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in out["chat_flow_stream"]
    )
    assert streamed == "flow says: hello", out["chat_flow_stream"]

    assert out["run_flow_cmd"] == {"result": None, "said": ['"flow says: hi"']}, out
    assert out["delete"]["uid"] == made["uid"]
    assert out["delete_chat"]["uid"] == posted["data"]["uid"]
    assert "error" in out["get_deleted"], out["get_deleted"]
