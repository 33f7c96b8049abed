"""The ``awel`` command: check, run, draw and list flows from the terminal.

Checking is separate from running (``awel validate`` loads and checks without calling an
operator and reports every problem), a run is one in-process call with no server
(``awel run``), and drawings are text with no dependencies (``awel graph``). Every command
that reports has ``--json`` for scripts. Exit codes: 0 success, 1 the flow is invalid or
failed, 2 the command was misused (click's usage errors).

Errors the engine raises on purpose (:class:`~awel.errors.AwelError`) are printed as
messages, never as tracebacks; ``-v`` shows the traceback too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import anyio
import click
from pydantic import ValidationError

from . import __version__
from .context import EMPTY
from .dag import DAG
from .describe import NODE_KEYS, OperatorInfo, catalogue, describe
from .draw import draw_dot, draw_mermaid
from .errors import (
    AwelError,
    DAGBuildError,
    NodeError,
    Problem,
    ProblemsError,
    RunError,
)
from .loader import flow_files, load_path, load_paths
from .operators import BaseOperator
from .report import RunReport, call_with_report, stream_with_report
from .trigger import call_input

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

_VERBOSE = "awel.verbose"


# --- shared plumbing ----------------------------------------------------------------------


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta[_VERBOSE] = True
    return value


def _verbose_option(fn: F) -> F:
    # Accepted before or after the command name: `awel -v run ...` and `awel run ... -v`.
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_verbose,
        help="Show tracebacks of errors.",
    )(fn)


def _verbose() -> bool:
    return bool(click.get_current_context().find_root().meta.get(_VERBOSE))


def _show_traceback(exc: BaseException) -> None:
    if _verbose():
        click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)


def _fail(exc: BaseException) -> NoReturn:
    """Report an error for a person and exit 1."""
    _show_traceback(exc)
    if isinstance(exc, ProblemsError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        message = f"{exc.title}: {_count(len(exc.problems), 'problem')}"
    else:
        message = str(exc) if isinstance(exc, AwelError) else f"{type(exc).__name__}: {exc}"
    code = getattr(exc, "code", "error")
    click.echo(f"{click.style('error:', fg='red', bold=True)} {message} [{code}]", err=True)
    if exc.__cause__ is not None and not isinstance(exc, ProblemsError) and not _verbose():
        click.echo(click.style("(-v shows the traceback)", dim=True), err=True)
    click.get_current_context().exit(1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _dumps(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    # Results are whatever operators return; make the common kinds readable, not repr()s.
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def _render(value: Any) -> str:
    """A result for a person: text as it is, anything else as indented JSON."""
    return value if isinstance(value, str) else _dumps(value, indent=2)


def _problem_json(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {
        "code": problem.code,
        "message": problem.message,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "column": loc.column if loc else None,
    }


def _flow_file(dag: DAG) -> str | None:
    return dag.location.file if dag.location else None


def _pick_flow(path: str, flow_id: str | None) -> DAG:
    """The one flow of ``path`` a command works on (``--flow`` when it has several).

    Raises :class:`AwelError` when the file does not load, click's errors for misuse.
    """
    dags = load_path(path)
    ids = ", ".join(d.dag_id for d in dags)
    if flow_id is not None:
        for dag in dags:
            if dag.dag_id == flow_id:
                return dag
        raise click.BadParameter(
            f"{path} has no flow '{flow_id}' (it has: {ids or 'none'})", param_hint="--flow"
        )
    if not dags:
        raise AwelError(f"{path} defines no flow", code="spec.no_flow")
    if len(dags) > 1:
        raise click.UsageError(f"{path} defines {len(dags)} flows ({ids}); choose one with --flow")
    return dags[0]


def _pick_node(dag: DAG, name: str | None) -> BaseOperator:
    if name is None:
        try:
            return dag.output_node
        except DAGBuildError as exc:
            raise click.UsageError(f"{exc}; choose one with --node") from exc
    try:
        node = dag.get_node(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--node") from exc
    if not isinstance(node, BaseOperator):
        raise click.BadParameter(f"'{name}' is not an operator", param_hint="--node")
    return node


def _parse_input(text: str | None) -> Any:
    """``--input``: JSON text, ``@file`` holding JSON, ``@-`` for stdin; none is EMPTY."""
    if text is None:
        return EMPTY
    raw = text
    if text.startswith("@"):
        name = text[1:]
        try:
            raw = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {name}: {exc.strerror}", param_hint="--input"
            ) from exc
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        hint = "" if text.startswith("@") else " (a string is quoted: --input '\"text\"')"
        raise click.BadParameter(f"not JSON: {exc}{hint}", param_hint="--input") from exc


def _prepare_input(dag: DAG, data: Any) -> Any:
    """Parse the input as the server would: into the trigger's pydantic request model."""
    try:
        return call_input(dag, data)
    except ValidationError as exc:
        raise RunError(f"the input does not fit {exc.title}: {exc}", code="run.bad_input") from exc


