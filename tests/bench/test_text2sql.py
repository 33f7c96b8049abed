"""bench/text2sql.py: the fixture is sound (every gold query runs and returns rows, tables.json
describes the database) and the scoring is exact, with a scripted model."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import text2sql  # noqa: E402
from operators.chat.answer import SQL_ANSWER_SCHEMA  # noqa: E402
from operators.datasource.gate import check_sql  # noqa: E402
from operators.llm.types import (  # noqa: E402
    Completion,
    Delta,
    GenerationRequest,
    Guidance,
    LanguageModel,
    Usage,
)


@pytest.fixture
def fixture(tmp_path: Path) -> Path:
    # A copy: the database is built next to its schema.sql, and tests leave the repo alone.
    root = tmp_path / "text2sql"
    shutil.copytree(text2sql.FIXTURE, root, ignore=shutil.ignore_patterns("*.sqlite"))
    return root


def test_every_gold_query_runs_and_returns_rows(fixture: Path) -> None:
    examples = text2sql.load_examples(fixture)
    assert len(examples) >= 30
    assert len({e.question for e in examples}) == len(examples)
    for example in examples:
        db = text2sql.database(fixture, example.db_id)
        # The gate passes gold SQL too, so a question is never unanswerable by design.
        checked = check_sql(example.query, "sqlite", max_rows=text2sql.MAX_ROWS)
        rows = text2sql.run_query(db, checked.sql)
        assert rows, example.question
        assert rows == text2sql.run_query(db, example.query)


def test_tables_json_describes_the_database(fixture: Path) -> None:
    import json

    (described,) = json.loads((fixture / "tables.json").read_text())
    conn = sqlite3.connect(text2sql.database(fixture, "shop"))
    names = described["table_names_original"]
    actual = {
        table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")] for table in names
    }
    listed: dict[str, list[str]] = {t: [] for t in names}
    for table, column in described["column_names_original"][1:]:
        listed[names[table]].append(column)
    assert listed == actual
    schema = text2sql.schema_texts(fixture)["shop"]
    assert "customer_id number references customers(id)" in schema


def test_result_comparison() -> None:
    same = text2sql.same_results
    assert same([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not same([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert not same([(1,), (1,)], [(1,)], ordered=False)  # multisets, not sets
    assert same([(96.914615384615,)], [(96.9146153846,)], ordered=False)
    assert same([(3,)], [(3.0,)], ordered=False)
    assert not same([("a", 1)], [(1, "a")], ordered=False)  # column order counts


class Scripted:
    """Answers each question with the text the test wrote for it."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.name = "scripted"
        self.answers = answers
        self.requests: list[GenerationRequest] = []

    async def generate(self, request: GenerationRequest) -> Completion:
        self.requests.append(request)
        assert request.messages is not None
        text = self.answers[request.messages[-1].content]
        return Completion(text=text, finish_reason="stop", usage=Usage(completion_tokens=10))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        raise NotImplementedError
        yield Delta()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        pass


ANSWERS = {
    # Right: JSON, SQL that runs, the gold result.
    "How many customers are there?": (
        'Here you go: {"thoughts": "count them", "sql": "SELECT COUNT(*) FROM customers",'
        ' "display_type": "response_table"} Anything else?'
    ),
    # No JSON, but a fenced block the lenient parser still reads: valid SQL, wrong city.
    "List the names of all customers who live in Paris.": (
        "Sure!\n```sql\nSELECT name FROM customers WHERE city = 'Lyon'\n```"
    ),
    # JSON, but a write: the gate refuses it.
    "How many customers are from France?": (
        '{"thoughts": "", "sql": "DELETE FROM customers", "display_type": "response_table"}'
    ),
    # JSON whose SQL names a column that does not exist.
    "What is the most expensive product?": (
        '{"thoughts": "", "sql": "SELECT name FROM products ORDER BY cost DESC LIMIT 1",'
        ' "display_type": "response_table"}'
    ),
    # The gold orders its rows: the same rows in another order are wrong.
    "List all product names sorted by price from cheapest to most expensive.": (
        '{"sql": "SELECT name FROM products ORDER BY price DESC", "display_type": "x"}'
    ),
    # Nothing usable at all.
    "What is the average price of all products?": "I think it is about 97.",
}


async def test_scoring_is_exact(fixture: Path) -> None:
    examples = [e for e in text2sql.load_examples(fixture) if e.question in ANSWERS]
    assert len(examples) == len(ANSWERS)
    model = Scripted(ANSWERS)
    assert isinstance(model, LanguageModel)
    scores = await text2sql.evaluate(model, examples, "unguided", root=fixture)
    got = {
        s.question: (s.valid_json, s.valid_sql, s.correct, (s.problem or "")[:20]) for s in scores
    }
    assert got == {
        "How many customers are there?": (True, True, True, ""),
        "List the names of all customers who live in Paris.": (
            False,
            True,
            False,
            "wrong result: [('Chl",
        ),
        "How many customers are from France?": (True, False, False, "SQL rejected: DELETE"),
        "What is the most expensive product?": (True, False, False, "does not run: no suc"),
        "List all product names sorted by price from cheapest to most expensive.": (
            True,
            True,
            False,
            "wrong result: [('Sma",
        ),
        "What is the average price of all products?": (False, False, False, "no SQL in the answer"),
    }
    assert text2sql.summary(scores) == {
        "questions": 6,
        "valid_json": 4 / 6,
        "valid_sql": 3 / 6,
        "execution_accuracy": 1 / 6,
        "mean_tokens": 10.0,
    }
    # The scene's prompt is the system message; unguided means no guidance.
    first = model.requests[0]
    assert first.messages is not None and "SQL expert" in first.messages[0].content
    assert all(r.params.guidance is None for r in model.requests)


async def test_guided_modes_send_the_scenes_schema(fixture: Path) -> None:
    examples = text2sql.load_examples(fixture)[:1]
    model = Scripted(ANSWERS)
    await text2sql.evaluate(model, examples, "guided", root=fixture)
    await text2sql.evaluate(model, examples, "guided_strict", root=fixture)
    loose, strict = (r.params.guidance for r in model.requests)
    assert loose == Guidance(json_schema=text2sql.LOOSE_SCHEMA)
    assert strict == Guidance(json_schema=SQL_ANSWER_SCHEMA)
    assert strict is not None and strict.json_schema is not None
    assert strict.json_schema["additionalProperties"] is False
    assert strict.json_schema["properties"]["sql"]["maxLength"] == 400
