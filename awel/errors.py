"""One error hierarchy for the engine, with stable codes.

Every error the engine raises on purpose is an :class:`AwelError` with a dotted ``code``
(``dag.cycle``, ``spec.unknown_operator``, ``run.node_failed`` ...). Codes are part of the
public contract: the server maps them to HTTP statuses and envelopes, scripts match on them,
so they never change once released. Messages are for people and may improve.

Validation collects every problem before raising (:class:`DAGValidationError`,
:class:`SpecError`) so that one run of ``awel validate`` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where something was declared: a file and a 1-based line and column."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a flow, reported with the others."""

    code: str
    message: str
    location: SourceLocation | None = None

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        if loc is None:
            return ("", 0, 0, self.message)
        return (loc.file, loc.line or 0, loc.column or 0, self.message)


class AwelError(Exception):
    """Base of every error raised on purpose, by the engine and by the domain below it.

    ``code`` says what went wrong (``model.not_found``); ``param`` names the request field at
    fault, when there is one. Neither says how to answer: the server keeps one table from
    codes to HTTP statuses and to each API's own codes, so the domain knows nothing of HTTP.
    """

    code: str = "awel.error"
    param: str | None = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if param is not None:
            self.param = param


class ProblemsError(AwelError):
    """An error made of one or more :class:`Problem` s, all reported at once."""

    code = "awel.invalid"

    def __init__(self, problems: Iterable[Problem], *, title: str) -> None:
        self.problems: list[Problem] = sorted(problems, key=Problem.sort_key)
        self.title = title
        if len(self.problems) == 1:
            message = f"{title}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  {p}" for p in self.problems)
            message = f"{title}: {len(self.problems)} problems\n{lines}"
        super().__init__(message, code=self.problems[0].code if self.problems else None)


class DAGValidationError(ProblemsError):
    """A DAG failed its checks (cycle, unfed input, more than one entry ...)."""

    code = "dag.invalid"

    def __init__(self, dag_id: str, problems: Sequence[Problem]) -> None:
        self.dag_id = dag_id
        super().__init__(problems, title=f"flow '{dag_id}' is invalid")


class SpecError(ProblemsError):
    """A flow file could not be loaded; each problem points into the file."""

    code = "spec.invalid"

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        super().__init__(problems, title=f"cannot load {source}")


class DAGBuildError(AwelError):
    """Wrong use of the building API (linking nodes of two DAGs, a duplicate name ...)."""

    code = "dag.build"


class NodeError(AwelError):
    """A node failed while a flow ran. The original exception is the ``__cause__``."""

    code = "run.node_failed"

    def __init__(
        self,
        *,
        flow: str,
        node: str,
        operator: str,
        cause: BaseException,
        location: SourceLocation | None = None,
    ) -> None:
        self.flow = flow
        self.node = node
        self.operator = operator
        self.location = location
        where = f"{location}: " if location is not None else ""
        detail = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        super().__init__(f"{where}flow '{flow}', node '{node}' ({operator}) failed: {detail}")


class DeadlineExceeded(AwelError, TimeoutError):
    """A call ran past the deadline it was given."""

    code = "run.deadline"


class RunError(AwelError):
    """A call could not run as asked (no input for the trigger, the output was skipped ...)."""

    code = "run.invalid"


class BadRequest(AwelError):
    """A request that cannot be served as sent; ``param`` names the field to fix."""

    code = "request.invalid"