# --- commands -----------------------------------------------------------------------------


class _PluginGroup(click.Group):
    """A command group that also offers the commands other packages register.

    The engine knows nothing of the server, yet ``awel serve`` should exist: the server
    registers its commands under the ``awel.commands`` entry-point group, and they are only
    imported when asked for, so ``awel validate`` never pays for aiohttp.
    """

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="awel.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        ep = self._plugins().get(cmd_name)
        if ep is None:
            return None
        loaded = ep.load()
        return loaded if isinstance(loaded, click.Command) else None


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="awel")
@_verbose_option
def main() -> None:
    """Check, run and draw AWEL flows (Python modules and YAML specs).

    \b
      awel validate flows/            check every flow, print every problem
      awel run flow.py --input '{"name": "Alice"}'
      awel graph flow.yaml            draw it as Mermaid (or --format dot)
      awel list flows/                the flows, their entry and output nodes
      awel operators [NAME]           the operators a YAML flow can use
      awel serve                      serve the flows over HTTP (DB-GPT's API)
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_verbose_option
def validate(paths: Sequence[str], as_json: bool) -> None:
    """Load and check flow files without running them; print every problem.

    PATHS are .py, .yaml or .yml files, or folders of them. Problems print as
    FILE:LINE:COL: MESSAGE. Exits 1 if there are any.
    """
    dags, problems = load_paths(paths)
    files = sum(len(flow_files(p)) for p in paths if os.path.exists(p))
    if as_json:
        report = {
            "ok": not problems,
            "files": files,
            "flows": [{"id": d.dag_id, "file": _flow_file(d), "nodes": len(d)} for d in dags],
            "problems": [_problem_json(p) for p in problems],
        }
        click.echo(_dumps(report, indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        where = f"{_count(len(dags), 'flow')} in {_count(files, 'file')}"
        if problems:
            click.echo(f"{_count(len(problems), 'problem')}; {where} loaded without problems")
        else:
            click.echo(f"ok: {where}, no problems")
    if problems:
        click.get_current_context().exit(1)


@main.command()
@click.argument("path", type=click.Path())
@click.option("--input", "-i", "input_", metavar="JSON|@FILE", help="The call's input as JSON.")
@click.option("--node", "-n", metavar="NAME", help="Run up to this node (default: the output).")
@click.option("--flow", "-f", "flow_id", metavar="ID", help="Which flow, if PATH has several.")
@click.option("--stream", is_flag=True, help="Print the output's items as they arrive.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Fail a call that runs longer.")
@click.option("--json", "as_json", is_flag=True, help="Print NDJSON events for scripts.")
@_verbose_option
def run(
    path: str,
    input_: str | None,
    node: str | None,
    flow_id: str | None,
    stream: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Run a flow once, in this process, and print its output.

    \b
      awel run hello.py --input '{"name": "Alice", "age": 30}'
      awel run hello.yaml --input @person.json --json
      awel run chat.py --input '"hi"' --stream

    With --json, each line is an event: {"event": "item", ...} per streamed item, then
    one {"event": "result", ...} or {"event": "error", "code": ..., "message": ...}.
    """
    data = _parse_input(input_)
    emit = _emit if as_json else None
    try:
        dag = _pick_flow(path, flow_id)
        target = _pick_node(dag, node)
        data = _prepare_input(dag, data)
    except AwelError as exc:
        if emit is None:
            _fail(exc)
        _show_traceback(exc)
        emit("error", **_error_fields(exc))
        click.get_current_context().exit(1)
    head = {"flow": dag.dag_id, "node": target.label}
    if emit is not None:
        emit("start", **head, file=_flow_file(dag), stream=stream)

    def on_item(index: int, item: Any) -> None:
        if emit is not None:
            emit("item", index=index, data=item)
        else:
            click.echo(_render(item))

    async def one_run() -> RunReport:
        if stream:
            return await stream_with_report(target, data, on_item, timeout=timeout)
        return await call_with_report(target, data, timeout=timeout)

    report = anyio.run(one_run, backend="asyncio")
    if report.error is not None:
        if emit is not None:
            _show_traceback(report.error)
            emit("error", **head, **_error_fields(report.error), **report.summary())
            click.get_current_context().exit(1)
        if report.ran:
            _print_report(report, err=True)
        _fail(report.error)
    if emit is not None:
        body = {"items": report.items} if stream else {"data": report.result}
        emit("result", **head, **body, **report.summary())
        return
    if not stream:
        click.echo(_render(report.result))
    _print_report(report, err=True)


