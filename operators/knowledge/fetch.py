"""Fetching a URL document: http and https only, never ``file://`` or another scheme.

Redirects are followed by hand so each hop's scheme is checked too (a web page cannot send
the server to read its own files), the body is capped, and the whole fetch has a deadline.

A URL comes from whoever may add a document, so by default it may not reach the server's own
network: an address that is loopback, private, link-local (cloud metadata services),
reserved, multicast or unspecified is refused, whether written in the URL or what its name
resolves to at connect time (checked by the resolver, so a redirect or a DNS answer that
changes after the check cannot get round it). ``allow_private`` lifts that, for a server
whose documents live on its own network (the ``allow_private_urls`` setting).
What it brings back is read by the same readers as uploads, chosen by the address's suffix
or the answer's media type.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

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


def is_public(address: str) -> bool:
    """Whether an IP address is one of the internet's, not the server's own network's."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_url(url: str, *, allow_private: bool = False) -> str:
    """``url`` stripped, when it is an http(s) address with a host (and, unless
    ``allow_private``, not an IP address of the server's own network); :class:`UrlRefused`
    otherwise. A host name is checked when it is resolved (see :func:`fetch`)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UrlRefused(url)
    if not allow_private:
        try:
            literal = is_public(parts.hostname)
        except ValueError:
            literal = True  # a name, not an address: the resolver checks what it resolves to
        if not literal:
            raise UrlRefused(url, "it points into the server's own network")
    return url


class _PublicResolver(AbstractResolver):
    """Resolves names as aiohttp does, keeping only public addresses (none: refused)."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [r for r in found if is_public(r["host"])]
        if not public:
            raise UrlRefused(host, "it resolves into the server's own network")
        return public

    async def close(self) -> None:
        await self._inner.close()


async def fetch(
    url: str, *, allow_private: bool = False, max_bytes: int = MAX_BYTES, timeout: float = 60.0
) -> Fetched:
    """GET ``url`` (following up to five redirects, each checked); :class:`UrlRefused` for a
    non-http(s) address or one of the server's own network (unless ``allow_private``),
    :class:`FetchFailed` for anything else that goes wrong."""
    current = check_url(url, allow_private=allow_private)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    session_args: dict[str, Any] = {"timeout": client_timeout}
    if not allow_private:
        session_args["connector"] = aiohttp.TCPConnector(resolver=_PublicResolver())
    try:
        async with aiohttp.ClientSession(**session_args) as session:
            for _ in range(_MAX_REDIRECTS + 1):
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        location = urljoin(current, response.headers["Location"])
                        current = check_url(location, allow_private=allow_private)
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
