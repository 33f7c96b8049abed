"""The store's errors a client can cause, each naming what was wrong (DB-GPT's envelope
reads ``err_code`` and ``err_msg``; OpenAI-style routes read ``code`` and ``param``)."""

from __future__ import annotations

from awel.errors import ApiError


class DatasourceExists(ApiError):
    """A datasource of that name is already configured."""

    def __init__(self, db_name: str) -> None:
        super().__init__(
            400,
            f"a datasource named '{db_name}' already exists (db_name); edit it or choose"
            " another name",
            code="datasource_exists",
            err_code="E0003",
            param="db_name",
        )
        self.db_name = db_name


class UnknownDatasource(ApiError):
    """No datasource goes by that name (or id)."""

    def __init__(self, db_name: str, *, field: str = "db_name", status: int = 400) -> None:
        super().__init__(
            status,
            f"no datasource named '{db_name}' ({field}); list them with GET /api/v1/chat/db/list",
            code="datasource_not_found",
            err_code="E0003",
            param=field,
        )
        self.db_name = db_name


class StoreNotOpen(ApiError):
    """The process has no metadata store (the server opens one at start-up)."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "the metadata store is not open; it opens when the server starts",
            code="store_not_open",
            err_code="E0003",
        )
