"""The knowledge base's errors a client can cause (the store's own, a space or document
that exists or not, are in :mod:`operators.storage.errors`)."""

from __future__ import annotations

from awel.errors import AwelError
from operators.storage import UnknownDocument

__all__ = [
    "FetchFailed",
    "IndexUnavailable",
    "UnknownDocumentName",
    "UnreadableDocument",
    "UnsupportedVectorType",
    "UrlRefused",
]


class UnsupportedVectorType(AwelError):
    """A space asked for a vector store this server does not have."""

    code = "knowledge.vector_type"

    def __init__(self, vector_type: str, known: str) -> None:
        super().__init__(
            f"the vector_type '{vector_type}' is not served here; use one of {known}",
            param="vector_type",
        )
        self.vector_type = vector_type


class IndexUnavailable(AwelError):
    """The space's index needs a service that is not configured or not reachable."""

    code = "knowledge.index_unavailable"


class UnreadableDocument(AwelError):
    """A document's bytes are not what its kind says, or are of a kind no reader takes."""

    code = "knowledge.unreadable"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="doc_file")


class UrlRefused(AwelError):
    """A URL document whose address is not http(s), or reaches into the server's own
    network: nothing local is read through it."""

    code = "knowledge.url_refused"

    def __init__(self, url: str, why: str | None = None) -> None:
        message = (
            f"'{url}' is not fetched: {why} (set allow_private_urls to allow it)"
            if why
            else f"only http:// and https:// addresses are fetched, not '{url}'"
        )
        super().__init__(message, param="content")
        self.url = url


class FetchFailed(AwelError):
    """A URL document could not be fetched (unreachable, an error status, too large)."""

    code = "knowledge.fetch_failed"


class UnknownDocumentName(UnknownDocument):
    """A space has no document of that name (DB-GPT deletes documents by name)."""

    def __init__(self, space: str, doc_name: str) -> None:
        AwelError.__init__(
            self,
            f"the knowledge space '{space}' has no document named '{doc_name}' (doc_name)",
            param="doc_name",
        )
        self.space = space
        self.doc_name = doc_name
        self.document_id = 0
