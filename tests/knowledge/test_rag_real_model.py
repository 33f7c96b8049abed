"""simple_rag and chat_knowledge (v1 stream, v2 stream and whole) with the real default
models: SmolLM2 answering in a few tokens, all-MiniLM-L6-v2 embedding. So small a model's
answers may be poor: their shapes, the references and the stored rounds are checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from operators.export.cache import find_model
from operators.knowledge import current_knowledge
from operators.models import ModelSet, using_models
from tests.chat.conftest import chat, events, history, plain_texts
from tests.server.conftest import running
from tests.server.model_api_live import DATA_DIR

from .corpus import documents

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

QUESTION = "Why is octopus blood blue?"


async def _load() -> ModelSet:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: ModelSet.load(DATA_DIR, names=["smollm2", "all-minilm-l6-v2"])
    )


async def test_rag_with_the_real_models(tmp_path: Path) -> None:
    if find_model(DATA_DIR, "smollm2") is None:
        pytest.skip(f"smollm2 is not built in {DATA_DIR}; run `make models`")
    models = await _load()
    async with using_models(models), running(tmp_path) as client:
        kb = current_knowledge()
        await kb.create_space("sea", arguments={"embedding": {"topk": 2}})
        corpus = documents()
        for name in ("octopus.md", "tides.md", "penguins.md"):
            document = await kb.add_document("sea", name, "DOCUMENT", data=corpus[name])
            assert (await kb.sync(document.id)).status == "FINISHED"

        resp = await client.post(
            "/api/v1/awel/trigger/examples/simple_rag",
            json={"user_input": QUESTION, "select_param": "sea", "max_new_tokens": 24},
        )
        out = await resp.json()
        assert resp.status == 200 and out["error_code"] == 0 and out["text"].strip(), out
        assert out["model_context"] == {"model": "smollm2"} and out["usage"]["completion_tokens"]

        status, _, raw = await chat(
            client, conv_uid="rag", chat_mode="chat_knowledge", select_param="sea",
            user_input=QUESTION, max_new_tokens=24, temperature=0,
        )  # fmt: skip
        assert status == 200
        view = plain_texts(raw)[-1]
        answer, _, tag = view.rpartition("\n\n")
        assert answer.strip() and tag.startswith('<references title="References" ')
        assert "octopus.md" in tag
        msgs = await history(client, "rag")
        assert [m["context"] for m in msgs] == [QUESTION, answer, view]

        body = {
            "chat_mode": "chat_knowledge", "chat_param": "sea", "max_tokens": 24,
            "messages": [{"role": "user", "content": QUESTION}], "temperature": 0,
        }  # fmt: skip
        resp = await client.post("/api/v2/chat/completions", json={**body, "stream": False})
        whole = (await resp.json())["choices"][0]["message"]["content"]
        assert resp.status == 200 and "<references " in whole and "octopus.md" in whole
        resp = await client.post("/api/v2/chat/completions", json={**body, "stream": True})
        chunks = [json.loads(e) for e in events(await resp.text())[:-1]]
        streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert streamed == whole  # greedy decoding: the same answer both ways