def _error_fields(exc: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code": getattr(exc, "code", "run.error"),
        "message": str(exc) if isinstance(exc, AwelError) else f"{type(exc).__name__}: {exc}",
    }
    if isinstance(exc, NodeError):
        fields.update(failed_node=exc.node, operator=exc.operator)
        if exc.location is not None:
            fields["location"] = str(exc.location)
    if isinstance(exc, ProblemsError):
        fields["problems"] = [_problem_json(p) for p in exc.problems]
    return fields


def _print_report(report: RunReport, *, err: bool) -> None:
    line = f"flow '{report.flow}': {_count(len(report.ran), 'node')} ran"
    if report.ran:
        line += f" ({', '.join(report.ran)})"
    if report.skipped:
        line += f", skipped {', '.join(report.skipped)}"
    if report.streamed:
        line += f", {_count(report.items, 'item')}"
        if report.first_item_ms is not None:
            line += f" (first after {report.first_item_ms:.2f} ms)"
    line += f" in {report.elapsed_ms:.2f} ms"
    click.echo(click.style(line, dim=True), err=err)


def _emit(event: str, **fields: Any) -> None:
    """One NDJSON event; click.echo flushes, so a pipe sees each line at once."""
    click.echo(_dumps({"event": event, **fields}))


@main.command()
@click.argument("path", type=click.Path())
@click.option(
    "--format",
    "-F",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    help="Drawing format (default: from -o's suffix, else mermaid).",
)
@click.option("--flow", "-f", "flow_id", metavar="ID", help="Which flow, if PATH has several.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE.")
@_verbose_option
def graph(path: str, fmt: str | None, flow_id: str | None, output: str | None) -> None:
    """Draw a flow as Mermaid or Graphviz DOT text.

    \b
      awel graph hello.yaml                   Mermaid, for Markdown and GitHub
      awel graph hello.py -o hello.dot        DOT; render with `dot -Tsvg`
    """
    try:
        dag = _pick_flow(path, flow_id)
    except AwelError as exc:
        _fail(exc)
    if fmt is None:
        fmt = "dot" if output and Path(output).suffix in (".dot", ".gv") else "mermaid"
    text = draw_dot(dag) if fmt == "dot" else draw_mermaid(dag)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@main.command(name="list")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@_verbose_option
