"""The bodies of DB-GPT's agent hub routes; field names and defaults are DB-GPT 0.8.2's."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AgentFilter", "AgentQuery", "DbgptsHubQuery", "HubUpdate"]


class HubUpdate(BaseModel):
    """``PluginHubParam``: which hub to sync. No ``url``: the configured hub."""

    channel: str | None = Field(None, description="git (the default with a url) or local.")
    url: str | None = Field(None, description="A git repository, or a folder for local.")
    branch: str | None = Field(None, description="The branch to clone (default: its HEAD).")
    authorization: str | None = Field(
        None, description="Accepted for DB-GPT's clients and ignored: no credential is sent."
    )


class AgentFilter(BaseModel):
    """``PluginHubFilter``: exact values an entry must have."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    author: str | None = None
    email: str | None = None
    type: str | None = None
    version: str | None = None
    storage_channel: str | None = None
    storage_url: str | None = None


class AgentQuery(BaseModel):
    """``PagenationFilter[PluginHubFilter]``: a page of the hub."""

    page_index: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Entries per page.")
    filter: AgentFilter | None = None


class DbgptsHubQuery(AgentFilter):
    """dbgpts' hub ``ServeRequest`` (body) with ``page`` and ``page_size`` (query)."""

    id: int | None = None
    page: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Entries per page.")
