"""Language models: their request and answer types, the local onnxruntime-genai engine, the
proxy to a hosted model, and the AWEL operators that call them."""

from .types import (
    ChatMessage,
    Completion,
    Delta,
    FinishReason,
    GenerationParams,
    GenerationRequest,
    Guidance,
    LanguageModel,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Completion",
    "Delta",
    "FinishReason",
    "GenerationParams",
    "GenerationRequest",
    "Guidance",
    "LanguageModel",
    "Usage",
]
