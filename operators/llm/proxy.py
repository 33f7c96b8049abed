"""A :class:`~operators.llm.types.LanguageModel` that forwards to an OpenAI-compatible server.

    >>> llm = OpenAIProxyLLM("gpt", "https://api.example.com/v1", api_key="sk-...")
    >>> answer = await llm.generate(GenerationRequest(model="gpt", prompt="Hi"))  # doctest: +SKIP
    >>> await llm.aclose()  # doctest: +SKIP

``base_url`` is the prefix the paths are appended to, as with the openai SDK: a request with
``messages`` goes to ``{base_url}/chat/completions``, one with a ``prompt`` to
``{base_url}/completions``. Streaming reads the server-sent events itself (``data:`` lines,
``[DONE]``, ``{"error": ...}`` events) and asks for the usage chunk with
``stream_options.include_usage``; an upstream that sends no usage is reported as zero
tokens rather than guessed, so usage numbers are either the upstream's or visibly absent.

Parameters that map one to one: ``max_new_tokens`` → ``max_tokens`` (the name every
compatible server accepts; OpenAI's newer ``max_completion_tokens`` is not understood by all),
``temperature``, ``top_p``, ``stop`` and ``seed``. ``top_k`` is not an OpenAI field: OpenAI
itself rejects unknown fields on some models, so it is sent only when the proxy is built with
``send_top_k=True`` (vLLM, llama.cpp and our own model API accept it). Guidance by a JSON
schema goes up as ``response_format: {"type": "json_schema", "json_schema": {"name":
"answer", "schema": ...}}`` (OpenAI's structured outputs, which vLLM, llama.cpp and our model
API follow too); a regex or Lark grammar has no OpenAI field and is refused.

Upstream failures raise :class:`ProxyError`, carrying the upstream's HTTP status and its own
message. A caller that is cancelled, or that stops reading a stream (``aclose()`` on the
iterator, or leaving an ``async with contextlib.aclosing(...)``), closes the upstream
connection at once, so the upstream stops generating for nobody.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from .types import Completion, Delta, FinishReason, GenerationRequest, Usage

__all__ = ["OpenAIProxyLLM", "ProxyError"]

#: Characters of an upstream's non-JSON error body kept in a ProxyError's message.
_BODY_LIMIT = 500


class ProxyError(Exception):
    """The upstream could not answer.

    ``status`` is the upstream's HTTP status when it answered with an error status; it is
    None when the upstream could not be reached, timed out, sent something that is not an
    OpenAI answer, or reported an error inside a stream that had already started (then
    ``type`` and ``code`` come from the error event). ``upstream_message`` is the upstream's
    own words, ``str(exc)`` says which upstream and what happened.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        upstream_message: str = "",
        type: str | None = None,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.upstream_message = upstream_message
        self.type = type
        self.code = code


