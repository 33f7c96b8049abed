"""Text-to-SQL on a Spider-layout fixture: what guided decoding buys in valid answers.

    python bench/text2sql.py                          # the local smollm2, both modes
    python bench/text2sql.py --model NAME             # another model built in the data dir
    python bench/text2sql.py --proxy-url http://host/v1 --proxy-model gpt-4o-mini --api-key sk-..
    python bench/text2sql.py --limit 5 --json         # a quick look, results as JSON

Each question of ``dev.json`` is asked the way the chat scene ``chat_with_db_execute`` asks
it: its prompt template (``flows/chat/prompts/text_to_sql.j2``, rendered in jinja2's sandbox
by :class:`operators.chat.prompt.PromptTemplate`) with the database's schema as the system
message, the question as the user's, greedy decoding. Two modes:

- **unguided**: JSON asked for in the prompt only, read leniently with the scene's own parser
  (:func:`operators.chat.answer.parse_sql_answer`: the first JSON object anywhere in the
  text, or a fenced ```sql block);
- **guided**: the same, with a loose form of the scene's answer schema (the same keys, any
  others allowed, strings unbounded) as :class:`~operators.llm.types.Guidance` (the local
  engine masks tokens; a proxy sends ``response_format``);
- **guided_strict**: the scene's schema as the chat scenes send it: no keys beyond its own
  (``additionalProperties: false``) and its strings capped (``thoughts`` and
  ``direct_response`` at 160 characters, ``sql`` at 400). Guidance keeps the JSON well
  formed, but a loose schema lets a small model loop inside a string, or add keys, until it
  runs out of tokens; a tight schema does not.

Scores per mode: **valid JSON** (a JSON object with the answer's keys was found), **valid
SQL** (the SQL passes :func:`operators.datasource.check_sql`'s read-only gate and executes),
and **execution accuracy** (the predicted and gold result sets are equal: as multisets, or in
order when the gold query has ``ORDER BY``; column order counts; floats compared to 1e-6).

The fixture (``bench/text2sql/``) is Spider's layout: ``tables.json``, ``dev.json`` with
``{db_id, question, query}``, and ``database/<db_id>/``, where ``<db_id>.sqlite`` is built from
``schema.sql`` when it is missing. Spider's own files can be dropped into the same layout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from operators.chat.answer import (  # noqa: E402
    DISPLAY_TYPES,
    SQL_ANSWER_SCHEMA,
    first_json,
    parse_sql_answer,
)
from operators.chat.prompt import PromptTemplate  # noqa: E402
from operators.datasource.gate import SQLRejected, check_sql  # noqa: E402
from operators.datasource.schema import ColumnInfo, TableInfo  # noqa: E402
from operators.llm.types import (  # noqa: E402
    ChatMessage,
    GenerationParams,
    GenerationRequest,
    Guidance,
    LanguageModel,
)

FIXTURE = Path(__file__).resolve().parent / "text2sql"
PROMPT = ROOT / "flows" / "chat" / "prompts" / "text_to_sql.j2"
MODES = ("unguided", "guided", "guided_strict")
#: The scene's answer schema as the chat scenes use it (mode guided_strict).
STRICT_SCHEMA: dict[str, Any] = SQL_ANSWER_SCHEMA
#: The same keys without the limits: extra keys allowed, strings unbounded (mode guided).
LOOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        key: {k: v for k, v in prop.items() if k != "maxLength"}
        for key, prop in SQL_ANSWER_SCHEMA["properties"].items()
    },
    "required": list(SQL_ANSWER_SCHEMA["required"]),
}
#: Rows a predicted query may return (the gate caps its LIMIT), as the chat scene allows.
MAX_ROWS = 200
#: Seconds a query may run before it is stopped (a model's accidental cross join).
QUERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Example:
    db_id: str
    question: str
    query: str


@dataclass(frozen=True, slots=True)
class Score:
    """One answer, scored."""

    question: str
    sql: str
    valid_json: bool
    valid_sql: bool
    correct: bool
    #: Why the SQL is not valid or not correct (None: correct).
    problem: str | None
    tokens: int = 0


# --- the fixture ----------------------------------------------------------------------------


def load_examples(root: Path = FIXTURE) -> list[Example]:
    records = json.loads((root / "dev.json").read_text(encoding="utf-8"))
    return [Example(r["db_id"], r["question"], r["query"]) for r in records]


def database(root: Path, db_id: str) -> Path:
    """``database/<db_id>/<db_id>.sqlite``, built from its ``schema.sql`` when missing."""
    folder = root / "database" / db_id
    path = folder / f"{db_id}.sqlite"
    if not path.exists():
        script = folder / "schema.sql"
        if not script.exists():
            raise FileNotFoundError(f"{path} is missing and there is no {script} to build it")
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(partial) as conn:
            conn.executescript(script.read_text(encoding="utf-8"))
        conn.close()
        partial.rename(path)
    return path


def schema_texts(root: Path = FIXTURE) -> dict[str, str]:
    """Each database's schema as the chat scenes show it (table summaries), from
    ``tables.json``."""
    out = {}
    for db in json.loads((root / "tables.json").read_text(encoding="utf-8")):
        names = db["table_names_original"]
        columns = db["column_names_original"]
        tables = [TableInfo(name) for name in names]
        references = {
            src: f"{names[columns[dst][0]]}({columns[dst][1]})" for src, dst in db["foreign_keys"]
        }
        for i, (table, column) in enumerate(columns):
            if table < 0:
                continue
            tables[table].columns.append(
                ColumnInfo(
                    column,
                    db["column_types"][i],
                    primary_key=i in db["primary_keys"],
                    references=references.get(i),
                )
            )
        out[db["db_id"]] = "\n\n".join(t.summary() for t in tables)
    return out


# --- running SQL and comparing results ------------------------------------------------------


def run_query(path: Path, sql: str, seconds: float = QUERY_SECONDS) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the database at ``path``, opened read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    deadline = time.monotonic() + seconds
    # Called every 10k virtual machine steps; a true return aborts the query.
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return round(value, 6)
    return value


def same_results(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], ordered: bool
) -> bool:
    """Equal result sets: in order when ``ordered``, else as multisets of rows."""
    g = [tuple(_cell(v) for v in row) for row in gold]
    p = [tuple(_cell(v) for v in row) for row in pred]
    if ordered:
        return g == p
    return Counter(g) == Counter(p)


def _ordered(sql: str) -> bool:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="sqlite")
    return tree.args.get("order") is not None if isinstance(tree, exp.Query) else False


def score(example: Example, text: str, db: Path, tokens: int = 0) -> Score:
    """How the answer ``text`` does on ``example``."""
    found = first_json(text)
    valid_json = isinstance(found, dict) and isinstance(found.get("sql"), str)
    sql = parse_sql_answer(text).sql

    def result(valid_sql: bool, correct: bool, problem: str | None) -> Score:
        return Score(example.question, sql, valid_json, valid_sql, correct, problem, tokens)

    if not sql:
        return result(False, False, "no SQL in the answer")
    try:
        checked = check_sql(sql, "sqlite", max_rows=MAX_ROWS)
    except SQLRejected as exc:
        return result(False, False, exc.message)
    try:
        predicted = run_query(db, checked.sql)
    except sqlite3.Error as exc:
        return result(False, False, f"does not run: {exc}")
    gold = run_query(db, example.query)
    if same_results(gold, predicted, _ordered(example.query)):
        return result(True, True, None)
    return result(True, False, f"wrong result: {predicted[:3]!r} (gold {gold[:3]!r})")


# --- asking a model -------------------------------------------------------------------------


def request(
    example: Example, schema: str, mode: str, model: str, max_tokens: int
) -> GenerationRequest:
    """The chat scene's request for ``example``, guided or not."""
    system = PromptTemplate(PROMPT).render(
        question=example.question,
        schema=schema,
        db_name=example.db_id,
        db_type="sqlite",
        top_k=MAX_ROWS,
        display_types=DISPLAY_TYPES,
    )
    answer = {"guided": LOOSE_SCHEMA, "guided_strict": STRICT_SCHEMA}.get(mode)
    guidance = Guidance(json_schema=answer) if answer is not None else None
    return GenerationRequest(
        model=model,
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=example.question),
        ],
        params=GenerationParams(max_new_tokens=max_tokens, temperature=0.0, guidance=guidance),
    )


