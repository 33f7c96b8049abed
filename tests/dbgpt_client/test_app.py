"""The app functions of the real dbgpt-client (the installed agent and the chat flow, as
DB-GPT's apps), and chat_app with the agent."""

from __future__ import annotations

import pytest

from .conftest import ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_apps_and_chat_app(dbgpt_client: ClientRunner) -> None:
    flow_uid = dbgpt_client.extra["flow_uid"]
    out = dbgpt_client("app", codes=["echo", flow_uid, "nobody"], agent="echo")
    listed = {a["app_code"]: a for a in out["list"]}
    assert set(listed) == {"echo", flow_uid}, out["list"]
    assert listed["echo"]["team_mode"] == "native_app"
    assert listed[flow_uid]["team_mode"] == "awel_layout"
    assert listed[flow_uid]["team_context"]["uid"] == flow_uid
    assert out["echo"] == listed["echo"]
    assert out[flow_uid] == listed[flow_uid]
    assert "no app 'nobody'" in out["nobody"]["error"], out["nobody"]
    # chat_app answers only as a stream, as DB-GPT's does.
    assert out["chat_app"]["error"]["param"] == "stream", out["chat_app"]
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in out["chat_app_stream"]
    )
    assert streamed == "QUIET PLEASE!", out["chat_app_stream"]
