"""The SQL gate: every statement from a user or a model is parsed before it runs.

sqlglot parses the text in the datasource's dialect into a syntax tree; the gate looks at
the tree, never at keywords in the text, so a comment, a string literal or odd spacing
cannot smuggle a write past it. For chat (``read_only``) it allows exactly one statement of
the kinds that only read: ``SELECT`` (with ``WITH``, ``UNION`` ...), ``VALUES``, ``SHOW``,
``DESCRIBE`` and ``EXPLAIN`` of a read. Anywhere inside, a write (``INSERT``, ``UPDATE``,
``DELETE``, ``MERGE``, DDL, ``SELECT ... INTO``, ``FOR UPDATE`` locks, ``COPY``,
``ATTACH``, ``SET``, ``PRAGMA`` ...) is refused, and so are the functions that reach the
server's file system or other sessions. A query gets a ``LIMIT`` of at most ``max_rows``.

    >>> check_sql("select name from users", "sqlite", max_rows=100).sql
    'SELECT name FROM users LIMIT 100'
    >>> check_sql("DELETE FROM users", "sqlite")
    Traceback (most recent call last):
    ...
    operators.datasource.gate.SQLRejected: SQL rejected: DELETE writes to the database; ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from awel.errors import AwelError

#: Our datasource types to sqlglot's dialect names.
DIALECTS = {
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}

#: Rows a chat query returns at most unless told otherwise.
DEFAULT_MAX_ROWS = 1000

_READ_ROOTS: tuple[type[exp.Expr], ...] = (
    exp.Query,  # SELECT, UNION/INTERSECT/EXCEPT, a bracketed query
    exp.Values,
    exp.Show,
    exp.Describe,
)

#: What no statement from a user or a model may hold anywhere, by syntax-tree kind: each
#: writes, changes the session or transaction, or reaches past the database. This one table
#: serves the chat gate (which refuses every kind, anywhere) and the SQL editor (which lets
#: the writes of its list stand at the top of a statement on a writable datasource, and
#: refuses every kind inside it), so the two cannot drift apart.
REFUSED_KINDS: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.TruncateTable: "TRUNCATE",
    exp.Into: "SELECT ... INTO",
    exp.Lock: "a locking clause (FOR UPDATE/FOR SHARE)",
    exp.Copy: "COPY",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Set: "SET",
    exp.Pragma: "PRAGMA",
    exp.Use: "USE",
    exp.Transaction: "a transaction statement",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    exp.Grant: "GRANT",
    exp.Revoke: "REVOKE",
    exp.LoadData: "LOAD DATA",
    exp.Command: "a statement the parser cannot check",
}

#: Functions that read or write the server's files, run SQL given as a string (which the
#: gate cannot see), reach other databases or sessions, or change the server. Names are
#: compared as :func:`function_name` normalises them: unquoted, lower-cased, without schema.
#: The database's own sandbox refuses these too (see ``connector.py``); this is the second
#: wall, and the one that names the reason.
REFUSED_FUNCTIONS = frozenset(
    {
        # DuckDB: file readers and writers, SQL in a string, other databases, extensions
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "glob",
        "sniff_csv",
        "iceberg_scan",
        "delta_scan",
        "query",
        "query_table",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "postgres_query",
        "postgres_execute",
        "mysql_scan",
        "mysql_query",
        "mysql_execute",
        "install_extension",
        "load_extension",
        "duckdb_secrets",
        "getenv",
        # PostgreSQL: server files, large objects, SQL in a string, other databases and
        # sessions, server settings
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_stat_file",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_logdir_ls",
        "lo_import",
        "lo_export",
        "lo_get",
        "lo_put",
        "lo_from_bytea",
        "lo_create",
        "lo_creat",
        "lo_unlink",
        "lo_open",
        "loread",
        "lowrite",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "ts_stat",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_send_query",
        "dblink_open",
        "dblink_fetch",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_promote",
        "set_config",
        # MySQL/MariaDB: server files, user functions that run commands
        "load_file",
        "sys_exec",
        "sys_eval",
        # SQLite: its shell's file functions and extension loading
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
    }
)

_EXPLAIN = re.compile(r"^\s*explain\b", re.IGNORECASE)
# EXPLAIN's options before the statement (PostgreSQL's and MySQL's).
_EXPLAIN_OPTIONS = re.compile(
    r"^\s*(\((?:[^()]*)\)|verbose|costs|buffers|format\s*=?\s*\w+|extended|partitions)\s*",
    re.IGNORECASE,
)
_FILE_LIKE = re.compile(r"[/\\]|://|\.(csv|tsv|parquet|json|ndjson|jsonl|txt|gz|zst|xlsx?)$", re.I)


class SQLRejected(AwelError):
    """A statement the gate refused; the message says why."""

    code = "sql.rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(f"SQL rejected: {reason}", param="sql")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CheckedSQL:
    """A statement that passed the gate: the text to run, and what the gate did."""

    sql: str
    dialect: str
    #: The statement's kind: select, show, describe, explain, values.
    kind: str
    #: The row limit the statement now carries, or None (SHOW, DESCRIBE, EXPLAIN).
    limit: int | None


def dialect_for(db_type: str) -> str:
    """sqlglot's dialect for a datasource type (a sqlglot name passes through)."""
    return DIALECTS.get(db_type.lower(), db_type.lower())


