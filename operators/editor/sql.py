"""The SQL editor's statements: checked by the chat's sqlglot gate, run with a row cap and a
timeout, and written only where the datasource allows it.

A datasource is read-only unless its ``writable`` flag is set. On a read-only one the gate
is the chat's (:func:`operators.datasource.check_sql`: one reading statement, ``LIMIT``
capped) and the statement runs on the shared read-only connector. On a writable one the
editor also runs the writes DB-GPT's editor allows: ``CREATE TABLE``, ``INSERT``,
``UPDATE``, ``DELETE`` and ``ALTER TABLE``, each one statement parsed in the datasource's
dialect, with nothing inside that reaches files, other sessions or other objects (no
``DROP``, ``COPY``, ``SELECT ... INTO``, file-reading functions ...). Those run on a
connector of the editor's own that may write, committed when the statement succeeds.

A statement the gate refuses raises :class:`OperationNotAllowed` ("Operation not allowed:
..." in DB-GPT's words). A statement that fails on the database is not an error of the
route (DB-GPT answers success with the message in ``result_info``): :func:`run_sql` returns
it in :attr:`SqlRun.error`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from awel.errors import AwelError
from operators.datasource import (
    BadDatasource,
    ConnectFailed,
    QueryFailed,
    QueryTimeout,
    SQLRejected,
    check_sql,
    connector_for,
    dialect_for,
)
from operators.datasource.gate import refuse_inside, refused_kind, render
from operators.storage import Datasource

__all__ = [
    "EDITOR_MAX_ROWS",
    "EDITOR_STATEMENTS",
    "EditorSQL",
    "OperationNotAllowed",
    "SqlRun",
    "check_editor_sql",
    "run_sql",
    "text_value",
]

#: Rows the editor returns at most.
EDITOR_MAX_ROWS = 1000
#: What the editor runs on a writable datasource (DB-GPT's list).
EDITOR_STATEMENTS = "SELECT, CREATE TABLE, INSERT, UPDATE, DELETE, ALTER TABLE"
#: What it also runs where the datasource allows DDL (``allow_ddl``).
DDL_STATEMENTS = "DROP, TRUNCATE, CREATE OR REPLACE, CREATE VIEW/INDEX, any ALTER TABLE"


class OperationNotAllowed(AwelError):
    """A statement the editor will not run; the message says why (field ``sql``)."""

    code = "sql.not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Operation not allowed: {reason}", param="sql")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EditorSQL:
    """A statement that passed the editor's gate."""

    #: The statement to run, as the gate regenerated it from its syntax tree.
    sql: str
    #: "SELECT" for reads, else the write's name ("INSERT", "CREATE TABLE" ...).
    statement: str
    #: The LIMIT a read now carries (None for writes, SHOW, EXPLAIN).
    limit: int | None

    @property
    def reads(self) -> bool:
        return self.statement == "SELECT"


def check_editor_sql(
    sql: str, ds: Datasource, *, max_rows: int = EDITOR_MAX_ROWS, field: str = "sql"
) -> EditorSQL:
    """What the editor may run of ``sql`` on ``ds``, or :class:`OperationNotAllowed`."""
    if not sql or not sql.strip():
        raise OperationNotAllowed(f"{field} is empty; send one SQL statement")
    try:
        checked = check_sql(sql, ds.db_type, max_rows=max_rows)
        return EditorSQL(checked.sql, "SELECT", checked.limit)
    except SQLRejected as exc:
        refused = exc.reason
    if not ds.writable:
        raise OperationNotAllowed(
            f"{refused}. Datasource '{ds.db_name}' is read-only; the editor writes only to a"
            f" datasource configured writable ({EDITOR_STATEMENTS})"
        )
    dialect = dialect_for(ds.db_type)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError):
        raise OperationNotAllowed(refused) from None
    if len(statements) != 1 or isinstance(statements[0], exp.Query):
        # Not one statement, or a read the gate refused (a forbidden function ...).
        raise OperationNotAllowed(refused)
    statement = statements[0]
    name = _write_name(statement, ddl=ds.allow_ddl)
    if name is None:
        raise OperationNotAllowed(
            f"{refused_kind(statement) or statement.key.upper()} is not a statement the"
            f" editor runs; it runs"
            f" {EDITOR_STATEMENTS}"
            + ("" if ds.allow_ddl else f" ({DDL_STATEMENTS} where the datasource allows DDL)")
        )
    destroys = None if ds.allow_ddl else _destroys(statement)
    if destroys is not None:
        raise OperationNotAllowed(
            f"{destroys} drops or replaces an existing object; datasource '{ds.db_name}' does"
            " not allow DDL (set allow_ddl on it to run DROP, TRUNCATE, CREATE OR REPLACE and"
            " ALTER TABLE ... DROP)"
        )
    try:
        # The same table of refused kinds and functions as the chat's gate, inside the write.
        refuse_inside(
            statement,
            dialect,
            allowed=[statement, *_ddl_actions(statement, ddl=ds.allow_ddl)],
            found="{name} may not appear inside the statement",
        )
    except SQLRejected as exc:
        raise OperationNotAllowed(exc.reason) from None
    return EditorSQL(render(statement, dialect), name, None)


def _ddl_actions(statement: exp.Expr, *, ddl: bool) -> list[exp.Expr]:
    """The ``DROP`` actions of an ``ALTER TABLE`` (``DROP COLUMN`` ...), where DDL is allowed."""
    if not ddl or not isinstance(statement, exp.Alter):
        return []
    return [a for a in statement.args.get("actions") or [] if isinstance(a, exp.Drop)]