class OpenAIProxyLLM:
    """A language model served by an OpenAI-compatible HTTP API.

    ``name`` is this model's name in awel; ``upstream_model`` the id sent as ``model``
    upstream (default: ``name``). ``timeout`` bounds a whole non-streamed answer and the
    silence between two reads of a stream (a long stream that keeps producing is never cut);
    ``connect_timeout`` bounds opening the connection.

    ``count_tokens`` cannot see the upstream's tokenizer: without ``tokenizer`` (a path to
    a ``tokenizer.json``) it is an **approximation**, one token per four UTF-8 bytes, which
    is close for English under BPE vocabularies and only meant for budgeting prompts. With
    ``tokenizer`` it counts exactly, without special tokens.

    The HTTP session is created on first use, in the running event loop, and closed by
    :meth:`aclose`.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str | None = None,
        upstream_model: str | None = None,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        send_top_k: bool = False,
        include_usage: bool = True,
        tokenizer: str | Path | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.upstream_model = upstream_model or name
        self.send_top_k = send_top_k
        # Some older servers reject stream_options; they can be served with this off.
        self.include_usage = include_usage
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._headers = {"Accept": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._tokenizer: Any = None
        if tokenizer is not None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        # The API key stays out of logs and tracebacks.
        return f"OpenAIProxyLLM(name={self.name!r}, base_url={self.base_url!r})"

    # -- the LanguageModel protocol ---------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> Completion:
        """One whole answer from a non-streamed request."""
        path, body = self._request_body(request, stream=False)
        timeout = aiohttp.ClientTimeout(total=self._timeout, sock_connect=self._connect_timeout)
        try:
            async with self._http().post(self._url(path), json=body, timeout=timeout) as resp:
                try:
                    if resp.status >= 400:
                        raise await self._status_error(resp)
                    payload = await resp.json(content_type=None)
                except BaseException:
                    resp.close()  # cancelled or failed: drop the connection, not pool it
                    raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._transport_error(exc) from exc
        return self._parse_completion(payload)

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Delta, None]:
        """The answer piece by piece; the last delta has ``finish_reason`` and ``usage``.

        Leaving the loop early, or cancelling the task that reads, closes the upstream
        connection (use ``contextlib.aclosing`` so that an abandoned iterator closes at once
        rather than when it is garbage-collected).
        """
        path, body = self._request_body(request, stream=True)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._connect_timeout, sock_read=self._timeout
        )
        try:
            resp = await self._http().post(self._url(path), json=body, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc
        try:
            if resp.status >= 400:
                raise await self._status_error(resp)
            finish: FinishReason | None = None
            usage: Usage | None = None
            async for data in _sse_data(resp.content):
                if data.startswith("[DONE]"):
                    break
                chunk = self._json(data)
                if "error" in chunk:
                    raise self._error_event(chunk["error"])
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or ():
                    text = _choice_text(choice, delta=True)
                    if text:
                        yield Delta(text=text)
                    if choice.get("finish_reason"):
                        finish = _finish_reason(choice["finish_reason"])
            if finish is None:
                raise ProxyError(
                    f"{self.base_url}: the stream ended before the answer finished",
                )
            yield Delta(finish_reason=finish, usage=usage or Usage())
        except (aiohttp.ClientError, TimeoutError) as exc:
            resp.close()
            raise self._transport_error(exc) from exc
        except BaseException:
            # CancelledError, GeneratorExit (the caller stopped reading) or our own error:
            # close the connection now so the upstream sees the hang-up and stops generating.
            resp.close()
            raise
        resp.release()

    def count_tokens(self, text: str) -> int:
        """Exact with a tokenizer; otherwise about one token per four UTF-8 bytes."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(len(text.encode("utf-8")) / 4)

    async def aclose(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- requests ---------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _request_body(
        self, request: GenerationRequest, *, stream: bool
    ) -> tuple[str, dict[str, Any]]:
        """The upstream path and JSON body for ``request``."""
        params = request.params
        body: dict[str, Any] = {"model": self.upstream_model}
        if request.messages is not None:
            path = "chat/completions"
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        elif request.prompt is not None:
            path = "completions"
            body["prompt"] = request.prompt
        else:
            raise ValueError("a generation request needs messages or a prompt")
        body["max_tokens"] = params.max_new_tokens
        body["temperature"] = params.temperature
        body["top_p"] = params.top_p
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if self.send_top_k and params.top_k > 0:
            body["top_k"] = params.top_k
        if params.guidance is not None:
            if params.guidance.json_schema is None:
                raise ValueError(
                    "params.guidance: an OpenAI-compatible upstream takes a JSON schema only"
                    " (response_format); a regex or Lark grammar needs the local engine"
                )
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": params.guidance.json_schema},
            }
        if stream:
            body["stream"] = True
            if self.include_usage:
                body["stream_options"] = {"include_usage": True}
        return path, body

    # -- answers ----------------------------------------------------------------------------

    def _json(self, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except ValueError:
            raise ProxyError(
                f"{self.base_url}: the upstream sent an event that is not JSON: {text[:80]!r}"
            ) from None
        if not isinstance(value, dict):
            raise ProxyError(f"{self.base_url}: the upstream sent {text[:80]!r}, not an object")
        return value

    def _parse_completion(self, payload: Any) -> Completion:
        if isinstance(payload, dict) and "error" in payload:
            raise self._error_event(payload["error"])
        try:
            choice = payload["choices"][0]
            text = _choice_text(choice, delta=False)
            finish = _finish_reason(choice.get("finish_reason") or "stop")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProxyError(
                f"{self.base_url}: the upstream's answer has no choices[0] with text: "
                f"{str(payload)[:_BODY_LIMIT]}"
            ) from None
        raw_usage = payload.get("usage")
        usage = _usage(raw_usage) if isinstance(raw_usage, dict) else Usage()
        return Completion(text=text, finish_reason=finish, usage=usage)

    async def _status_error(self, resp: aiohttp.ClientResponse) -> ProxyError:
        raw = await resp.text(errors="replace")
        kind: str | None = None
        code: str | int | None = None
        message = raw.strip()[:_BODY_LIMIT]
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            # Nested OpenAI shape, a bare {"error": "text"}, FastChat's flat
            # {"message", "code"}, or FastAPI's {"detail": ...}.
            error = body.get("error", body)
            if isinstance(error, dict):
                message = str(error.get("message") or error.get("detail") or message)
                kind = error.get("type")
                code = error.get("code")
            elif error:
                message = str(error)
        return ProxyError(
            f"{self.base_url} answered {resp.status} {resp.reason or ''}".rstrip()
            + (f": {message}" if message else ""),
            status=resp.status,
            upstream_message=message,
            type=kind,
            code=code,
        )

    def _error_event(self, error: Any) -> ProxyError:
        if isinstance(error, dict):
            message = str(error.get("message", ""))
            kind, code = error.get("type"), error.get("code")
        else:
            message, kind, code = str(error), None, None
        return ProxyError(
            f"{self.base_url} reported an error: {message}",
            upstream_message=message,
            type=kind,
            code=code,
        )

    def _transport_error(self, exc: BaseException) -> ProxyError:
        if isinstance(exc, TimeoutError):
            what = f"no answer within {self._timeout:g} s"
        elif isinstance(exc, ValueError):
            what = f"the answer is not JSON ({exc})"
        else:
            what = f"{type(exc).__name__}: {exc}"
        return ProxyError(f"{self.base_url}: {what}")


async def _sse_data(content: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event, multi-line data joined with newlines.

    Comment lines (``: ping``) and other fields (``event:``, ``id:``, ``retry:``) are skipped;
    an error is recognised by its ``{"error": ...}`` data, as the openai SDK does.
    """
    lines: list[str] = []
    async for raw in content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:  # a last event without its blank line
        yield "\n".join(lines)


def _choice_text(choice: Mapping[str, Any], *, delta: bool) -> str:
    if "text" in choice:  # /completions
        return str(choice["text"] or "")
    holder = choice.get("delta" if delta else "message") or {}
    return str(holder.get("content") or "")


def _finish_reason(value: str) -> FinishReason:
    # tool_calls, content_filter and the like end the answer as far as text is concerned.
    return "length" if value == "length" else "stop"


def _usage(raw: Mapping[str, Any]) -> Usage:
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(raw.get("total_tokens") or prompt + completion),
    )
