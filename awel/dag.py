"""DAGs and their nodes: building with ``with DAG(...)`` and ``>>``, and validation.

A :class:`DAG` is a container of :class:`DAGNode` s. Building is cheap and mutable; every
structural change bumps ``DAG.version`` so that compiled plans (see :mod:`awel.plan`) know
when they are stale. Validation runs once, when the ``with`` block closes or a plan is first
compiled, and reports every problem at once.

    >>> from awel import DAG, MapOperator, InputOperator
    >>> with DAG("demo") as dag:
    ...     start = InputOperator.from_callable()
    ...     double = MapOperator(lambda x: x * 2, task_name="double")
    ...     flow = start >> double  # `>>` returns its right side, so chains read on
    >>> import asyncio
    >>> asyncio.run(double.call(21))
    42
"""

from __future__ import annotations

import contextvars
import difflib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import networkx as nx

from .errors import DAGBuildError, DAGValidationError, Problem, SourceLocation
from .iotypes import NodeTypes
from .validate import structural_problems

if TYPE_CHECKING:
    from .operators import BaseOperator

N = TypeVar("N", bound="DAGNode")

#: Told, after each node of a call, the node, its run time in seconds and its error.
NodeObserver = Callable[["BaseOperator", float, BaseException | None], None]

# The open `with DAG()` blocks, innermost last. A context variable, not a thread-local:
# two tasks building flows on one event loop must not see each other's blocks.
_open_dags: contextvars.ContextVar[tuple[DAG, ...]] = contextvars.ContextVar(
    "awel_open_dags", default=()
)


def current_dag() -> DAG | None:
    """The innermost DAG whose ``with`` block is open in this task or thread, if any."""
    stack = _open_dags.get()
    return stack[-1] if stack else None


class DAGNode:
    """A node of a DAG: identity, name and its upstream and downstream links.

    ``a >> b`` makes ``b`` downstream of ``a`` and returns ``b``, so chains read left to
    right; lists fan out and in (``a >> [b, c] >> d``). Upstream order is the order links
    were made, and it is the argument order of a join.
    """

    def __init__(
        self,
        *,
        task_name: str | None = None,
        dag: DAG | None = None,
        node_id: str | None = None,
    ) -> None:
        self.node_id: str = node_id or uuid.uuid4().hex
        self.node_name: str | None = task_name
        self.upstream: list[DAGNode] = []
        self.downstream: list[DAGNode] = []
        self.dag: DAG | None = None
        #: Where the node was declared, for flows loaded from files.
        self.location: SourceLocation | None = None
        owner = dag if dag is not None else current_dag()
        if owner is not None:
            owner._add_node(self)

    # --- what validation and the plan compiler read (the operator kinds override) --------
    # They read nodes only through these, so they sit below the operator kinds.

    #: Can run: an operator (a bare DAGNode only holds links).
    runnable: ClassVar[bool] = False
    #: The flow's trigger (a flow has at most one).
    is_trigger: ClassVar[bool] = False
    #: Reads a source of its own, so nothing may feed it (input and trigger nodes).
    must_be_root: ClassVar[bool] = False
    #: Chooses which of its children run (a branch).
    is_branch: ClassVar[bool] = False

    @property
    def takes_call_data(self) -> bool:
        """A root that reads the call's input (an entry), rather than its own source."""
        return False

    def branch_targets(self) -> list[str]:
        """The labels of the children a branch may skip (none for other nodes)."""
        return []

    def io_types(self) -> NodeTypes:
        """What the node takes and gives, for the edge checks (a bare node: anything)."""
        return NodeTypes()

    def subflows(self) -> Sequence[DAG]:
        """The flows this node calls as part of its own run (a sub-flow operator's), so
        that whoever observes a flow can observe those too (:meth:`DAG.subflows`)."""
        return ()

    @property
    def task_name(self) -> str | None:
        return self.node_name

    @property
    def label(self) -> str:
        """A readable name: the task name, else the class name and a short id."""
        if self.node_name:
            return self.node_name
        return f"{type(self).__name__}_{self.node_id[:8]}"

    # --- linking -------------------------------------------------------------------------

    def __rshift__(self, other: Any) -> Any:
        _link([self], _as_nodes(other))
        return other

    def __rrshift__(self, other: Any) -> DAGNode:
        # `[a, b] >> c`: the list has no __rshift__, so Python asks c.
        _link(_as_nodes(other), [self])
        return self

    def __lshift__(self, other: Any) -> Any:
        _link(_as_nodes(other), [self])
        return other

    def __rlshift__(self, other: Any) -> DAGNode:
        _link([self], _as_nodes(other))
        return self

    def set_downstream(self, nodes: DAGNode | Sequence[DAGNode]) -> None:
        _link([self], _as_nodes(nodes))

    def set_upstream(self, nodes: DAGNode | Sequence[DAGNode]) -> None:
        _link(_as_nodes(nodes), [self])

    def __repr__(self) -> str:
        dag = self.dag.dag_id if self.dag else None
        return f"<{type(self).__name__} {self.label!r} dag={dag!r}>"