def _write_name(statement: exp.Expr, *, ddl: bool) -> str | None:
    """The name of the write ``statement`` is, if the editor runs it (``ddl``: the
    datasource allows DDL), else None."""
    if isinstance(statement, exp.Insert):
        return "INSERT" if isinstance(statement.this, (exp.Table, exp.Schema)) else None
    if isinstance(statement, exp.Update):
        return "UPDATE"
    if isinstance(statement, exp.Delete):
        return "DELETE"
    kind = str(statement.args.get("kind") or "").upper()
    if isinstance(statement, exp.Create) and (kind == "TABLE" or (ddl and kind in _DDL_OBJECTS)):
        return f"CREATE {kind}"
    if isinstance(statement, exp.Alter) and kind == "TABLE":
        return "ALTER TABLE"
    if ddl and isinstance(statement, exp.Drop) and kind in _DDL_OBJECTS:
        return f"DROP {kind}"
    if ddl and isinstance(statement, exp.TruncateTable):
        return "TRUNCATE"
    return None


#: What DDL may create or drop where the datasource allows it.
_DDL_OBJECTS = frozenset({"TABLE", "VIEW", "INDEX"})


def _destroys(statement: exp.Expr) -> str | None:
    """What part of an allowed write drops or replaces an existing object, or None."""
    if isinstance(statement, exp.Create) and statement.args.get("replace"):
        return "CREATE OR REPLACE"
    if isinstance(statement, exp.Alter):
        for action in statement.args.get("actions") or []:
            if isinstance(action, exp.Drop):
                return "ALTER TABLE ... DROP"
            if isinstance(action, exp.AlterColumn):
                # A new type or default rewrites every value of the column.
                return "ALTER TABLE ... ALTER COLUMN"
    return None


# --- running ---------------------------------------------------------------------------


def text_value(value: Any) -> str | None:
    """A cell as DB-GPT's ``SqlRunData.values`` carries it: text, or null."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


@dataclass(frozen=True, slots=True)
class SqlRun:
    """What running one statement gave: rows (raw values), or the database's error."""

    sql: str
    columns: list[str]
    rows: list[list[Any]]
    run_cost: float
    result_info: str
    error: str | None = None
    truncated: bool = False

    def sql_run_data(self) -> dict[str, Any]:
        """DB-GPT's ``SqlRunData`` (``colunms`` is its spelling)."""
        return {
            "result_info": self.result_info,
            "run_cost": round(self.run_cost, 6),
            "colunms": list(self.columns),
            "values": [[text_value(v) for v in row] for row in self.rows],
        }


def _read_info(rows: int, truncated: bool, cap: int) -> str:
    if truncated:
        return f"{rows} rows shown: the result was capped at {cap} rows (more rows exist)"
    return f"{rows} row{'s' if rows != 1 else ''} (results are capped at {cap} rows)"


async def run_sql(
    ds: Datasource,
    checked: EditorSQL,
    *,
    max_rows: int = EDITOR_MAX_ROWS,
    timeout: float | None = None,
) -> SqlRun:
    """Run a checked statement; a database error comes back in :attr:`SqlRun.error`."""
    started = time.perf_counter()
    try:
        if not ds.writable:
            result = await connector_for(ds).run_query(
                checked.sql, max_rows=max_rows, timeout=timeout, checked=True
            )
            info = _read_info(len(result.rows), result.truncated, max_rows)
            return SqlRun(
                result.sql,
                result.columns,
                result.rows,
                result.elapsed,
                info,
                None,
                result.truncated,
            )
        writer = connector_for(ds, read_only=False)
        columns, rows, truncated, count = await writer.run_sync(
            lambda conn: _execute(conn, checked, max_rows), timeout=timeout
        )
    except (QueryFailed, QueryTimeout, ConnectFailed, BadDatasource) as exc:
        return SqlRun(checked.sql, [], [], time.perf_counter() - started, exc.message, exc.message)
    except (SQLAlchemyError, OSError) as exc:
        message = f"the statement failed on datasource '{ds.db_name}': {_reason(exc)}"
        return SqlRun(checked.sql, [], [], time.perf_counter() - started, message, message)
    cost = time.perf_counter() - started
    if checked.reads or columns:
        info = _read_info(len(rows), truncated, max_rows)
    elif count is not None and count >= 0:
        info = f"{checked.statement} done: {count} row{'s' if count != 1 else ''} affected"
    else:
        info = f"{checked.statement} done"
    return SqlRun(checked.sql, columns, rows, cost, info, None, truncated)


def _execute(
    conn: Connection, checked: EditorSQL, max_rows: int
) -> tuple[list[str], list[list[Any]], bool, int | None]:
    result = conn.exec_driver_sql(checked.sql)
    columns: list[str] = []
    rows: list[list[Any]] = []
    truncated = False
    if result.returns_rows:
        columns = list(result.keys())
        fetched = [list(r) for r in result.fetchmany(max_rows + 1)]
        rows, truncated = fetched[:max_rows], len(fetched) > max_rows
    count = result.rowcount if not checked.reads else None
    result.close()
    if not checked.reads:
        conn.commit()
    return columns, rows, truncated, count


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:500]


# --- connectors that may write ----------------------------------------------------------
