"""The nodes of DB-GPT's AWEL RAG examples (``flows/awel_examples/``).

- ``examples/simple_rag`` (DB-GPT up to 0.4): a ``ConversationVo``-like body naming a space
  in ``select_param``; :class:`Recall` >> :class:`RagPrompt` >> the model >> DB-GPT's
  ``ModelOutput``.
- ``examples/rag/embedding {url}`` and ``examples/rag/retrieve {query}``: DB-GPT's pair
  share one vector collection (Chroma's ``vector_name``); here they share the knowledge
  space :data:`EXAMPLES_SPACE`, made on first use with the default arguments. The URL
  is a URL document of that space, fetched (http and https only) and read by the readers
  uploads use; embedding the same address again syncs its document anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from awel import MapOperator
from operators.chat.session import model_for
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest
from operators.storage import FAILED, KnowledgeSpace

from .base import KnowledgeBase, RetrievedChunk
from .current import current_knowledge
from .errors import FetchFailed
from .fetch import check_url
from .rag import Recalled, dbgpt_chunk, recall, system_prompt, token_counter

__all__ = [
    "EXAMPLES_SPACE",
    "AddUrl",
    "AsChunks",
    "EmbeddingReport",
    "ExampleQuery",
    "QueryBody",
    "RagCall",
    "RagPrompt",
    "RagRequest",
    "Recall",
    "UrlBody",
]

#: The space the rag/embedding and rag/retrieve examples share.
EXAMPLES_SPACE = "awel_examples"


# --- simple_rag ---------------------------------------------------------------------------


class RagRequest(BaseModel):
    """DB-GPT's body of ``examples/simple_rag`` (its ``ConversationVo``)."""

    model_config = ConfigDict(extra="allow")

    conv_uid: str = Field("", description="The conversation (not stored by this example).")
    model_name: str | None = Field(None, description="The model; else the default one.")
    chat_mode: str = Field("chat_knowledge", description="Always chat_knowledge here.")
    user_input: str = Field(description="The question.")
    select_param: str = Field(description="The knowledge space to answer from, by name.")
    temperature: float = Field(0.5, ge=0.0, le=2.0)
    max_new_tokens: int = Field(1024, ge=1, description="Most tokens of the answer.")


@dataclass(frozen=True, slots=True)
class RagCall:
    """The request and what the space gave its question."""

    request: RagRequest
    recalled: Recalled


class Recall(MapOperator[RagRequest, RagCall]):
    """The chunks of the space ``select_param`` names, by its ``topk`` and ``recall_score``."""

    async def map(self, input_value: RagRequest) -> RagCall:
        found = await recall(input_value.select_param, input_value.user_input)
        return RagCall(input_value, found)


class RagPrompt(MapOperator[RagCall, GenerationRequest]):
    """The space's prompt as the system message, then the question."""

    async def map(self, input_value: RagCall) -> GenerationRequest:
        body = input_value.request
        # DB-GPT's clients name the models of their own deployment: a name not served here
        # is answered by the default model (ModelOutput's model_context says which).
        model = model_for(body.model_name)
        system = system_prompt(input_value.recalled, token_counter(model))
        return GenerationRequest(
            model=model,
            messages=[
                ChatMessage(role="system", content=system),
                ChatMessage(role="user", content=body.user_input),
            ],
            params=GenerationParams(
                max_new_tokens=body.max_new_tokens, temperature=body.temperature
            ),
        )


# --- rag/retrieve and rag/embedding -------------------------------------------------------


class QueryBody(BaseModel):
    query: str = Field(description="The question to find chunks for.")


class UrlBody(BaseModel):
    url: str = Field(description="An http(s) address to read, split, embed and index.")


async def _examples_space(kb: KnowledgeBase) -> KnowledgeSpace:
    return await kb.ensure_space(
        EXAMPLES_SPACE, desc="Documents of DB-GPT's AWEL RAG examples (rag/embedding)."
    )


class ExampleQuery(MapOperator[QueryBody, str]):
    """The question, once the examples' space exists (nothing embedded yet: no chunks)."""

    async def map(self, input_value: QueryBody) -> str:
        await _examples_space(current_knowledge())
        return input_value.query


class AsChunks(MapOperator[list[RetrievedChunk], list[dict[str, Any]]]):
    """The chunks found, as DB-GPT's ``Chunk`` objects serialise."""

    async def map(self, input_value: list[RetrievedChunk]) -> list[dict[str, Any]]:
        return [dbgpt_chunk(c) for c in input_value]


class AddUrl(MapOperator[UrlBody, int]):
    """The URL document of the examples' space for ``url`` (added unless it is there):
    its id. A non-http(s) address is refused before anything is stored."""

    async def map(self, input_value: UrlBody) -> int:
        kb = current_knowledge()
        url = check_url(input_value.url, allow_private=kb.allow_private_urls)
        space = await _examples_space(kb)
        known, _ = await kb.store.documents.list(space.id, doc_name=url, page_size=1)
        if known:
            return known[0].id
        document = await kb.add_document(space.name, url, "URL", content=url)
        return document.id


class EmbeddingReport(MapOperator[int, str]):
    """Syncs the document now; DB-GPT's sentence with its chunk count, or why it failed."""

    async def map(self, input_value: int) -> str:
        document = await current_knowledge().sync(input_value)
        if document.status == FAILED:
            raise FetchFailed(
                f"{document.content} could not be embedded: {document.result}", param="url"
            )
        return f"embedding success, there are {document.chunk_count} chunks."
