"""Refusing state-changing requests that a web page on another origin makes a browser send.

A page anywhere on the web can make its visitor's browser POST a form (or a ``fetch`` that
needs no preflight) to ``http://127.0.0.1:5670``; CORS only stops the page from *reading*
the answer, not the request from running. So every request that is not GET or HEAD is
checked where it would run (:meth:`server.routes.Route.answer`, the only handler of such
methods): a browser names the page's origin in ``Origin`` (and says how it relates to the
target in ``Sec-Fetch-Site``); unless that origin is the server's own or is listed in
``cors_origins`` (``*``: any), the answer is 403. Clients that send neither header (curl,
SDKs, DB-GPT's Python client, the cluster's own processes) are never refused.

The check is two header lookups for those clients, and nothing at all on GET-only routes.
It does not stop DNS rebinding (a page whose own host name resolves to this server is
same-origin to it); API keys do, since a browser never adds them to a page's request.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web

#: Methods a browser page may send anywhere and that never change state here.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``Sec-Fetch-Site`` values of requests that did not come from another site's page:
#: the server's own pages, and the user typing the URL or following a bookmark.
_OWN_SITES = frozenset({"same-origin", "none"})
_SHOWN = 200
# aiohttp's header names are case-insensitive strings already: a lookup with one skips
# folding the name's case (40 ns instead of 95 here).
_ORIGIN = hdrs.ORIGIN
_FORWARDED_PROTO = hdrs.X_FORWARDED_PROTO


class OriginGuard:
    """Which origins may send state-changing requests: the server's own, and ``origins``."""

    __slots__ = ("any", "listed")

    def __init__(self, origins: Iterable[str] = ()) -> None:
        cleaned = [normalize_origin(o) for o in origins]
        self.any = "*" in cleaned
        self.listed = frozenset(o for o in cleaned if o and o != "*")

    def refusal(self, request: web.Request) -> str | None:
        """Why ``request`` is refused (a message for a 403), or None when it may run."""
        headers = request.headers
        origin = headers.get(_ORIGIN)
        if origin is None:
            site = headers.get("Sec-Fetch-Site")
            if site is None or site in _OWN_SITES or self.any:
                return None
            return (
                f"a {site[:_SHOWN]} request from a browser with no Origin header is refused;"
                " the page's origin must be listed in the server's cors_origins setting"
            )
        if self.any:
            return None
        given = origin.strip().lower()
        if given in self.listed:
            return None
        own = _own_origin(request)
        if given == own:
            return None
        return (
            f"the origin {origin[:_SHOWN]} may not send {request.method} requests to this"
            f" server (its own origin is {own}); list it in the cors_origins setting to allow it"
        )


def normalize_origin(origin: str) -> str:
    """An origin as browsers send it: ``https://ui.example/`` in the settings means
    ``https://ui.example`` (scheme and host are case-insensitive)."""
    return origin.strip().rstrip("/").lower()


def _own_origin(request: web.Request) -> str:
    # Behind a TLS proxy that keeps the Host header the scheme arrives as X-Forwarded-Proto.
    # A page cannot forge it: the header is not CORS-safelisted, so the browser would ask
    # with a preflight first, which is refused for origins not listed.
    forwarded = request.headers.get(_FORWARDED_PROTO)
    scheme = forwarded.split(",", 1)[0].strip().lower() if forwarded else request.scheme
    return f"{scheme}://{request.host.lower()}"


#: The guard of a route no app has bound yet: nothing listed, the server's own origin only.
OWN_ORIGIN_ONLY = OriginGuard()
