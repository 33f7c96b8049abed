"""Operators by name, for YAML flows: one registry fed by entry points.

A flow file names its operators (``op: awel.map``). The names come from the
``awel.operators`` entry-point group, which is how built-in operators register too (see
``pyproject.toml``): third-party packages add theirs the same way, so the plugin path is the
path every flow takes. Tests and embedding applications can add names in-process with
:func:`register`. An ``op`` can also be an import path, ``"package.module:ClassName"``.

A registered class is an :class:`~awel.operators.BaseOperator` subclass with a pydantic
``Params`` model (``extra="forbid"``) describing what a flow may pass it, and a classmethod
``from_params(params, **node_kwargs)`` building the node. Neither is required: by default
the params are the constructor's keyword arguments, and a class without ``Params`` takes
none.

    >>> from awel import registry
    >>> cls = registry.get("awel.map")
    >>> with DAG("demo") as dag:  # doctest: +SKIP
    ...     double = registry.build("awel.map", {"expr": "x * 2"}, task_name="double")

Entry points are read once and each is imported only when its name is first used, so
listing names (and loading flows that use a few operators) does not import every plugin.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from .errors import AwelError
from .iotypes import NodeTypes, fits, is_unknown
from .operators import BaseOperator

__all__ = [
    "ENTRY_POINT_GROUP",
    "NoParams",
    "OperatorParams",
    "UnknownOperatorError",
    "build",
    "class_types",
    "dump_params",
    "get",
    "import_path",
    "imports_refused",
    "name_of",
    "names",
    "object_path",
    "operators_taking",
    "params_model",
    "register",
    "registered",
    "resolve",
    "unregister",
]

#: The entry-point group operators register under.
ENTRY_POINT_GROUP = "awel.operators"

C = TypeVar("C", bound=type[BaseOperator])


class OperatorParams(BaseModel):
    """Base for operators' parameter models: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class NoParams(OperatorParams):
    """The parameters of an operator that takes none."""


class UnknownOperatorError(AwelError):
    """No operator is registered under a name (the message suggests a close one)."""

    code = "spec.unknown_operator"

    def __init__(self, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"unknown operator '{name}'{hint}")


