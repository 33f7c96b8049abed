"""DB-GPT's two small RAG examples, sharing the knowledge space ``awel_examples``:

- ``POST /api/v1/awel/trigger/examples/rag/embedding {"url": ...}``: the page at an http(s)
  address read (by the readers uploads use), split, embedded and indexed; answers DB-GPT's
  ``"embedding success, there are N chunks."``. A ``file://`` or other non-http address is
  refused (400 ``knowledge.url_refused``); one that cannot be fetched is 502.
- ``POST /api/v1/awel/trigger/examples/rag/retrieve {"query": ...}``: the three chunks
  closest to the query, as DB-GPT's ``Chunk`` objects (``chunk_id``, ``content``,
  ``metadata``, ``score`` ...).
"""

from __future__ import annotations

from awel import DAG
from flows.awel_examples._trigger import example_post
from operators.knowledge.examples import (
    EXAMPLES_SPACE,
    AddUrl,
    AsChunks,
    EmbeddingReport,
    ExampleQuery,
    QueryBody,
    UrlBody,
)
from operators.knowledge.operators import KnowledgeRetrieve

EXAMPLE = {"label": "example"}

with DAG(
    "simple_sdk_rag_embedding_example",
    description="Read a web page into the examples' knowledge space.",
    tags=EXAMPLE,
) as embedding:
    page = example_post("/examples/rag/embedding", UrlBody, "Embed a web page")
    page >> AddUrl(task_name="document") >> EmbeddingReport(task_name="embed")

with DAG(
    "simple_sdk_rag_retriever_example",
    description="The chunks of the examples' knowledge space closest to a query.",
    tags=EXAMPLE,
) as retriever:
    chunks = KnowledgeRetrieve(EXAMPLES_SPACE, top_k=3, task_name="retrieve")
    question = example_post("/examples/rag/retrieve", QueryBody, "Retrieve chunks")
    question >> ExampleQuery(task_name="query") >> chunks >> AsChunks(task_name="chunks")
