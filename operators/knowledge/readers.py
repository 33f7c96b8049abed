"""Documents to text: plain text, Markdown, PDF, DOCX, CSV and HTML.

:func:`read_document` turns a document's bytes into :class:`Passage` s, the text the
splitter cuts into chunks, each with the metadata its chunks carry (the page of a PDF, the
row of a CSV). Headings survive as Markdown headings (a DOCX heading style, an HTML ``<h2>``)
so the splitter keeps sections together. Everything here is blocking (a PDF is parsed in
Python): call it in a worker thread.

    >>> read_document("notes.md", b"# Title\\n\\nSome text.")  # doctest: +SKIP
    [Passage(text='# Title\\n\\nSome text.', meta={}, markdown=True)]
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .errors import UnreadableDocument

__all__ = ["KINDS", "READABLE_SUFFIXES", "Passage", "kind_of", "read_document"]


@dataclass(frozen=True, slots=True)
class Passage:
    """Text to split, the metadata its chunks carry, and whether it is Markdown (headings
    and lists the splitter should respect)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    markdown: bool = False


def _decode(data: bytes) -> str:
    # UTF-8 (with or without a BOM) is what nearly every file is; Latin-1 reads any bytes,
    # so a legacy file is read rather than refused.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text(data: bytes) -> list[Passage]:
    return [Passage(_decode(data))]


def _markdown(data: bytes) -> list[Passage]:
    return [Passage(_decode(data), markdown=True)]


def _pdf(data: bytes) -> list[Passage]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UnreadableDocument(f"the file is not a readable PDF: {exc}") from exc
    # Pages are numbered from 1, as a reader sees them.
    return [Passage(text, {"page": n}) for n, text in enumerate(pages, 1) if text.strip()]


_HEADING_STYLE = re.compile(r"^(?:Heading|Title)\s*(\d*)$", re.IGNORECASE)


def _docx(data: bytes) -> list[Passage]:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise UnreadableDocument(f"the file is not a readable DOCX document: {exc}") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = _HEADING_STYLE.match(style or "")
        if heading:
            level = int(heading.group(1) or 1)
            lines.append(f"{'#' * min(max(level, 1), 6)} {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return [Passage("\n\n".join(lines), markdown=True)]


def _csv(data: bytes) -> list[Passage]:
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = next(rows, None)
    if header is None:
        return []
    names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    passages = []
    # One passage per row, each value named by its column (DB-GPT's CSV reader does the
    # same), so a row's chunk is understandable on its own.
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        pairs = [
            f"{names[i] if i < len(names) else f'column {i + 1}'}: {v}" for i, v in enumerate(row)
        ]
        passages.append(Passage("\n".join(pairs), {"row": number}))
    return passages


_SKIPPED_TAGS = ("script", "style", "noscript", "template", "svg", "head")


def _html(data: bytes) -> list[Passage]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(_SKIPPED_TAGS):
        tag.decompose()
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.insert_before(f"\n\n{'#' * level} ")
            heading.insert_after("\n\n")
    for block in soup.find_all(["p", "li", "pre", "blockquote", "tr", "div", "br"]):
        block.insert_after("\n\n" if block.name != "br" else "\n")
    text = soup.get_text()
    # Runs of blank lines and the spaces of indented markup are layout, not content.
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    meta = {"title": title} if title else {}
    return [Passage(text, meta, markdown=True)]


#: Readers by kind; :func:`kind_of` names the kind of a file or address.
KINDS: dict[str, Callable[[bytes], list[Passage]]] = {
    "text": _text,
    "markdown": _markdown,
    "pdf": _pdf,
    "docx": _docx,
    "csv": _csv,
    "html": _html,
}

_SUFFIXES = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".tsv": "csv",
    ".html": "html",
    ".htm": "html",
}

#: The file name endings a reader takes (``.md``, ``.pdf`` ...).
READABLE_SUFFIXES = tuple(_SUFFIXES)

_MEDIA_TYPES = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/csv": "csv",
    "text/html": "html",
    "application/xhtml+xml": "html",
}


def kind_of(name: str, media_type: str | None = None) -> str:
    """The reader for a file called ``name`` (its suffix), else for ``media_type``;
    :class:`UnreadableDocument` when neither names one."""
    suffix = PurePosixPath(name.split("?", 1)[0]).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if media_type:
        found = _MEDIA_TYPES.get(media_type.split(";", 1)[0].strip().lower())
        if found:
            return found
    known = ", ".join(sorted(_SUFFIXES))
    raise UnreadableDocument(
        f"'{name}' is of a kind no reader takes; readable files end in {known}"
    )


def read_document(name: str, data: bytes, *, media_type: str | None = None) -> list[Passage]:
    """The passages of a document called ``name`` (its kind from the suffix, else
    ``media_type``); blocking."""
    return KINDS[kind_of(name, media_type)](data)
