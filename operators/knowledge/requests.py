"""The bodies of DB-GPT's knowledge routes: v1 (``/api/v1/knowledge/*``, and the old web
UI's ``/knowledge/*``) and the serve module's v2 (``/api/v2/serve/knowledge/*``).

Field names and defaults are DB-GPT 0.8.2's. A space named in a path arrives as
``space_name``, a name no DB-GPT body uses, so a body field cannot stand in for the path.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from awel.errors import BadRequest
from awel.trigger import UploadedFile

__all__ = [
    "ArgumentSave",
    "ChunkQuery",
    "DocumentAdd",
    "DocumentId",
    "DocumentPage",
    "DocumentQuery",
    "DocumentSync",
    "DocumentUpload",
    "DocumentsForm",
    "RecallTest",
    "Retrieve",
    "SpaceId",
    "SpaceName",
    "SpacePage",
    "SpaceRequest",
    "SpaceServeRequest",
    "SyncItem",
    "V2SyncOne",
    "check_space_name",
]

#: What a space's name may not hold: it travels in URL paths (``/knowledge/{space}/...``),
#: where a slash or a control character would make it unreachable.
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")
#: The last page asked for: past it, the store's row offset would overflow its integers.
MAX_PAGE = 1_000_000_000
#: The longest space name (DB-GPT's column is 100 characters).
MAX_NAME = 100


def check_space_name(name: str | None, field: str = "name") -> str:
    """``name`` stripped, when it can name a space; :class:`BadRequest` naming ``field``."""
    name = (name or "").strip()
    if not name:
        raise BadRequest("a knowledge space needs a name", param=field)
    if len(name) > MAX_NAME:
        raise BadRequest(f"a space's name has at most {MAX_NAME} characters", param=field)
    if _BAD_NAME.search(name):
        raise BadRequest("a space's name may not hold '/', '\\' or control characters", param=field)
    return name


class _Lenient(BaseModel):
    # DB-GPT's clients send fields we do not use (index_methods, labels, questions ...).
    model_config = ConfigDict(extra="ignore")


class SpaceName(_Lenient):
    """A route whose only input is the space in its path."""

    space_name: str = Field(description="The knowledge space's name.")


class SpaceRequest(_Lenient):
    """``space/add``, ``space/list`` (every field a filter; ``{}`` lists all) and
    ``space/delete`` (``name``)."""

    id: int | None = None
    name: str | None = Field(None, description="The space's name.")
    vector_type: str | None = Field(
        None, description="Chroma or VectorStore (the embedded index), exact, PGVector."
    )
    domain_type: str = "Normal"
    desc: str | None = None
    owner: str | None = None
    space_id: int | str | None = None


class ArgumentSave(_Lenient):
    space_name: str = Field(description="The knowledge space's name.")
    argument: str = Field(
        description="The space's arguments as JSON: {embedding: {topk, recall_score,"
        " recall_type, model, chunk_size, chunk_overlap}, prompt: {max_token, scene,"
        " template}, summary: {...}}."
    )


class DocumentAdd(_Lenient):
    space_name: str = Field(description="The knowledge space's name.")
    doc_name: str | None = Field(None, description="The document's name, unique in its space.")
    doc_type: str | None = Field(None, description="TEXT (content) or URL (an http(s) address).")
    content: str | None = Field(None, description="The text (TEXT) or the address (URL).")
    source: str | None = None


class DocumentUpload(_Lenient):
    """``document/upload``, a multipart form."""

    space_name: str = Field(description="The knowledge space's name.")
    doc_name: str = Field(description="The document's name; its suffix picks the reader.")
    doc_type: str = Field("DOCUMENT", description="DOCUMENT.")
    doc_file: UploadedFile = Field(description="The file (multipart).")


class DocumentQuery(_Lenient):
    """``document/list`` (filters, paged) and ``document/delete`` (``doc_name``)."""

    space_name: str = Field(description="The knowledge space's name.")
    doc_name: str | None = Field(None, description="Documents whose name holds this.")
    doc_ids: list[int] | None = Field(None, description="Only these documents.")
    doc_type: str | None = None
    status: str | None = Field(None, description="TODO, RUNNING, FINISHED or FAILED.")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=1000)


class DocumentSync(_Lenient):
    """``document/sync``: chunk, embed and index the documents in the background. The
    space's arguments size the chunks (``chunk_size``/``chunk_overlap`` here are taken
    for DB-GPT's clients and not used: save them with ``argument/save``)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    space_name: str = Field(description="The knowledge space's name.")
    doc_ids: list[int] = Field(default_factory=list, description="The documents to sync.")
    model_name: str | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None


