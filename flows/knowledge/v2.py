"""DB-GPT's serve-module knowledge routes, ``/api/v2/serve/knowledge`` (serve ``Result``),
as ``dbgpt-client`` calls them. Syncing answers once the syncs have ended."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows._route import Api
from operators.knowledge import serve
from operators.knowledge.requests import (
    DocumentId,
    DocumentPage,
    DocumentsForm,
    Retrieve,
    SpaceId,
    SpacePage,
    SpaceServeRequest,
    V2SyncOne,
)

# Spaces go by id here (by name in v1); with API keys configured, every route checks them.
api = Api(
    tags=["Knowledge"],
    prefix="/api/v2/serve/knowledge",
    response=ResponseKind.SERVE_RESULT,
)

create_space = api.flow(
    dag_id="serve_knowledge_space_create",
    path="/spaces",
    method="POST",
    body=SpaceServeRequest,
    action=serve.create_space,
    summary="Create a knowledge space",
)
update_space = api.flow(
    dag_id="serve_knowledge_space_update",
    path="/spaces",
    method="PUT",
    body=SpaceServeRequest,
    action=serve.update_space,
    summary="Update a knowledge space",
)
list_spaces = api.flow(
    dag_id="serve_knowledge_space_list",
    path="/spaces",
    method="GET",
    body=SpacePage,
    action=serve.list_spaces,
    summary="List knowledge spaces",
)
get_space = api.flow(
    dag_id="serve_knowledge_space_get",
    path="/spaces/{space_id}",
    method="GET",
    body=SpaceId,
    action=serve.get_space,
    summary="One knowledge space",
)
delete_space = api.flow(
    dag_id="serve_knowledge_space_delete",
    path="/spaces/{space_id}",
    method="DELETE",
    body=SpaceId,
    action=serve.delete_space,
    summary="Delete a knowledge space",
)
retrieve = api.flow(
    dag_id="serve_knowledge_retrieve",
    path="/spaces/{space_id}/retrieve",
    method="POST",
    body=Retrieve,
    action=serve.retrieve,
    summary="Retrieve a space's chunks for a question",
)
create_document = api.flow(
    dag_id="serve_knowledge_document_create",
    path="/documents",
    method="POST",
    body=DocumentsForm,
    action=serve.create_document,
    summary="Add a document",
)
list_documents = api.flow(
    dag_id="serve_knowledge_document_list",
    path="/documents",
    method="GET",
    body=DocumentPage,
    action=serve.list_documents,
    summary="List documents, a page at a time",
)
get_document = api.flow(
    dag_id="serve_knowledge_document_get",
    path="/documents/{document_id}",
    method="GET",
    body=DocumentId,
    action=serve.get_document,
    summary="One document",
)
delete_document = api.flow(
    dag_id="serve_knowledge_document_delete",
    path="/documents/{document_id}",
    method="DELETE",
    body=DocumentId,
    action=serve.delete_document,
    summary="Delete a document with its chunks",
)
# The body is a JSON list, read by the action ({"body": [...]}).
sync_documents = api.flow(
    dag_id="serve_knowledge_documents_sync",
    path="/documents/sync",
    method="POST",
    body=list,
    action=serve.sync_documents,
    summary="Sync documents and wait for them",
)
sync_document = api.flow(
    dag_id="serve_knowledge_document_sync",
    path="/documents/{document_id}/sync",
    method="POST",
    body=V2SyncOne,
    action=serve.sync_document,
    summary="Sync a document and wait for it",
)