class _Registry:
    """Names to operator classes; entry points are resolved lazily."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._classes: dict[str, type[BaseOperator]] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    def _eps(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
            if not any(name.startswith("awel.") for name in found):
                # Running from a source tree whose distribution metadata is not installed:
                # fall back to the built-in table so the engine still works.
                found.update(_builtin_entry_points())
            self._entry_points = found
        return self._entry_points

    def names(self) -> list[str]:
        with self._lock:
            return sorted(set(self._eps()) | set(self._classes))

    def get(self, name: str) -> type[BaseOperator]:
        with self._lock:
            cls = self._classes.get(name)
            if cls is not None:
                return cls
            ep = self._eps().get(name)
        if ep is None:
            close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.75)
            raise UnknownOperatorError(name, close[0] if close else None)
        try:
            loaded = ep.load()
        except Exception as exc:
            raise AwelError(
                f"operator '{name}' is registered by entry point '{ep.value}', which cannot"
                f" be imported: {type(exc).__name__}: {exc}",
                code="registry.broken_entry_point",
            ) from exc
        cls = _check_operator_class(loaded, f"entry point '{name}' ({ep.value})")
        with self._lock:
            # Another thread may have loaded it meanwhile; keep one class per name.
            return self._classes.setdefault(name, cls)

    def register(self, name: str, cls: type[BaseOperator], *, replace: bool) -> None:
        _check_operator_class(cls, f"operator '{name}'")
        with self._lock:
            taken = name in self._classes or name in self._eps()
            if taken and not replace and self._classes.get(name) is not cls:
                raise AwelError(
                    f"operator name '{name}' is already registered; pass replace=True to"
                    " override it",
                    code="registry.duplicate",
                )
            self._classes[name] = cls

    def unregister(self, name: str) -> None:
        with self._lock:
            self._classes.pop(name, None)
            if self._entry_points is not None:
                self._entry_points.pop(name, None)

    def name_of(self, cls: type[BaseOperator]) -> str | None:
        """The registered name of exactly this class, loading entry points as needed."""
        path = object_path(cls)
        for name in self.names():
            with self._lock:
                known = self._classes.get(name)
                ep = None if known is not None else self._eps().get(name)
            if known is None and ep is not None and ep.value != path:
                continue  # do not import unrelated plugins just to compare
            try:
                if self.get(name) is cls:
                    return name
            except AwelError:
                continue
        return None


def _builtin_entry_points() -> dict[str, EntryPoint]:
    # Keep in step with [project.entry-points."awel.operators"] in pyproject.toml.
    table = {
        "awel.trigger": "awel.operators:TriggerOperator",
        "awel.input": "awel.builtin:InputNode",
        "awel.map": "awel.builtin:MapNode",
        "awel.join": "awel.builtin:JoinNode",
        "awel.branch": "awel.builtin:BranchNode",
        "awel.branch_join": "awel.builtin:BranchJoinNode",
        "awel.reduce": "awel.builtin:ReduceNode",
        "awel.format": "awel.builtin:FormatNode",
        "awel.switch": "awel.control:SwitchNode",
        "awel.if": "awel.control:IfNode",
        "awel.pick": "awel.shaping:PickNode",
        "awel.set": "awel.shaping:SetNode",
        "awel.json_parse": "awel.shaping:JsonParseNode",
        "awel.json_dump": "awel.shaping:JsonDumpNode",
        "awel.merge": "awel.shaping:MergeNode",
        "awel.iterate": "awel.iteration:IterateNode",
        "awel.split": "awel.iteration:SplitNode",
    }
    return {name: EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in table.items()}


def _check_operator_class(obj: object, what: str) -> type[BaseOperator]:
    if not (isinstance(obj, type) and issubclass(obj, BaseOperator)):
        raise AwelError(f"{what} is {obj!r}, not an operator class", code="registry.not_operator")
    return obj


_registry = _Registry()


# --- public API ------------------------------------------------------------------------------


def get(name: str) -> type[BaseOperator]:
    """The operator class registered under ``name``.

    Raises :class:`UnknownOperatorError` (suggesting a close name) when there is none.
    """
    return _registry.get(name)


def names() -> list[str]:
    """Every registered operator name, sorted."""
    return _registry.names()


def register(
    name: str, cls: type[BaseOperator] | None = None, *, replace: bool = False
) -> Callable[[C], C]:
    """Register ``cls`` under ``name`` in this process; usable as a class decorator.

        >>> @register("demo.upper")  # doctest: +SKIP
        ... class Upper(MapOperator[str, str]): ...

    A name that is already taken is an error unless ``replace`` is true.
    """

    def decorate(klass: C) -> C:
        _registry.register(name, klass, replace=replace)
        return klass

    if cls is not None:
        _registry.register(name, cls, replace=replace)
    return decorate


def unregister(name: str) -> None:
    """Forget ``name`` (an in-process registration, or an entry point until restart)."""
    _registry.unregister(name)


@contextmanager
def registered(name: str, cls: type[BaseOperator]) -> Iterator[None]:
    """Register ``cls`` under ``name`` for the duration of a ``with`` block (for tests)."""
    _registry.register(name, cls, replace=False)
    try:
        yield
    finally:
        _registry.unregister(name)


def name_of(cls: type[BaseOperator]) -> str | None:
    """The name ``cls`` is registered under, or None."""
    return _registry.name_of(cls)


#: Why importing by path is refused in this context (None: it is not): see imports_refused.
_refused: ContextVar[str | None] = ContextVar("awel_imports_refused", default=None)


@contextmanager
def imports_refused(why: str) -> Iterator[None]:
    """Within the block, :func:`import_path` refuses every path, saying ``why``.

    Loading a flow someone else wrote (an API caller, an untrusted agent package) must not
    name Python by path: ``fn: "os:system"`` would run commands, and importing a module
    runs its top-level code. This is the one place every path goes through (``op``, ``fn``,
    a trigger's ``request_body``, and whatever takes one next), so refusing here needs no
    list of the parameters that import. Registered operator names are not paths: they
    stay usable.
    """
    token = _refused.set(why)
    try:
        yield
    finally:
        _refused.reset(token)


def import_path(path: str) -> Any:
    """The object at ``"package.module:qualified.name"``.

    Raises :class:`~awel.errors.AwelError` (code ``spec.import``) saying what failed, or
    (code ``spec.import_refused``) that importing is refused here (:func:`imports_refused`).
    """
    why = _refused.get()
    if why is not None:
        raise AwelError(f"'{path}' names Python by import path: {why}", code="spec.import_refused")
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise AwelError(
            f"'{path}' is not an import path; write it as 'package.module:name'",
            code="spec.import",
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise AwelError(
            f"cannot import module '{module_name}': {type(exc).__name__}: {exc}",
            code="spec.import",
        ) from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AwelError(
                f"module '{module_name}' has no attribute '{qualname}'", code="spec.import"
            ) from None
    return obj


def object_path(obj: Any) -> str | None:
    """The import path of ``obj`` if importing it gives back the same object, else None.

    Lambdas, closures and methods of instances have no such path.
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    path = f"{module}:{qualname}"
    try:
        found = import_path(path)
    except AwelError:
        return None
    return path if found is obj else None


def resolve(op: str) -> type[BaseOperator]:
    """The class an ``op`` names: a registered name, or an import path with a colon."""
    if ":" in op:
        return _check_operator_class(import_path(op), f"'{op}'")
    return get(op)


def params_model(cls: type[BaseOperator]) -> type[BaseModel]:
    """The pydantic model of ``cls``'s parameters (:class:`NoParams` when it declares none)."""
    model = getattr(cls, "Params", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    return NoParams


def build(
    op: str | type[BaseOperator],
    params: Mapping[str, Any] | BaseModel | None = None,
    **node_kwargs: Any,
) -> BaseOperator:
    """Validate ``params`` for an operator and build the node.

    ``op`` is a registered name, an import path or a class. The node remembers what it was
    built from (``node.op_name`` and ``node.params``) so it can be written back out as YAML.
    Raises :class:`pydantic.ValidationError` for bad params.
    """
    cls = resolve(op) if isinstance(op, str) else op
    model_cls = params_model(cls)
    model = params if isinstance(params, model_cls) else model_cls.model_validate(params or {})
    factory = getattr(cls, "from_params", None)
    if callable(factory):
        node = factory(model, **node_kwargs)
    else:
        # The default contract: the params model mirrors the constructor's keywords.
        fields = {name: getattr(model, name) for name in type(model).model_fields}
        node = cls(**fields, **node_kwargs)
    if not isinstance(node, BaseOperator):
        raise AwelError(
            f"{cls.__name__}.from_params returned {type(node).__name__}, not an operator",
            code="registry.not_operator",
        )
    node.params = dump_params(model)
    name = op if isinstance(op, str) else _registry.name_of(cls) or object_path(cls)
    node.op_name = name
    return node


def dump_params(model: BaseModel) -> dict[str, Any]:
    """The parameters a model was given, as plain data (what a flow file would say)."""
    try:
        return model.model_dump(mode="json", exclude_unset=True, by_alias=True)
    except Exception:
        # A value with no JSON form (set from Python, not from a file): keep it as it is.
        return model.model_dump(exclude_unset=True, by_alias=True)


def class_types(cls: type[BaseOperator]) -> NodeTypes:
    """What an operator class takes and gives, before any params (its generic base's type
    arguments, or the ``in_type`` / ``out_type`` the class itself sets)."""
    return cls.kind_types().with_overrides(cls.in_type, cls.out_type)


def operators_taking(given: Any, near: str | None = None) -> list[str]:
    """The registered operators whose input certainly takes ``given``, closest to ``near``.

    Operators that take anything are left out (they would fit every mismatch), and so are
    triggers and inputs (nothing feeds them). Closest means: of ``near``'s family first
    (``llm.`` for ``llm.generate``), then by name likeness. Imports every operator plugin,
    so it is for error messages, not for running flows.
    """
    found: list[str] = []
    for name in names():
        try:
            cls = get(name)
        except AwelError:
            continue
        if cls.must_be_root:
            continue
        takes = class_types(cls).takes
        if not is_unknown(takes) and fits(given, takes) is True:
            found.append(name)
    if near is None:
        return found
    family = near.partition(".")[0] + "." if "." in near else None

    def closeness(name: str) -> tuple[bool, float]:
        same = family is not None and name.startswith(family)
        return (not same, -difflib.SequenceMatcher(None, near, name).ratio())

    return sorted(found, key=closeness)
