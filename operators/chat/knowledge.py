"""chat_knowledge's building blocks: the space's chunks for the question, the space's own
prompt, and an answer that cites its sources.

    input >> SpaceChunks() >> SpacePrompt(history=True) >> AskModel() >> KnowledgeRound()

As in DB-GPT's knowledge chat, the space's ``topk`` and ``recall_score`` pick the chunks,
its ``prompt.template`` is the system message (``{context}`` the numbered chunks,
``{question}`` the question), the conversation's history follows, and the answer's view
ends with DB-GPT's ``<references>`` tag naming the documents and chunks it drew on; what is
stored as the ``ai`` message is the model's text alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from awel import MapOperator
from operators.knowledge.rag import recall, references_view, system_prompt, token_counter

from .scene_ops import TextRound, scene_request
from .types import ModelDone, RoundDone, SceneCall

__all__ = ["KnowledgeRound", "SpaceChunks", "SpacePrompt"]


class SpaceChunks(MapOperator[SceneCall, SceneCall]):
    """The chunks of the space ``select_param`` names closest to the question."""

    async def map(self, input_value: SceneCall) -> SceneCall:
        recalled = await recall(input_value.select_param, input_value.user_input)
        return dataclasses.replace(input_value, recalled=recalled)


class SpacePrompt(MapOperator[SceneCall, SceneCall]):
    """The space's prompt as the system message, the history if ``history``, then the
    question."""

    def __init__(self, *, history: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history = history

    async def map(self, input_value: SceneCall) -> SceneCall:
        call = input_value
        assert call.recalled is not None, "SpaceChunks runs before SpacePrompt"
        system = system_prompt(call.recalled, token_counter(call.model_name))
        request = scene_request(call, system, history=self.history)
        return dataclasses.replace(call, request=request)


class KnowledgeRound(TextRound):
    """The model's text, its view followed by the references of the chunks it was given."""

    async def finish(self, done: ModelDone) -> RoundDone:
        answered = await super().finish(done)
        recalled = done.call.recalled
        if answered.error is not None or recalled is None or not recalled.chunks:
            return answered
        view = f"{answered.view}\n\n{references_view(recalled.chunks)}"
        cited = [c.chunk_id for c in recalled.chunks]
        return dataclasses.replace(answered, view=view, context={"chunk_ids": cited})
