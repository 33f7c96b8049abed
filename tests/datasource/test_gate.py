"""The SQL gate: sqlglot's syntax tree decides, in the datasource's dialect."""

from __future__ import annotations

import pytest

from operators.datasource import SQLRejected, check_sql


@pytest.mark.parametrize(
    ("sql", "db_type", "reason"),
    [
        ("DELETE FROM users", "sqlite", "DELETE writes"),
        ("insert into users values (9, 'eve')", "postgresql", "INSERT writes"),
        ("UPDATE users SET name = 'x'", "mysql", "UPDATE writes"),
        ("DROP TABLE users", "duckdb", "DROP writes"),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "postgresql", "DELETE writes"),
        ("SELECT * INTO copy FROM users", "postgresql", "SELECT ... INTO"),
        ("SELECT * FROM users FOR UPDATE", "mysql", "locking clause"),
        ("EXPLAIN ANALYZE DELETE FROM users", "postgresql", "DELETE writes"),
        ("EXPLAIN DELETE FROM users", "mysql", "DELETE writes"),
        ("COPY users TO 'out.csv'", "duckdb", "COPY writes"),
        ("ATTACH 'other.db' AS o", "duckdb", "ATTACH writes"),
        ("PRAGMA journal_mode = DELETE", "sqlite", "PRAGMA writes"),
        ("SELECT 1; SELECT 2", "sqlite", "2 statements"),
        ("SELECT 1; DROP TABLE users", "mysql", "2 statements"),
        ("SELEC name FROM users", "sqlite", "does not parse as sqlite SQL"),
        ("   ", "sqlite", "empty"),
        ("SELECT * FROM read_csv('/etc/passwd')", "duckdb", "read_csv()"),
        ("SELECT * FROM '/etc/passwd'", "duckdb", "names a file"),
        ("SELECT pg_read_file('/etc/passwd')", "postgresql", "pg_read_file()"),
        ("SELECT LOAD_FILE('/etc/passwd')", "mysql", "load_file()"),
        ("-- only a comment\nDELETE FROM users", "sqlite", "DELETE writes"),
    ],
)
def test_refused_with_the_reason(sql: str, db_type: str, reason: str) -> None:
    with pytest.raises(SQLRejected) as caught:
        check_sql(sql, db_type)
    assert caught.value.code == "sql.rejected"
    assert reason in caught.value.message, caught.value.message
    assert caught.value.message.startswith("SQL rejected: ")


@pytest.mark.parametrize(
    ("sql", "db_type", "expected", "limit"),
    [
        ("select name from users", "sqlite", "SELECT name FROM users LIMIT 100", 100),
        ("SELECT name FROM users LIMIT 5", "postgresql", "SELECT name FROM users LIMIT 5", 5),
        (
            "SELECT name FROM users LIMIT 100000",
            "postgresql",
            "SELECT name FROM users LIMIT 100",
            100,
        ),
        # MySQL's "LIMIT offset, count" keeps its offset and gets its count capped.
        (
            "select `name` from users limit 10, 5000",
            "mysql",
            "SELECT `name` FROM users LIMIT 100 OFFSET 10",
            100,
        ),
        (
            "SELECT a FROM t UNION SELECT b FROM u",
            "duckdb",
            "SELECT a FROM t UNION SELECT b FROM u LIMIT 100",
            100,
        ),
        (
            "SELECT * FROM t FETCH FIRST 5000 ROWS ONLY",
            "postgresql",
            "SELECT * FROM t LIMIT 100",
            100,
        ),
        (
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "sqlite",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x LIMIT 100",
            100,
        ),
        # A string that looks like a second statement is only a string.
        (
            "select * from t where a = 'x; DROP TABLE t'",
            "sqlite",
            "SELECT * FROM t WHERE a = 'x; DROP TABLE t' LIMIT 100",
            100,
        ),
        ("SHOW TABLES", "mysql", "SHOW TABLES", None),
        ("DESCRIBE users", "duckdb", "DESCRIBE users", None),
        (
            "EXPLAIN SELECT * FROM users",
            "postgresql",
            "EXPLAIN SELECT * FROM users LIMIT 100",
            None,
        ),
    ],
)
def test_reads_pass_with_a_capped_limit(
    sql: str, db_type: str, expected: str, limit: int | None
) -> None:
    checked = check_sql(sql, db_type, max_rows=100)
    assert checked.sql == expected
    assert checked.limit == limit


def test_dialects_differ() -> None:
    # Backticks quote a name in MySQL; SQLite's and PostgreSQL's own quoting differs.
    assert (
        check_sql("SELECT `a b` FROM t", "mysql", max_rows=1).sql == "SELECT `a b` FROM t LIMIT 1"
    )
    # A double-quoted word is a string in MySQL, a name in PostgreSQL.
    assert check_sql('SELECT "a" FROM t', "mysql", max_rows=1).sql == "SELECT 'a' FROM t LIMIT 1"
    assert (
        check_sql('SELECT "a" FROM t', "postgresql", max_rows=1).sql == 'SELECT "a" FROM t LIMIT 1'
    )
    # SHOW is MySQL's and DuckDB's; PostgreSQL's parser does not know SHOW TABLES.
    with pytest.raises(SQLRejected):
        check_sql("SHOW TABLES", "postgresql")
    # DuckDB names files with quoted strings; SQLite does not read files that way.
    with pytest.raises(SQLRejected, match="names a file"):
        check_sql("SELECT * FROM 'data.csv'", "duckdb")


def test_write_allowed_when_not_read_only() -> None:
    assert check_sql("DELETE FROM t", "sqlite", read_only=False).sql == "DELETE FROM t"