def check_sql(
    sql: str,
    db_type: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    read_only: bool = True,
) -> CheckedSQL:
    """Parse ``sql`` in ``db_type``'s dialect and return what may run, or raise
    :class:`SQLRejected` naming why. Queries get a ``LIMIT`` no larger than ``max_rows``."""
    dialect = dialect_for(db_type)
    if not sql or not sql.strip():
        raise SQLRejected("the statement is empty")
    if _EXPLAIN.match(sql) and dialect != "mysql":
        return _check_explain(sql, db_type, dialect, max_rows=max_rows, read_only=read_only)
    statement = _parse_one(sql, dialect)
    if not read_only:
        return _limited(statement, dialect, max_rows)
    _check_read_only(statement, dialect)
    if isinstance(statement, exp.Describe):
        inner = statement.this
        if isinstance(inner, exp.Query):
            return CheckedSQL(render(statement, dialect), dialect, "explain", None)
        return CheckedSQL(render(statement, dialect), dialect, "describe", None)
    if isinstance(statement, exp.Show):
        return CheckedSQL(render(statement, dialect), dialect, "show", None)
    return _limited(statement, dialect, max_rows)


def _parse_one(sql: str, dialect: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise SQLRejected(f"it does not parse as {dialect} SQL: {_first_error(exc)}") from None
    if not statements:
        raise SQLRejected("the statement is empty")
    if len(statements) > 1:
        raise SQLRejected(
            f"it holds {len(statements)} statements; send exactly one statement at a time"
        )
    return statements[0]


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        description = first.get("description") or "syntax error"
        return f"{description} at line {first.get('line')}, column {first.get('col')}"
    return str(exc).splitlines()[0]


_READ_ONLY_HINT = "only reading statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) may run here"
_REFUSED_TUPLE = tuple(REFUSED_KINDS)


def refused_kind(node: exp.Expr) -> str | None:
    """The name :data:`REFUSED_KINDS` gives ``node``'s kind, or None if it may appear."""
    if not isinstance(node, _REFUSED_TUPLE):
        return None
    for kind, name in REFUSED_KINDS.items():
        if isinstance(node, kind):
            return name
    return None  # pragma: no cover - the tuple and the table hold the same kinds


def function_name(node: exp.Func) -> str:
    """A function's name as the database resolves it: unquoted (``"read_text"``), without
    its schema (``system.main.read_text``: sqlglot keeps the schema outside the call) and
    lower-cased, so no spelling of a refused function gets past the comparison."""
    if isinstance(node, exp.Anonymous):
        this = node.this
        raw = this.name if isinstance(this, exp.Expr) else str(this)
    else:
        raw = node.sql_name()
    return raw.strip().strip('"`[]').rsplit(".", 1)[-1].lower()


def refuse_inside(
    statement: exp.Expr,
    dialect: str,
    *,
    allowed: Sequence[exp.Expr] = (),
    found: str = "{name} writes to the database; " + _READ_ONLY_HINT,
) -> None:
    """Raise :class:`SQLRejected` at the first node of ``statement`` that is a refused kind
    (``found`` says so, with the kind's ``{name}``), calls a refused function, or (DuckDB)
    reads a file as a table. ``allowed``: nodes whose own kind the caller allowed (the
    editor's write at the top); what lies inside them is still checked."""
    for node in statement.walk():
        name = refused_kind(node)
        if name is not None and any(node is a for a in allowed):
            name = None
        if name is not None:
            if isinstance(node, exp.Command):
                raise SQLRejected(f"it contains {name} ({node.sql(dialect=dialect)[:60]!r})")
            raise SQLRejected(found.format(name=name))
        if isinstance(node, exp.Func):
            fname = function_name(node)
            if fname in REFUSED_FUNCTIONS:
                raise SQLRejected(
                    f"the function {fname}() reaches files, sessions or SQL outside the"
                    " statement, which is not allowed"
                )
        if dialect == "duckdb" and isinstance(node, exp.Table):
            name = node.name
            if name and _FILE_LIKE.search(name):
                raise SQLRejected(f"'{name}' names a file, not a table of the database")


def render(statement: exp.Expr, dialect: str) -> str:
    """The text that runs: regenerated from the checked tree, without comments (MySQL
    runs ``/*! ... */`` comments as code, and nothing unchecked should reach a database)."""
    return statement.sql(dialect=dialect, comments=False)


def _check_read_only(statement: exp.Expr, dialect: str) -> None:
    if not isinstance(statement, _READ_ROOTS):
        name = refused_kind(statement)
        if name is not None and not isinstance(statement, exp.Command):
            raise SQLRejected(f"{name} writes to the database; {_READ_ONLY_HINT}")
        raise SQLRejected(
            f"{name or statement.key.upper()} is not a reading statement; only SELECT, WITH,"
            " SHOW, DESCRIBE and EXPLAIN may run here"
        )
    refuse_inside(statement, dialect)


def _limited(statement: exp.Expr, dialect: str, max_rows: int) -> CheckedSQL:
    if not isinstance(statement, exp.Query):
        return CheckedSQL(render(statement, dialect), dialect, _kind(statement), None)
    current = _literal_limit(statement)
    limit = max_rows if current is None else min(current, max_rows)
    if current != limit or statement.args.get("limit") is None:
        statement = statement.limit(limit, dialect=dialect)
    return CheckedSQL(render(statement, dialect), dialect, "select", limit)


def _literal_limit(statement: exp.Query) -> int | None:
    node = statement.args.get("limit")
    if isinstance(node, exp.Limit):
        value = node.expression
    elif isinstance(node, exp.Fetch):
        value = node.args.get("count")
    else:
        return None
    if isinstance(value, exp.Literal) and not value.is_string:
        try:
            return int(value.this)
        except ValueError:
            return None
    return None


def _kind(statement: exp.Expr) -> str:
    return statement.key.lower()


def _check_explain(
    sql: str, db_type: str, dialect: str, *, max_rows: int, read_only: bool
) -> CheckedSQL:
    """EXPLAIN: sqlglot keeps it as an unchecked command outside MySQL, so the statement
    it explains is checked on its own. ``EXPLAIN ANALYZE`` runs the statement, so only a
    reading statement may follow it."""
    rest = _EXPLAIN.sub("", sql, count=1)
    options: list[str] = []
    while True:
        m = _EXPLAIN_OPTIONS.match(rest)
        if m is None or not m.group(1):
            break
        options.append(m.group(1))
        rest = rest[m.end() :]
    words = rest.split(None, 1)
    if words and words[0].lower() in ("analyze", "analyse", "query"):
        options.append(words[0])
        rest = words[1] if len(words) > 1 else ""
        if rest.lower().startswith("plan"):
            options.append("PLAN")
            rest = rest[4:]
    inner = check_sql(rest, db_type, max_rows=max_rows, read_only=read_only)
    prefix = " ".join(["EXPLAIN", *options])
    return CheckedSQL(f"{prefix} {inner.sql}", dialect, "explain", None)
