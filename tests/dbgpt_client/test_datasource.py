"""The datasource functions of the real dbgpt-client, and chat_data on what it created."""

from __future__ import annotations

import pytest

from .conftest import TOKENS, ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_datasource_lifecycle(dbgpt_client: ClientRunner) -> None:
    path = dbgpt_client.extra["shop"]
    out = dbgpt_client(
        "datasource",
        name="shop2",
        path=path,
        question="How many users are there?",
        max_new_tokens=TOKENS,
    )
    made = out["create"]
    assert "error" not in made, made
    expected = {
        "db_type": "sqlite",
        "db_name": "shop2",
        "db_path": path,
        "db_host": "",
        "db_port": 0,
        "db_user": "",
        "db_pwd": "",
        "comment": "from the client",
    }
    assert {k: made[k] for k in expected} == expected
    assert out["get"] == made
    assert out["update"] == {**made, "comment": "changed"}
    names = [d["db_name"] for d in out["list"]]
    assert {"shop", "shop2"} <= set(names), out["list"]
    assert out["chat_data"]["object"] == "chat.completion", out["chat_data"]
    assert out["chat_data"]["choices"][0]["message"]["content"].strip()
    assert out["delete"] == {**made, "comment": "changed"}
    assert "no datasource named '" in out["get_deleted"]["error"], out["get_deleted"]
    assert "shop2" not in [d["db_name"] for d in out["list_after"]]
