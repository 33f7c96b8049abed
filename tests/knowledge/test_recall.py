"""Retrieval quality on the corpus of tests/fixtures/knowledge with the default embeddings
model (the ONNX build of all-MiniLM-L6-v2), chunks of 64 tokens, and the default exact
index: recall@5 at least 0.9. bench/rag.py reports the same corpus with the PyTorch
reference model beside it (bench/RESULTS.md, "Knowledge")."""

from __future__ import annotations

from operators.knowledge import KnowledgeBase

from .corpus import SPLIT, documents, questions, score

#: Chunks retrieved per question.
K = 5


async def test_recall_at_5_on_the_corpus(kb: KnowledgeBase) -> None:
    await kb.create_space("corpus", arguments=SPLIT)
    for name, data in documents().items():
        document = await kb.add_document("corpus", name, "DOCUMENT", data=data)
        synced = await kb.sync(document.id)
        assert synced.status == "FINISHED", synced.result
    asked = questions()
    assert len(asked) >= 50
    ranked = []
    for question in asked:
        found = await kb.retrieve("corpus", question.text, top_k=K)
        ranked.append([(c.doc_name, c.content) for c in found])
    scores = score(ranked, asked)
    print(f"\nall-minilm-l6-v2 (ONNX): {scores.line()}")
    assert scores.recall >= 0.9, scores
    assert scores.mrr >= 0.75, scores
