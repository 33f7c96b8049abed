"""What guided decoding costs per token in the local engine, guided and free in the same run.

    python bench/guided.py              # ~1-2 min: 3 rounds
    python bench/guided.py --rounds 5 --json

Four text-to-SQL questions, each asked for a JSON answer ``{thoughts, sql, display_type}``:

1. **Decode rate**, one stream at a time: tokens after the first per second after the first,
   free (the prompt asks for JSON) against guided (the schema is enforced), greedy.
2. **Batch**: the four questions started together, aggregate tokens/s (prefill included),
   free against guided. A guided JSON answer ends as soon as the object closes, which would
   make its batch shorter and its prefill share larger; here ``thoughts`` must be at least
   400 characters long, so every guided answer runs the full budget, as free prose does.
3. **The guide's own work**: the guided answers' tokens replayed through a fresh
   :class:`~operators.llm.guidance.Guide`, microseconds per token for computing the mask
   (llguidance) and for applying it to a vocabulary of logits (numpy), beside the decode
   step.

Rounds alternate which mode runs first; medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from operators.export.cache import find_model
from operators.llm.engine import LocalLLM, load_llm
from operators.llm.guidance import Guide, grammar_tokenizer
from operators.llm.types import ChatMessage, GenerationParams, GenerationRequest, Guidance

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thoughts": {"type": "string"},
        "sql": {"type": "string"},
        "display_type": {"enum": ["Table", "Text", "BarChart", "LineChart", "PieChart"]},
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
#: The same answer, made long enough to run out of tokens (the batch comparison).
LONG = {**SCHEMA, "properties": {**SCHEMA["properties"], "thoughts": {"minLength": 400}}}
MAX_TOKENS = 96


def _request(question: str, guided: bool, schema: dict[str, Any] = SCHEMA) -> GenerationRequest:
    return GenerationRequest(
        model="bench",
        messages=[
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=question),
        ],
        params=GenerationParams(
            max_new_tokens=MAX_TOKENS, guidance=Guidance(json_schema=schema) if guided else None
        ),
    )


async def _one(llm: LocalLLM, request: GenerationRequest) -> tuple[int, float, float, str]:
    """(tokens, seconds, seconds to the first token, text)."""
    start = time.perf_counter()
    first = 0.0
    parts = []
    tokens = 0
    async for delta in llm.stream(request):
        if not first:
            first = time.perf_counter() - start
        parts.append(delta.text)
        if delta.usage is not None:
            tokens = delta.usage.completion_tokens
    return tokens, time.perf_counter() - start, first, "".join(parts)


async def _serial(llm: LocalLLM, guided: bool) -> tuple[float, list[str]]:
    """Decode tokens/s over the questions one at a time; the answers."""
    tokens = seconds = 0.0
    texts = []
    for question in QUESTIONS:
        n, total, first, text = await _one(llm, _request(question, guided))
        tokens += n - 1
        seconds += total - first
        texts.append(text)
    return tokens / seconds, texts


async def _batch(llm: LocalLLM, guided: bool) -> tuple[float, int]:
    """Aggregate tokens/s of the questions together; the tokens."""
    start = time.perf_counter()
    results = await asyncio.gather(*(_one(llm, _request(q, guided, LONG)) for q in QUESTIONS))
    tokens = sum(r[0] for r in results)
    return tokens / (time.perf_counter() - start), tokens


def _guide_cost(llm: LocalLLM, texts: list[str]) -> dict[str, float]:
    """Microseconds per token of the grammar's work (fill the mask, consume the token) and
    of applying the mask to the logits (which the greedy path skips when the model's
    favourite is allowed), replaying ``texts``."""
    tokenizer = grammar_tokenizer(llm.tokenizer, llm.eos_token_ids)
    count, fill, apply = 0, 0.0, 0.0
    logits = np.zeros(tokenizer.vocab_size, np.float32)
    for text in texts:
        ids = llm.tokenizer.encode(text, add_special_tokens=False).ids
        guide = Guide(tokenizer, Guidance(json_schema=SCHEMA))
        for token in ids:
            t0 = time.perf_counter()
            guide.fill()
            t1 = time.perf_counter()
            guide.apply(logits)
            t2 = time.perf_counter()
            guide.consume(token)
            fill += t1 - t0 + time.perf_counter() - t2
            apply += t2 - t1
        count += len(ids)
    return {"fill_and_consume": 1e6 * fill / count, "apply": 1e6 * apply / count}


async def main(rounds: int) -> dict[str, Any]:
    info = find_model(Path(os.environ.get("AWEL_TEST_DATA_DIR", "data")), "smollm2")
    if info is None:
        raise SystemExit("smollm2 is not built: run `make models`")
    llm = load_llm(info.path, name="bench", max_batch=len(QUESTIONS))
    rows: dict[str, list[float]] = {k: [] for k in ("free", "guided", "free4", "guided4")}
    valid = {"free": 0, "guided": 0}
    batch_tokens = {"free": 0, "guided": 0}
    texts: list[str] = []
    try:
        await _serial(llm, True)  # warm up, and build the grammar tokenizer
        for r in range(rounds):
            for guided in (bool(r % 2), not r % 2):
                mode = "guided" if guided else "free"
                rate, answers = await _serial(llm, guided)
                rows[mode].append(rate)
                rate4, tokens4 = await _batch(llm, guided)
                rows[mode + "4"].append(rate4)
                batch_tokens[mode] = tokens4
                valid[mode] += sum(_parses(a) for a in answers)
                if guided:
                    texts = answers
        guide_us = _guide_cost(llm, texts)
    finally:
        await llm.aclose()
    med = {k: statistics.median(v) for k, v in rows.items()}
    return {
        "rounds": rounds,
        "load_avg": os.getloadavg()[0],
        "decode_tok_s": {"free": med["free"], "guided": med["guided"]},
        "batch4_tok_s": {"free": med["free4"], "guided": med["guided4"]},
        "batch4_tokens": batch_tokens,
        "guided_over_free": {
            "decode": med["guided"] / med["free"],
            "batch4": med["guided4"] / med["free4"],
        },
        "guide_us_per_token": guide_us,
        "decode_ms_per_token": 1e3 / med["free"],
        "json_valid": {k: f"{v}/{rounds * len(QUESTIONS)}" for k, v in valid.items()},
    }


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="results as JSON")
    args = parser.parse_args()
    result = asyncio.run(main(args.rounds))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
