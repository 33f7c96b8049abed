"""The per-call context: shared data, node outputs and the current run.

One :class:`DAGContext` exists per call of a flow. Operators reach it through
``self.current_dag_context`` (a context variable, so concurrent calls never see each other's
data, and tasks started by a fan-out inherit it).
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import RunError

if TYPE_CHECKING:
    from .dag import DAG
    from .operators import BaseOperator


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


#: A call made without input data.
EMPTY: Any = _Sentinel("EMPTY")
#: The output of a node that a branch skipped.
SKIP_DATA: Any = _Sentinel("SKIP_DATA")
#: A node that has not run (yet) in this call.
UNSET: Any = _Sentinel("UNSET")

_run_ids = itertools.count(1)

_current: contextvars.ContextVar[DAGContext | None] = contextvars.ContextVar(
    "awel_dag_context", default=None
)


def current_context() -> DAGContext | None:
    """The context of the call running in this task, if any."""
    return _current.get()


class DAGContext:
    """State of one call of a flow.

    ``share_data`` is a plain dict any node may read and write. The async
    ``save_to_share_data`` / ``get_from_share_data`` pair mirrors DB-GPT's API (it refuses
    to overwrite unless asked). ``get_task_output(name)`` returns what an earlier node
    produced in this call.
    """

    __slots__ = ("_index", "_nodes", "_run_id", "_share", "_values", "dag", "streaming_call")

    def __init__(
        self,
        dag: DAG,
        nodes: Sequence[BaseOperator],
        index: dict[str, int],
        share_data: dict[str, Any] | None = None,
        *,
        streaming_call: bool = False,
    ) -> None:
        # One is made for every call a server answers, so what few calls read (the run id,
        # the shared dict) is made when first read.
        self.dag = dag
        self.streaming_call = streaming_call
        self._share = share_data
        self._run_id = 0
        self._nodes = nodes
        self._index = index
        self._values: list[Any] = []

    @property
    def run_id(self) -> int:
        """A number for this call, unique in the process (given when first read)."""
        if not self._run_id:
            self._run_id = next(_run_ids)
        return self._run_id

    @property
    def share_data(self) -> dict[str, Any]:
        """The call's shared dict (the one the caller passed, if any)."""
        share = self._share
        if share is None:
            share = self._share = {}
        return share

    # --- node outputs -----------------------------------------------------------------------

    def get_task_output(self, task_name: str) -> Any:
        """The output of the node named ``task_name`` in this call.

        Raises :class:`~awel.errors.RunError` when the node is not part of this call or has
        not run yet.
        """
        i = self._index.get(task_name)
        if i is None:
            raise RunError(
                f"node '{task_name}' is not upstream of the node this call runs",
                code="run.unknown_node",
            )
        value = self._values[i] if i < len(self._values) else UNSET
        if value is UNSET:
            raise RunError(f"node '{task_name}' has not run yet", code="run.not_ready")
        return value

    @property
    def outputs(self) -> dict[str, Any]:
        """Every output produced so far, by node label."""
        out: dict[str, Any] = {}
        for node, value in zip(self._nodes, self._values, strict=False):
            if value is not UNSET:
                out[node.label] = value
        return out

    def is_skipped(self, task_name: str) -> bool:
        i = self._index.get(task_name)
        return i is not None and i < len(self._values) and self._values[i] is SKIP_DATA

    # --- shared data (DB-GPT's async API) ---------------------------------------------------

    async def save_to_share_data(self, key: str, value: Any, overwrite: bool = False) -> None:
        if key in self.share_data and not overwrite:
            raise RunError(f"share data '{key}' is already set", code="run.share_data_exists")
        self.share_data[key] = value

    async def get_from_share_data(self, key: str) -> Any:
        return self.share_data.get(key)

    async def save_task_share_data(
        self, task_name: str, key: str, value: Any, overwrite: bool = False
    ) -> None:
        await self.save_to_share_data(f"{task_name}___$$$$$$___{key}", value, overwrite)

    async def get_task_share_data(self, task_name: str, key: str) -> Any:
        return self.share_data.get(f"{task_name}___$$$$$$___{key}")

    def __repr__(self) -> str:
        return f"<DAGContext {self.dag.dag_id!r} run={self.run_id}>"
