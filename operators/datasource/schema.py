"""Schema summaries: what a model is told about a datasource's tables, and finding the
tables a question is about.

A summary is built per table with SQLAlchemy's inspector (tables, columns, types,
primary and foreign keys, comments) plus a few sample values per column. DuckDB's
SQLAlchemy dialect cannot reflect DuckDB 2's catalog, so DuckDB tables are read from
DuckDB's own catalog functions (``duckdb_columns()``, ``duckdb_constraints()``).

Summaries are stored in the metadata database; when an embeddings model is loaded, each
summary's embedding is stored beside it and :func:`search_tables` ranks tables by cosine
similarity to the question, so a large schema is searched rather than pasted whole into a
prompt. Without a model, tables are ranked by the words they share with the question.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from awel.errors import AwelError
from operators.storage import Datasource, MetadataStore, TableSummary

from .connector import Connector, connector_for

log = logging.getLogger("awel.datasource")

#: Sample values shown per column, and how long one may be.
SAMPLES = 3
SAMPLE_CHARS = 40
#: Tables summarised at most per datasource.
MAX_TABLES = 1000


@dataclass(slots=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool = True
    comment: str | None = None
    primary_key: bool = False
    references: str | None = None
    samples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TableInfo:
    name: str
    comment: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)

    def summary(self) -> str:
        """The table as one block of text for a prompt."""
        head = f"table {self.name}"
        if self.comment:
            head += f" -- {self.comment}"
        lines = [head + ":"]
        for c in self.columns:
            parts = [f"  {c.name} {c.type}"]
            if c.primary_key:
                parts.append("primary key")
            if not c.nullable and not c.primary_key:
                parts.append("not null")
            if c.references:
                parts.append(f"references {c.references}")
            if c.comment:
                parts.append(f"-- {c.comment}")
            if c.samples:
                parts.append(f"(e.g. {', '.join(c.samples)})")
            lines.append(" ".join(parts))
        return "\n".join(lines)


def _sample_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    s = str(value)
    return s if len(s) <= SAMPLE_CHARS else s[: SAMPLE_CHARS - 1] + "…"


def _add_samples(conn: Connection, table: TableInfo, schema: str | None) -> None:
    preparer = conn.dialect.identifier_preparer
    name = preparer.quote(table.name)
    if schema:
        name = f"{preparer.quote_schema(schema)}.{name}"
    try:
        rows = conn.exec_driver_sql(f"SELECT * FROM {name} LIMIT 20").fetchall()
    except Exception as exc:  # a view that fails, a table we may not read: no samples
        log.info("no samples for %s: %s", table.name, exc)
        conn.rollback()
        return
    for i, column in enumerate(table.columns):
        seen: list[str] = []
        for row in rows:
            if i >= len(row) or row[i] is None:
                continue
            value = _sample_text(row[i])
            if value not in seen:
                seen.append(value)
            if len(seen) == SAMPLES:
                break
        column.samples = seen


def _reflect(conn: Connection, schema: str | None) -> list[TableInfo]:
    """Tables and views through SQLAlchemy's inspector (SQLite, PostgreSQL, MySQL)."""
    insp = inspect(conn)
    names = (insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema))[:MAX_TABLES]
    tables: list[TableInfo] = []
    for name in names:
        try:
            comment = insp.get_table_comment(name, schema=schema).get("text")
        except NotImplementedError:
            comment = None
        pk = set(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
        refs: dict[str, str] = {}
        for fk in insp.get_foreign_keys(name, schema=schema):
            for local, remote in zip(
                fk["constrained_columns"], fk["referred_columns"], strict=False
            ):
                refs[local] = f"{fk['referred_table']}.{remote}"
        table = TableInfo(name, comment)
        for col in insp.get_columns(name, schema=schema):
            table.columns.append(
                ColumnInfo(
                    name=col["name"],
                    type=str(col["type"]),
                    nullable=bool(col.get("nullable", True)),
                    comment=col.get("comment"),
                    primary_key=col["name"] in pk,
                    references=refs.get(col["name"]),
                )
            )
        _add_samples(conn, table, schema)
        tables.append(table)
    return tables


def _reflect_duckdb(conn: Connection, schema: str | None) -> list[TableInfo]:
    where = schema or "main"
    tables: dict[str, TableInfo] = {}
    for name, comment in conn.execute(
        text(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = :s"
            " UNION ALL SELECT view_name, comment FROM duckdb_views()"
            " WHERE schema_name = :s AND NOT internal ORDER BY 1"
        ),
        {"s": where},
    ):
        tables[name] = TableInfo(name, comment or None)
    keys: dict[tuple[str, str], str] = {}
    for table_name, kind, columns, ref_table, ref_columns in conn.execute(
        text(
            "SELECT table_name, constraint_type, constraint_column_names, referenced_table,"
            " referenced_column_names FROM duckdb_constraints() WHERE schema_name = :s"
        ),
        {"s": where},
    ):
        for i, column in enumerate(columns or []):
            if kind == "PRIMARY KEY":
                keys[(table_name, column)] = "pk"
            elif kind == "FOREIGN KEY" and ref_table and ref_columns:
                keys[(table_name, column)] = (
                    f"{ref_table}.{ref_columns[min(i, len(ref_columns) - 1)]}"
                )
    for table_name, name, dtype, nullable, comment in conn.execute(
        text(
            "SELECT table_name, column_name, data_type, is_nullable, comment"
            " FROM duckdb_columns() WHERE schema_name = :s ORDER BY table_name, column_index"
        ),
        {"s": where},
    ):
        table = tables.get(table_name)
        if table is None:
            continue
        key = keys.get((table_name, name))
        table.columns.append(
            ColumnInfo(
                name=name,
                type=str(dtype),
                nullable=bool(nullable),
                comment=comment or None,
                primary_key=key == "pk",
                references=key if key not in (None, "pk") else None,
            )
        )
    out = list(tables.values())[:MAX_TABLES]
    for table in out:
        _add_samples(conn, table, schema)
    return out


async def inspect_schema(connector: Connector) -> list[TableInfo]:
    """Every table (and view) of the datasource with its columns, keys and samples."""
    schema = (connector.ds.ext_config or {}).get("schema") or None
    reflect = _reflect_duckdb if connector.kind == "duckdb" else _reflect
    return await connector.run_sync(lambda conn: reflect(conn, schema), timeout=120)


# --- summaries in the store, and searching them ------------------------------------------


def _embedder() -> Any:
    from operators.models import current_models

    try:
        return current_models().embedder()
    except AwelError:
        return None


async def rebuild_summaries(store: MetadataStore, ds: Datasource) -> list[TableSummary]:
    """Inspect the datasource again and replace its stored summaries (and embeddings)."""
    tables = await inspect_schema(connector_for(ds))
    texts = [t.summary() for t in tables]
    vectors: list[bytes | None] = [None] * len(texts)
    model = _embedder()
    name: str | None = None
    if model is not None and texts:
        try:
            embedded = np.asarray(await model.embed(texts), dtype=np.float32)
            vectors = [row.tobytes() for row in embedded]
            name = str(model.name)
        except Exception:
            log.exception("embedding the schema of '%s' failed; keeping text only", ds.db_name)
    summaries = [
        TableSummary(ds.db_name, t.name, s, name if v is not None else None, v)
        for t, s, v in zip(tables, texts, vectors, strict=True)
    ]
    await store.summaries.replace(ds.db_name, summaries)
    return summaries


_WORD = re.compile(r"[a-z0-9]+")


def _words(text_: str) -> set[str]:
    words = set(_WORD.findall(text_.lower()))
    # "users" asks about table "user" and the reverse.
    return words | {w[:-1] for w in words if w.endswith("s") and len(w) > 3}


async def search_tables(
    store: MetadataStore, db_name: str, question: str, *, top_k: int = 5
) -> list[TableSummary]:
    """The ``top_k`` table summaries most related to ``question``: by embedding cosine
    when the summaries and a model of the same name are there, else by shared words."""
    summaries = await store.summaries.list(db_name)
    if len(summaries) <= top_k:
        return summaries
    model = _embedder()
    usable = [s for s in summaries if s.vector is not None]
    if model is not None and len(usable) == len(summaries) and usable[0].embedder == model.name:
        query = np.asarray(await model.embed([question]), dtype=np.float32)[0]
        matrix = np.stack([np.frombuffer(s.vector or b"", dtype=np.float32) for s in usable])
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = (matrix @ query) / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores)[:top_k]
        return [usable[i] for i in order]
    asked = _words(question)
    scored = sorted(
        enumerate(summaries),
        key=lambda item: (-len(asked & _words(item[1].summary)), item[0]),
    )
    return [s for _, s in scored[:top_k]]
