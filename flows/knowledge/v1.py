"""DB-GPT's v1 knowledge routes, one flow each, at ``/api/v1/knowledge`` and again at the
old web UI's ``/knowledge`` (app ``Result``).

As DB-GPT does, a failure of the knowledge base (no such space, a name taken, a file no
reader takes) is answered HTTP 200 with ``success: false``; a request that cannot be read
stays a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import Api
from operators.knowledge import routes_v1 as v1
from operators.knowledge.requests import (
    ArgumentSave,
    ChunkQuery,
    DocumentAdd,
    DocumentQuery,
    DocumentSync,
    DocumentUpload,
    RecallTest,
    SpaceName,
    SpaceRequest,
)

api = Api(
    prefix="/api/v1/knowledge",
    tags=["Knowledge"],
    response=ResponseKind.RESULT,
    errors="result",
    ok_failures=("knowledge.",),
)
# DB-GPT's old web UI calls the same routes without /api.
old_ui = replace(api, prefix="/knowledge", dag_id_suffix="_old_ui")


def both(declare: Callable[[Api], DAG]) -> tuple[DAG, DAG]:
    """The flow ``declare`` makes with the ``/api/v1/knowledge`` routes' ``Api``, and its
    twin at the old web UI's ``/knowledge``."""
    return declare(api), declare(old_ui)


space_add, space_add_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_space_add",
        path="/space/add",
        method="POST",
        body=SpaceRequest,
        action=v1.space_add,
        summary="Create a knowledge space",
    )
)
space_list, space_list_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_space_list",
        path="/space/list",
        method="POST",
        body=SpaceRequest,
        action=v1.space_list,
        summary="List knowledge spaces",
    )
)
space_delete, space_delete_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_space_delete",
        path="/space/delete",
        method="POST",
        body=SpaceRequest,
        action=v1.space_delete,
        summary="Delete a knowledge space",
    )
)
space_config, space_config_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_space_config",
        path="/space/config",
        method="GET",
        body=None,
        action=v1.space_config,
        summary="The kinds of knowledge space",
    )
)
arguments, arguments_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_arguments",
        path="/{space_name}/arguments",
        method="POST",
        body=SpaceName,
        action=v1.arguments,
        summary="A knowledge space's arguments",
    )
)
argument_save, argument_save_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_argument_save",
        path="/{space_name}/argument/save",
        method="POST",
        body=ArgumentSave,
        action=v1.argument_save,
        summary="Save a knowledge space's arguments",
    )
)
document_add, document_add_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_add",
        path="/{space_name}/document/add",
        method="POST",
        body=DocumentAdd,
        action=v1.document_add,
        summary="Add a text or URL document",
    )
)
document_upload, document_upload_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_upload",
        path="/{space_name}/document/upload",
        method="POST",
        body=DocumentUpload,
        action=v1.document_upload,
        summary="Upload a document file",
    )
)
document_list, document_list_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_list",
        path="/{space_name}/document/list",
        method="POST",
        body=DocumentQuery,
        action=v1.document_list,
        summary="List a space's documents",
    )
)
document_delete, document_delete_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_delete",
        path="/{space_name}/document/delete",
        method="POST",
        body=DocumentQuery,
        action=v1.document_delete,
        summary="Delete a document",
    )
)
document_sync, document_sync_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_sync",
        path="/{space_name}/document/sync",
        method="POST",
        body=DocumentSync,
        action=v1.document_sync,
        summary="Sync documents in the background",
    )
)
# The body is a JSON list, read by the action ({"body": [...], "space_name": ...}).
document_sync_batch, document_sync_batch_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_document_sync_batch",
        path="/{space_name}/document/sync_batch",
        method="POST",
        body=list,
        action=v1.document_sync_batch,
        summary="Sync documents in the background",
    )
)
chunk_list, chunk_list_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_chunk_list",
        path="/{space_name}/chunk/list",
        method="POST",
        body=ChunkQuery,
        action=v1.chunk_list,
        summary="List a document's chunks",
    )
)
chunk_strategies, chunk_strategies_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_chunk_strategies",
        path="/document/chunkstrategies",
        method="GET",
        body=None,
        action=v1.chunk_strategies,
        summary="How documents are split",
    )
)
recall_test, recall_test_old_ui = both(
    lambda at: at.flow(
        dag_id="knowledge_recall_test",
        path="/{space_name}/recall_test",
        method="POST",
        body=RecallTest,
        action=v1.recall_test,
        summary="What retrieval finds for a question",
    )
)
