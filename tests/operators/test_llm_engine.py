"""The local LLM engine against the real default model (SmolLM2-135M-Instruct, int8).

The model comes from the shared build folder (``$AWEL_TEST_DATA_DIR``, default ``data``,
filled by ``make models``); without it the model tests are skipped. Answers are kept short
so that the file runs in well under a minute on two cores.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from operators.export.cache import find_model
from operators.llm.engine import (
    InvalidRequest,
    LocalLLM,
    ModelLoadError,
    load_llm,
    runtime_defaults,
)
from operators.llm.stops import StopMatcher
from operators.llm.template import ChatTemplate
from operators.llm.types import (
    ChatMessage,
    Delta,
    GenerationParams,
    GenerationRequest,
    LanguageModel,
)

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))

FRANCE = [ChatMessage(role="user", content="What is the capital of France?")]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    info = find_model(DATA_DIR, "smollm2")
    if info is None:
        pytest.skip(
            f"no smollm2 build in {DATA_DIR}: run `make models` (or set AWEL_TEST_DATA_DIR)"
        )
    return info.path


@pytest.fixture(scope="module")
def llm(model_dir: Path) -> Iterator[LocalLLM]:
    # One worker serves every test's event loop: each request posts to its own caller's loop.
    model = load_llm(model_dir, name="smollm2", max_batch=4)
    yield model
    model.close()


def chat(messages: list[ChatMessage] = FRANCE, **params: object) -> GenerationRequest:
    return GenerationRequest(
        model="smollm2", messages=messages, params=GenerationParams.model_validate(params)
    )


# --- stop strings, no model -------------------------------------------------------------


def test_stop_matcher_holds_back_a_possible_start() -> None:
    m = StopMatcher(["<end>"])
    assert m.feed("abc<e") == ("abc", False)
    assert m.feed("x") == ("<ex", False)  # not a stop after all: released
    assert m.feed("<en") == ("", False)
    assert m.feed("d>tail") == ("", True)
    assert m.flush() == ""


def test_stop_matcher_picks_the_earliest_stop_and_flushes_the_rest() -> None:
    m = StopMatcher(["bb", "a"])
    assert m.feed("xbba") == ("x", True)
    m = StopMatcher(["END"])
    assert m.feed("the E") == ("the ", False)
    assert m.flush() == "E"


# --- chat template -----------------------------------------------------------------------

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "Hello!"},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Tell me a joke about {braces} and 'quotes' — ünïcode."},
    ],
]


def test_chat_template_renders_as_transformers_does(model_dir: Path) -> None:
    transformers = pytest.importorskip("transformers")
    reference = transformers.AutoTokenizer.from_pretrained(model_dir)
    template = ChatTemplate.from_folder(model_dir)
    assert template is not None
    for conversation in CONVERSATIONS:
        expected = reference.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
        assert template.render(conversation) == expected


def test_chat_template_runs_sandboxed() -> None:
    template = ChatTemplate("{{ messages.append(1) }}")
    with pytest.raises(ValueError, match="chat template"):
        template.render([{"role": "user", "content": "x"}])


# --- generation ---------------------------------------------------------------------------


async def test_it_is_a_language_model_that_knows_paris(llm: LocalLLM) -> None:
    assert isinstance(llm, LanguageModel)
    answer = await llm.generate(chat(max_new_tokens=24))
    assert "Paris" in answer.text
    assert answer.finish_reason == "stop"  # the model ends its turn: EOS
    usage = answer.usage
    assert usage.prompt_tokens == len(llm.prompt_ids(chat()))
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_greedy_is_deterministic(llm: LocalLLM) -> None:
    request = chat([ChatMessage(role="user", content="Name a colour.")], max_new_tokens=12)
    first, second = await llm.generate(request), await llm.generate(request)
    assert first == second


async def test_the_same_seed_gives_the_same_sample(llm: LocalLLM) -> None:
    def sampled(seed: int) -> GenerationRequest:
        return chat(
            [ChatMessage(role="user", content="Write one sentence about cats.")],
            max_new_tokens=16,
            temperature=1.2,
            top_p=0.95,
            top_k=50,
            seed=seed,
        )

    runs = [await llm.generate(sampled(seed)) for seed in (1, 1, 2, 3)]
    assert runs[0] == runs[1]
    assert len({r.text for r in runs[1:]}) > 1  # other seeds, other samples


async def test_max_new_tokens_ends_with_length(llm: LocalLLM) -> None:
    request = chat([ChatMessage(role="user", content="Write a long story.")], max_new_tokens=5)
    answer = await llm.generate(request)
    assert answer.finish_reason == "length"
    assert answer.usage.completion_tokens == 5
    assert answer.text


async def test_a_stop_string_across_tokens_ends_the_answer(llm: LocalLLM) -> None:
    full = await llm.generate(chat(max_new_tokens=12))
    assert full.text.startswith("The capital of France is Paris")
    # "ital of" starts inside " capital" and ends in " of".
    request = chat(max_new_tokens=12, stop=["nowhere", "ital of"])
    deltas = [d async for d in llm.stream(request)]
    text = "".join(d.text for d in deltas)
    assert text == "The cap"
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens < full.usage.completion_tokens


async def test_stream_deltas_add_up_to_the_completion(llm: LocalLLM) -> None:
    request = chat([ChatMessage(role="user", content="Say hello in French.")], max_new_tokens=16)
    deltas: list[Delta] = [d async for d in llm.stream(request)]
    whole = await llm.generate(request)
    assert "".join(d.text for d in deltas) == whole.text
    assert all(d.finish_reason is None and d.usage is None for d in deltas[:-1])
    assert deltas[-1].finish_reason == whole.finish_reason
    assert deltas[-1].usage == whole.usage


async def test_a_raw_prompt_continues_the_text(llm: LocalLLM) -> None:
    request = GenerationRequest(
        model="smollm2",
        prompt="1, 2, 3, 4,",
        params=GenerationParams(max_new_tokens=3),
    )
    answer = await llm.generate(request)
    assert answer.text.startswith(" 5,")
    assert answer.usage.prompt_tokens == llm.count_tokens("1, 2, 3, 4,")


async def test_a_prompt_read_in_chunks_gives_the_same_answer(model_dir: Path) -> None:
    # A tiny chunk makes the prompt go through the graph in several calls, as long prompts do.
    chunked = load_llm(model_dir, name="smollm2", max_batch=1, prefill_chunk=7)
    try:
        answer = await chunked.generate(chat(max_new_tokens=8))
    finally:
        await chunked.aclose()
    assert answer.text.startswith("The capital of France is Paris")


# --- concurrency and cancellation --------------------------------------------------------

QUESTIONS = [
    "What is the capital of France?",
    "Name three fruits.",
    "What is 2 + 2?",
    "Write a haiku about winter.",
    "Who wrote Hamlet?",
    "What colour is the sky?",
]


async def test_concurrent_requests_answer_as_they_do_alone(llm: LocalLLM) -> None:
    requests = [chat([ChatMessage(role="user", content=q)], max_new_tokens=10) for q in QUESTIONS]
    alone = [await llm.generate(r) for r in requests]
    # Six requests on four rows: two wait and join as rows free up.
    together = await asyncio.gather(*(llm.generate(r) for r in requests))
    assert [a.text for a in together] == [a.text for a in alone]
    # A row is given back just after its last delta is sent.
    await asyncio.wait_for(_wait_idle(llm), 5)


@pytest.fixture
def single(model_dir: Path) -> Iterator[LocalLLM]:
    model = load_llm(model_dir, name="smollm2", max_batch=1)
    # Never ends by itself: only max_new_tokens or a cancellation stops it.
    model.eos_token_ids = frozenset()
    yield model
    model.close()


async def _wait_idle(model: LocalLLM) -> None:
    # The row count lives in the worker thread; polling it is the simplest honest wait.
    while model.active:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_a_cancelled_stream_frees_its_row_at_once(single: LocalLLM) -> None:
    long = chat(max_new_tokens=2000)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in single.stream(long):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    begin = time.perf_counter()
    # The only row is free again, so a second request runs at once.
    answer = await asyncio.wait_for(single.generate(chat(max_new_tokens=3)), 10)
    assert answer.usage.completion_tokens == 3
    assert time.perf_counter() - begin < 5
    await asyncio.wait_for(_wait_idle(single), 5)


async def test_closing_a_stream_early_frees_its_row(single: LocalLLM) -> None:
    stream = single.stream(chat(max_new_tokens=2000))
    async for delta in stream:  # noqa: B007 - one delta is enough
        break
    assert delta.text
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(_wait_idle(single), 5)
    answer = await asyncio.wait_for(single.generate(chat(max_new_tokens=2)), 10)
    assert answer.finish_reason == "length"


# --- bad requests --------------------------------------------------------------------------


async def test_a_request_without_messages_or_prompt_is_refused(llm: LocalLLM) -> None:
    with pytest.raises(InvalidRequest, match=r"messages.*'prompt'") as caught:
        await llm.generate(GenerationRequest(model="smollm2"))
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == "messages"
    with pytest.raises(InvalidRequest, match="empty"):
        await llm.generate(GenerationRequest(model="smollm2", messages=[]))


async def test_a_prompt_longer_than_the_context_is_refused(llm: LocalLLM) -> None:
    too_long = GenerationRequest(model="smollm2", prompt="hello " * (llm.context_length + 10))
    with pytest.raises(InvalidRequest, match="context") as caught:
        llm.stream(too_long)  # checked when the stream is made, before any iteration
    assert caught.value.field == "prompt"
    assert llm.active == 0


# --- onnxruntime threads and spinning ------------------------------------------------------


def test_threads_and_spinning_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWEL_LLM_THREADS", raising=False)
    monkeypatch.delenv("AWEL_LLM_SPINNING", raising=False)
    assert runtime_defaults() == (None, True)  # every core, spinning while a step runs
    monkeypatch.setenv("AWEL_LLM_THREADS", "1")
    monkeypatch.setenv("AWEL_LLM_SPINNING", "off")
    assert runtime_defaults() == (1, False)
    monkeypatch.setenv("AWEL_LLM_SPINNING", "on")
    assert runtime_defaults() == (1, True)
    monkeypatch.setenv("AWEL_LLM_THREADS", "two")
    with pytest.raises(ModelLoadError, match="AWEL_LLM_THREADS='two'"):
        runtime_defaults()
    monkeypatch.setenv("AWEL_LLM_THREADS", "-1")
    with pytest.raises(ModelLoadError, match="0 \\(every core\\) or more"):
        runtime_defaults()
    monkeypatch.setenv("AWEL_LLM_THREADS", "0")
    monkeypatch.setenv("AWEL_LLM_SPINNING", "maybe")
    with pytest.raises(ModelLoadError, match="AWEL_LLM_SPINNING"):
        runtime_defaults()


def _options(model: LocalLLM) -> tuple[int, str, str]:
    options = model._scheduler.decoder.session.get_session_options()
    return (
        options.intra_op_num_threads,
        options.get_session_config_entry("session.intra_op.allow_spinning"),
        # Spinning or not, it stops when a step returns.
        options.get_session_config_entry("session.force_spinning_stop"),
    )


async def test_the_session_gets_the_threads_and_spinning_asked_for(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWEL_LLM_THREADS", "1")
    monkeypatch.setenv("AWEL_LLM_SPINNING", "0")
    from_env = load_llm(model_dir, name="smollm2", max_batch=1)
    given = load_llm(model_dir, name="smollm2", max_batch=1, threads=2, spinning=True)
    try:
        assert _options(from_env) == (1, "0", "1")
        assert _options(given) == (2, "1", "1")
        # Either way it answers as the shared model does.
        answer = await from_env.generate(chat(max_new_tokens=6))
        assert answer.text == (await given.generate(chat(max_new_tokens=6))).text
    finally:
        await from_env.aclose()
        await given.aclose()