async def evaluate(
    llm: LanguageModel,
    examples: Sequence[Example],
    mode: str,
    *,
    root: Path = FIXTURE,
    max_tokens: int = 256,
    concurrency: int = 8,
) -> list[Score]:
    """Every example through ``llm`` in ``mode``, ``concurrency`` at a time, scored."""
    schemas = schema_texts(root)
    limit = asyncio.Semaphore(concurrency)

    async def one(example: Example) -> Score:
        async with limit:
            answer = await llm.generate(
                request(example, schemas[example.db_id], mode, llm.name, max_tokens)
            )
        db = database(root, example.db_id)
        return score(example, answer.text, db, answer.usage.completion_tokens)

    return list(await asyncio.gather(*(one(e) for e in examples)))


def summary(scores: Sequence[Score]) -> dict[str, Any]:
    n = len(scores)

    def rate(flag: str) -> float:
        return sum(getattr(s, flag) for s in scores) / n if n else math.nan

    return {
        "questions": n,
        "valid_json": rate("valid_json"),
        "valid_sql": rate("valid_sql"),
        "execution_accuracy": rate("correct"),
        "mean_tokens": sum(s.tokens for s in scores) / n if n else math.nan,
    }


# --- the command ----------------------------------------------------------------------------


def _model(args: argparse.Namespace) -> LanguageModel:
    if args.proxy_url:
        from operators.llm.proxy import OpenAIProxyLLM

        name = args.proxy_model or "upstream"
        return OpenAIProxyLLM(name, args.proxy_url, api_key=args.api_key, upstream_model=name)
    from operators.export.cache import find_model
    from operators.llm.engine import load_llm

    data = Path(args.data_dir or os.environ.get("AWEL_TEST_DATA_DIR") or ROOT / "data")
    info = find_model(data, args.model)
    if info is None:
        raise SystemExit(f"model '{args.model}' is not built in {data}: run `make models`")
    return load_llm(info.path, name=args.model, max_batch=args.concurrency)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    examples = load_examples(args.fixture)[: args.limit]
    llm = _model(args)
    report: dict[str, Any] = {"model": llm.name, "modes": {}}
    try:
        for mode in args.modes:
            start = time.perf_counter()
            scores = await evaluate(
                llm,
                examples,
                mode,
                root=args.fixture,
                max_tokens=args.max_tokens,
                concurrency=args.concurrency,
            )
            report["modes"][mode] = {
                **summary(scores),
                "seconds": time.perf_counter() - start,
                "answers": [asdict(s) for s in scores] if args.answers else None,
            }
    finally:
        await llm.aclose()
    return report


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"model {report['model']}",
        "| mode | questions | valid JSON | valid SQL | execution accuracy | mean tokens | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, r in report["modes"].items():
        lines.append(
            f"| {mode} | {r['questions']} | {r['valid_json']:.0%} | {r['valid_sql']:.0%} "
            f"| {r['execution_accuracy']:.0%} | {r['mean_tokens']:.0f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="a model built in the data dir")
    parser.add_argument("--data-dir", help="where models are built (default: data)")
    parser.add_argument("--proxy-url", help="an OpenAI-compatible upstream's base URL")
    parser.add_argument("--proxy-model", help="the upstream's model id")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--answers", action="store_true", help="every answer in the JSON")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    result = asyncio.run(main(arguments))
    print(json.dumps(result, indent=2) if arguments.json else _table(result))
