"""The store's errors a client can cause, each naming what was wrong (DB-GPT's envelope
reads ``err_code`` and ``err_msg``; OpenAI-style routes read ``code`` and ``param``)."""

from __future__ import annotations

from awel.errors import AwelError


class DatasourceExists(AwelError):
    """A datasource of that name is already configured."""

    code = "datasource.exists"

    def __init__(self, db_name: str) -> None:
        super().__init__(
            f"a datasource named '{db_name}' already exists (db_name); edit it or choose"
            " another name",
            param="db_name",
        )
        self.db_name = db_name


class UnknownDatasource(AwelError):
    """No datasource goes by that name."""

    code = "datasource.not_found"

    def __init__(self, db_name: str, *, field: str = "db_name") -> None:
        super().__init__(
            f"no datasource named '{db_name}' ({field}); list them with GET /api/v1/chat/db/list",
            param=field,
        )
        self.db_name = db_name


class UnknownDatasourceId(UnknownDatasource):
    """No datasource has that id: the id is part of the path, so the resource is missing."""

    code = "datasource.id_not_found"


class StoreNotOpen(AwelError):
    """The process has no metadata store (the server opens one at start-up)."""

    code = "store.not_open"

    def __init__(self) -> None:
        super().__init__("the metadata store is not open; it opens when the server starts")


class SpaceExists(AwelError):
    """A knowledge space of that name already exists."""

    code = "knowledge.space_exists"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a knowledge space named '{name}' already exists (name); choose another name",
            param="name",
        )
        self.name = name


class UnknownSpace(AwelError):
    """No knowledge space goes by that name."""

    code = "knowledge.space_not_found"

    def __init__(self, name: str, *, field: str = "space") -> None:
        super().__init__(
            f"no knowledge space named '{name}' ({field}); list them with POST"
            " /api/v1/knowledge/space/list",
            param=field,
        )
        self.name = name


class UnknownSpaceId(UnknownSpace):
    """No knowledge space has that id: the id is part of the path, so the resource is
    missing."""

    code = "knowledge.space_id_not_found"


class DocumentExists(AwelError):
    """The space already has a document of that name."""

    code = "knowledge.document_exists"

    def __init__(self, space: str, doc_name: str) -> None:
        super().__init__(
            f"the knowledge space '{space}' already has a document named '{doc_name}'"
            " (doc_name); delete it first or choose another name",
            param="doc_name",
        )
        self.space = space
        self.doc_name = doc_name


class UnknownDocument(AwelError):
    """No knowledge document has that id."""

    code = "knowledge.document_not_found"

    def __init__(self, document_id: int, *, field: str = "document_id") -> None:
        super().__init__(f"no knowledge document has the id {document_id} ({field})", param=field)
        self.document_id = document_id


class PromptExists(AwelError):
    """A stored prompt of that name already exists for that system, language and model."""

    code = "prompt.exists"

    def __init__(self, name: str, *, code: str | None = None) -> None:
        if code is not None:
            super().__init__(
                f"a prompt with prompt_code '{code}' already exists; update it or leave"
                " prompt_code out to get a new one",
                param="prompt_code",
            )
            return
        super().__init__(
            f"a prompt named '{name}' already exists for this sys_code, prompt_language and"
            " model (prompt_name); update it or choose another name",
            param="prompt_name",
        )


class UnknownPrompt(AwelError):
    """No stored prompt has that code (or name)."""

    code = "prompt.not_found"

    def __init__(self, value: str, *, field: str = "prompt_code") -> None:
        super().__init__(
            f"no stored prompt with {field} '{value}'; list them with POST /prompt/list",
            param=field,
        )