class SyncItem(_Lenient):
    """One document of ``document/sync_batch`` or v2's ``documents/sync``."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    # Read by the action, not the request parser: bounded here as the parser bounds ids.
    doc_id: int = Field(gt=0, lt=2**63, description="The document to sync.")
    space_id: int | str | None = None
    model_name: str | None = None
    chunk_parameters: dict[str, Any] | None = None


class ChunkQuery(_Lenient):
    space_name: str = Field(description="The knowledge space's name.")
    document_id: int | None = Field(None, description="The document whose chunks to list.")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=1000)


class RecallTest(_Lenient):
    """``recall_test``: what retrieval finds for a question (DB-GPT's field names)."""

    space_name: str = Field(description="The knowledge space's name.")
    question: str | None = Field(None, description="The question.")
    recall_top_k: int = Field(1, ge=1, le=100, description="Chunks to find.")
    recall_retrievers: list[str] | None = None
    recall_score_threshold: float | None = Field(
        -100, description="Least score kept (the space's recall_score applies too)."
    )


# --- v2 (serve module) ----------------------------------------------------------------


class SpaceServeRequest(_Lenient):
    """v2's space body (create: ``name`` needed; update: by ``id``, else by ``name``)."""

    id: int | None = Field(None, description="The space's id (update).")
    name: str | None = Field(None, description="The space's name.")
    vector_type: str | None = Field(
        None, description="Chroma or VectorStore (the embedded index), exact, PGVector."
    )
    domain_type: str | None = None
    desc: str | None = None
    owner: str | None = None
    context: str | None = Field(None, description="The space's arguments as JSON.")


class SpacePage(_Lenient):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=1000)


class SpaceId(_Lenient):
    space_id: int = Field(description="The space's id.")


class Retrieve(_Lenient):
    space_id: int = Field(description="The space's id.")
    query: str = Field(description="The question.")
    top_k: int | None = Field(5, ge=1, le=100, description="Chunks to find.")
    score_threshold: float | None = Field(0.0, description="Least cosine similarity kept.")


class DocumentsForm(_Lenient):
    """v2's ``POST /documents``: a form (or query parameters, as dbgpt-client sends)."""

    doc_name: str = Field(description="The document's name, unique in its space.")
    doc_type: str = Field(description="TEXT, DOCUMENT or URL.")
    space_id: str = Field(description="The space's id.")
    content: str | None = Field(None, description="The text (TEXT) or the address (URL).")
    doc_file: UploadedFile | None = Field(None, description="The file (DOCUMENT).")

    @field_validator("doc_file", mode="before")
    @classmethod
    def _text_is_no_file(cls, value: Any) -> Any:
        # DB-GPT's route takes a file or a string here. dbgpt-client sends every field as a
        # query parameter, doc_file included, as the text of its model's default (no file).
        return None if isinstance(value, str) else value

    @field_validator("space_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        # Past 18 digits it is no id the store holds (and would overflow its integers).
        if not value.strip().isdigit() or len(value.strip()) > 18:
            raise ValueError("space_id must be a space's id (a whole number)")
        return value.strip()


class DocumentId(_Lenient):
    document_id: int = Field(description="The document's id.")


class DocumentPage(_Lenient):
    """v2's ``GET /documents``: every space's documents, a page at a time."""

    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=1000)
    space_id: int | None = Field(None, description="Only this space's documents (ours).")


class V2SyncOne(_Lenient):
    """v2's ``documents/{document_id}/sync`` (its body is optional)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    document_id: int = Field(description="The document's id.")
    space_id: int | str | None = None
    model_name: str | None = None
    chunk_parameters: dict[str, Any] | None = None
