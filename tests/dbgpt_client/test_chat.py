"""``chat`` and ``chat_stream`` of the real dbgpt-client in every mode it offers that needs
no other resource of the client's: chat_normal (with no mode, as the client sends it by
default, and named), chat_data, chat_with_db_qa and chat_dashboard on a datasource, and a
mode the server does not know. chat_knowledge, chat_flow and chat_app are in the knowledge,
flow and app tests, beside what they chat with."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .conftest import MODEL, TOKENS, ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def completion_text(answer: Any) -> str:
    """The answer of ``chat``: a chat.completion the client parsed."""
    assert isinstance(answer, dict) and "error" not in answer, answer
    assert answer["object"] == "chat.completion" and answer["model"] == MODEL, answer
    text = answer["choices"][0]["message"]["content"]
    assert isinstance(text, str) and text.strip(), answer
    return text


def deltas(chunks: Any) -> list[str]:
    """The contents of ``chat_stream``'s chunks, which the client parsed."""
    assert isinstance(chunks, list) and chunks, chunks
    assert all("choices" in c for c in chunks), chunks
    return [c["choices"][0]["delta"].get("content") or "" for c in chunks]


def test_every_mode(dbgpt_client: ClientRunner) -> None:
    short = {"model": MODEL, "max_new_tokens": TOKENS}
    cases: dict[str, dict[str, Any]] = {
        "no_mode": {"messages": "What is the capital of France?", **short},
        "chat_normal": {"messages": "Say hello.", "chat_mode": "chat_normal", **short},
        "whole_texts": {"messages": "Say hello.", "incremental": False, **short},
        "chat_data": {"messages": "How many users are there?", "chat_mode": "chat_data"},
        "chat_with_db_qa": {"messages": "Which tables are there?", "chat_mode": "chat_with_db_qa"},
        "chat_dashboard": {"messages": "Orders per user.", "chat_mode": "chat_dashboard"},
        "unknown_mode": {"messages": "x", "chat_mode": "chat_nope", **short},
        "no_param": {"messages": "x", "chat_mode": "chat_data", **short},
    }
    for mode in ("chat_data", "chat_with_db_qa", "chat_dashboard"):
        cases[mode].update(chat_param="shop", **short)
    out = dbgpt_client("chat", cases=cases)

    for name in ("no_mode", "chat_normal", "chat_data", "chat_with_db_qa", "chat_dashboard"):
        completion_text(out[name]["chat"])
        assert "".join(deltas(out[name]["stream"])).strip(), (name, out[name]["stream"])
    # incremental=False: each chunk carries the whole text so far.
    texts = deltas(out["whole_texts"]["stream"])
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts)), texts
    assert texts[-1].strip(), texts
    completion_text(out["whole_texts"]["chat"])

    # On a non-200 answer chat returns the error body (and chat_stream yields it).
    for name, param in (("unknown_mode", "chat_mode"), ("no_param", "chat_param")):
        for got in (out[name]["chat"], out[name]["stream"][0]):
            assert got["error"]["param"] == param, got
