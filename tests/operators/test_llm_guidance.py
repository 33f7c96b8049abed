"""Guided decoding in the local engine, against the real default model (SmolLM2-135M).

Whatever the small model would have written, a guided answer follows its grammar: a JSON
schema's answer parses and validates, a regex's matches, and an unguided request batched
beside a guided one is untouched. Without the built model the model tests are skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from operators.export.cache import find_model
from operators.llm.engine import InvalidRequest, LocalLLM, load_llm
from operators.llm.guidance import Guide, check, grammar_tokenizer
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest, Guidance

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))

DISPLAY = ["Table", "Text", "BarChart", "LineChart", "PieChart"]
#: The answer the text-to-SQL scene asks for; lengths bounded so an answer always fits.
SQL_ANSWER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thoughts": {"type": "string", "maxLength": 160},
        "sql": {"type": "string", "maxLength": 240},
        "display_type": {"enum": DISPLAY},
    },
    "required": ["thoughts", "sql", "display_type"],
    "additionalProperties": False,
}
SYSTEM = (
    "You are a SQLite expert. Tables: customers(id, name, city), orders(id, customer_id, "
    "total, placed_on). Answer in JSON with the keys thoughts, sql and display_type."
)
QUESTIONS = [
    "How many customers live in Paris?",
    "What is the total of all orders?",
    "List the names of customers who placed an order over 100.",
    "Show the number of orders per city as a bar chart.",
]


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalLLM]:
    info = find_model(DATA_DIR, "smollm2")
    if info is None:
        pytest.skip(f"no smollm2 build in {DATA_DIR}: run `make models`")
    model = load_llm(info.path, name="smollm2", max_batch=4)
    yield model
    model.close()


def ask(question: str, guidance: Guidance | None = None, **params: Any) -> GenerationRequest:
    messages = [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(role="user", content=question),
    ]
    return GenerationRequest(
        model="smollm2",
        messages=messages,
        params=GenerationParams(guidance=guidance, **{"max_new_tokens": 200, **params}),
    )


def assert_sql_answer(text: str) -> None:
    answer = json.loads(text)
    assert set(answer) == {"thoughts", "sql", "display_type"}, answer
    assert isinstance(answer["thoughts"], str) and len(answer["thoughts"]) <= 160
    assert isinstance(answer["sql"], str) and len(answer["sql"]) <= 240
    assert answer["display_type"] in DISPLAY


# --- the Guidance type and its checks, no model ---------------------------------------------


def test_guidance_takes_exactly_one_constraint() -> None:
    with pytest.raises(ValidationError, match="exactly one of json_schema, regex or lark"):
        Guidance()
    with pytest.raises(ValidationError, match=r"got json_schema, regex"):
        Guidance(json_schema={"type": "object"}, regex="a")
    # Old callers are untouched: no guidance unless asked.
    assert GenerationParams().guidance is None
    assert GenerationParams.model_validate({"guidance": {"regex": "a+"}}).guidance == Guidance(
        regex="a+"
    )


def test_guidance_takes_onnxruntime_genais_pair_and_refuses_unknown_keys() -> None:
    pair = {"type": "json_schema", "data": json.dumps(SQL_ANSWER)}
    assert Guidance.model_validate(pair) == Guidance(json_schema=SQL_ANSWER)
    lark = Guidance.model_validate({"type": "lark_grammar", "data": 'start: "a"'})
    assert lark == Guidance(lark='start: "a"')
    assert Guidance.model_validate({"type": "regex", "data": "a+"}) == Guidance(regex="a+")
    # A bare schema is not mistaken for guidance with nothing set.
    with pytest.raises(ValidationError, match="Extra inputs"):
        Guidance.model_validate(SQL_ANSWER)
    with pytest.raises(ValidationError):
        Guidance.model_validate({"type": "json_schema", "data": "{not json"})


def test_the_chat_scenes_schema_reaches_the_engine() -> None:
    # operators.chat looks the field up at run time and tries the shapes it may take.
    answer = pytest.importorskip("operators.chat.answer")
    params = answer.guided_params(GenerationParams(), answer.SQL_ANSWER_SCHEMA)
    assert params.guidance == Guidance(json_schema=answer.SQL_ANSWER_SCHEMA)


@pytest.mark.parametrize(
    ("guidance", "words"),
    [
        (Guidance(json_schema={"type": "thing"}), "Invalid type: thing"),
        (Guidance(json_schema={"$ref": "#/nowhere"}), "nowhere"),
        (Guidance(regex="(unclosed"), "unclosed group"),
        (Guidance(lark="start: missing_rule"), 'unknown name: "missing_rule"'),
    ],
)
def test_check_names_what_is_wrong(guidance: Guidance, words: str) -> None:
    problem = check(guidance)
    assert problem is not None and words in problem
    assert "\n" not in problem


def test_check_passes_good_grammars() -> None:
    assert check(Guidance(json_schema=SQL_ANSWER)) is None
    assert check(Guidance(regex=r"\d{4}-\d{2}-\d{2}")) is None
    assert check(Guidance(lark='start: "yes" | "no"')) is None


# --- masks on the real vocabulary -----------------------------------------------------------


def test_the_mask_forbids_all_but_the_grammars_tokens(llm: LocalLLM) -> None:
    tokenizer = grammar_tokenizer(llm.tokenizer, llm.eos_token_ids)
    guide = Guide(tokenizer, Guidance(regex="(yes|no)"))
    # Logits longer than the vocabulary (padded exports): the tail is forbidden too.
    logits = np.zeros(tokenizer.vocab_size + 5, np.float32)
    masked = guide.mask(logits)
    allowed = np.flatnonzero(np.isfinite(masked))
    assert len(allowed) > 0 and allowed.max() < tokenizer.vocab_size
    words = {llm.tokenizer.decode([int(t)]) for t in allowed}
    assert words and all("yes".startswith(w) or "no".startswith(w) for w in words), words
    assert np.all(logits == 0)  # the input is left alone
    # The greedy fast path's bit test agrees with the mask everywhere.
    assert [t for t in range(tokenizer.vocab_size + 5) if guide.allows(t)] == list(allowed)
    guide.consume(llm.tokenizer.encode("yes", add_special_tokens=False).ids[0])


# --- generation -----------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
async def test_a_json_schema_answer_always_parses_greedy(llm: LocalLLM, question: str) -> None:
    answer = await llm.generate(ask(question, Guidance(json_schema=SQL_ANSWER)))
    assert answer.finish_reason == "stop"
    assert_sql_answer(answer.text)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_json_schema_answer_always_parses_sampled(llm: LocalLLM, seed: int) -> None:
    guidance = Guidance(json_schema=SQL_ANSWER)
    requests = [
        ask(q, guidance, temperature=1.0, top_p=0.95, top_k=50, seed=seed) for q in QUESTIONS
    ]
    answers = await asyncio.gather(*(llm.generate(r) for r in requests))
    for answer in answers:
        assert answer.finish_reason == "stop"
        assert_sql_answer(answer.text)


async def test_a_regex_answer_matches(llm: LocalLLM) -> None:
    date = r"\d{4}-\d{2}-\d{2}"
    request = ask("When did the Second World War end? Give only the date.", Guidance(regex=date))
    answer = await llm.generate(request)
    assert re.fullmatch(date, answer.text), answer.text
    # A grammar that is complete ends the answer at once: no end token needed.
    assert answer.finish_reason == "stop"
    assert answer.usage.completion_tokens <= 10


async def test_a_lark_grammar_answer_matches(llm: LocalLLM) -> None:
    grammar = 'start: "SELECT " COLUMN " FROM customers"\nCOLUMN: "name" | "city" | "id"'
    answer = await llm.generate(ask("Which cities do customers live in?", Guidance(lark=grammar)))
    assert re.fullmatch("SELECT (name|city|id) FROM customers", answer.text), answer.text


async def test_guided_and_unguided_requests_share_a_batch(llm: LocalLLM) -> None:
    free = ask(QUESTIONS[0], max_new_tokens=40)
    alone = await llm.generate(free)
    guided = ask(QUESTIONS[1], Guidance(json_schema=SQL_ANSWER))
    results = await asyncio.gather(
        llm.generate(guided),
        llm.generate(free),
        llm.generate(ask(QUESTIONS[2], Guidance(regex="yes|no"))),
    )
    assert_sql_answer(results[0].text)
    assert results[1].text == alone.text  # the unguided row is untouched by its neighbours
    assert results[2].text in ("yes", "no")


async def test_a_guided_stream_gives_the_same_text(llm: LocalLLM) -> None:
    request = ask(QUESTIONS[0], Guidance(json_schema=SQL_ANSWER))
    whole = await llm.generate(request)
    deltas = [d async for d in llm.stream(request)]
    assert "".join(d.text for d in deltas) == whole.text
    assert deltas[-1].finish_reason == "stop"


async def test_an_invalid_schema_is_refused_before_it_runs(llm: LocalLLM) -> None:
    bad = ask(QUESTIONS[0], Guidance(json_schema={"type": "object", "required": 5}))
    with pytest.raises(InvalidRequest) as caught:
        llm.stream(bad)
    assert caught.value.field == "params.guidance"
    assert str(caught.value).startswith("params.guidance: ")
    assert llm.active == 0
