"""Datasource operators for flows: ``sql.query`` (rows of a read-only query) and
``sql.schema`` (the summary of the tables a question is about).

Both name a datasource registered with the server (``POST /api/v1/chat/db/add``) by its
``db_name``. Every statement goes through the same gate as chat (:func:`check_sql`: one
reading statement, a LIMIT of at most ``max_rows``) and the same sandboxed, read-only
connection with a statement timeout (:func:`connector_for`).

    nodes:
      users: {op: sql.query, params: {datasource: shop, sql: "SELECT name FROM users"}}
      rows: {op: sql.query, params: {datasource: shop}}   # the input is the SQL
      tables: {op: sql.schema, params: {datasource: shop, top_k: 3}}
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from awel import MapOperator
from awel.builtin import fields_of
from awel.errors import AwelError
from awel.registry import OperatorParams

from ..storage import Datasource, current_store
from .connector import QueryResult, connector_for
from .gate import DEFAULT_MAX_ROWS
from .schema import rebuild_summaries, search_tables

__all__ = [
    "NoSQL",
    "SqlQuery",
    "SqlQueryParams",
    "SqlSchema",
    "SqlSchemaParams",
    "question_of",
    "rows_of",
    "run_sql",
    "schema_summary",
]


class NoSQL(AwelError):
    """``sql.query`` was given neither a ``sql`` parameter nor SQL as its input."""

    code = "sql.missing"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="sql")


class NoQuestion(AwelError):
    """The input has no question to look the schema up for."""

    code = "sql.no_question"


def rows_of(result: QueryResult) -> list[dict[str, Any]]:
    """A result's rows as dicts by column name."""
    return [dict(zip(result.columns, row, strict=False)) for row in result.rows]


async def run_sql(db_name: str, sql: str, *, max_rows: int, timeout: float) -> QueryResult:
    """``sql`` on the datasource ``db_name``, through the gate and the read-only sandbox."""
    ds = await current_store().datasources.require(db_name)
    return await connector_for(ds).run_query(sql, max_rows=max_rows, timeout=timeout)


async def schema_summary(ds: Datasource, question: str, *, top_k: int) -> str:
    """The summaries of the ``top_k`` tables of ``ds`` most related to ``question``."""
    store = current_store()
    if not await store.summaries.list(ds.db_name):
        # Never summarised (added straight to the store, or the build after db/add failed).
        await rebuild_summaries(store, ds)
    tables = await search_tables(store, ds.db_name, question, top_k=top_k)
    return "\n\n".join(t.summary for t in tables)


def question_of(value: Any) -> str:
    """The question an input asks: a string, or a dict's (or a request model's)
    ``question``, ``user_input`` or ``prompt``."""
    if isinstance(value, str) and value.strip():
        return value
    fields = fields_of(value)
    if fields:
        for key in ("question", "user_input", "prompt"):
            found = fields.get(key)
            if isinstance(found, str) and found.strip():
                return found
    raise NoQuestion(
        f"the input is {type(value).__name__}; give the question as a string or a dict's 'question'"
    )


class _OnDatasource(OperatorParams):
    datasource: str = Field(
        min_length=1, description="The registered datasource's name (its db_name)."
    )


class SqlQueryParams(_OnDatasource):
    """A read-only query on a registered datasource."""

    sql: str | None = Field(
        None,
        description="The SQL to run; unset: the input is the SQL (a string, or a dict's 'sql').",
    )
    max_rows: int = Field(
        200, ge=1, le=DEFAULT_MAX_ROWS, description="Rows returned at most (a LIMIT is added)."
    )
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds the statement may run.")


class SqlQuery(MapOperator[str | dict[str, Any] | None, list[dict[str, Any]]]):
    """Runs one reading SQL statement through the chat's gate; rows out as dicts."""

    Params = SqlQueryParams

    def __init__(self, settings: SqlQueryParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    @classmethod
    def from_params(cls, params: SqlQueryParams, **kwargs: Any) -> SqlQuery:
        return cls(params, **kwargs)

    def _sql(self, value: Any) -> str:
        if self.settings.sql is not None:
            return self.settings.sql
        if not isinstance(value, str):
            value = fields_of(value).get("sql")
        if isinstance(value, str) and value.strip():
            return value
        raise NoSQL(
            "sql.query has no SQL to run: set its 'sql' parameter or give it the SQL as its"
            f" input (a string, or a dict's 'sql'); it got {type(value).__name__}"
        )

    async def map(self, input_value: str | dict[str, Any] | None) -> list[dict[str, Any]]:
        s = self.settings
        result = await run_sql(
            s.datasource, self._sql(input_value), max_rows=s.max_rows, timeout=s.timeout
        )
        return rows_of(result)


class SqlSchemaParams(_OnDatasource):
    """Which datasource, and how many tables to describe."""

    top_k: int = Field(5, ge=1, le=50, description="Tables described at most.")


class SqlSchema(MapOperator[str | dict[str, Any], str]):
    """A question in; the summaries (columns, keys, samples) of the tables it is about out."""

    Params = SqlSchemaParams

    def __init__(self, settings: SqlSchemaParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    @classmethod
    def from_params(cls, params: SqlSchemaParams, **kwargs: Any) -> SqlSchema:
        return cls(params, **kwargs)

    async def map(self, input_value: str | dict[str, Any]) -> str:
        question = question_of(input_value)
        ds = await current_store().datasources.require(self.settings.datasource)
        return await schema_summary(ds, question, top_k=self.settings.top_k)
