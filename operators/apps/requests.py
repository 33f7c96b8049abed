"""The bodies of the app routes: DB-GPT's ``GptsAppQuery`` fields we read (the others it
sends are accepted and ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AppCode", "AppQuery", "DbgptsQuery"]


class AppQuery(BaseModel):
    # DB-GPT's web clients send the whole GptsApp form; what we do not read is ignored.
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1, le=1000)
    app_name: str | None = Field(None, max_length=255, description="Apps whose name has it.")
    user_code: str | None = Field(None, max_length=128, description="Whose agents to list.")
    sys_code: str | None = None


class DbgptsQuery(BaseModel):
    user_code: str | None = Field(None, max_length=128)
    sys_code: str | None = None


class AppCode(BaseModel):
    app_id: str = Field(max_length=255, description="An agent's name or a chat flow's uid.")
    user_code: str | None = Field(None, max_length=128, description="Whose agents to look in.")
