"""The RAG example flows and the chat_knowledge scene through the live app, with the real
embeddings model and a scripted language model (whose requests the tests read): the space's
chunks, prompt and references, each chat route's shapes, and the refusals.
tests/knowledge/test_rag_real_model.py runs the same with the real SmolLM2."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operators.embed.engine import OnnxEmbedder
from operators.knowledge import current_knowledge
from operators.models import ModelSet, using_models
from tests.chat.conftest import ScriptedLLM, chat, events, history, ok, plain_texts
from tests.server.conftest import running

from .corpus import documents

Client = TestClient[web.Request, web.Application]
EXAMPLES = "/api/v1/awel/trigger/examples"
TEMPLATE = "Use the notes.\n{context}\nQ: {question}"
PAGE = b"<html><body><h1>Keepers</h1><p>The keeper trimmed the wick at dusk.</p></body></html>"


@pytest.fixture
async def llm(embedder: OnnxEmbedder) -> AsyncIterator[ScriptedLLM]:
    model = ScriptedLLM()
    # The session's embedder is shared: this set must not close it.
    async with using_models(ModelSet([model], [embedder]), close=False):
        yield model


async def _space(name: str, *docs: str, template: str = TEMPLATE) -> None:
    kb = current_knowledge()
    await kb.create_space(
        name, arguments={"embedding": {"topk": 2}, "prompt": {"template": template}}
    )
    corpus = documents()
    for doc in docs:
        document = await kb.add_document(name, doc, "DOCUMENT", data=corpus[doc])
        assert (await kb.sync(document.id)).status == "FINISHED"


def _references(view: str) -> list[dict[str, Any]]:
    found = re.search(r'<references title="References" references="([^"]*)" />$', view)
    assert found, view
    listed: list[dict[str, Any]] = json.loads(html.unescape(found.group(1)))
    return listed


async def test_simple_rag_answers_a_model_output_from_the_space(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    async with running(tmp_path) as client:
        await _space("nature", "octopus.md", "tides.md", "tea.md")
        body = {
            "conv_uid": "c1", "model_name": "proxyllm", "chat_mode": "chat_knowledge",
            "user_input": "Why is octopus blood blue?", "select_param": "nature",
        }  # fmt: skip
        resp = await client.post(f"{EXAMPLES}/simple_rag", json=body)
        out = await resp.json()
        assert resp.status == 200, out
        assert out["error_code"] == 0 and out["text"] == "You said: Why is octopus blood blue?"
        assert out["model_context"] == {"model": "scripted"}
        system, user = llm.requests[-1].messages or []
        assert system.role == "system" and system.content.startswith("Use the notes.\n[1] ")
        assert "hemocyanin" in system.content.split("[2]")[0]
        assert system.content.endswith("Q: Why is octopus blood blue?")
        assert user.content == "Why is octopus blood blue?"

        resp = await client.post(f"{EXAMPLES}/simple_rag", json={**body, "select_param": "nope"})
        assert resp.status == 400 and "nope" in (await resp.json())["err_msg"]
        resp = await client.post(f"{EXAMPLES}/simple_rag", json={"user_input": "x"})
        assert resp.status == 400 and "select_param" in (await resp.json())["err_msg"]


async def test_chat_knowledge_streams_an_answer_citing_its_sources(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    async with running(tmp_path) as client:
        await _space("nature", "octopus.md", "tides.md", "tea.md")
        question = "Where are the highest tides on Earth?"
        status, ctype, raw = await chat(
            client, conv_uid="k1", chat_mode="chat_knowledge", select_param="nature",
            user_input=question,
        )  # fmt: skip
        assert status == 200 and ctype.startswith("text/event-stream")
        texts = plain_texts(raw)
        answer = f"You said: {question}"
        assert texts[0] != texts[-1] and texts[-2] == answer
        head, _, tag = texts[-1].partition("\n\n")
        assert head == answer
        refs = _references(tag)
        assert refs[0]["name"] == "tides.md" and refs[0]["chunks"][0]["index"] == 1
        chunk = refs[0]["chunks"][0]
        assert set(chunk) == {"index", "id", "content", "meta_info", "recall_score"}
        assert "Bay of Fundy" in chunk["content"] and 0 < chunk["recall_score"] <= 1
        # Stored like every round: the model's text as ai, the cited view as view.
        msgs = await history(client, "k1")
        assert [m["role"] for m in msgs] == ["human", "ai", "view"]
        assert msgs[1]["context"] == answer and msgs[2]["context"] == texts[-1]
        # The second round has the first in its history.
        await chat(
            client, conv_uid="k1", chat_mode="chat_knowledge", select_param="nature",
            user_input="And the tea?",
        )  # fmt: skip
        roles = [m.role for m in llm.requests[-1].messages or []]
        assert roles == ["system", "user", "assistant", "user"]
        # DB-GPT's UI asks for a space from the normal chat through ext_info.
        _, _, raw = await chat(
            client, conv_uid="k2", user_input="Why is octopus blood blue?",
            ext_info={"knowledge_space": "nature"},
        )  # fmt: skip
        assert _references(plain_texts(raw)[-1])[0]["name"] == "octopus.md"


async def test_chat_knowledge_on_v2_streamed_and_whole(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with running(tmp_path) as client:
        await _space("nature", "octopus.md", "tides.md")
        body = {
            "model": "scripted", "chat_mode": "chat_knowledge", "chat_param": "nature",
            "messages": [{"role": "user", "content": "What causes the tides?"}], "stream": False,
        }  # fmt: skip
        resp = await client.post("/api/v2/chat/completions", json=body)
        out = await resp.json()
        assert resp.status == 200, out
        content = out["choices"][0]["message"]["content"]
        assert content.startswith("You said: What causes the tides?\n\n<references ")
        assert _references(content.split("\n\n", 1)[1])[0]["name"] == "tides.md"

        resp = await client.post("/api/v2/chat/completions", json={**body, "stream": True})
        items = events(await resp.text())
        assert items[-1] == " [DONE]"
        chunks = [json.loads(e) for e in items[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == content

        resp = await client.post("/api/v2/chat/completions", json={**body, "chat_param": "missing"})
        err = await resp.json()
        assert resp.status == 400 and "no knowledge space named 'missing'" in str(err), err


async def test_scene_checks_and_mode_params(tmp_path: Path, llm: ScriptedLLM) -> None:
    async with running(tmp_path) as client:
        url = "/api/v1/chat/mode/params/list"
        assert await ok(await client.post(url, params={"chat_mode": "chat_knowledge"})) == []
        await _space("nature", "tea.md")
        space = await current_knowledge().store.spaces.require("nature")
        listed = await ok(await client.post(url, params={"chat_mode": "chat_knowledge"}))
        assert listed == [{"param": "nature", "type": "space", "space_id": space.id}]
        for param, why in (("", "needs a knowledge space name"), ("gone", "named 'gone'")):
            _, _, raw = await chat(
                client, chat_mode="chat_knowledge", select_param=param, user_input="q"
            )
            (text,) = plain_texts(raw)
            assert text.startswith("[ERROR]select_param: ") and why in text, text
        # The space's recall_score leaves out what is too far: no chunk, no references.
        await current_knowledge().save_arguments(
            "nature", {"embedding": {"recall_score": 0.99}, "prompt": {"template": TEMPLATE}}
        )
        _, _, raw = await chat(
            client, chat_mode="chat_knowledge", select_param="nature", user_input="Volcanoes?"
        )
        assert plain_texts(raw)[-1] == "You said: Volcanoes?"
        assert "no relevant docs to retrieve" in (llm.requests[-1].messages or [])[0].content


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    app.router.add_get("/keepers.html", page)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/keepers.html"))


async def test_rag_embedding_and_retrieve(
    tmp_path: Path, llm: ScriptedLLM, page_server: str
) -> None:
    async with running(tmp_path) as client:
        # The page is on loopback, which a server refuses to fetch unless told otherwise.
        refused = await client.post(f"{EXAMPLES}/rag/embedding", json={"url": page_server})
        assert refused.status == 400, await refused.text()
        assert "server's own network" in (await refused.json())["err_msg"]
    async with running(tmp_path, allow_private_urls=True) as client:
        resp = await client.post(f"{EXAMPLES}/rag/retrieve", json={"query": "wick"})
        assert resp.status == 200 and await resp.json() == []
        for bad in ("file:///etc/passwd", "ftp://example.com/a.txt", "keepers.html"):
            resp = await client.post(f"{EXAMPLES}/rag/embedding", json={"url": bad})
            err = await resp.json()
            assert resp.status == 400 and "only http:// and https://" in err["err_msg"], err
        for _ in range(2):  # the same address again syncs its document anew
            resp = await client.post(f"{EXAMPLES}/rag/embedding", json={"url": page_server})
            assert resp.status == 200
            assert await resp.json() == "embedding success, there are 1 chunks."
        resp = await client.post(f"{EXAMPLES}/rag/retrieve", json={"query": "Who trims wicks?"})
        (chunk,) = await resp.json()
        assert set(chunk) == {
            "chunk_id", "chunk_name", "content", "metadata", "score", "summary", "separator",
            "retriever",
        }  # fmt: skip
        assert "trimmed the wick" in chunk["content"]
        assert chunk["metadata"]["source"] == page_server and chunk["score"] > 0.3
        space = await current_knowledge().store.spaces.require("awel_examples")
        _, total = await current_knowledge().store.documents.list(space.id)
        assert total == 1
        unreachable = page_server.replace("keepers.html", "missing.html")
        resp = await client.post(f"{EXAMPLES}/rag/embedding", json={"url": unreachable})
        assert resp.status == 502 and "404" in (await resp.json())["err_msg"]
