"""OpenAI's wire protocol for the model API flows: request bodies, answers, stream chunks.

The flows in this folder are thin: a trigger with one of these request models, an operator
that turns the body into engine requests, the model operator, and one that writes OpenAI's
answer. Parameters follow openai-python and ``shared/spec/openai-conventions.md``:

- Unknown request fields are accepted and ignored (logged once per name): clients send new
  fields long before servers know them.
- ``temperature`` left out means greedy decoding (the engine's default), not OpenAI's 1.0:
  a small local model answers far better greedily, and the same request gives the same text.
- ``max_tokens`` left out: 256 new tokens for chat, 16 for text completions (OpenAI's).
- Usage with ``n > 1`` counts each prompt once and every choice's completion (OpenAI's rule,
  not FastChat's, which adds the prompt once per choice).
- ``response_format`` (chat): ``json_object`` constrains the answer to a JSON object and
  ``json_schema`` to its schema (guided decoding, :mod:`operators.llm.guidance`); a schema the
  grammar compiler refuses is a 400 naming ``response_format``.

Stream chunks are written from templates made once per request: per token the work is one
``json.dumps`` of the new text and a string join (the API's overhead is measured per token).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from awel import TransformStreamAbsOperator
from awel.trigger import HttpTrigger
from operators.llm.types import Completion, Delta, FinishReason, GenerationParams, Guidance
from operators.models import ModelCard

log = logging.getLogger("awel.model_api")

#: The task name of every model API flow's trigger; answers read the request from it.
TRIGGER = "trigger"


def openai_trigger(
    path: str, body: type[BaseModel] | None, *, summary: str, methods: str = "POST"
) -> HttpTrigger:
    """A model API route: OpenAI's error shape, and streams that end with ``[DONE]`` (also
    after an error event, which openai-python raises as ``APIError``)."""
    return HttpTrigger(
        path=path,
        methods=methods,
        request_body=body,
        sse_end="[DONE]",
        stream_errors="openai",
        errors="openai",
        summary=summary,
        tags=["OpenAI"],
        task_name=TRIGGER,
    )


# --- requests -----------------------------------------------------------------------------

_ignored: set[str] = set()


def note_ignored(body: BaseModel) -> None:
    """Log, once per name, request fields this server does not know."""
    extra = body.model_extra
    if extra:
        new = extra.keys() - _ignored
        if new:
            _ignored.update(new)
            log.info("ignoring request field(s) this server does not use: %s", sorted(new))


class Body(BaseModel):
    # Unknown fields are kept aside (model_extra) rather than refused; see note_ignored.
    model_config = ConfigDict(extra="allow")


class StreamOptions(Body):
    include_usage: bool = Field(False, description="Send a last chunk with the usage.")


class Sampling(Body):
    """The fields chat and text completions share."""

    model: str = Field(description="A model id from GET /api/v1/models.")
    max_tokens: int | None = Field(None, ge=1, description="Most tokens to generate.")
    max_completion_tokens: int | None = Field(
        None, ge=1, description="Newer name of max_tokens; wins when both are given."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; left out or 0: greedy."
    )
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int | None = Field(
        None, ge=-1, description="Extension: sample among the k likeliest (0 or -1: all)."
    )
    n: int = Field(1, ge=1, le=16, description="How many answers to write.")
    stop: str | Annotated[list[str], Field(max_length=4)] | None = Field(
        None, description="Up to four strings that end the answer (not included)."
    )
    seed: int | None = Field(None, description="Seed of the sampler, for repeatable answers.")
    stream: bool = Field(False, description="Answer as server-sent events.")
    stream_options: StreamOptions | None = None
    user: str | None = None

    def params(
        self, default_max_tokens: int, choice: int = 0, guidance: Guidance | None = None
    ) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        seed = self.seed
        if seed is not None and choice:
            # n answers with one seed would be n copies of one sample.
            seed += choice
        return GenerationParams(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature or 0.0,
            top_p=1.0 if self.top_p is None else self.top_p,
            top_k=max(self.top_k or 0, 0),
            stop=[s for s in stop if s],
            seed=seed,
            guidance=guidance,
        )

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class TextPart(Body):
    type: Literal["text"]
    text: str


class MessageIn(Body):
    # Tool and function messages need tool calling, which these models do not do.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(Body):
    name: str = Field("answer", description="The schema's name (OpenAI requires one).")
    description: str | None = None
    # "schema" would shadow pydantic's BaseModel.schema.
    json_schema: dict[str, Any] = Field(alias="schema", description="A JSON Schema.")
    strict: bool | None = Field(
        None, description="Accepted; the local models always follow the schema exactly."
    )


class ResponseFormat(Body):
    type: Literal["text", "json_object", "json_schema"] = Field(
        description="text: free; json_object: a JSON object; json_schema: that schema."
    )
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs a json_schema: {name, schema}")
        return self

    @property
    def guidance(self) -> Guidance | None:
        """The grammar the answer must follow, or None for free text."""
        if self.type == "json_object":
            return Guidance(json_schema={"type": "object"})
        if self.type == "json_schema":
            assert self.json_schema is not None
            return Guidance(json_schema=self.json_schema.json_schema)
        return None


class ChatCompletionRequest(Sampling):
    """POST /api/v1/chat/completions."""

    messages: list[MessageIn] = Field(min_length=1, description="The conversation so far.")
    response_format: ResponseFormat | None = Field(
        None, description="Constrain the answer to JSON, or to a JSON schema."
    )


class CompletionRequest(Sampling):
    """POST /api/v1/completions."""

    prompt: str | Annotated[list[str], Field(min_length=1)] = Field(
        description="The text to continue, or a list of texts (n answers each)."
    )


class EmbeddingsRequest(Body):
    """POST /api/v1/embeddings."""

    model: str = Field(description="An embeddings model id from GET /api/v1/models.")
    input: str | list[str] = Field(description="A text or a list of texts.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64: the little-endian float32 bytes of each vector."
    )
    dimensions: int | None = Field(
        None, ge=1, description="Keep the first d dimensions, normalized again."
    )
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _texts_only(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("input is empty; send a text or a list of texts")
            if any(not isinstance(item, str) for item in value):
                raise ValueError(
                    "token ids are not accepted (the tokenizer is the model's own); send the"
                    " input as text: a string or a list of strings"
                )
        return value


# --- answers ------------------------------------------------------------------------------


def finish_reason(reason: FinishReason | None) -> str:
    # OpenAI knows stop and length; a cancelled or failed engine run that still ended
    # reads best as a stop.
    return "length" if reason == "length" else "stop"


def usage_of(completions: Sequence[Completion], n: int) -> dict[str, int]:
    """Usage of ``n`` answers per prompt: each prompt once, every answer's completion."""
    prompt = sum(c.usage.prompt_tokens for c in completions[::n])
    completion = sum(c.usage.completion_tokens for c in completions)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def card(model: ModelCard) -> dict[str, Any]:
    """A model list entry; ``root`` and ``parent`` as vLLM and DB-GPT's API server write them."""
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
        "root": model.id,
        "parent": None,
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ChunkWriter(TransformStreamAbsOperator[Delta, str]):
    """Deltas in (answers one after another, each ending with a finishing delta), OpenAI
    stream chunks out as one-line JSON, and a usage chunk last when the request asked.

    Subclasses give the templates of their chunk kind.
    """

    prefix = "cmpl"
    obj = "text_completion"

    def __init__(self, request_task: str = TRIGGER, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_task = request_task

    def answers(self, body: Any) -> int:
        raise NotImplementedError

    def role(self, head: str, index: int, tail: str) -> str | None:
        """The chunk that opens answer ``index`` (None: answers open with their text)."""
        return None

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        raise NotImplementedError

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        raise NotImplementedError

    async def transform_stream(self, input_stream: AsyncIterator[Delta]) -> AsyncIterator[str]:
        body: Sampling = self.current_dag_context.get_task_output(self.request_task)
        start = (
            f'{{"id":"{new_id(self.prefix)}","object":"{self.obj}",'
            f'"created":{int(time.time())},"model":{_json(body.model)},'
        )
        head = start + '"choices":[{"index":'
        include_usage = body.include_usage
        # With include_usage every other chunk says "usage":null (OpenAI's and vLLM's form).
        tail = ',"usage":null}' if include_usage else "}"
        total = self.answers(body)
        n = body.n
        index = 0
        prompt_tokens = completion_tokens = 0
        opening = self.role(head, 0, tail)
        if opening is not None:
            yield opening
        async for delta in input_stream:
            if delta.text:
                yield self.content(head, index, delta.text, tail)
            if delta.finish_reason is None:
                continue
            yield self.finish(head, index, finish_reason(delta.finish_reason), tail)
            if delta.usage is not None:
                if index % n == 0:
                    prompt_tokens += delta.usage.prompt_tokens
                completion_tokens += delta.usage.completion_tokens
            index += 1
            if index < total and (opening := self.role(head, index, tail)) is not None:
                yield opening
        if include_usage:
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            yield start + f'"choices":[],"usage":{_json(usage)}}}'


class ChatChunks(ChunkWriter):
    """``chat.completion.chunk`` events: a role delta opens each answer."""

    prefix = "chatcmpl"
    obj = "chat.completion.chunk"

    def answers(self, body: Any) -> int:
        return int(body.n)

    def role(self, head: str, index: int, tail: str) -> str:
        return (
            f'{head}{index},"delta":{{"role":"assistant","content":""}},'
            f'"logprobs":null,"finish_reason":null}}]{tail}'
        )

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        return (
            f'{head}{index},"delta":{{"content":{_json(text)}}},'
            f'"logprobs":null,"finish_reason":null}}]{tail}'
        )

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        return f'{head}{index},"delta":{{}},"logprobs":null,"finish_reason":"{reason}"}}]{tail}'


class CompletionChunks(ChunkWriter):
    """``text_completion`` events (the legacy completions stream)."""

    def answers(self, body: Any) -> int:
        prompts = 1 if isinstance(body.prompt, str) else len(body.prompt)
        return prompts * int(body.n)

    def content(self, head: str, index: int, text: str, tail: str) -> str:
        return f'{head}{index},"text":{_json(text)},"logprobs":null,"finish_reason":null}}]{tail}'

    def finish(self, head: str, index: int, reason: str, tail: str) -> str:
        return f'{head}{index},"text":"","logprobs":null,"finish_reason":"{reason}"}}]{tail}'


def is_stream_request(body: Any) -> bool:
    return bool(getattr(body, "stream", False))


def is_value_request(body: Any) -> bool:
    return not getattr(body, "stream", False)
