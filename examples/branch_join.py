"""Fan-out and join, then a branch and the join that ends it.

    awel run examples/branch_join.py --input '{"text": "a short note"}'

``words`` and ``chars`` both read the trigger's value and run concurrently; ``stats`` joins
them (its arguments come in the order the nodes were linked). ``route`` then sends the stats
to ``long`` or ``short``; the side whose predicate is false is skipped, and ``reply``, a
:class:`~awel.BranchJoinOperator`, takes whichever side ran.
"""

from __future__ import annotations

from typing import Any

from awel import DAG, BranchJoinOperator, BranchOperator, JoinOperator, MapOperator
from awel.trigger import HttpTrigger

#: Texts with more words than this are "long".
LONG_TEXT_WORDS = 5


def is_long(stats: dict[str, Any]) -> bool:
    return bool(stats["words"] > LONG_TEXT_WORDS)


def is_short(stats: dict[str, Any]) -> bool:
    return not is_long(stats)


def count_words(body: dict[str, Any]) -> int:
    return len(str(body["text"]).split())


def count_chars(body: dict[str, Any]) -> int:
    return len(str(body["text"]))


def make_stats(words: int, chars: int) -> dict[str, Any]:
    return {"words": words, "chars": chars}


def long_reply(stats: dict[str, Any]) -> str:
    return f"long text: {stats['words']} words, {stats['chars']} characters"


def short_reply(stats: dict[str, Any]) -> str:
    return f"short text: {stats['words']} words"


with DAG("examples.branch_join", description="Counts a text, then answers by its length.") as dag:
    trigger = HttpTrigger(
        "/examples/branch_join", methods="POST", request_body=dict, task_name="trigger"
    )
    words = MapOperator(count_words, offload=False, task_name="words")
    chars = MapOperator(count_chars, offload=False, task_name="chars")
    stats = JoinOperator(make_stats, offload=False, task_name="stats")
    route: BranchOperator[dict[str, Any]] = BranchOperator(
        {is_long: "long", is_short: "short"}, task_name="route"
    )
    long = MapOperator(long_reply, offload=False, task_name="long")
    short = MapOperator(short_reply, offload=False, task_name="short")
    reply: BranchJoinOperator[str] = BranchJoinOperator(task_name="reply")

    trigger >> [words, chars] >> stats >> route >> [long, short] >> reply
