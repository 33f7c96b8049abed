"""Every scene once end to end with the real default model (smollm2) and embeddings: the
answers of so small a model may be poor, so only their shape and the stored round are
checked."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from operators.models import ModelSet, using_models
from operators.storage import Datasource
from tests.datasource.conftest import make_sqlite
from tests.server.model_api_live import DATA_DIR, require_built

from .conftest import chat, history, ok, plain_texts, serving

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def _load() -> ModelSet:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: ModelSet.load(DATA_DIR, names=["smollm2", "all-minilm-l6-v2"])
    )


async def test_every_scene_with_the_real_model(tmp_path: Path) -> None:
    require_built("smollm2")
    shop = Datasource(
        db_type="sqlite", db_name="shop", db_path=str(make_sqlite(tmp_path / "shop.sqlite"))
    )
    models = await _load()
    async with using_models(models), serving(tmp_path, shop) as client:
        form = aiohttp.FormData()
        form.add_field("doc_files", b"city,amount\nParis,10\nLyon,5\n", filename="sales.csv")
        desc = await ok(
            await client.post(
                "/api/v1/resource/file/upload",
                params={"conv_uid": "excel", "chat_mode": "chat_excel", "max_new_tokens": 48},
                data=form,
            )
        )
        rounds = {"excel": 1}
        cases = [
            ("chat_normal", "", "What is the capital of France?"),
            ("chat_with_db_qa", "shop", "Which tables are there?"),
            ("chat_with_db_execute", "shop", "How many users are there?"),
            ("chat_dashboard", "shop", "A report of orders per user."),
            ("chat_excel", desc["file_path"], "What is the total amount?"),
        ]
        for mode, param, question in cases:
            uid = "excel" if mode == "chat_excel" else mode
            status, ctype, raw = await chat(
                client, conv_uid=uid, chat_mode=mode, select_param=param, user_input=question,
                max_new_tokens=96, temperature=0,
            )  # fmt: skip
            assert status == 200 and ctype.startswith("text/event-stream"), raw
            texts = plain_texts(raw)
            assert texts and texts[-1].strip(), (mode, raw)
            rounds[uid] = rounds.get(uid, 0) + 1
            msgs = await history(client, uid)
            assert len(msgs) == 3 * rounds[uid], (mode, msgs)
            assert msgs[-3]["context"] == question and msgs[-3]["role"] == "human"
            assert msgs[-1]["role"] == "view" and msgs[-1]["context"] == texts[-1]

        resp = await client.post(
            "/api/v2/chat/completions",
            json={"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 16},
        )
        out = await resp.json()
        assert resp.status == 200 and out["choices"][0]["message"]["content"], out