def _as_nodes(value: Any) -> list[DAGNode]:
    if isinstance(value, DAGNode):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, DAGNode) for v in value):
        return list(value)
    raise DAGBuildError(
        f"can only link nodes or lists of nodes, not {type(value).__name__}",
        code="dag.bad_link",
    )


def _link(sources: list[DAGNode], targets: list[DAGNode]) -> None:
    dags = {id(n.dag): n.dag for n in (*sources, *targets) if n.dag is not None}
    if len(dags) > 1:
        names = sorted(d.dag_id for d in dags.values() if d is not None)
        raise DAGBuildError(
            f"cannot link nodes of different flows ({', '.join(names)})",
            code="dag.foreign_node",
        )
    if not dags:
        raise DAGBuildError(
            "cannot link nodes that belong to no flow: create them inside `with DAG(...)`"
            " or pass dag=",
            code="dag.no_dag",
        )
    dag = next(iter(dags.values()))
    assert dag is not None
    for node in (*sources, *targets):
        if node.dag is None:
            dag._add_node(node)
    for src in sources:
        for dst in targets:
            if src is dst:
                raise DAGBuildError(f"node '{src.label}' cannot feed itself", code="dag.cycle")
            if dst in src.downstream:
                continue
            src.downstream.append(dst)
            dst.upstream.append(src)
    dag._changed()


