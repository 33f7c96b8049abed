"""A round made by the real chat route (chat_with_db_execute, a scripted model) goes through
the editor: listed, edited, shown in the dialogue's history, undone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from operators.llm.types import Completion, Delta, GenerationRequest, Usage
from operators.models import ModelSet, using_models
from operators.storage import Datasource
from tests.editor.conftest import NEW_SQL, OLD_SQL, ok, serving


class AnswersWithSQL:
    """A language model that always answers with the same text-to-SQL JSON."""

    name = "scripted"

    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def generate(self, request: GenerationRequest) -> Completion:
        return Completion(text=self.answer, finish_reason="stop", usage=Usage())

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        for i in range(0, len(self.answer), 16):
            yield Delta(text=self.answer[i : i + 16])
        yield Delta(finish_reason="stop", usage=Usage())

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        return None


async def test_a_chat_round_through_the_editor(shop: Datasource, tmp_path: Path) -> None:
    answer = {"thoughts": "Spent per user.", "sql": OLD_SQL, "display_type": "response_bar_chart"}
    model = AnswersWithSQL(json.dumps(answer))
    async with using_models(ModelSet([model])), serving(tmp_path, shop) as client:
        resp = await client.post(
            "/api/v1/chat/completions",
            json={
                "conv_uid": "chat1",
                "chat_mode": "chat_with_db_execute",
                "select_param": shop.db_name,
                "user_input": "How much did each user spend?",
                "model_name": "scripted",
            },
        )
        assert resp.status == 200
        assert "chart-view" in await resp.text()

        rounds = await ok(
            await client.get("/api/v1/editor/sql/rounds", params={"con_uid": "chat1"})
        )
        assert rounds == [
            {"round": 1, "db_name": shop.db_name, "round_name": "How much did each user spend?"}
        ]
        stored = await ok(
            await client.get("/api/v1/editor/sql", params={"con_uid": "chat1", "round": 1})
        )
        assert stored["sql"] == OLD_SQL

        submit = {"conv_uid": "chat1", "conv_round": 1, "old_sql": OLD_SQL, "new_sql": NEW_SQL}
        assert await ok(await client.post("/api/v1/sql/editor/submit", json=submit)) is None

        async def dialogue() -> dict[str, str]:
            resp = await client.get(
                "/api/v1/chat/dialogue/messages/history", params={"con_uid": "chat1"}
            )
            body = await resp.json()  # the serve Result: no host_name
            assert body["success"] is True, body
            return {m["role"]: m["context"] for m in body["data"]}

        shown = await dialogue()
        assert json.loads(shown["ai"])["sql"] == NEW_SQL
        assert json.loads(shown["ai"])["thoughts"] == "Spent per user."
        assert "&quot;bob&quot;" in shown["view"]

        await ok(
            await client.post("/api/v1/editor/sql/undo", json={"conv_uid": "chat1", "round": 1})
        )
        assert json.loads((await dialogue())["ai"])["sql"] == OLD_SQL
