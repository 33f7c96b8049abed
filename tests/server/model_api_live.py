"""The model API served for real on 127.0.0.1, in a thread, so that blocking clients (the
openai SDK's sync client, a subprocess) and async ones can both call it; and small fake
models whose answers a test can predict to the byte.

The fakes live here, in the tests only: the product never defaults to a fake model.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from aiohttp import web

from operators.llm.types import Completion, Delta, FinishReason, GenerationRequest, Usage
from operators.models import ModelSet, install_models
from server.main import connection_limits, make_runner
from server.model_api import make_model_app
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
#: Where `make test` builds the default models.
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))


def require_built(*names: str) -> None:
    """Skip unless ``make models`` has built ``names`` in ``DATA_DIR`` (a step outside the
    test run). The engines that run them are ours: they are imported here, so a broken one
    fails the test instead of skipping it."""
    import pytest

    import operators.embed.engine
    import operators.llm.engine  # noqa: F401
    from operators.export.cache import find_model

    for name in names:
        if find_model(DATA_DIR, name) is None:
            pytest.skip(f"{name} is not built in {DATA_DIR}; run `make models`")


class FakeLLM:
    """Answers ``"You said: <last message or prompt>"``, one word per token.

    Prompt tokens are the words of every message. ``max_new_tokens`` cuts the answer
    (finish ``length``) and a stop string ends it before the stop; ``fail_after`` raises
    after that many deltas of a stream, to test a failure after the headers went out.
    """

    def __init__(
        self, name: str = "fake-llm", *, fail_after: int | None = None, delay: float = 0.0
    ) -> None:
        self.name = name
        self.fail_after = fail_after
        #: Seconds between tokens of a stream (a slow model, for hang-up tests).
        self.delay = delay
        self.closed = False
        self.requests: list[GenerationRequest] = []
        #: Streams begun, and streams whose generator was closed (ended or abandoned).
        self.streams_started = 0
        self.streams_closed = 0

    def _answer(self, request: GenerationRequest) -> tuple[list[str], FinishReason, int]:
        self.requests.append(request)
        if request.messages is not None:
            said = request.messages[-1].content
            prompt = sum(self.count_tokens(m.content) for m in request.messages)
        else:
            said = request.prompt or ""
            prompt = self.count_tokens(said)
        text = f"You said: {said}"
        reason: FinishReason = "stop"
        for stop in request.params.stop:
            if stop in text:
                text = text[: text.index(stop)]
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1][:-1]
        if len(words) > request.params.max_new_tokens:
            words = words[: request.params.max_new_tokens]
            reason = "length"
        return words, reason, prompt

    async def generate(self, request: GenerationRequest) -> Completion:
        words, reason, prompt = self._answer(request)
        usage = Usage(
            prompt_tokens=prompt, completion_tokens=len(words), total_tokens=prompt + len(words)
        )
        return Completion(text="".join(words), finish_reason=reason, usage=usage)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        words, reason, prompt = self._answer(request)
        self.streams_started += 1
        try:
            for i, word in enumerate(words):
                if self.fail_after is not None and i == self.fail_after:
                    raise RuntimeError("the fake model broke down")
                await asyncio.sleep(self.delay)
                yield Delta(text=word)
        finally:
            self.streams_closed += 1
        usage = Usage(
            prompt_tokens=prompt, completion_tokens=len(words), total_tokens=prompt + len(words)
        )
        yield Delta(finish_reason=reason, usage=usage)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        self.closed = True


class FakeEmbedder:
    """Vectors from a hash of each text: equal texts, equal vectors; unit length."""

    def __init__(self, name: str = "fake-embed", dimension: int = 8) -> None:
        self.name = name
        self.dimension = dimension
        self.closed = False

    def vector(self, text: str) -> npt.NDArray[np.float32]:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return v / np.linalg.norm(v)

    async def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        self.closed = True


def fake_models() -> ModelSet:
    return ModelSet(
        [FakeLLM(), FakeLLM("fake-broken", fail_after=2)], [FakeEmbedder()], created=1700000000
    )


class LiveServer:
    """An app on a free port of 127.0.0.1, run by an event loop in its own thread.

    With ``settings``, run as ``awel serve`` runs it (server/main.py's runner: connection
    cap, head deadline, keep-alive timeout, backlog).
    """

    def __init__(self, app: web.Application, settings: Settings | None = None) -> None:
        self.app = app
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._backlog = 128
        self._runner: web.AppRunner
        if settings is None:
            self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        else:
            self._runner = make_runner(app, settings, connection_limits(settings))
            self._backlog = settings.backlog

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self._backlog)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


@contextmanager
def model_api(
    tmp_path: Path, models: ModelSet | None, *, served: bool = False, **settings: object
) -> Iterator[LiveServer]:
    """The model API with ``models`` installed (None: the app loads the settings' own);
    ``served``: run by the server's own runner, with the settings' connection limits."""
    opts: dict[str, object] = {"data_dir": tmp_path / "data", "reload": False, **settings}
    previous = install_models(models)
    try:
        built = Settings(**opts)  # type: ignore[arg-type]
        with LiveServer(make_model_app(built), built if served else None) as server:
            yield server
    finally:
        install_models(previous)
