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
