"""Fetching a URL document: http and https only, never ``file://`` or another scheme.

Redirects are followed by hand so each hop's scheme is checked too (a web page cannot send
the server to read its own files), the body is capped, and the whole fetch has a deadline.
What it brings back is read by the same readers as uploads, chosen by the address's suffix
or the answer's media type.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from .errors import FetchFailed, UrlRefused

__all__ = ["MAX_BYTES", "Fetched", "check_url", "fetch"]

#: The largest document fetched (bytes).
MAX_BYTES = 32 * 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched document: where it ended up, its media type and its bytes."""

    url: str
    media_type: str
    data: bytes


def check_url(url: str) -> str:
    """``url`` stripped, when it is an http(s) address with a host; :class:`UrlRefused`
    otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UrlRefused(url)
    return url


async def fetch(url: str, *, max_bytes: int = MAX_BYTES, timeout: float = 60.0) -> Fetched:
    """GET ``url`` (following up to five redirects, each checked); :class:`UrlRefused` for a
    non-http(s) address, :class:`FetchFailed` for anything else that goes wrong."""
    current = check_url(url)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            for _ in range(_MAX_REDIRECTS + 1):
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        current = check_url(urljoin(current, response.headers["Location"]))
                        continue
                    if response.status >= 400:
                        raise FetchFailed(
                            f"fetching {current} answered HTTP {response.status}", param="content"
                        )
                    data = bytearray()
                    async for block in response.content.iter_chunked(1 << 16):
                        data += block
                        if len(data) > max_bytes:
                            raise FetchFailed(
                                f"{current} is larger than {max_bytes} bytes", param="content"
                            )
                    return Fetched(current, response.content_type, bytes(data))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchFailed(
            f"{current} could not be fetched: {exc or type(exc).__name__}", param="content"
        ) from exc
    raise FetchFailed(f"{url} redirects more than {_MAX_REDIRECTS} times", param="content")
