"""Datasources people chat with: SQLite, DuckDB, PostgreSQL and MySQL/MariaDB.

- :func:`connector_for` (``Connector``): one shared, read-only engine per datasource;
  ``await connector.test()`` (:class:`ConnectFailed`, DB-GPT's ``E1001``), ``await
  connector.run_query(sql, max_rows=, timeout=)`` -> :class:`QueryResult` (the SQL gate
  first, a statement timeout enforced by the database).
- :func:`check_sql` (:mod:`.gate`): sqlglot in the datasource's dialect; exactly one
  reading statement, a LIMIT added or capped; :class:`SQLRejected` (``sql_rejected``) says
  why not.
- :func:`inspect_schema`, :func:`rebuild_summaries`, :func:`search_tables` (:mod:`.schema`):
  per-table summaries (columns, types, keys, comments, samples), stored in the metadata
  database with their embeddings, and the top-k tables for a question.
- :data:`DB_TYPES`, :func:`normalise_type`: the supported types and whether each is a file.
"""

from __future__ import annotations

from .connector import (
    DB_TYPES,
    BadDatasource,
    ConnectFailed,
    Connector,
    QueryFailed,
    QueryResult,
    QueryTimeout,
    UnsupportedType,
    close_connectors,
    connection_url,
    connector_for,
    forget,
    is_file_db,
    normalise_type,
)
from .gate import DEFAULT_MAX_ROWS, DIALECTS, CheckedSQL, SQLRejected, check_sql, dialect_for
from .schema import ColumnInfo, TableInfo, inspect_schema, rebuild_summaries, search_tables

__all__ = [
    "DB_TYPES",
    "DEFAULT_MAX_ROWS",
    "DIALECTS",
    "BadDatasource",
    "CheckedSQL",
    "ColumnInfo",
    "ConnectFailed",
    "Connector",
    "QueryFailed",
    "QueryResult",
    "QueryTimeout",
    "SQLRejected",
    "TableInfo",
    "UnsupportedType",
    "check_sql",
    "close_connectors",
    "connection_url",
    "connector_for",
    "dialect_for",
    "forget",
    "inspect_schema",
    "is_file_db",
    "normalise_type",
    "rebuild_summaries",
    "search_tables",
]
