"""A chat route's round as nodes of its flow: prepare, the scene, save, frame.

    trigger >> PrepareRound() >> RunScene(scenes) >> SaveRound() >> FrameRound()

The scene is a flow of its own, called by :class:`RunScene` as a sub-flow
(:class:`awel.operators.SubFlowOperator`), so the engine runs it as part of the round and the
metrics time its nodes. Why a sub-flow rather than a branch to every scene's nodes inlined
in the round: a scene's failure (its datasource gone, a model error, in a value step too)
must end the round as a stored error round inside the stream, which needs the scene to run
lazily inside the round's stream, as a sub-flow does; and v2 answers either a stream or one
object, so the scenes would be inlined twice, behind a second branch.

The round's stream carries its own context: the :class:`ChatRound` first, then the scene's
Progress events, then one RoundDone. So saving and framing are plain stream operators that
need nothing but their input.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from awel import MapOperator, TransformStreamAbsOperator, UnstreamifyAbsOperator
from awel.errors import AwelError
from awel.operators import SubFlowOperator
from awel.plan import Step
from operators.admission import ModelBusy

from .request import ConversationVo
from .scenes import Scene
from .session import model_for, save_round, scene_call, scene_outcome
from .stream import ChatFramer, StreamStyle
from .types import Progress, RoundDone, SceneCall

__all__ = [
    "AnswerRound",
    "ChatRound",
    "FrameRound",
    "PrepareRound",
    "RoundItem",
    "RunScene",
    "SaveRound",
]


@dataclass(frozen=True, slots=True)
class ChatRound:
    """One round as its flow carries it: the scene's call and how the answer is sent."""

    #: What the scene is called with; None when the request was refused before any scene.
    call: SceneCall | None
    style: StreamStyle
    #: The model named in the stream's chunks.
    model: str
    #: Sent instead of an answer when ``call`` is None.
    refusal: str = ""
    #: Answer as a stream (v2 may ask for one object instead).
    stream: bool = True


#: What a round's stream carries: the ChatRound, Progress events, then one RoundDone.
RoundItem = ChatRound | Progress | RoundDone


class PrepareRound(MapOperator[ConversationVo, ChatRound]):
    """``/api/v1/chat/completions``'s round: the scene, its argument checked, the history."""

    async def map(self, input_value: ConversationVo) -> ChatRound:
        body = input_value
        style: StreamStyle = "delta" if body.incremental else body.stream_format
        model = model_for(body.model_name)
        try:
            call = await scene_call(body)
        except AwelError as exc:
            # DB-GPT answers a bad scene or argument inside the stream, which its UI shows;
            # "[ERROR]" is how that UI tells an error from an answer.
            return ChatRound(None, style, model, refusal=f"[ERROR]{exc.message}")
        return ChatRound(call, style, model)


class RunScene(SubFlowOperator[ChatRound, RoundItem]):
    """The scene the round names, called as a sub-flow: the round first, then the scene's
    Progress events and one RoundDone (:func:`~operators.chat.session.scene_outcome`).

    Each instance builds its own scene flows from the records, so the flows a round calls
    belong to the app that loaded the round (and are observed by its metrics).
    """

    def __init__(self, scenes: Iterable[Scene], **kwargs: Any) -> None:
        flows = {s.code: s.flow(s).output_node for s in scenes if s.flow is not None}
        super().__init__(flows, **kwargs)

    def flow_key(self, input_value: ChatRound) -> str:
        assert input_value.call is not None
        return input_value.call.chat_mode

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        _, streams = super().compile_step(inputs)  # a streamify node's checks
        # The scene's flow is started in the step, before the round's stream is handed
        # on: a busy model (its AskModel waits for a turn) then fails the call while the
        # route can still answer 429 with Retry-After, and nothing of the round is stored.
        return self.open, streams

    async def open(self, input_value: ChatRound) -> AsyncIterator[RoundItem]:
        call = input_value.call
        if call is None:
            return self._items(input_value, None)
        events = self.run_flow(self.flow_key(input_value), call)
        try:
            await events.start()
        except Exception as exc:
            busy = exc.__cause__ if isinstance(exc.__cause__, ModelBusy) else None
            if busy is not None:
                raise busy from None
            # Any other failure is the round's answer, as when the scene fails later.
            return self._items(input_value, _failing(exc))
        return self._items(input_value, events)

    def streamify(self, input_value: ChatRound) -> AsyncIterator[RoundItem]:
        call = input_value.call
        if call is None:
            return self._items(input_value, None)
        return self._items(input_value, self.run_flow(self.flow_key(input_value), call))

    async def _items(
        self, round_: ChatRound, events: AsyncIterable[Any] | None
    ) -> AsyncIterator[RoundItem]:
        yield round_
        if events is None or round_.call is None:
            return
        try:
            async for event in scene_outcome(events, round_.call):
                yield event
        finally:
            # Closed at once (not when collected) when the client leaves mid-round.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


async def _failing(error: Exception) -> AsyncIterator[Any]:
    raise error
    yield  # an async generator that fails when read


class SaveRound(TransformStreamAbsOperator[RoundItem, RoundItem]):
    """Stores the round once its RoundDone comes, before passing it on: the stream's last
    event leaves only once the round is stored."""

    async def transform_stream(
        self, input_stream: AsyncIterator[RoundItem]
    ) -> AsyncIterator[RoundItem]:
        call: SceneCall | None = None
        async for item in input_stream:
            if isinstance(item, ChatRound):
                call = item.call
            elif isinstance(item, RoundDone) and call is not None:
                await save_round(call, item)
            yield item


class FrameRound(TransformStreamAbsOperator[RoundItem, bytes]):
    """The round as SSE events in the style it asked for (:class:`ChatFramer`)."""

    async def transform_stream(
        self, input_stream: AsyncIterator[RoundItem]
    ) -> AsyncIterator[bytes]:
        framer: ChatFramer | None = None
        async for item in input_stream:
            if isinstance(item, ChatRound):
                framer = ChatFramer(item.style, model=item.model)
                if item.call is None:
                    yield framer.message(item.refusal)
                continue
            assert framer is not None
            if isinstance(item, Progress):
                chunk = framer.progress(item)
                if chunk:
                    yield chunk
            else:
                last = framer.final(item.view)
                if last:
                    yield last
                end = framer.end()
                if end:
                    yield end


class AnswerRound(UnstreamifyAbsOperator[RoundItem, dict[str, Any]]):
    """The round as one OpenAI ``chat.completion`` object whose ``id`` is the conversation."""

    async def unstreamify(self, input_stream: AsyncIterator[RoundItem]) -> dict[str, Any]:
        call: SceneCall | None = None
        done: RoundDone | None = None
        async for item in input_stream:
            if isinstance(item, ChatRound):
                call = item.call
            elif isinstance(item, RoundDone):
                done = item
        assert call is not None and done is not None
        return {
            "id": call.conv_uid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.view},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