def list_(paths: Sequence[str], as_json: bool) -> None:
    """List the flows in PATHS: id, node count, entry, output node and file.

    Flows that fail their checks are left out and their problems printed to stderr
    (exit 1); `awel validate` says more.
    """
    dags, problems = load_paths(paths)
    rows = [_flow_row(d) for d in dags]
    if as_json:
        click.echo(_dumps(rows, indent=2))
    elif rows:
        header = {"id": "ID", "nodes": "NODES", "entry": "ENTRY", "output": "OUTPUT"}
        header |= {"route": "ROUTE", "file": "FILE"}
        table = [header, *({k: str(r[k] or "-") for k in header} for r in rows)]
        widths = {k: max(len(str(row[k])) for row in table) for k in header}
        for row in table:
            click.echo("  ".join(str(row[k]).ljust(widths[k]) for k in header).rstrip())
    else:
        click.echo("no flows", err=True)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{_count(len(problems), 'problem')}; run `awel validate`", err=True)
        click.get_current_context().exit(1)


def _flow_row(dag: DAG) -> dict[str, Any]:
    entries = [n for n in dag.root_nodes if isinstance(n, BaseOperator) and n.takes_call_data]
    entry = entries[0] if entries else None
    route = None
    if entry is not None and isinstance(getattr(entry, "path", None), str):
        methods = getattr(entry, "methods", None) or []
        route = f"{','.join(methods)} {entry.path}".strip()  # type: ignore[attr-defined]
    leaves = dag.leaf_nodes
    return {
        "id": dag.dag_id,
        "nodes": len(dag),
        # Unnamed nodes' labels end in a random id; their class says more in a listing.
        "entry": (entry.node_name or type(entry).__name__) if entry is not None else None,
        "output": (leaves[0].node_name or type(leaves[0]).__name__) if len(leaves) == 1 else None,
        "route": route,
        "file": _flow_file(dag),
    }


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_verbose_option
def operators(name: str | None, as_json: bool) -> None:
    """List the operators flows can use, or show one: its types, parameters, an example.

    \b
      awel operators                  name, what it takes -> gives, one line each
      awel operators awel.format      its parameters (types, defaults) and a YAML node
    """
    if name is not None:
        try:
            info = describe(name)
        except AwelError as exc:
            _fail(exc)
        if as_json:
            click.echo(_dumps(info.as_json(), indent=2))
        else:
            _print_operator(info)
        return
    infos, broken = catalogue()
    if as_json:
        click.echo(_dumps([i.as_json() for i in infos], indent=2))
    else:
        header = ("NAME", "TAKES -> GIVES", "SUMMARY")
        rows = [header, *((i.name, i.signature, i.summary) for i in infos)]
        width = [max(len(r[c]) for r in rows) for c in range(2)]
        for row in rows:
            click.echo(f"{row[0].ljust(width[0])}  {row[1].ljust(width[1])}  {row[2]}".rstrip())
    for line in broken:
        click.echo(f"cannot import {line}", err=True)


def _print_operator(info: OperatorInfo) -> None:
    click.echo(click.style(info.name, bold=True) + (f"  ({info.path})" if info.path else ""))
    if info.doc:
        click.echo()
        click.echo(info.doc)
    click.echo()
    click.echo(f"takes: {info.takes}")
    click.echo(f"gives: {info.gives}")
    click.echo()
    if info.params:
        click.echo("params:")
        rows = [
            (
                p.name,
                p.type,
                "required" if p.required else f"default {_dumps(p.default)}",
                p.description or "",
            )
            for p in info.params
        ]
        width = [max(len(r[c]) for r in rows) for c in range(3)]
        for row in rows:
            cells = [row[c].ljust(width[c]) for c in range(3)]
            click.echo(f"  {'  '.join(cells)}  {row[3]}".rstrip())
    else:
        click.echo("params: none")
    if not info.name.startswith("trigger.") and info.name != "awel.trigger":
        keys = ", ".join(f"{k} ({t}, default {d})" for k, t, d, _ in NODE_KEYS)
        click.echo(f"every node also takes: {keys}")
    click.echo()
    click.echo("example:")
    for line in info.example.rstrip("\n").splitlines():
        click.echo(f"  {line}")


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE.")
@_verbose_option
def schema(output: str | None) -> None:
    """Print the JSON Schema of YAML flow files.

    Point an editor at it for completion and checks while writing a flow, e.g. with a
    `# yaml-language-server: $schema=awel-flow.schema.json` line at the top of the file.
    """
    from .spec import flow_schema

    text = _dumps(flow_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
