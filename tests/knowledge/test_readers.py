"""Reading documents of each kind, and splitting them in the model's own tokens."""

from __future__ import annotations

import pytest

from operators.embed.engine import OnnxEmbedder
from operators.knowledge import UnreadableDocument
from operators.knowledge.readers import Passage, kind_of, read_document
from operators.knowledge.splitter import Splitter, tokenizer_of
from tests.knowledge.documents import docx, pdf


def test_text_and_markdown_are_decoded_whatever_their_encoding() -> None:
    assert read_document("a.txt", "café".encode()) == [Passage("café")]
    assert read_document("a.txt", "\ufeffbom".encode()) == [Passage("bom")]
    assert read_document("a.txt", "café".encode("latin-1")) == [Passage("café")]
    assert read_document("notes.MD", b"# T\n\nx") == [Passage("# T\n\nx", markdown=True)]


def test_pdf_pages_carry_their_number() -> None:
    passages = read_document("r.pdf", pdf(["The first page.", "", "The third page."]))
    assert [(p.text.strip(), p.meta) for p in passages] == [
        ("The first page.", {"page": 1}),
        ("The third page.", {"page": 3}),
    ]
    with pytest.raises(UnreadableDocument, match="not a readable PDF"):
        read_document("r.pdf", b"%PDF-1.4 nonsense")


def test_docx_headings_become_markdown_and_tables_are_kept() -> None:
    (passage,) = read_document("d.docx", docx("Returns", ["Thirty days.", "With a receipt."]))
    assert passage.markdown
    assert passage.text == "# Returns\n\nThirty days.\n\nWith a receipt.\n\ncolour | blue"
    with pytest.raises(UnreadableDocument, match="not a readable DOCX"):
        read_document("d.docx", b"PK not a zip")


def test_csv_rows_name_their_columns() -> None:
    passages = read_document("p.csv", b"name,price\nlamp,12\n,\ndesk,80\n")
    assert [(p.text, p.meta) for p in passages] == [
        ("name: lamp\nprice: 12", {"row": 1}),
        ("name: desk\nprice: 80", {"row": 3}),
    ]
    assert read_document("e.csv", b"") == []


def test_html_keeps_headings_and_text_but_not_scripts() -> None:
    html = (
        b"<html><head><title>Shop</title><style>p{}</style></head><body>"
        b"<h2>Opening hours</h2><p>Monday to   Friday.</p><script>alert(1)</script>"
        b"<ul><li>Closed on Sunday</li></ul></body></html>"
    )
    (passage,) = read_document("page.html", html)
    assert passage.meta == {"title": "Shop"} and passage.markdown
    assert passage.text == "## Opening hours\n\nMonday to Friday.\n\nClosed on Sunday"


def test_the_kind_comes_from_the_suffix_else_the_media_type() -> None:
    assert kind_of("https://x.org/a.pdf?download=1") == "pdf"
    assert kind_of("https://x.org/page", "text/html; charset=utf-8") == "html"
    with pytest.raises(UnreadableDocument, match="no reader takes") as exc:
        kind_of("photo.png", "image/png")
    assert exc.value.code == "knowledge.unreadable"


def test_chunks_fit_the_size_in_model_tokens_and_know_their_heading(
    embedder: OnnxEmbedder,
) -> None:
    tokenizer = tokenizer_of(embedder)
    assert tokenizer is not None and tokenizer.truncation is None
    splitter = Splitter.for_model(embedder, 40, 8)
    body = " ".join(f"Sentence number {n} talks about dataflow operators." for n in range(30))
    text = f"# Engines\n\n{body}\n\n## Storage\n\nRows live in SQLite.\n"
    chunks = splitter.split([Passage(text, {"page": 2}, markdown=True)])
    assert len(chunks) > 5
    assert all(splitter.count_tokens(c.text) <= 40 for c in chunks[1:])
    assert chunks[0].text.startswith("# Engines\n\nSentence number 0")  # heading kept with text
    assert all(c.meta["page"] == 2 for c in chunks)
    assert chunks[1].meta["heading"] == "Engines"
    assert chunks[-1].meta["heading"] == "Storage" or "Rows live" in chunks[-1].text
    # Neighbours share words (the overlap).
    assert set(chunks[1].text.split()[-3:]) & set(chunks[2].text.split()[:12])


def test_the_size_is_capped_at_what_the_model_reads(embedder: OnnxEmbedder) -> None:
    splitter = Splitter.for_model(embedder, 5000, 50)
    assert splitter.chunk_size == embedder.max_length - 2
    long = " ".join(["word"] * 3000)
    assert all(
        splitter.count_tokens(c.text) <= splitter.chunk_size
        for c in splitter.split([Passage(long)])
    )


def test_a_model_without_a_tokenizer_is_split_by_characters() -> None:
    splitter = Splitter(10, 0)
    chunks = splitter.split([Passage("abcd " * 40), Passage("   ")])
    assert chunks and all(len(c.text) <= 40 for c in chunks)
