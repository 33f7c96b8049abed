"""Language-model operators for flows: ``llm.generate`` (a whole answer) and ``llm.stream``
(the answer as it is written).

Both take a :class:`~operators.llm.types.GenerationRequest`, or a list of them for several
answers at once (OpenAI's ``n``, a list of prompts), and find the model the request names in
the process's model set (:func:`operators.models.current_models`); the ``model`` parameter
pins a node to one model instead.

    nodes:
      answer: {op: llm.generate}
      tokens: {op: llm.stream, params: {model: smollm2}}
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, overload

from pydantic import Field

from awel import MapOperator, StreamifyAbsOperator
from awel.plan import Step
from awel.registry import OperatorParams

from ..admission import ModelBusy, wait_turn
from ..models import current_models
from .types import Completion, Delta, GenerationRequest, LanguageModel

__all__ = ["LLMGenerate", "LLMParams", "LLMStream", "Requests"]

#: One request, or several answered together.
Requests = GenerationRequest | Sequence[GenerationRequest]


class LLMParams(OperatorParams):
    model: str | None = Field(
        None, description="Answer with this model, whatever the request names."
    )


class _UsesModel:
    """Finds a request's model, or the pinned one."""

    model: str | None

    def _resolve(self, request: GenerationRequest) -> tuple[LanguageModel, GenerationRequest]:
        if self.model is not None and request.model != self.model:
            request = request.model_copy(update={"model": self.model})
        return current_models().llm(request.model), request


class LLMGenerate(_UsesModel, MapOperator[Requests, Completion | list[Completion]]):
    """A request in, its :class:`Completion` out (a list in, a list out, in order)."""

    Params = LLMParams

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    @overload
    async def generate(self, requests: GenerationRequest) -> Completion: ...

    @overload
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    async def generate(self, requests: Requests) -> Completion | list[Completion]:
        if isinstance(requests, GenerationRequest):
            model, request = self._resolve(requests)
            return await model.generate(request)
        # Every name is checked before any work starts: an unknown model fails the call
        # without leaving generations running.
        calls = [self._resolve(r) for r in requests]
        if len(calls) == 1:
            model, request = calls[0]
            return [await model.generate(request)]
        # Concurrently, so the engine can batch them; a failure cancels the others.
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(m.generate(r)) for m, r in calls]
        except ExceptionGroup as group:
            raise group.exceptions[0] from None
        return [t.result() for t in tasks]

    async def map(self, input_value: Requests) -> Completion | list[Completion]:
        return await self.generate(input_value)


class LLMStream(_UsesModel, StreamifyAbsOperator[Requests, Delta]):
    """A request in, its answer out as :class:`Delta` pieces.

    Each answer ends with a delta that has ``finish_reason`` and ``usage`` set. A list of
    requests is answered one after another, so a consumer tells the answers apart by
    counting finishing deltas (DB-GPT streams OpenAI's ``n`` choices the same way).
    """

    Params = LLMParams

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    def compile_step(self, inputs: Sequence[bool]) -> tuple[Step, bool]:
        _, streams = super().compile_step(inputs)  # a streamify node's checks
        # The node's step opens the first answer's stream and waits for its turn in the
        # model's queue before handing the stream on: a busy model then fails the call
        # while a route can still answer 429, not after a stream's headers went out.
        return self.open, streams

    async def open(self, input_value: Requests) -> AsyncIterator[Delta]:
        """The stream of answers, once the model has taken the first request.

        Only a busy model fails here; anything else wrong with the request (an unknown
        model, a prompt too long) fails as the stream is read, where flows have always
        met it (simple_chat answers it as error_code 1).
        """
        try:
            calls = self._calls(input_value)
            first = calls[0][0].stream(calls[0][1]) if calls else None
        except ModelBusy:
            raise
        except Exception as exc:
            return _failing(exc)
        if first is not None:
            try:
                await wait_turn(first)
            except BaseException:
                aclose = getattr(first, "aclose", None)
                if aclose is not None:
                    await aclose()
                raise
        return self._answers(calls, first)

    def streamify(self, input_value: Requests) -> AsyncIterator[Delta]:
        return self._answers(self._calls(input_value), None)

    def _calls(self, input_value: Requests) -> list[tuple[LanguageModel, GenerationRequest]]:
        if isinstance(input_value, GenerationRequest):
            return [self._resolve(input_value)]
        return [self._resolve(r) for r in input_value]

    async def _answers(
        self,
        calls: list[tuple[LanguageModel, GenerationRequest]],
        first: AsyncIterator[Delta] | None,
    ) -> AsyncIterator[Delta]:
        for model, request in calls:
            stream = first if first is not None else model.stream(request)
            first = None
            finished = False
            try:
                async for delta in stream:
                    if delta.finish_reason is not None:
                        finished = True
                    yield delta
            finally:
                # Close the engine's stream now, not when it is collected: a client that
                # hangs up frees its share of the model at once.
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            if not finished:
                # An engine that ended without saying why: the answer is still complete.
                yield Delta(finish_reason="stop")


async def _failing(error: Exception) -> AsyncIterator[Delta]:
    raise error
    yield  # an async generator that fails when read
