"""DB-GPT's model controller and worker protocol, on the wire (spec section 3).

Field names, defaults and enum values are DB-GPT 0.8.2's, so its controllers, workers and
clients talk to ours. Every body tolerates fields it does not know (DB-GPT adds fields from
release to release) and refuses a bad known one with a message naming it.

A worker key is ``<model>@<worker_type>`` (``smollm2@llm``); each worker manager also
registers itself as ``WorkerManager@service``.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ERROR_PREFIX",
    "MANAGER_KEY",
    "WORKER_TYPES",
    "EmbeddingsRequest",
    "ModelInstance",
    "ModelMessage",
    "ModelMetadata",
    "ModelOutput",
    "ParameterDescription",
    "PromptRequest",
    "SupportedModel",
    "WorkerApplyOutput",
    "WorkerApplyRequest",
    "WorkerStartupRequest",
    "split_key",
    "worker_key",
]

#: The kinds of model worker DB-GPT knows.
WORKER_TYPES = ("llm", "text2vec", "reranker")
#: The key a worker manager registers itself under.
MANAGER_KEY = "WorkerManager@service"
#: What DB-GPT's worker manager puts before the reason of a failed generation.
ERROR_PREFIX = "**LLMServer Generate Error, Please CheckErrorInfo.**: "

WorkerType = Literal["llm", "text2vec", "reranker"]


def worker_key(model: str, worker_type: str) -> str:
    """``smollm2``, ``llm`` -> ``smollm2@llm``."""
    return f"{model}@{worker_type}"


def split_key(key: str) -> tuple[str, str]:
    """``smollm2@llm`` -> (``smollm2``, ``llm``)."""
    model, _, worker_type = key.rpartition("@")
    return model, worker_type


class _Wire(BaseModel):
    # Unknown fields are dropped, not refused: DB-GPT's clients send fields of newer releases.
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class ModelInstance(_Wire):
    """One registered instance of a worker key at a host and port."""

    model_name: str = Field(description="The worker key, e.g. 'smollm2@llm'.")
    host: str = Field(min_length=1)
    port: int = Field(ge=0, le=65535)
    weight: float = 1.0
    check_healthy: bool = True
    healthy: bool = False
    enabled: bool = True
    prompt_template: str | None = None
    last_heartbeat: datetime.datetime | None = None
    remove_from_registry: bool = False

    @field_validator("model_name")
    @classmethod
    def _is_key(cls, value: str) -> str:
        model, at, worker_type = value.rpartition("@")
        if not at or not model or not worker_type or "@" in model:
            raise ValueError(
                f"'{value}' is not a worker key; use '<model>@<worker_type>', e.g. 'smollm2@llm'"
            )
        return value

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"


class ModelMessage(_Wire):
    """One turn as DB-GPT sends it: roles ``system``, ``human``, ``ai``, ``view``."""

    role: str
    content: str | list[Any] = ""
    round_index: int = 0


class PromptRequest(_Wire):
    """The body of ``/api/worker/generate`` and ``/api/worker/generate_stream``."""

    model: str = Field(min_length=1, description="Model name without '@llm'.")
    messages: list[ModelMessage] = Field(default_factory=list)
    prompt: str | None = None
    temperature: float | None = Field(None, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    max_new_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    stop_token_ids: list[int] = Field(default_factory=list)
    context_len: int | None = None
    echo: bool = True
    span_id: str | None = None
    metrics: bool = False
    version: str = "v2"
    context: dict[str, Any] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    chat_model: bool = True


class ModelOutput(_Wire):
    """One ``generate`` answer or ``generate_stream`` chunk.

    We send DB-GPT's flat form (``text``), which its clients of every release read; we read
    either ``text`` or 0.8.2's ``content`` items.
    """

    text: str | None = None
    content: Any = None
    error_code: int = 0
    incremental: bool = False
    model_context: dict[str, Any] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None

    def answer(self) -> str:
        """The answer's text, from ``text`` or the ``text`` items of ``content``."""
        if self.text is not None:
            return self.text
        items = self.content if isinstance(self.content, list) else [self.content]
        parts: list[str] = []
        for item in items:
            if isinstance(item, dict) and item.get("type") == "text":
                obj = item.get("object")
                data = obj.get("data") if isinstance(obj, dict) else None
                if isinstance(data, str):
                    parts.append(data)
        return "".join(parts)

    def wire(self) -> dict[str, Any]:
        """The flat dict a worker sends."""
        return {
            "text": self.answer(),
            "error_code": self.error_code,
            "incremental": self.incremental,
            "model_context": self.model_context,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "metrics": self.metrics,
        }

    @classmethod
    def failure(cls, reason: str) -> ModelOutput:
        """DB-GPT's failed generation: error_code 1, the reason in the text."""
        return cls(text=ERROR_PREFIX + reason, error_code=1)


class EmbeddingsRequest(_Wire):
    model: str = Field(min_length=1)
    input: list[str]
    worker_type: str = "text2vec"
    span_id: str | None = None
    query: str | None = None


class CountTokenRequest(_Wire):
    model: str = Field(min_length=1)
    prompt: str


class ModelMetadataRequest(_Wire):
    model: str = Field(min_length=1)


class ModelMetadata(_Wire):
    model: str
    label: str | None = None
    context_length: int | None = None
    max_output_length: int | None = None
    description: str | None = None
    link: str | None = None
    chat_model: bool = True
    function_calling: bool = False


class WorkerApplyRequest(_Wire):
    model: str = Field(min_length=1)
    apply_type: Literal["start", "stop", "restart", "update_params"]
    worker_type: WorkerType = "llm"
    params: dict[str, Any] = Field(default_factory=dict)
    apply_user: str | None = None


class WorkerApplyOutput(_Wire):
    message: str
    success: bool = True
    timecost: float = -1


class WorkerStartupRequest(_Wire):
    """Start or stop a model on the worker manager at ``host:port``."""

    host: str = ""
    port: int = Field(0, ge=0, le=65535)
    model: str = Field(min_length=1)
    worker_type: WorkerType = "llm"
    params: dict[str, Any] = Field(default_factory=dict)
    delete_after: bool = False
    worker_name: str | None = None
    sys_code: str | None = None
    user_name: str | None = None


class ParameterDescription(_Wire):
    required: bool = False
    is_array: bool = False
    param_name: str
    param_class: str | None = None
    param_type: str
    label: str | None = None
    description: str | None = None
    default_value: Any = None
    valid_values: list[Any] | None = None
    ext_metadata: dict[str, Any] | None = None
    nested_fields: dict[str, list[ParameterDescription]] | None = None


class SupportedModel(_Wire):
    """A model a worker manager could start."""

    model: str
    worker_type: str
    provider: str = "onnx"
    path: str = ""
    path_exist: bool = False
    proxy: bool = False
    enabled: bool = True
    params: list[ParameterDescription] = Field(default_factory=list)
    description: str | None = None
    host: str | None = None
    port: int | None = None
    worker_name: str | None = None


class ParameterQuery(_Wire):
    model: str = Field(min_length=1)
    worker_type: str = "llm"


class DeregisterQuery(_Wire):
    model_name: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(ge=0, le=65535)
    remove_from_registry: bool = False


class ListQuery(_Wire):
    model_name: str | None = None
    healthy_only: bool = False
