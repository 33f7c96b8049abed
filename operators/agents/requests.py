"""The agent routes' request bodies: DB-GPT's plugin routes take their fields in the query
string, and the same fields in a JSON body are read too."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from awel.trigger import UploadedFile


class _Lenient(BaseModel):
    # DB-GPT's web UI sends fields these routes do not use.
    model_config = ConfigDict(extra="ignore")


class AgentUser(_Lenient):
    """``agent/my``: whose installs."""

    user: str | None = Field(None, description="The user (default: 'default').")
    user_name: str | None = Field(None, description="The user, from the user-id header.")


class AgentInstallRequest(AgentUser):
    """``agent/install`` and ``agent/uninstall``."""

    plugin_name: str = Field(description="The agent's name.")


class AgentUpload(AgentUser):
    """``personal/agent/upload``, a multipart form: an agent package as a zip."""

    doc_file: UploadedFile = Field(description="The package (.zip).")


class DbgptsInstall(_Lenient):
    """dbgpts' ``hub/install`` and ``my/uninstall``."""

    name: str = Field(description="The agent's name.")
    user_name: str | None = Field(None, description="The user (default: 'default').")
    type: str | None = Field(None, description="The package type (agent or flow).")


class DbgptsMyQuery(_Lenient):
    """dbgpts' ``my/query_page``: filters in the body, paging in the query."""

    name: str | None = Field(None, description="Only this agent.")
    user_name: str | None = Field(None, description="Whose installs (default: 'default').")
    page: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Items per page.")
