"""The knowledge functions of the real dbgpt-client: a space and a document created, listed,
synced and deleted, and chat_knowledge on the space in between."""

from __future__ import annotations

import pytest

from .conftest import TOKENS, ClientRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HANDBOOK = (
    "Visitors park in the north lot. Staff park in the garage under the main building;"
    " the garage closes at 22:00."
)


def test_space_document_sync_and_chat(dbgpt_client: ClientRunner) -> None:
    out = dbgpt_client(
        "spaces",
        space="client_handbook",
        text=HANDBOOK,
        question="Where do visitors park?",
        max_new_tokens=TOKENS,
    )
    space = out["create_space"]
    assert "error" not in space, space
    assert (space["name"], space["desc"], space["owner"]) == (
        "client_handbook",
        "from the client",
        "ann",
    )
    assert out["get_space"]["id"] == space["id"]
    assert space["id"] in [s["id"] for s in out["list_space"]]
    assert out["update_space"]["desc"] == "edited"

    doc = out["create_document"]
    assert "error" not in doc, doc
    assert (doc["doc_name"], doc["doc_type"], doc["content"]) == ("handbook", "TEXT", HANDBOOK)
    assert doc["space_id"] == str(space["id"])
    assert doc["id"] in [d["id"] for d in out["list_document"]]
    assert out["sync_document"] == [doc["id"]]
    assert out["get_document"]["id"] == doc["id"]

    answer = out["chat"]
    assert answer["object"] == "chat.completion", answer
    # The view ends with DB-GPT's references to the chunks the model was given.
    assert "<references" in answer["choices"][0]["message"]["content"], answer
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in out["chat_stream"])
    assert "north lot" in streamed, streamed

    assert out["delete_document"]["id"] == doc["id"]
    assert out["delete_space"]["id"] == space["id"]
    assert space["id"] not in [s["id"] for s in out["list_space_after"]]
