"""The flow API's request bodies besides the ``FlowPanel`` (:mod:`.panel`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from awel.trigger import UploadedFile


class _Lenient(BaseModel):
    # DB-GPT's clients send fields these routes do not use.
    model_config = ConfigDict(extra="ignore")


class FlowOwner(_Lenient):
    user_name: str | None = Field(
        None, max_length=128, description="Only this user's flows (and nobody's)."
    )
    sys_code: str | None = Field(None, max_length=128)


class FlowUid(FlowOwner):
    """A flow by its uid (in the path)."""

    uid: str = Field(max_length=64, description="The flow's uid.")


class FlowQuery(FlowOwner):
    """A page of flows."""

    page: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Flows per page.")
    name: str | None = Field(None, max_length=128, description="Only the flow of this name.")
    uid: str | None = Field(None, max_length=64, description="Only the flow of this uid.")


class VersionsQuery(FlowUid):
    """A page of a flow's saved versions, newest first."""

    page: int = Field(1, ge=1, description="The page, from 1.")
    page_size: int = Field(20, ge=1, le=1000, description="Versions per page.")


class Rollback(FlowUid):
    """Make an old version the flow's current one (served at once if the flow is)."""

    version: int = Field(ge=1, description="The version's number (its revision).")


class ExportQuery(FlowUid):
    """Export a flow as ``{"flow": FlowPanel}``."""

    export_type: Literal["json", "dbgpts"] = Field(
        "json",
        description="json: {flow: FlowPanel}; dbgpts: a zip package (dbgpts.toml, the YAML).",
    )
    format: Literal["json", "file"] = Field(
        "json", description="file: an attachment; json: the JSON answer."
    )
    file_name: str | None = Field(None, max_length=128, description="The attachment's name.")


class ImportForm(FlowOwner):
    """Import a flow exported as JSON (a top-level ``flow``) or as a dbgpts package (a
    ``.zip``), a multipart form."""

    file: UploadedFile = Field(description="The exported flow (.json), or a dbgpts .zip.")
    save_flow: bool = Field(False, description="Save it (else answer it, checked, unsaved).")
