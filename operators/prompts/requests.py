"""The body of DB-GPT's prompt routes (its ``ServeRequest``): every field optional, each
bounded so that a caller cannot store more than a prompt needs (docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["MAX_CONTENT", "PromptBody", "PromptPage"]

#: The longest template or response schema stored, in characters.
MAX_CONTENT = 65_536


class PromptBody(BaseModel):
    chat_scene: str | None = Field(None, max_length=100, description="e.g. chat_normal.")
    sub_chat_scene: str | None = Field(None, max_length=100)
    prompt_code: str | None = Field(
        None, max_length=64, description="The prompt's id; add makes one when absent."
    )
    prompt_type: str | None = Field(None, max_length=100, description="common or private.")
    prompt_name: str | None = Field(None, max_length=256)
    content: str | None = Field(
        None, max_length=MAX_CONTENT, description="The template, {variables} in braces."
    )
    prompt_desc: str | None = Field(None, max_length=512)
    response_schema: str | None = Field(None, max_length=MAX_CONTENT)
    input_variables: str | None = Field(
        None, max_length=1024, description="Comma-separated; add reads them from content."
    )
    model: str | None = Field(None, max_length=128)
    prompt_language: str | None = Field(None, max_length=32, description="en, zh ...")
    user_code: str | None = Field(None, max_length=128)
    user_name: str | None = Field(None, max_length=128)
    sys_code: str | None = Field(None, max_length=128)


class PromptPage(PromptBody):
    """``query_page``: the filters in the body, the page in the query string."""

    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=1000)
