"""OpenAI's request bodies, as the model API reads them.

Parameters follow openai-python and ``shared/spec/openai-conventions.md``:

- Unknown request fields are accepted and ignored (logged once per name): clients send new
  fields long before servers know them.
- ``temperature`` left out means greedy decoding (the engine's default), not OpenAI's 1.0:
  a small local model answers far better greedily, and the same request gives the same text.
- ``max_tokens`` left out: 256 new tokens for chat, 16 for text completions (OpenAI's).
- ``response_format`` (chat): ``json_object`` constrains the answer to a JSON object and
  ``json_schema`` to its schema (guided decoding, :mod:`operators.llm.guidance`); a schema the
  grammar compiler refuses is a 400 naming ``response_format``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from operators.llm.types import GenerationParams, Guidance

log = logging.getLogger("awel.model_api")

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


class ModelPath(BaseModel):
    model: str = Field(description="A model id.")
