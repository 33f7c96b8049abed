"""The flow serve module's two prefixes: every route answers at ``/api/v1/serve/awel``
(DB-GPT's web UI) and again at ``/api/v2/serve/awel`` (``dbgpt-client``; with API keys set,
both check them), so each module declares a route once and gets its twin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from awel import DAG
from flows._route import Api

__all__ = ["Twins", "serve_awel"]

V1 = "/api/v1/serve/awel"
V2 = "/api/v2/serve/awel"


@dataclass(frozen=True)
class Twins:
    """An :class:`Api` at each prefix; calling it declares a route at both."""

    v1: Api
    v2: Api

    def __call__(self, declare: Callable[[Api], DAG]) -> tuple[DAG, DAG]:
        """The flow ``declare`` makes at v1's prefix, and its twin at v2's."""
        return declare(self.v1), declare(self.v2)

    def replace(self, **changes: Any) -> Twins:
        """Both, with the same settings changed (a streaming route, another answer)."""
        return Twins(replace(self.v1, **changes), replace(self.v2, **changes))


def serve_awel(**settings: Any) -> Twins:
    """The twins with ``settings`` (tags, response, header fields ...) at both prefixes;
    v2's flows get the ``_v2`` id suffix, so the two never share an id."""
    v1 = Api(prefix=V1, **settings)
    return Twins(v1, replace(v1, prefix=V2, dag_id_suffix="_v2"))
