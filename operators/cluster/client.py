"""HTTP clients of the cluster: the controller's registry, and one worker manager's routes.

:class:`ControllerClient` is a :class:`~operators.cluster.registry.Registry` across HTTP, so a
worker, the API server and a webserver with ``--controller-addr`` use a remote controller
exactly as the all-in-one process uses its local registry. As DB-GPT's client does, it sends
POST bodies as JSON and DELETE/GET fields in the query string.

Every client of a process sends the cluster key (``Authorization: Bearer``), when one is set,
with each request: the controller and the workers refuse requests without it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from .types import ModelInstance

__all__ = ["ClusterError", "ControllerClient", "WorkerClient", "http_session"]


class ClusterError(Exception):
    """A controller or worker could not be reached, or refused the request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def http_session(*, key: str | None = None, connect_timeout: float = 3.0) -> aiohttp.ClientSession:
    """A session for cluster calls: no total timeout (streams are long), bounded connects,
    and the cluster ``key`` on every request."""
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout
    )
    # Loopback and LAN peers: keep connections, many at once.
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers)


async def _answer(resp: aiohttp.ClientResponse, what: str) -> Any:
    text = await resp.text()
    if resp.status >= 400:
        raise ClusterError(f"{what} answered {resp.status}: {text[:300]}", status=resp.status)
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise ClusterError(f"{what} answered something that is not JSON: {text[:200]}") from None


class ControllerClient:
    """The registry of a controller at ``address`` (``http://host:8000``), called with the
    cluster ``key``."""

    def __init__(
        self,
        address: str,
        *,
        key: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.address = address.rstrip("/")
        self.key = key
        self._session = session
        self._own = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = http_session(key=self.key)
            self._own = True
        return self._session

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.address + path
        try:
            async with self.session.request(method, url, **kwargs) as resp:
                return await _answer(resp, f"the controller at {self.address}")
        except aiohttp.ClientError as exc:
            raise ClusterError(f"cannot reach the controller at {self.address}: {exc}") from exc

    async def register(self, instance: ModelInstance) -> bool:
        return bool(await self._call("POST", "/api/controller/models", json=_body(instance)))

    async def heartbeat(self, instance: ModelInstance) -> bool:
        return bool(await self._call("POST", "/api/controller/heartbeat", json=_body(instance)))

    async def deregister(
        self, model_name: str, host: str, port: int, *, remove_from_registry: bool = False
    ) -> bool:
        params = {
            "model_name": model_name,
            "host": host,
            "port": str(port),
            "remove_from_registry": "true" if remove_from_registry else "false",
        }
        return bool(await self._call("DELETE", "/api/controller/models", params=params))

    async def instances(
        self, model_name: str | None = None, *, healthy_only: bool = False
    ) -> list[ModelInstance]:
        params = {"healthy_only": "true" if healthy_only else "false"}
        if model_name is not None:
            params["model_name"] = model_name
        found = await self._call("GET", "/api/controller/models", params=params)
        if not isinstance(found, list):
            raise ClusterError(f"the controller at {self.address} did not answer a list")
        return [ModelInstance.model_validate(i) for i in found]

    async def health(self) -> bool:
        try:
            return bool((await self._call("GET", "/api/health")) == {"status": "ok"})
        except ClusterError:
            return False

    async def aclose(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()


def _body(instance: ModelInstance) -> dict[str, Any]:
    return instance.model_dump(mode="json")


class WorkerClient:
    """The ``/api/worker/*`` routes of the worker manager at ``address``."""

    def __init__(self, address: str, session: aiohttp.ClientSession) -> None:
        self.address = address.rstrip("/")
        self.session = session

    async def call(self, path: str, body: Any, *, method: str = "POST") -> Any:
        url = f"{self.address}/api/worker/{path}"
        kwargs: dict[str, Any] = {"params": body} if method == "GET" else {"json": body}
        try:
            async with self.session.request(method, url, **kwargs) as resp:
                return await _answer(resp, f"the worker at {self.address}")
        except aiohttp.ClientError as exc:
            raise ClusterError(f"cannot reach the worker at {self.address}: {exc}") from exc

    async def stream(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """``generate_stream``: each NUL-terminated JSON chunk, parsed, as it arrives."""
        url = f"{self.address}/api/worker/generate_stream"
        try:
            async with self.session.post(url, json=body) as resp:
                if resp.status >= 400:
                    text = await resp.text()
                    raise ClusterError(
                        f"the worker at {self.address} answered {resp.status}: {text[:300]}",
                        status=resp.status,
                    )
                buffer = b""
                async for data in resp.content.iter_any():
                    buffer += data
                    while (cut := buffer.find(b"\0")) >= 0:
                        chunk, buffer = buffer[:cut], buffer[cut + 1 :]
                        if chunk.strip():
                            yield json.loads(chunk)
                if buffer.strip():
                    yield json.loads(buffer)
        except aiohttp.ClientError as exc:
            raise ClusterError(f"the worker at {self.address} failed: {exc}") from exc
