"""Between DB-GPT's worker protocol and our engines' types.

DB-GPT's roles are ``system``, ``human``, ``ai`` and ``view`` (the last is only shown to the
user, never sent to a model); OpenAI's ``user`` and ``assistant`` are accepted too. A
request without messages, or with ``chat_model`` false, is a raw-prompt completion.
"""

from __future__ import annotations

from typing import Any

from operators.llm.types import ChatMessage, Delta, GenerationParams, GenerationRequest

from .types import ModelMessage, ModelOutput, PromptRequest

__all__ = ["generation_request", "output_of", "prompt_request"]

_TO_OURS = {"system": "system", "human": "user", "user": "user", "ai": "assistant"}
_TO_DBGPT = {"system": "system", "user": "human", "assistant": "ai"}
#: Used when a request leaves max_new_tokens out (DB-GPT's workers have their own default).
DEFAULT_MAX_NEW_TOKENS = 256


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for item in content:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text":
            text = item.get("text")
            obj = item.get("object")
            if isinstance(text, str):
                parts.append(text)
            elif isinstance(obj, dict) and isinstance(obj.get("data"), str):
                parts.append(obj["data"])
    return "".join(parts)


def generation_request(body: PromptRequest) -> GenerationRequest:
    """A worker's ``PromptRequest`` as our engines take it."""
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    params = GenerationParams(
        max_new_tokens=body.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        temperature=body.temperature if body.temperature is not None else 0.0,
        top_p=body.top_p if body.top_p is not None else 1.0,
        top_k=body.top_k or 0,
        stop=stop,
    )
    messages = [
        ChatMessage(role=_TO_OURS.get(m.role, m.role), content=_text(m.content))
        for m in body.messages
        if m.role != "view"
    ]
    if body.chat_model and messages:
        return GenerationRequest(model=body.model, messages=messages, params=params)
    prompt = body.prompt
    if prompt is None:
        prompt = "\n".join(m.content for m in messages)
    return GenerationRequest(model=body.model, prompt=prompt, params=params)


def prompt_request(request: GenerationRequest) -> PromptRequest:
    """Our request as a worker's ``PromptRequest`` (for a remote worker)."""
    p = request.params
    common: dict[str, Any] = {
        "model": request.model,
        "temperature": p.temperature,
        "top_p": p.top_p,
        "top_k": p.top_k,
        "max_new_tokens": p.max_new_tokens,
        "stop": list(p.stop) or None,
        "echo": False,
    }
    if request.messages is not None:
        messages = [
            ModelMessage(role=_TO_DBGPT.get(m.role, m.role), content=m.content)
            for m in request.messages
        ]
        return PromptRequest(messages=messages, **common)
    return PromptRequest(prompt=request.prompt or "", chat_model=False, **common)


def output_of(text: str, delta: Delta | None, model: str) -> ModelOutput:
    """A stream chunk carrying the whole ``text`` so far (workers send cumulative text)."""
    finish = delta.finish_reason if delta is not None else None
    usage = delta.usage.model_dump() if delta is not None and delta.usage is not None else None
    return ModelOutput(
        text=text,
        error_code=0,
        incremental=False,
        model_context={"model": model},
        finish_reason=finish,
        usage=usage,
    )
