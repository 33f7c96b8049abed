"""Loading flow files: YAML specs and Python modules, one file or a folder of them.

A YAML file holds one flow (:func:`awel.spec.load_flow`). A Python file is imported under a
module name of its own, derived from its path, so that two ``flows/x.py`` files in different
folders never collide, and every module-level :class:`~awel.DAG` it defines is a flow. A
folder means the flow files directly inside it, in name order, and when it is a Python
package (``flows/``) those of its sub-packages too; files whose names start with ``_`` or
``.`` are helpers, not flows, and are skipped. While a Python file is imported its
folder is on ``sys.path``, so it can import such helpers.

Problems are data: :func:`load_paths` keeps going after a broken file and returns every
problem it found, each pointing at a file and, where it knows, a line (the line of a syntax
error, or the deepest traceback frame inside the flow file). This is what ``awel validate``
prints and what a server reloading a folder logs while it keeps serving the good flows.

    >>> dags, problems = load_paths(["examples"])  # doctest: +SKIP
    >>> [str(p) for p in problems]  # doctest: +SKIP
    ['examples/broken.py:3:1: SyntaxError: invalid syntax']
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType, TracebackType

from . import registry
from .dag import DAG
from .errors import AwelError, Problem, ProblemsError, SourceLocation, SpecError
from .validate import flow_problems

__all__ = ["FLOW_SUFFIXES", "check_dag", "flow_files", "load_path", "load_paths"]

#: File suffixes that hold flows.
FLOW_SUFFIXES = (".py", ".yaml", ".yml")
_YAML_SUFFIXES = (".yaml", ".yml")

# Prefix of the module names flow files are imported under; see _module_name.
_MODULE_PREFIX = "awel_flow_"

StrPath = str | os.PathLike[str]


def check_dag(dag: DAG) -> list[Problem]:
    """Every problem that would stop ``dag`` from running (:func:`awel.validate.flow_problems`),
    a type mismatch with the registered operators that would fit instead."""
    return flow_problems(dag, registry.operators_taking)


def flow_files(path: StrPath, *, recursive: bool | None = None) -> list[Path]:
    """The flow files a path stands for: itself if a file, else the flow files in it.

    A folder that is a Python package (it holds ``__init__.py``, as the shipped ``flows/``
    does) stands for its sub-packages' flow files too, so ``awel list flows/`` finds the
    flows one package per API; a plain folder (a dags folder) for its own files only.
    ``recursive`` overrides that: True for every subfolder, False for the folder alone.
    """
    p = Path(path)
    if not p.is_dir():
        return [p]
    if recursive is None:
        return sorted(_package_files(p))
    return sorted(
        child for child in (p.rglob("*") if recursive else p.iterdir()) if _is_flow_file(child)
    )


def _is_flow_file(child: Path) -> bool:
    return (
        child.is_file() and child.suffix in FLOW_SUFFIXES and not child.name.startswith(("_", "."))
    )


def _package_files(folder: Path) -> Iterator[Path]:
    is_package = (folder / "__init__.py").is_file()
    for child in folder.iterdir():
        if _is_flow_file(child):
            yield child
        elif (
            is_package
            and child.is_dir()
            and not child.name.startswith(("_", "."))
            and (child / "__init__.py").is_file()
        ):
            yield from _package_files(child)


def load_path(path: StrPath) -> list[DAG]:
    """The flows defined in a file, or in the flow files of a folder.

    Raises :class:`~awel.errors.SpecError` listing what is wrong; for a folder, every broken
    file's problems together (use :func:`load_paths` to keep the flows that did load).
    """
    files = flow_files(path)
    if Path(path).is_dir():
        dags, problems = load_paths(files, check=False)
        if problems:
            raise SpecError(os.fspath(path), problems)
        return dags
    return _load_file(files[0])


def load_paths(paths: Iterable[StrPath], *, check: bool = True) -> tuple[list[DAG], list[Problem]]:
    """Load every flow in ``paths`` (files or folders); collect problems instead of stopping.

    Returns the flows that loaded and every problem found, sorted by file and line. With
    ``check`` (the default), each flow is also checked as :func:`check_dag` does and a flow
    with problems is left out of the list, so what comes back can run. A flow id defined
    twice is a problem; the first definition wins.
    """
    dags: list[DAG] = []
    problems: list[Problem] = []
    seen_files: set[Path] = set()
    owners: dict[str, DAG] = {}
    for path in paths:
        if not Path(path).exists():
            problems.append(
                Problem("spec.not_found", "no such file or folder", SourceLocation(str(path)))
            )
            continue
        for file in flow_files(path):
            key = file.resolve()
            if key in seen_files:
                continue
            seen_files.add(key)
            try:
                loaded = _load_file(file)
            except SpecError as exc:
                problems.extend(exc.problems)
                continue
            for dag in loaded:
                first = owners.get(dag.dag_id)
                if first is not None:
                    where = first.location.file if first.location else "another file"
                    problems.append(
                        Problem(
                            "spec.duplicate_flow",
                            f"flow '{dag.dag_id}' is already defined in {where}; flow ids"
                            " are unique",
                            dag.location,
                        )
                    )
                    continue
                found = check_dag(dag) if check else []
                if found:
                    problems.extend(found)
                    continue
                owners[dag.dag_id] = dag
                dags.append(dag)
    problems.sort(key=Problem.sort_key)
    return dags, problems


# --- one file ---------------------------------------------------------------------------


def _load_file(file: Path) -> list[DAG]:
    shown = os.fspath(file)
    if not file.is_file():
        what = "a folder" if file.is_dir() else "no such file"
        raise SpecError(shown, [Problem("spec.not_found", what, SourceLocation(shown))])
    if file.suffix in _YAML_SUFFIXES:
        from .spec import load_flow

        dag = load_flow(file)
        if dag.location is None:
            dag.location = SourceLocation(shown)
        return [dag]
    if file.suffix == ".py":
        return _load_python(file, shown)
    raise SpecError(
        shown,
        [
            Problem(
                "spec.file_type",
                f"not a flow file; flows are {', '.join(FLOW_SUFFIXES)} files",
                SourceLocation(shown),
            )
        ],
    )


def _module_name(resolved: Path) -> str:
    # Unique per path (so same-named files in two folders do not collide) and stable (so
    # reloading a file replaces its previous module rather than piling up new ones).
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    return f"{_MODULE_PREFIX}{digest}_{stem}"


def _load_python(file: Path, shown: str) -> list[DAG]:
    resolved = file.resolve()
    name = _module_name(resolved)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise SpecError(
            shown, [Problem("spec.import", "cannot import this file", SourceLocation(shown))]
        )
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs: dataclasses, pydantic and pickle look classes up by module.
    sys.modules[name] = module
    # The file's folder is importable while it runs, so a flow can import helper modules
    # kept next to it (``_helpers.py``, which folder loading skips as a flow).
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise SpecError(shown, _import_problems(exc, resolved, shown)) from exc
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
    return _module_dags(module, resolved, shown)


def _module_dags(module: ModuleType, resolved: Path, shown: str) -> list[DAG]:
    dags: list[DAG] = []
    names: dict[int, str] = {}
    for attr, value in vars(module).items():
        if isinstance(value, DAG) and id(value) not in names:
            names[id(value)] = attr
            dags.append(value)
    if dags:
        lines = _declaration_lines(resolved)
        for dag in dags:
            if dag.location is None:
                dag.location = SourceLocation(shown, lines.get(names[id(dag)]))
    return dags


def _declaration_lines(file: Path) -> dict[str, int]:
    """Module-level names and the line that first binds them (``x = ...``, ``as x``)."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        stmt = stack.pop()
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        elif isinstance(stmt, ast.With):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars]
            stack.extend(reversed(stmt.body))
        elif isinstance(stmt, (ast.If, ast.Try)):
            stack.extend(reversed(stmt.body))
        for target in targets:
            if isinstance(target, ast.Name):
                lines.setdefault(target.id, stmt.lineno)
    return lines


def _import_problems(exc: BaseException, resolved: Path, shown: str) -> list[Problem]:
    """What went wrong importing a flow file, located in that file."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == resolved:
        where = SourceLocation(shown, exc.lineno, exc.offset)
        return [Problem("spec.syntax", f"{type(exc).__name__}: {exc.msg}", where)]
    where = SourceLocation(shown, _deepest_line(exc.__traceback__, resolved))
    if isinstance(exc, ProblemsError):
        # A flow that failed its checks when its `with DAG()` block closed: its problems
        # carry no file of their own, so they point at the block.
        return [
            p if p.location is not None else Problem(p.code, p.message, where) for p in exc.problems
        ]
    if isinstance(exc, AwelError):
        return [Problem(exc.code, exc.message, where)]
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return [Problem("spec.import", text, where)]


def _deepest_line(tb: TracebackType | None, resolved: Path) -> int | None:
    line: int | None = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == str(resolved) or Path(filename).resolve() == resolved:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
