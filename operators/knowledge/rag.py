"""Retrieval-augmented answers: what a space gives a question, the prompt built from it, and
the references an answer cites (DB-GPT's ``chat_knowledge``).

    recalled = await recall("handbook", "How long is the warranty?")
    system = system_prompt(recalled, count_tokens)     # the space's template, filled in
    ...                                                # the model answers
    view = answer + "\\n\\n" + references_view(recalled.chunks)

Retrieval uses the space's own ``topk`` and ``recall_score`` (DB-GPT applies both in its
knowledge chat); the prompt is the space's ``prompt.template`` with ``{context}`` and
``{question}`` filled in (and its ``prompt.scene`` line first), the context numbered
``[1]``, ``[2]`` ... as DB-GPT numbers it so that an answer can cite its sources, and cut
at ``prompt.max_token`` tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from awel.errors import AwelError, BadRequest
from operators.storage import KnowledgeSpace

from ..models import current_models
from .arguments import SpaceArguments
from .base import RetrievedChunk
from .current import current_knowledge

__all__ = [
    "NO_CONTEXT",
    "Recalled",
    "context_text",
    "dbgpt_chunk",
    "fill_template",
    "recall",
    "references_view",
    "system_prompt",
    "token_counter",
]

#: The context when nothing scored high enough (DB-GPT's own words).
NO_CONTEXT = "no relevant docs to retrieve"


@dataclass(frozen=True, slots=True)
class Recalled:
    """A question, the space it was asked of, its settings and the chunks found (best
    first)."""

    question: str
    space: KnowledgeSpace
    arguments: SpaceArguments
    chunks: tuple[RetrievedChunk, ...]


async def recall(space_name: str, question: str, *, field: str = "select_param") -> Recalled:
    """The chunks of the space called ``space_name`` closest to ``question``, with the
    space's ``topk`` and ``recall_score``. An unknown space is the store's
    :class:`~operators.storage.UnknownSpace`; no space named, :class:`BadRequest` on
    ``field``."""
    if not space_name.strip():
        raise BadRequest("name the knowledge space to answer from", param=field)
    kb = current_knowledge()
    space = await kb.store.spaces.require(space_name.strip())
    arguments = SpaceArguments.of(space.context)
    chunks = await kb.retrieve_in(
        space,
        question,
        top_k=arguments.embedding.topk,
        score_threshold=arguments.embedding.recall_score,
    )
    return Recalled(question, space, arguments, tuple(chunks))


def token_counter(model_name: str | None) -> Callable[[str], int]:
    """The answering model's own token count, or about four characters a token when it
    cannot count (a model not loaded: generating says why)."""
    try:
        return current_models().llm(model_name or None).count_tokens
    except AwelError:
        return _about


def _about(text: str) -> int:
    return len(text) // 4 + 1


def context_text(
    chunks: Sequence[RetrievedChunk], max_tokens: int, count_tokens: Callable[[str], int]
) -> str:
    """The chunks as ``[n] text`` paragraphs, best first, as many as fit ``max_tokens``
    (the first always goes in, so a small limit still gives the model something)."""
    parts: list[str] = []
    used = 0
    for number, chunk in enumerate(chunks, 1):
        part = f"[{number}] {chunk.content.strip()}"
        cost = count_tokens(part)
        if parts and used + cost > max_tokens:
            break
        parts.append(part)
        used += cost
    return "\n\n".join(parts) if parts else NO_CONTEXT


def fill_template(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` of ``values`` replaced. Plain replacement, not
    ``str.format``: a template is a user's text, and format fields can reach attributes;
    braces the template uses otherwise (a JSON example) stay as they are."""
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


def system_prompt(recalled: Recalled, count_tokens: Callable[[str], int]) -> str:
    """The space's prompt for ``recalled``: its scene line, then its template filled with
    the context (cut at ``prompt.max_token``) and the question."""
    prompt = recalled.arguments.prompt
    context = context_text(recalled.chunks, prompt.max_token, count_tokens)
    body = fill_template(prompt.template, context=context, question=recalled.question)
    return f"{prompt.scene.strip()}\n\n{body}" if prompt.scene.strip() else body


def references_view(chunks: Sequence[RetrievedChunk]) -> str:
    """DB-GPT's references view, which its web UI shows under a knowledge answer:

        <references title="References" references="[{name, chunks: [{index, id, content,
        meta_info, recall_score}]}]" />

    one entry per document, in the order its chunks were found, ``index`` the ``[n]`` the
    context numbered the chunk with. DB-GPT strips the escaped newlines out of the JSON
    (joining the lines of a chunk); here a chunk's lines are joined with a space before,
    so that words do not run together and a backslash in the text cannot break the JSON.
    """
    documents: dict[str, dict[str, Any]] = {}
    for number, chunk in enumerate(chunks, 1):
        entry = documents.setdefault(chunk.doc_name, {"name": chunk.doc_name, "chunks": []})
        entry["chunks"].append(
            {
                "index": number,
                "id": chunk.chunk_id,
                "content": " ".join(chunk.content.splitlines()),
                "meta_info": chunk.meta_info,
                "recall_score": chunk.score,
            }
        )
    listed = json.dumps(list(documents.values()), ensure_ascii=False)
    return f'<references title="References" references="{_attribute(listed)}" />'


def _attribute(text: str) -> str:
    # Escaped as ElementTree (which DB-GPT uses) writes an attribute in double quotes.
    return escape(text, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"})


def dbgpt_chunk(chunk: RetrievedChunk) -> dict[str, Any]:
    """A retrieved chunk as DB-GPT's ``Chunk`` serialises (its retriever examples answer a
    list of them)."""
    return {
        "chunk_id": str(chunk.chunk_id),
        "chunk_name": "",
        "content": chunk.content,
        "metadata": {**chunk.meta_info, "source": chunk.doc_name},
        "score": chunk.score,
        "summary": "",
        "separator": "\n",
        "retriever": "embedding",
    }
