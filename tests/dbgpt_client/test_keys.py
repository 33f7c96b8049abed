"""With API keys set, the real dbgpt-client's calls without a key or with a wrong one get
DB-GPT's 401 ``invalid_api_key``, before the server reads their bodies (a body over the size
limit would otherwise be a 413); with the key they work."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SERVE_CALLS = ("list_datasource", "list_space", "create_document", "list_flow", "list_app")


def refused(out: dict[str, Any]) -> None:
    for name in ("chat", "chat_huge"):
        assert out[name]["error"]["code"] == "invalid_api_key", out[name]
    assert out["chat_stream"][0]["error"]["code"] == "invalid_api_key", out["chat_stream"]
    for name in SERVE_CALLS:
        assert "(401)" in out[name]["error"], out[name]
    assert out["post_huge"]["err_code"] == "401", out["post_huge"]


@pytest.mark.parametrize("key", [None, "sk-wrong"], ids=["no key", "wrong key"])
def test_refused_without_the_key(dbgpt_client: ClientRunner, key: str | None) -> None:
    refused(dbgpt_client("keys", key=key))


def test_the_key_opens_every_call(dbgpt_client: ClientRunner) -> None:
    out = dbgpt_client("keys")
    assert out["chat"]["object"] == "chat.completion", out["chat"]
    assert out["chat_huge"]["error"]["code"] != "invalid_api_key", out["chat_huge"]
    for name in ("list_datasource", "list_space", "list_flow", "list_app"):
        assert isinstance(out[name], list), out[name]
