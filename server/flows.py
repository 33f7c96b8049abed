"""The flows a server serves: shipped ones, the user's, and what failed to load.

Shipped flows (the ``flows/`` package) are part of the product: a broken one or two claiming
one route stop start-up. User flows (the dags directory) come and go while the server runs: a
broken file is reported (log and ``GET /api/v1/awel/flows/errors``) and the rest keep serving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from awel import loader
from awel.catalog import Guard
from awel.dag import DAG
from awel.errors import AwelError, Problem, SourceLocation, SpecError
from awel.trigger import TRIGGER_PREFIX, HttpTrigger

from .routes import Route, RouteConflict, RouteTable

log = logging.getLogger("awel.server")

#: Where the problems of the user's flows are listed.
FLOW_ERRORS_PATH = TRIGGER_PREFIX.rsplit("/", 1)[0] + "/flows/errors"

#: The package folder of the shipped flows.
SHIPPED = Path(__file__).resolve().parent.parent / "flows"
#: The flows of the OpenAI-compatible model API: served on their own port, not the webserver's.
MODEL_API = SHIPPED / "model_api"


def flow_files(root: Path, *, recursive: bool) -> list[Path]:
    """The flow files in the folder ``root`` (none when it does not exist)."""
    return loader.flow_files(root, recursive=recursive) if root.is_dir() else []


def webserver_flow_files() -> list[Path]:
    """The shipped flows of the webserver: every flow file but the model API's."""
    return [f for f in flow_files(SHIPPED, recursive=True) if not f.is_relative_to(MODEL_API)]


def http_trigger(dag: DAG) -> HttpTrigger | None:
    for node in dag.trigger_nodes:
        if isinstance(node, HttpTrigger):
            return node
    return None


@dataclass
class Mounted:
    """A group of flows the domain mounted, and who may call them (None: whoever may call
    the server)."""

    dags: list[DAG]
    guard: Guard | None = None


@dataclass
class LoadedFile:
    path: Path
    dags: list[DAG] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_file(path: Path, *, user: bool) -> LoadedFile:
    loaded = LoadedFile(path)
    try:
        dags = loader.load_path(path)
    except SpecError as exc:
        loaded.problems = list(exc.problems)
        return loaded
    except AwelError as exc:
        loaded.problems = [Problem(exc.code, exc.message, SourceLocation(str(path)))]
        return loaded
    for dag in dags:
        trigger = http_trigger(dag)
        if trigger is None:
            continue
        if user and not trigger.path.startswith(TRIGGER_PREFIX + "/"):
            loaded.problems.append(
                Problem(
                    "server.user_path",
                    f"flow '{dag.dag_id}' claims {trigger.path}; user flows are served under"
                    f" {TRIGGER_PREFIX}, so give the trigger an endpoint= instead of a path=",
                    trigger.location or SourceLocation(str(path)),
                )
            )
            continue
        if user and path.suffix == ".py":
            # A YAML flow was checked as it loaded; a Python one is checked here, edge types
            # included, so a user learns of a mismatch at load, not at the first request.
            problems = loader.check_dag(dag)
            if problems:
                loaded.problems.extend(problems)
                continue
        loaded.dags.append(dag)
    return loaded


class FlowSet:
    """Loads flows and builds the route table from them."""

    def __init__(
        self, *, shipped: Iterable[Path] = (), user_dir: Path | None, keepalive: float | None
    ) -> None:
        self.shipped_files = list(shipped)
        self.user_dir = user_dir
        self.keepalive = keepalive
        self.shipped: list[LoadedFile] = []
        self.user: list[LoadedFile] = []
        #: Flows the domain mounted while the server runs (installed agents), by group.
        self.mounted: dict[str, Mounted] = {}

    def load_shipped(self) -> RouteTable:
        """Load the shipped flows; any problem is fatal."""
        self.shipped = [load_file(p, user=False) for p in self.shipped_files]
        problems = [p for f in self.shipped for p in f.problems]
        if problems:
            raise SpecError("the shipped flows", problems)
        return self._table([])

    def load_user(self) -> RouteTable:
        """(Re)load the user's flows; a broken file is reported, the others still served."""
        files = flow_files(self.user_dir, recursive=False) if self.user_dir else []
        self.user = [load_file(p, user=True) for p in files]
        for f in self.user:
            for problem in f.problems:
                log.error("user flow not loaded: %s", problem)
        return self._table(self.user)

    def _table(self, user: list[LoadedFile]) -> RouteTable:
        table = RouteTable()
        for f in self.shipped:
            for dag in f.dags:
                table.add(self._route(dag))
        # Before the user's: a group was refused at mount if its routes were taken, so
        # these never conflict, and a user flow claiming one of them is reported.
        for group in self.mounted.values():
            for dag in group.dags:
                route = self._route(dag)
                route.guard = group.guard
                table.add(route)
        for f in user:
            for dag in list(f.dags):
                route = self._route(dag)
                try:
                    table.add(route)
                except RouteConflict as exc:
                    f.dags.remove(dag)
                    f.problems.append(Problem(exc.code, exc.message, SourceLocation(str(f.path))))
                    log.error("user flow not mounted: %s: %s", f.path, exc.message)
        return table

    def table(self) -> RouteTable:
        """The route table of the flows loaded now."""
        return self._table(self.user)

    def _route(self, dag: DAG) -> Route:
        trigger = http_trigger(dag)
        assert trigger is not None
        return Route(dag, trigger, keepalive=self.keepalive)

    def errors(self) -> list[dict[str, object]]:
        """Every load problem of the user's flows, for the errors route."""
        out: list[dict[str, object]] = []
        for f in self.user:
            for p in f.problems:
                out.append(
                    {
                        "file": str(f.path),
                        "code": p.code,
                        "message": p.message,
                        "location": str(p.location) if p.location else str(f.path),
                    }
                )
        return out

    def dags(self) -> list[DAG]:
        mounted = [d for group in self.mounted.values() for d in group.dags]
        return [d for f in (*self.shipped, *self.user) for d in f.dags] + mounted

    def flow(self, flow_id: str) -> DAG | None:
        """The mounted user flow whose id is ``flow_id`` (:class:`awel.catalog.FlowsById`).

        Only the user's: the shipped flows are the product's API, not flows to call by name
        (chat_flow would otherwise run ``chat_db_list`` as a chat answer). Read at each
        call, so a reload is seen at once.
        """
        for f in self.user:
            for dag in f.dags:
                if dag.dag_id == flow_id:
                    return dag
        return None
