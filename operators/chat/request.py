"""Request bodies of the chat routes: DB-GPT's ``ConversationVo``, the v2 chat body, the
scene parameters' query and the upload form."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from awel.trigger import UploadedFile

__all__ = [
    "ConversationVo",
    "ModeQuery",
    "UploadRequest",
    "V2ChatRequest",
    "message_text",
    "param_text",
]


def message_text(value: Any) -> str:
    """The text of a question given as a string or as an OpenAI-style message object
    (``{"role": "user", "content": "..."}``, content maybe a list of parts)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        content = value.get("content", "")
        if isinstance(content, list):
            return "".join(
                str(part.get("text", "")) if isinstance(part, dict) else str(part)
                for part in content
            )
        return "" if content is None else str(content)
    raise ValueError("must be a string or a message object with 'content'")


def param_text(value: Any) -> str:
    """``select_param`` as text: a descriptor object as its JSON, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False)


class ConversationVo(BaseModel):
    """DB-GPT's body of ``chat/prepare`` and ``chat/completions``."""

    model_config = ConfigDict(extra="allow")

    conv_uid: str = Field("", description="The conversation; empty: a new one.")
    user_input: str = Field("", description="The question (or an OpenAI user message).")
    user_name: str | None = None
    chat_mode: str | None = Field("", description="The scene; empty means chat_normal.")
    app_code: str | None = ""
    temperature: float = Field(0.5, ge=0.0, le=2.0)
    max_new_tokens: int = Field(4000, ge=1)
    select_param: str = Field(
        "", description="The scene's argument: db name, file descriptor, flow name."
    )
    model_name: str | None = Field(None, description="The model; null: the default one.")
    incremental: bool = Field(False, description="OpenAI delta chunks ending in [DONE].")
    sys_code: str | None = None
    prompt_code: str | None = None
    ext_info: dict[str, Any] = Field(default_factory=dict)
    stream_format: Literal["plain", "json"] = Field(
        "plain",
        description="Extension: the cumulative stream as DB-GPT <=0.7.2's plain text (default,"
        " which every DB-GPT web UI reads) or 0.8.2's full-message JSON.",
    )

    @field_validator("user_input", mode="before")
    @classmethod
    def _question(cls, value: Any) -> str:
        return message_text(value)

    @field_validator("select_param", mode="before")
    @classmethod
    def _param(cls, value: Any) -> str:
        return param_text(value)

    @field_validator("ext_info", mode="before")
    @classmethod
    def _ext(cls, value: Any) -> Any:
        return {} if value is None else value


class V2Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(description="system, user or assistant.")
    content: Any = Field("", description="Text, or a list of content parts.")

    @property
    def text(self) -> str:
        return message_text({"content": self.content})


class V2ChatRequest(BaseModel):
    """``POST /api/v2/chat/completions``: OpenAI's chat body plus DB-GPT's scene fields."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="The model; null: the default one.")
    messages: list[V2Message] = Field(
        min_length=1,
        description="The conversation so far: OpenAI's messages, or (as DB-GPT takes them)"
        " the question as a string, or a list of strings, each a user message.",
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, description="Most tokens to generate.")
    max_new_tokens: int | None = Field(None, ge=1, description="Deprecated alias of max_tokens.")
    stream: bool = False
    user: str | None = None
    chat_mode: str = Field("chat_normal", description="The scene; null or empty: chat_normal.")
    chat_param: Any = Field(None, description="Db name, flow name ... (unless chat_normal).")
    conv_uid: str | None = None
    user_name: str | None = None
    sys_code: str | None = None
    span_id: str | None = None
    incremental: bool = True
    enable_vis: bool = True

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, value: Any) -> Any:
        # dbgpt-client sends the question as a plain string; DB-GPT's route also takes a
        # list of strings. Each string is a user message.
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if isinstance(value, list):
            return [{"role": "user", "content": m} if isinstance(m, str) else m for m in value]
        return value

    @field_validator("chat_mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        # dbgpt-client sends chat_mode: null when none is given; DB-GPT reads it as normal.
        if value is None or (isinstance(value, str) and not value.strip()):
            return "chat_normal"
        return value.strip() if isinstance(value, str) else value


class ModeQuery(BaseModel):
    chat_mode: str = Field("chat_normal", description="The scene whose choices to list.")
    user_name: str | None = Field(
        None, description="Whose installed agents chat_agent offers (header user-id wins)."
    )


class UploadRequest(BaseModel):
    conv_uid: str = Field(description="The conversation the file belongs to.")
    chat_mode: str = Field("chat_excel", description="The scene the file is for.")
    model_name: str | None = None
    temperature: float | None = None
    max_new_tokens: int | None = None
    sys_code: str | None = None
    user_name: str | None = None
    # Typed as files: a text part is refused by name, the route gets the upload size limit,
    # and the OpenAPI document shows a multipart body.
    doc_files: list[UploadedFile] = Field(
        default_factory=list, description="The files (multipart)."
    )
    doc_file: UploadedFile | None = Field(None, description="One file (the v0.5 route's field).")
