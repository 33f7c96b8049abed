"""The model API as OpenAI's own clients see it: the current ``openai`` SDK, and the legacy
``openai==0.28`` call style that DB-GPT's docs show (run in a venv of its own, since the two
cannot be installed side by side)."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from operators.export.cache import find_model

from .model_api_live import DATA_DIR, ROOT, FakeEmbedder, LiveServer, fake_models, model_api

KEY = "sk-test-key"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there world"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("sdk")
    with model_api(tmp, fake_models(), api_keys=[KEY]) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> OpenAI:
    return OpenAI(base_url=server.url + "/api/v1", api_key=KEY, max_retries=0, timeout=30)


def test_models_list(client: OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["fake-llm", "fake-broken", "fake-embed"]
    assert client.models.retrieve("fake-llm").owned_by == "awel"


def test_chat_completion(client: OpenAI) -> None:
    answer = client.chat.completions.create(model="fake-llm", messages=HELLO)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == "You said: hello there world"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 8


def test_chat_options(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model="fake-llm",
        messages=HELLO,
        n=2,
        stop=["there"],
        temperature=0.2,
        extra_body={"top_k": 5},
    )
    assert [c.message.content for c in answer.choices] == ["You said: hello ", "You said: hello "]
    short = client.chat.completions.create(model="fake-llm", messages=HELLO, max_tokens=2)
    assert short.choices[0].finish_reason == "length"


def test_chat_stream_with_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-llm",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hello there world"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_text_completions(client: OpenAI) -> None:
    answer = client.completions.create(model="fake-llm", prompt="hi", max_tokens=8)
    assert answer.choices[0].text == "You said: hi"
    stream = client.completions.create(model="fake-llm", prompt="hi", stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == "You said: hi"


def test_embeddings_base64_by_default_and_float(client: OpenAI) -> None:
    fake = FakeEmbedder()
    # The SDK asks for base64 when no format is given, and decodes it.
    default = client.embeddings.create(model="fake-embed", input=["a cat", "a dog"])
    assert [d.index for d in default.data] == [0, 1]
    np.testing.assert_allclose(default.data[1].embedding, fake.vector("a dog"), rtol=1e-6)
    floats = client.embeddings.create(model="fake-embed", input="a cat", encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, fake.vector("a cat"), rtol=1e-6)
    assert floats.usage.prompt_tokens == 2


def test_errors_map_to_the_sdk_exceptions(client: OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=HELLO)
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="fake-llm", messages=HELLO, temperature=5)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="fake-embed", input=[[1, 2, 3]])
    wrong = OpenAI(base_url=server.url + "/api/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.models.list()
    assert denied.value.code == "invalid_api_key"


def test_a_failure_mid_stream_raises_api_error(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-broken",
        messages=HELLO,
        stream=True,
    )
    with pytest.raises(openai.APIError, match="error id"):
        for _ in stream:
            pass


# --- the legacy 0.28 client -------------------------------------------------------------

LEGACY_VENV = ROOT / ".cache" / "openai028-venv"

LEGACY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import openai

    openai.api_base = sys.argv[1]
    openai.api_key = sys.argv[2]
    out = {}
    chat = openai.ChatCompletion.create(
        model="fake-llm", messages=[{"role": "user", "content": "hello there world"}]
    )
    out["chat"] = chat["choices"][0]["message"]["content"]
    out["usage"] = chat["usage"]["total_tokens"]
    parts = []
    for chunk in openai.ChatCompletion.create(
        model="fake-llm", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        parts.append(chunk["choices"][0]["delta"].get("content", ""))
    out["stream"] = "".join(parts)
    out["completion"] = openai.Completion.create(model="fake-llm", prompt="yo")["choices"][0][
        "text"
    ]
    emb = openai.Embedding.create(model="fake-embed", input=["a cat"])
    out["embedding"] = emb["data"][0]["embedding"]
    floats = openai.Embedding.create(model="fake-embed", input="a cat", encoding_format="float")
    out["float_embedding"] = floats["data"][0]["embedding"]
    try:
        openai.ChatCompletion.create(model="nope", messages=[{"role": "user", "content": "x"}])
    except openai.error.InvalidRequestError as exc:
        out["error"] = [exc.http_status, exc.code]
    openai.api_key = "sk-wrong"
    try:
        openai.Model.list()
    except openai.error.AuthenticationError as exc:
        out["denied"] = exc.http_status
    print(json.dumps(out))
    """
)


def legacy_python() -> Path:
    """Python of a venv with openai 0.28 (made once, kept under .cache/)."""
    python = LEGACY_VENV / "bin" / "python"
    LEGACY_VENV.parent.mkdir(parents=True, exist_ok=True)
    with (LEGACY_VENV.parent / ".openai028.lock").open("a") as lock:
        # Two test runs at once must not build one venv twice.
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = LEGACY_VENV / ".ready"
        if ready.exists():
            return python
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(LEGACY_VENV)],
            # numpy: 0.28 decodes base64 embeddings with it.
            [str(python), "-m", "pip", "install", "-q", "openai==0.28.0", "numpy"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=500)
            if done.returncode != 0:
                pytest.skip(
                    "cannot install openai==0.28 into a venv of its own"
                    f" ({' '.join(step[:4])}...): {done.stderr.strip()[-500:]}"
                )
        ready.touch()
    return python


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_legacy_openai_028_client(server: LiveServer) -> None:
    python = legacy_python()
    done = subprocess.run(
        [str(python), "-c", LEGACY_SCRIPT, server.url + "/api/v1", KEY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["chat"] == "You said: hello there world"
    assert out["usage"] == 8
    assert out["stream"] == "You said: hi"
    assert out["completion"] == "You said: yo"
    expected = FakeEmbedder().vector("a cat")
    np.testing.assert_allclose(out["embedding"], expected, rtol=1e-6)
    np.testing.assert_allclose(out["float_embedding"], expected, rtol=1e-6)
    assert out["error"] == [404, "model_not_found"]
    assert out["denied"] == 401


# --- the real default models ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_sdk_on_the_real_models(tmp_path: Path) -> None:
    for name in ("smollm2", "all-minilm-l6-v2"):
        if find_model(DATA_DIR, name) is None:
            pytest.skip(f"{name} is not built in {DATA_DIR}; run `make models`")
    with model_api(tmp_path, None, data_dir=DATA_DIR) as live:
        sdk = OpenAI(base_url=live.url + "/api/v1", api_key="EMPTY", max_retries=0)
        if not [m for m in sdk.models.list().data if m.id == "smollm2"]:
            pytest.skip("the LLM engine is not there yet")
        question: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "What is the capital of France?"}
        ]
        answer = sdk.chat.completions.create(model="smollm2", messages=question, max_tokens=32)
        assert "Paris" in (answer.choices[0].message.content or "")
        vectors = sdk.embeddings.create(
            model="all-minilm-l6-v2",
            input=["Paris is in France.", "The capital of France is Paris.", "I like jazz."],
        )
        v = np.array([d.embedding for d in vectors.data])
        assert v.shape == (3, 384)  # base64 (the SDK's default) decoded whole
        assert v[0] @ v[1] > v[0] @ v[2]
