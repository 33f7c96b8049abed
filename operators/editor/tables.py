"""The editor's schema tree: a datasource's tables and their columns, searched and paged.

Only names are read for every table; columns are read for the tables of the page asked
for (and, when searching, compared by name), so a large schema answers a page quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from operators.datasource import Connector

__all__ = ["Column", "Table", "list_tables"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    comment: str | None


@dataclass(slots=True)
class Table:
    name: str
    comment: str | None = None
    columns: list[Column] = field(default_factory=list)


def _names(conn: Connection, kind: str, schema: str | None) -> list[str]:
    if kind == "duckdb":
        rows = conn.execute(
            text(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = :s UNION ALL"
                " SELECT view_name FROM duckdb_views() WHERE schema_name = :s AND NOT internal"
            ),
            {"s": schema or "main"},
        )
        return sorted(str(r[0]) for r in rows)
    insp = inspect(conn)
    return sorted(insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema))


def _columns(conn: Connection, kind: str, schema: str | None, name: str) -> Table:
    if kind == "duckdb":
        table = Table(name)
        for column, dtype, nullable, default, comment in conn.execute(
            text(
                "SELECT column_name, data_type, is_nullable, column_default, comment FROM"
                " duckdb_columns() WHERE schema_name = :s AND table_name = :t"
                " ORDER BY column_index"
            ),
            {"s": schema or "main", "t": name},
        ):
            table.columns.append(
                Column(column, str(dtype), bool(nullable), default, comment or None)
            )
        return table
    insp = inspect(conn)
    try:
        comment = insp.get_table_comment(name, schema=schema).get("text")
    except NotImplementedError:
        comment = None
    table = Table(name, comment)
    for col in insp.get_columns(name, schema=schema):
        default = col.get("default")
        table.columns.append(
            Column(
                col["name"],
                str(col["type"]),
                bool(col.get("nullable", True)),
                str(default) if default is not None else None,
                col.get("comment"),
            )
        )
    return table


def _page(
    conn: Connection, kind: str, schema: str | None, search: str, start: int, size: int
) -> tuple[list[Table], int]:
    names = _names(conn, kind, schema)
    needle = search.strip().lower()
    if needle:
        matching = []
        for name in names:
            if needle in name.lower():
                matching.append(name)
                continue
            # A table also matches by its columns' names.
            table = _columns(conn, kind, schema, name)
            if any(needle in c.name.lower() for c in table.columns):
                matching.append(name)
        names = matching
    return [_columns(conn, kind, schema, n) for n in names[start : start + size]], len(names)


async def list_tables(
    connector: Connector, *, search: str = "", page_index: int = 1, page_size: int = 20
) -> tuple[list[Table], int]:
    """One page (1-based) of the datasource's tables whose name, or a column's, contains
    ``search`` (any case), with their columns; and how many tables match."""
    schema: Any = (connector.ds.ext_config or {}).get("schema") or None
    start = (page_index - 1) * page_size
    return await connector.run_sync(
        lambda conn: _page(conn, connector.kind, schema, search, start, page_size), timeout=60
    )
