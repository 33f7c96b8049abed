"""Streams: a value becomes a stream of words, each transformed as it passes.

    awel run examples/streams.py --flow examples.streams --input '"the quick brown fox"' --stream

``words`` turns the text into a stream; ``upper`` is an ordinary map, applied to each item
as it passes (a map over a stream stays lazy); ``numbered`` transforms the stream as a whole.
Nothing runs ahead of the consumer: each word is produced when the next one is asked for.

The second flow in this file, ``examples.streams.count``, folds the same kind of stream back
into one value with a reduce. A file with two flows needs ``--flow`` to pick one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel

from awel import (
    DAG,
    InputOperator,
    MapOperator,
    ReduceStreamOperator,
    StreamifyAbsOperator,
    TransformStreamAbsOperator,
)


class WordStream(StreamifyAbsOperator[str, str]):
    """Yields the words of a text one by one."""

    async def streamify(self, input_value: str) -> AsyncIterator[str]:
        for word in input_value.split():
            # Stand-in for a model producing tokens: yield control between items.
            await anyio.lowlevel.checkpoint()
            yield word


class Numbered(TransformStreamAbsOperator[str, str]):
    """Prefixes each item with its position."""

    async def transform_stream(self, input_stream: AsyncIterator[str]) -> AsyncIterator[str]:
        index = 0
        async for item in input_stream:
            index += 1
            yield f"{index}. {item}"


with DAG("examples.streams", description="Streams the words of a text, numbered.") as dag:
    text = InputOperator.from_callable(task_name="text")
    words = WordStream(task_name="words")
    upper = MapOperator(str.upper, offload=False, task_name="upper")
    numbered = Numbered(task_name="numbered")
    text >> words >> upper >> numbered


def one(_word: str) -> int:
    return 1


def add(a: int, b: int) -> int:
    return a + b


with DAG("examples.streams.count", description="Counts the words of a text.") as count_dag:
    count_text = InputOperator.from_callable(task_name="text")
    count_words = WordStream(task_name="words")
    ones = MapOperator(one, offload=False, task_name="ones")
    total = ReduceStreamOperator[int, int](add, offload=False, task_name="total")
    count_text >> count_words >> ones >> total