class DAG:
    """A flow: a named set of operators wired into a directed acyclic graph.

    Use it as a context manager; operators created inside the block join it. Leaving the
    block validates the flow and raises :class:`~awel.errors.DAGValidationError` listing
    every problem.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        resource_group: str | None = None,
        default_dag_variables: dict[str, Any] | None = None,
    ) -> None:
        if not dag_id or not isinstance(dag_id, str):
            raise DAGBuildError("a DAG needs a non-empty string id", code="dag.bad_id")
        self.dag_id = dag_id
        self.description = description
        self.tags: dict[str, str] = dict(tags or {})
        self.resource_group = resource_group
        self.default_dag_variables: dict[str, Any] = dict(default_dag_variables or {})
        #: Where the flow was declared (a YAML file), for error messages.
        self.location: SourceLocation | None = None
        #: Where each link was written, by (upstream label, downstream label): a YAML
        #: flow's edges, so a type mismatch points at the edge rather than the node.
        self.edge_locations: dict[tuple[str, str], SourceLocation] = {}
        self._nodes: list[DAGNode] = []
        self._by_name: dict[str, DAGNode] = {}
        self._by_id: dict[str, DAGNode] = {}
        #: Bumped on every structural change; compiled plans compare against it.
        self.version = 0
        self._validated_version = -1
        self._tokens: list[contextvars.Token[tuple[DAG, ...]]] = []
        self._node_observer: NodeObserver | None = None

    # --- context manager ------------------------------------------------------------------

    def __enter__(self) -> DAG:
        self._tokens.append(_open_dags.set((*_open_dags.get(), self)))
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        token = self._tokens.pop()
        try:
            _open_dags.reset(token)
        except ValueError:
            # Left in another context than it was entered in: drop just this DAG.
            _open_dags.set(tuple(d for d in _open_dags.get() if d is not self))
        if exc_type is None:
            self.validate()

    # --- nodes ----------------------------------------------------------------------------

    def _add_node(self, node: DAGNode) -> None:
        if node.dag is self:
            return
        if node.dag is not None:
            raise DAGBuildError(
                f"node '{node.label}' already belongs to flow '{node.dag.dag_id}'",
                code="dag.foreign_node",
            )
        name = node.node_name
        if name is not None and name in self._by_name:
            raise DAGBuildError(
                f"flow '{self.dag_id}' already has a node named '{name}'; task names are"
                " unique within a flow",
                code="dag.duplicate_name",
            )
        if node.node_id in self._by_id:
            raise DAGBuildError(
                f"flow '{self.dag_id}' already has a node with id '{node.node_id}'",
                code="dag.duplicate_id",
            )
        node.dag = self
        self._nodes.append(node)
        self._by_id[node.node_id] = node
        if name is not None:
            self._by_name[name] = node
        self._changed()

    def _changed(self) -> None:
        self.version += 1

    @property
    def nodes(self) -> list[DAGNode]:
        return list(self._nodes)

    def __iter__(self) -> Iterator[DAGNode]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def get_node(self, name: str) -> DAGNode:
        """The node with this task name (or node id)."""
        node = self._by_name.get(name) or self._by_id.get(name)
        if node is None:
            hint = difflib.get_close_matches(name, list(self._by_name), n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else ""
            raise KeyError(f"flow '{self.dag_id}' has no node '{name}'{extra}")
        return node

    @property
    def root_nodes(self) -> list[DAGNode]:
        return [n for n in self._nodes if not n.upstream]

    @property
    def leaf_nodes(self) -> list[DAGNode]:
        return [n for n in self._nodes if not n.downstream]

    @property
    def trigger_nodes(self) -> list[DAGNode]:
        return [n for n in self._nodes if n.is_trigger]

    @property
    def output_node(self) -> BaseOperator:
        """The flow's single leaf, which is what a trigger answers with."""
        leaves = self.leaf_nodes
        if len(leaves) != 1:
            names = ", ".join(n.label for n in leaves) or "none"
            raise DAGBuildError(
                f"flow '{self.dag_id}' has {len(leaves)} output nodes ({names}); exactly one"
                " leaf is needed to call the flow as a whole",
                code="dag.output",
            )
        leaf = leaves[0]
        assert leaf.runnable
        return cast("BaseOperator", leaf)

    # --- observing --------------------------------------------------------------------------

    @property
    def node_observer(self) -> NodeObserver | None:
        return self._node_observer

    def set_node_observer(self, observer: NodeObserver | None) -> None:
        """Call ``observer(node, seconds, error)`` after every node of every call.

        For metrics and tracing. Plans are recompiled with each step timed, so a flow with
        no observer pays nothing for the feature.

        An observer may also have a ``timings(node)`` method returning a list (or None):
        in a linear flow the engine then appends the node's run time to that list when it
        succeeds, instead of calling the observer, which costs a server's every request.
        Failures are always told through the call.

        A *tracer* (debugging, the flow editor's run view) has a
        ``wrap_step(node, step, streams)`` method instead: each node's compiled step is
        passed through it once, when the plan compiles, and the step it returns is awaited
        in its place (``streams``: the step returns a stream, which the wrapper may wrap
        to see each item). The observer is then not called: the wrapper reports.
        """
        self._node_observer = observer
        self._changed()

    def subflows(self) -> list[DAG]:
        """Every flow this one calls through its nodes, and those flows' own, each once.

        Observing a flow does not observe the flows it calls: they are DAGs of their own,
        with their own observer. The server's metrics walk this list to time them too.
        """
        found: list[DAG] = []
        seen = {id(self)}
        work: list[DAG] = [self]
        while work:
            for node in work.pop()._nodes:
                for sub in node.subflows():
                    if id(sub) not in seen:
                        seen.add(id(sub))
                        found.append(sub)
                        work.append(sub)
        return found

    # --- graph and validation --------------------------------------------------------------

    def graph(self) -> nx.DiGraph[DAGNode]:
        """The flow as a networkx graph whose nodes are the DAG's nodes."""
        g: nx.DiGraph[DAGNode] = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        for node in self._nodes:
            for child in node.downstream:
                g.add_edge(node, child)
        return g

    def problems(self) -> list[Problem]:
        """Every structural problem of the flow (empty when it is valid)."""
        return structural_problems(self)

    def validate(self) -> None:
        """Raise :class:`DAGValidationError` listing every problem, if there are any."""
        if self._validated_version == self.version:
            return
        found = self.problems()
        if found:
            raise DAGValidationError(self.dag_id, found)
        self._validated_version = self.version

    def topological_nodes(self) -> list[DAGNode]:
        """Nodes in an order where every node comes after its upstream."""
        return list(nx.topological_sort(self.graph()))

    # --- identity -------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DAG) and other.dag_id == self.dag_id

    def __hash__(self) -> int:
        return hash(self.dag_id)

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id!r} nodes={len(self._nodes)}>"
