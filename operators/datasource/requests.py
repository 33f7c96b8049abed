"""The bodies of DB-GPT's datasource routes, and the datasource each stands for.

v1 (``/api/v1/chat/db/*``) speaks DB-GPT's ``DBConfig``; v2 (``/api/v2/serve/datasources``)
its serve module's ``{type, params, description}``, or the older flat form. Each form also
names its endpoint fields, so that a refusal names the field the client sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from awel.errors import BadRequest
from operators.storage import PASSWORD_MASK, Datasource

from .connector import DB_TYPES, normalise_type

#: The request's name of each endpoint field, per body form.
V1_FIELDS = {
    "type": "db_type",
    "host": "db_host",
    "port": "db_port",
    "user": "db_user",
    "database": "db_name",
    "path": "file_path",
    "password": "db_pwd",
}
_V2_FLAT_FIELDS = {**V1_FIELDS, "path": "db_path"}
_V2_PARAMS_FIELDS = {
    "type": "type",
    **{key: f"params.{key}" for key in ("host", "port", "user", "database", "path", "password")},
}


class DBConfig(BaseModel):
    """DB-GPT's body of ``db/add``, ``db/edit``, ``db/test/connect``, ``db/refresh``."""

    db_type: str = Field(description="mysql, postgresql, duckdb or sqlite.")
    db_name: str = Field(description="The datasource's name (the database, for servers).")
    file_path: str = Field("", description="The database file (sqlite, duckdb).")
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = Field("", description="Sent back masked ('******') to keep the stored one.")
    comment: str = ""
    ext_config: dict[str, Any] | None = Field(None, description="e.g. {'schema': 'sales'}.")
    writable: bool = Field(
        False,
        description="Let the SQL editor write (CREATE TABLE, INSERT, UPDATE, DELETE, ALTER"
        " TABLE); read-only when false.",
    )
    allow_ddl: bool = Field(
        False,
        description="With writable, also let the SQL editor drop or replace objects (DROP,"
        " TRUNCATE, CREATE OR REPLACE, ALTER TABLE ... DROP); refused when false.",
    )

    @field_validator("db_name")
    @classmethod
    def _named(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("db_name must not be empty")
        return value

    def datasource(self, *, keep_masked: bool) -> Datasource:
        """The datasource the body describes; with ``keep_masked``, the mask stands for the
        stored password (``db_pwd`` None)."""
        kind = normalise_type(self.db_type)
        pwd: str | None = self.db_pwd
        if keep_masked and pwd == PASSWORD_MASK:
            pwd = None
        return Datasource(
            db_type=kind,
            db_name=self.db_name,
            db_path=self.file_path if DB_TYPES[kind] else "",
            db_host=self.db_host,
            db_port=self.db_port,
            db_user=self.db_user,
            db_pwd=pwd,
            comment=self.comment,
            ext_config=self.ext_config,
            writable=self.writable,
            allow_ddl=self.allow_ddl,
        )


class DBName(BaseModel):
    db_name: str = Field(description="The datasource's name.")


class DBListQuery(BaseModel):
    db_name: str | None = Field(None, description="Only this datasource.")
    user_id: str | None = Field(None, description="Only what this user may see.")


class DBSummaryQuery(BaseModel):
    db_name: str = Field(description="The datasource's name.")
    db_type: str = Field(description="Its type.")


#: v2's ``params`` keys per field of a datasource.
_PARAMS = {
    "host": "db_host",
    "port": "db_port",
    "user": "db_user",
    "password": "db_pwd",
    "database": "db_name",
    "path": "db_path",
}


class DatasourceRequest(BaseModel):
    """v2's create/update body: ``{type, params, description}``, or the older flat form
    (``db_type``, ``db_name``, ``db_path`` ...). ``id`` picks the datasource to update."""

    id: int | None = None
    type: str | None = Field(None, description="mysql, postgresql, duckdb or sqlite.")
    params: dict[str, Any] | None = Field(
        None, description="host, port, user, password, database, path, schema."
    )
    description: str | None = None
    db_type: str | None = None
    db_name: str | None = None
    db_path: str = ""
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = ""
    comment: str = ""

    @property
    def fields(self) -> dict[str, str]:
        """The body's name of each endpoint field, for messages."""
        return _V2_PARAMS_FIELDS if self._has_params else _V2_FLAT_FIELDS

    @property
    def _has_params(self) -> bool:
        return self.type is not None or self.params is not None

    def datasource(self) -> Datasource:
        if self._has_params:
            return self._from_params()
        if not self.db_type:
            raise _bad("give type and params (or db_type and db_name)", "type")
        if not self.db_name:
            raise _bad("db_name is required", "db_name")
        kind = normalise_type(self.db_type)
        return Datasource(
            db_type=kind,
            db_name=self.db_name,
            db_path=self.db_path,
            db_host=self.db_host,
            db_port=self.db_port,
            db_user=self.db_user,
            db_pwd=None if self.db_pwd == PASSWORD_MASK else self.db_pwd,
            comment=self.comment,
        )

    def _from_params(self) -> Datasource:
        if not self.type:
            raise _bad("type is required (mysql, postgresql, duckdb or sqlite)", "type")
        kind = normalise_type(self.type)
        params = dict(self.params or {})
        fields: dict[str, Any] = {}
        for key, name in _PARAMS.items():
            if key in params and params[key] is not None:
                fields[name] = params.pop(key)
        if DB_TYPES[kind]:
            if not fields.get("db_path"):
                raise _bad(f"params.path is required for {kind}", "params.path")
            fields.setdefault("db_name", Path(str(fields["db_path"])).stem)
        elif not fields.get("db_name"):
            raise _bad(f"params.database is required for {kind}", "params.database")
        try:
            port = int(fields.get("db_port") or 0)
        except (TypeError, ValueError):
            raise _bad("params.port must be a number", "params.port") from None
        password = fields.get("db_pwd")
        ext = {k: v for k, v in params.items() if k in ("schema",)} or None
        return Datasource(
            db_type=kind,
            db_name=str(fields["db_name"]),
            db_path=str(fields.get("db_path", "")),
            db_host=str(fields.get("db_host", "")),
            db_port=port,
            db_user=str(fields.get("db_user", "")),
            db_pwd=None if password == PASSWORD_MASK else str(password or ""),
            comment=self.description or "",
            ext_config=ext,
        )


class DatasourceId(BaseModel):
    datasource_id: int = Field(description="The datasource's id.")


class Page(BaseModel):
    page: int | None = Field(None, ge=1, description="Only this page (default: the whole list).")
    page_size: int | None = Field(None, ge=1, le=1000, description="Its size (default 20).")


def _bad(message: str, field: str) -> BadRequest:
    return BadRequest(message, param=field)
