"""The retrieval corpus (tests/fixtures/knowledge): 32 short documents written for these
tests, on unrelated topics, and 64 questions, each with the document and a phrase of the
chunk that answers it. A retrieved chunk answers a question when it holds the phrase
(whitespace aside), so the score does not depend on where the splitter cut.

Used by the recall test (tests/knowledge/test_recall.py) and by bench/rag.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "knowledge"


#: The corpus space's arguments: chunks of 64 tokens, so a document is three or four chunks
#: and the question is which of them answers (at the default 200 a document is one chunk).
SPLIT = {"embedding": {"chunk_size": 64, "chunk_overlap": 8}}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    doc: str
    answer: str

    def answered_by(self, doc_name: str, content: str) -> bool:
        return doc_name == self.doc and _flat(self.answer) in _flat(content)


def _flat(text: str) -> str:
    return " ".join(text.split())


def documents() -> dict[str, bytes]:
    """Each document's file name and bytes."""
    return {p.name: p.read_bytes() for p in sorted((CORPUS / "docs").glob("*.md"))}


def questions() -> list[Question]:
    lines = (CORPUS / "questions.jsonl").read_text().splitlines()
    return [Question(d["q"], d["doc"], d["answer"]) for d in map(json.loads, lines) if d]


@dataclass(frozen=True, slots=True)
class Scores:
    recall: float
    mrr: float
    missed: tuple[str, ...]

    def line(self) -> str:
        return f"recall@5 {self.recall:.3f}, MRR {self.mrr:.3f} ({len(self.missed)} missed)"


def score(ranked: Sequence[Sequence[tuple[str, str]]], asked: Sequence[Question]) -> Scores:
    """recall@k and MRR of each question's ranked (doc_name, content) list (k: its length)."""
    hits = 0
    reciprocal = 0.0
    missed: list[str] = []
    for found, question in zip(ranked, asked, strict=True):
        rank = next(
            (i for i, (doc, text) in enumerate(found, 1) if question.answered_by(doc, text)), None
        )
        if rank is None:
            missed.append(question.text)
            continue
        hits += 1
        reciprocal += 1.0 / rank
    return Scores(hits / len(asked), reciprocal / len(asked), tuple(missed))
