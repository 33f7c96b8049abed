"""CORS for every route, flow routes included, through aiohttp-cors.

aiohttp-cors answers preflight ``OPTIONS`` requests by adding an ``OPTIONS`` route to each
resource, and it refuses a resource whose route takes every method (``"*"``), which is how
the flow dispatcher is mounted. So with CORS on, the dispatcher is mounted once per method a
flow can declare instead; with CORS off nothing changes and no header is ever added.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import aiohttp_cors
from aiohttp import web

from .origins import normalize_origin

#: Every method an ``HttpTrigger`` accepts, and HEAD (answered by GET routes).
FLOW_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def mount_dispatch(app: web.Application, path: str, handler: Handler, *, cors: bool) -> None:
    """Mount the catch-all ``handler`` at ``path`` in a shape aiohttp-cors can wrap."""
    if not cors:
        # One route for every method: the dispatcher answers unknown methods itself (405, in
        # the route's JSON error style).
        app.router.add_route("*", path, handler)
        return
    resource = app.router.add_resource(path)
    for method in FLOW_METHODS:
        resource.add_route(method, handler)


def enable_cors(app: web.Application, origins: Sequence[str]) -> None:
    """Allow ``origins`` ('*' for any) on every route registered so far.

    Call it after the last route is added. Any method and request header may be used (API
    keys travel in ``Authorization``); responses expose their headers. Credentials (cookies)
    are not allowed: the API authenticates with keys, and '*' plus credentials would let any
    site act as the user.
    """
    # aiohttp-cors ships py.typed but leaves this constructor unannotated.
    options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
        allow_credentials=False, expose_headers="*", allow_headers="*", allow_methods="*"
    )
    # Compared as the browser sends them, as the origin check does (server.origins).
    defaults = {normalize_origin(origin): options for origin in origins}
    cors = aiohttp_cors.setup(app, defaults=defaults)
    for resource in list(app.router.resources()):
        cors.add(resource)
