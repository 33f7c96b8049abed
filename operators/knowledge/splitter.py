"""Passages to chunks, sized in the embeddings model's own tokens.

The cutting is semantic-text-splitter's: it splits at the largest boundary that fits
(sections, then paragraphs, sentences, words), so a chunk is a heading's section or a run
of whole paragraphs where the size allows. Markdown passages (Markdown files, and DOCX and
HTML turned into Markdown by the readers) use its Markdown splitter, which knows headings,
lists and code blocks; the rest its text splitter. Each chunk's metadata names the passage's
(page, row ...), the heading it falls under and its character offset in the passage.

The tokenizer is the model's own ``tokenizer.json``, copied without its truncation (a
truncating tokenizer would call every long text short) and padding. A model that shows no
tokenizer (a stand-in in tests, a remote one) is split by characters, four to a token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from semantic_text_splitter import MarkdownSplitter, TextSplitter
from tokenizers import Tokenizer

from ..embed.types import EmbeddingModel
from .readers import Passage

__all__ = ["CHARS_PER_TOKEN", "Chunk", "Splitter", "tokenizer_of"]

#: Characters counted as one token where the model's tokenizer is not at hand.
CHARS_PER_TOKEN = 4
# Tokens the model adds around every text ([CLS] and [SEP] for BERT-like encoders).
_SPECIAL_TOKENS = 2
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document to embed, and what its stored chunk's ``meta_info`` says."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def tokenizer_of(model: EmbeddingModel) -> Tokenizer | None:
    """A copy of ``model``'s tokenizer that neither truncates nor pads, or None when the
    model shows none (only the ONNX engine does, as ``model.encoder.tokenizer``)."""
    own = getattr(getattr(model, "encoder", None), "tokenizer", None)
    if not isinstance(own, Tokenizer):
        return None
    copy = Tokenizer.from_str(own.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


class Splitter:
    """Cuts passages into chunks of at most ``chunk_size`` tokens, neighbours sharing up to
    ``chunk_overlap``. ``max_tokens`` (the model's input limit) caps the size, since what
    the model does not read would be lost. Building one is cheap; it is reusable and
    thread-safe (the cutting runs in Rust)."""

    def __init__(
        self,
        chunk_size: int,
        chunk_overlap: int = 0,
        *,
        tokenizer: Tokenizer | None = None,
        max_tokens: int | None = None,
    ) -> None:
        size = chunk_size
        if max_tokens is not None:
            size = min(size, max_tokens - _SPECIAL_TOKENS)
        size = max(size, 1)
        # An overlap as large as the chunk would never advance.
        overlap = max(0, min(chunk_overlap, size // 2))
        self.chunk_size, self.chunk_overlap = size, overlap
        self.max_tokens = max_tokens
        self.tokenizer = tokenizer
        if tokenizer is not None:
            self._text = TextSplitter.from_huggingface_tokenizer(tokenizer, size, overlap)
            self._markdown = MarkdownSplitter.from_huggingface_tokenizer(tokenizer, size, overlap)
        else:
            chars = size * CHARS_PER_TOKEN
            self._text = TextSplitter(chars, overlap * CHARS_PER_TOKEN)
            self._markdown = MarkdownSplitter(chars, overlap * CHARS_PER_TOKEN)

    @classmethod
    def for_model(cls, model: EmbeddingModel, chunk_size: int, chunk_overlap: int) -> Splitter:
        """A splitter counting ``model``'s tokens, capped at what it reads."""
        limit = getattr(model, "max_length", None)
        return cls(
            chunk_size,
            chunk_overlap,
            tokenizer=tokenizer_of(model),
            max_tokens=int(limit) if isinstance(limit, int) else None,
        )

    def split(self, passages: Sequence[Passage]) -> list[Chunk]:
        """Every passage's chunks, in order; blank passages give none."""
        chunks: list[Chunk] = []
        for passage in passages:
            if not passage.text.strip():
                continue
            splitter = self._markdown if passage.markdown else self._text
            headings = (
                [(m.start(), m.group(2)) for m in _HEADING.finditer(passage.text)]
                if passage.markdown
                else []
            )
            pending = ""  # headings whose section did not fit beside them
            for offset, text in splitter.chunk_indices(passage.text):
                if passage.markdown and _only_headings(text):
                    pending = f"{pending}\n\n{text}" if pending else text
                    continue
                if pending and self._fits(f"{pending}\n\n{text}"):
                    text = f"{pending}\n\n{text}"
                elif pending:
                    chunks.append(Chunk(pending, {**passage.meta, "offset": offset}))
                pending = ""
                meta = dict(passage.meta)
                meta["offset"] = offset
                heading = _heading_at(headings, offset)
                if heading:
                    meta["heading"] = heading
                chunks.append(Chunk(text, meta))
            if pending:
                chunks.append(Chunk(pending, dict(passage.meta)))
        return chunks

    def _fits(self, text: str) -> bool:
        # A heading put before its section's first chunk may take it past the chunk size,
        # but not past what the model reads.
        limit = (self.max_tokens or self.chunk_size * 2) - _SPECIAL_TOKENS
        return self.count_tokens(text) <= limit

    def count_tokens(self, text: str) -> int:
        """Tokens the splitter counts for ``text`` (no special tokens)."""
        if self.tokenizer is None:
            return -(-len(text) // CHARS_PER_TOKEN)
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


def _heading_at(headings: list[tuple[int, str]], offset: int) -> str | None:
    # The section the chunk starts in: the last heading at or before its start.
    found = None
    for start, title in headings:
        if start > offset:
            break
        found = title
    return found


def _only_headings(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(_HEADING.fullmatch(line.strip()) for line in lines)
