"""The bodies of DB-GPT's dialogue routes (``/api/v1/chat/dialogue/*``).

Every route reads its fields from the query string or a JSON/form body (DB-GPT's clients
send both ways); ``con_uid`` (DB-GPT's spelling) and ``conv_uid`` are both read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

__all__ = ["ConvQuery", "ExportQuery", "HistoryQuery", "ListQuery", "NewQuery", "QueryBody"]


class ListQuery(BaseModel):
    user_name: str | None = Field(None, description="Only this user's conversations.")
    user_id: str | None = Field(None, description="Alias of user_name.")
    sys_code: str | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(10, ge=1, le=1000)


class NewQuery(BaseModel):
    chat_mode: str = Field("chat_normal", description="The scene of the new conversation.")
    app_code: str | None = None
    user_name: str | None = None
    user_id: str | None = None
    sys_code: str | None = None


class ConvQuery(BaseModel):
    con_uid: str | None = Field(None, description="The conversation (DB-GPT's spelling).")
    conv_uid: str | None = Field(None, description="Alias of con_uid.")

    @model_validator(mode="after")
    def _named(self) -> ConvQuery:
        uid = (self.con_uid or self.conv_uid or "").strip()
        if not uid:
            raise ValueError("con_uid is required (the conversation's id)")
        self.con_uid = uid
        return self

    @property
    def uid(self) -> str:
        return self.con_uid or ""


class HistoryQuery(BaseModel):
    """A conversation's messages. DB-GPT's older web UI opens its chat page before any
    conversation exists and asks for ``con_uid=`` (empty): that is no conversation, so no
    messages, as DB-GPT answers it. Leaving the field out is still a bad request."""

    con_uid: str | None = Field(None, description="The conversation (DB-GPT's spelling).")
    conv_uid: str | None = Field(None, description="Alias of con_uid.")

    @model_validator(mode="after")
    def _named(self) -> HistoryQuery:
        if self.con_uid is None and self.conv_uid is None:
            raise ValueError("con_uid is required (the conversation's id)")
        self.con_uid = (self.con_uid or self.conv_uid or "").strip()
        return self

    @property
    def uid(self) -> str:
        return self.con_uid or ""


class QueryBody(BaseModel):
    chat_mode: str | None = None
    conv_uid: str | None = None
    user_name: str | None = None
    sys_code: str | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=1000)


class ExportQuery(BaseModel):
    user_name: str | None = None
    user_id: str | None = None
    sys_code: str | None = None
    format: Literal["file", "json"] = Field("file", description="file: a download; json.")
