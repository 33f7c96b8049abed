"""``http.request``: call an HTTP API from a flow (aiohttp's client).

The URL, the query values and the header values are jinja2 templates over the input (the
sandbox of ``awel.format``: a dict's keys are names, the input itself is ``input``);
``json_body`` is an expression whose value is sent as JSON. The answer is the response's
JSON when it says it is JSON (``response: auto``), else its text.

    nodes:
      weather:
        op: http.request
        params:
          url: "https://api.example.com/v1/forecast"
          query: {city: "{{ city }}"}
          max_retries: 2

Where it may go. The server makes these requests, so a flow can reach any host the server
can: services on 127.0.0.1, the private network, a cloud's metadata address. Two rules keep
a URL filled from a request on the host the flow's author meant:

- a URL template whose scheme and host are written out (``https://api.example.com/...{{ q
  }}``) only ever goes to that host, whatever the input puts in the path;
- ``allowed_hosts`` lists the hosts a request may reach (``api.example.com``,
  ``*.example.com``); a template that builds the host from the input should set it.

Redirects are followed (``max_redirects``) only to the same host, or to one of
``allowed_hosts``. Only http and https are spoken. The body read is capped at ``max_bytes``.
Retries (``max_retries``, waiting ``backoff`` seconds, doubled each time) follow connection
failures, timeouts, 429 and 5xx answers; any other non-2xx answer fails the node at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import Field, field_validator

from awel import MapOperator
from awel.builtin import compile_expression, compile_template, fields_of
from awel.errors import AwelError
from awel.registry import OperatorParams
from awel.variables import SECRET_PARAM

__all__ = [
    "HttpBadAnswer",
    "HttpBadInput",
    "HttpFailed",
    "HttpRefused",
    "HttpRequest",
    "HttpRequestParams",
    "HttpStatus",
]

#: Statuses worth asking again: rate limits and the server's own trouble.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The longest wait between attempts, seconds.
_MAX_WAIT = 30.0


class HttpRefused(AwelError):
    """The request would go where it may not: another host, another scheme."""

    code = "http.refused"


class HttpFailed(AwelError):
    """No answer: the connection failed or the request timed out (after every retry)."""

    code = "http.failed"


class HttpStatus(AwelError):
    """The API answered with an error status."""

    code = "http.status"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class HttpBadAnswer(AwelError):
    """The answer is larger than ``max_bytes``, or not the JSON asked for."""

    code = "http.bad_answer"


class HttpBadInput(AwelError):
    """The URL, query, headers or body cannot be built from the input."""

    code = "http.bad_input"


def _template(source: str) -> str:
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
    return source


def _fixed_host(url: str) -> str | None:
    """The host:port a URL template writes out before any template code, else None."""
    head = url.split("{", 1)[0]
    parts = urlsplit(head)
    rest = head[len(f"{parts.scheme}://{parts.netloc}") :]
    # The host is fixed only if the template code starts after it ends.
    if parts.scheme and parts.netloc and (rest or "{" not in url):
        return parts.netloc.lower()
    return None


def _host_allowed(host: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


class HttpRequestParams(OperatorParams):
    """One HTTP call: where, how, and what to accept back."""

    url: str = Field(description="The URL, a jinja2 template over the input.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        "GET", description="The HTTP method."
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Query parameters; values are jinja2 templates."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; values are jinja2 templates. The one parameter that"
        " takes secret variables (an API key: 'Bearer ${api:token}').",
        # Headers go only to the API called, so a secret variable may be put here.
        json_schema_extra=SECRET_PARAM,
    )
    json_body: str | None = Field(
        None,
        description="A jinja2 expression whose value is sent as the JSON body ('input': the"
        " input itself).",
        examples=["input", "{'q': question}"],
    )
    response: Literal["auto", "json", "text"] = Field(
        "auto", description="auto: JSON when the answer says it is JSON, else text."
    )
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds per attempt.")
    max_retries: int = Field(0, ge=0, le=10, description="Attempts after the first.")
    backoff: float = Field(
        0.5, ge=0, le=_MAX_WAIT, description="Seconds before the first retry, doubled after."
    )
    max_bytes: int = Field(
        1 << 20, ge=1, le=64 << 20, description="The largest answer body read, bytes."
    )
    max_redirects: int = Field(3, ge=0, le=10, description="Redirects followed at most.")
    allowed_hosts: list[str] | None = Field(
        None,
        description="Hosts (host or host:port, '*.example.com') requests and redirects may"
        " reach; unset: the template's own host if it writes one out, else any.",
    )

    @field_validator("url")
    @classmethod
    def _url_compiles(cls, v: str) -> str:
        _template(v)
        scheme = urlsplit(v.split("{", 1)[0]).scheme
        if scheme and scheme.lower() not in ("http", "https"):
            raise ValueError(f"'{scheme}' URLs are not supported; use http or https")
        return v

    @field_validator("query", "headers")
    @classmethod
    def _values_compile(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            _template(value)
        return v

    @field_validator("json_body")
    @classmethod
    def _body_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                compile_expression(v)
            except TemplateSyntaxError as exc:
                raise ValueError(f"invalid expression {v!r}: {exc.message}") from None
        return v


class HttpRequest(MapOperator[Any, Any]):
    """Calls an HTTP API with the input in the URL, query, headers or JSON body; the
    answer's JSON (or text) out."""

    Params = HttpRequestParams

    def __init__(self, settings: HttpRequestParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = s = settings
        self._url = compile_template(s.url)
        self._query = {k: compile_template(v) for k, v in s.query.items()}
        self._headers = {k: compile_template(v) for k, v in s.headers.items()}
        self._body: Callable[..., Any] | None = (
            compile_expression(s.json_body) if s.json_body else None
        )
        self._fixed = _fixed_host(s.url)

    @classmethod
    def from_params(cls, params: HttpRequestParams, **kwargs: Any) -> HttpRequest:
        return cls(params, **kwargs)

    # --- where ---------------------------------------------------------------------------

    def _check_target(self, url: str, origin: str | None) -> str:
        """The host:port of ``url`` if the request may go there (``origin``: the host a
        redirect comes from)."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise HttpRefused(f"'{url[:200]}' is not an http(s) URL with a host")
        host = parts.netloc.rsplit("@", 1)[-1].lower()
        allowed = self.settings.allowed_hosts
        if allowed is not None:
            if _host_allowed(host, allowed) or _host_allowed(parts.hostname.lower(), allowed):
                return host
            raise HttpRefused(f"'{host}' is not one of allowed_hosts ({', '.join(allowed)})")
        if origin is not None and host != origin:
            raise HttpRefused(
                f"a redirect from '{origin}' to another host ('{host}') is not followed;"
                " list it in allowed_hosts to allow it"
            )
        if origin is None and self._fixed is not None and host != self._fixed:
            raise HttpRefused(f"the URL's host is '{host}', not the template's own '{self._fixed}'")
        return host

    # --- the call ------------------------------------------------------------------------

    def _render(self, value: Any) -> tuple[str, dict[str, str], dict[str, str], Any]:
        names = {"input": value}
        names.update(fields_of(value))
        try:
            url = self._url.render(names).strip()
            query = {k: t.render(names) for k, t in self._query.items()}
            headers = {k: t.render(names) for k, t in self._headers.items()}
            body = self._body(**names) if self._body is not None else None
        except TemplateError as exc:
            raise HttpBadInput(
                f"the request cannot be built from the input: {exc.message}"
            ) from None
        return url, query, headers, body

    async def map(self, input_value: Any) -> Any:
        url, query, headers, body = self._render(input_value)
        self._check_target(url, None)
        s = self.settings
        attempt = 0
        while True:
            try:
                return await self._once(url, query, headers, body)
            except (HttpFailed, HttpStatus) as exc:
                retry = isinstance(exc, HttpFailed) or exc.status in _RETRY_STATUSES
                if not retry or attempt >= s.max_retries:
                    raise
            await asyncio.sleep(min(s.backoff * 2**attempt, _MAX_WAIT))
            attempt += 1

    async def _once(
        self, url: str, query: Mapping[str, str], headers: Mapping[str, str], body: Any
    ) -> Any:
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=s.timeout)
        method = s.method
        origin = self._check_target(url, None)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for _ in range(s.max_redirects + 1):
                    async with session.request(
                        method,
                        url,
                        params=query or None,
                        headers=headers,
                        json=body if self._body is not None else None,
                        allow_redirects=False,
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in _REDIRECTS and location:
                            url = urljoin(str(resp.url), location)
                            origin = self._check_target(url, origin)
                            query = {}  # the Location carries its own query
                            if resp.status == 303:
                                method, body = "GET", None
                            continue
                        return await self._answer(resp)
                raise HttpFailed(f"more than {s.max_redirects} redirects from {url[:200]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc}"
            raise HttpFailed(f"{method} {url[:200]} {what}") from None

    async def _answer(self, resp: aiohttp.ClientResponse) -> Any:
        s = self.settings
        if resp.content_length is not None and resp.content_length > s.max_bytes:
            raise HttpBadAnswer(
                f"the answer is {resp.content_length} bytes; max_bytes is {s.max_bytes}"
            )
        data = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            data += chunk
            if len(data) > s.max_bytes:
                raise HttpBadAnswer(f"the answer is over max_bytes ({s.max_bytes} bytes)")
        try:
            text = bytes(data).decode(resp.charset or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            text = bytes(data).decode("utf-8", "replace")
        if not 200 <= resp.status < 300:
            raise HttpStatus(
                f"{resp.method} {str(resp.url)[:200]} answered {resp.status}: {text[:200]}",
                resp.status,
            )
        if s.method == "HEAD":
            return None
        is_json = "json" in (resp.content_type or "")
        if s.response == "json" or (s.response == "auto" and is_json):
            try:
                return json.loads(text) if text.strip() else None
            except ValueError:
                raise HttpBadAnswer(
                    f"the answer of {str(resp.url)[:200]} is not JSON: {text[:200]!r}"
                ) from None
        return text
