"""The built-in operators of YAML flows: ``awel.input``, ``awel.map``, ``awel.format`` ...

Each is a subclass of an engine kind (so a loaded flow is made of the same objects as one
written in Python) with a pydantic ``Params`` model and a ``from_params`` classmethod; they
register through the ``awel.operators`` entry points in ``pyproject.toml``, like any plugin.

Logic in a flow file is either an import path (``fn: "package.module:function"``) or a
jinja2 expression (``expr: "x * 2"``), run in the sandbox of :mod:`awel.expressions`.
Expressions are cheap and pure, so they run inline rather than in a worker thread; imported
functions keep the engine's default (sync functions run in a thread).

    nodes:
      double: {op: awel.map, params: {expr: "x * 2"}}
      greet: {op: awel.format, params: {template: "Hello, {{ name }}"}}
      total: {op: awel.join, params: {expr: "inputs | sum"}}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from .context import SKIP_DATA
from .errors import AwelError

# The sandbox lives in its own module, shared with the control and shaping operators; these
# names are re-exported here, where operators outside the engine have always found them.
from .expressions import (
    check_expression,
    check_template,
    compile_expression,
    compile_template,
    compile_value_expression,
    fields_of,
)
from .operators import (
    BaseOperator,
    BranchFunc,
    BranchJoinOperator,
    BranchOperator,
    InputOperator,
    InputSource,
    JoinOperator,
    MapOperator,
    ReduceStreamOperator,
)
from .registry import OperatorParams, import_path

__all__ = [
    "BranchJoinNode",
    "BranchNode",
    "FormatNode",
    "InputNode",
    "JoinNode",
    "MapNode",
    "ReduceNode",
    "compile_expression",
    "compile_template",
    "fields_of",
]


def _check_fn(path: str) -> str:
    try:
        fn = import_path(path)
    except AwelError as exc:
        raise ValueError(exc.message) from None
    if not callable(fn):
        raise ValueError(f"'{path}' is {type(fn).__name__}, not a function")
    return path


# --- parameter models --------------------------------------------------------------------------


class _Logic(OperatorParams):
    """Parameters of an operator whose logic is an imported function or an expression."""

    fn: str | None = Field(
        None,
        description="Import path of a function, 'package.module:name'.",
        examples=["json:dumps"],
    )
    expr: str | None = Field(None, description="A sandboxed jinja2 expression.")

    #: Whether neither is needed (a default behaviour exists).
    _optional: ClassVar[bool] = False

    @field_validator("fn")
    @classmethod
    def _fn_importable(cls, v: str | None) -> str | None:
        return None if v is None else _check_fn(v)

    @field_validator("expr")
    @classmethod
    def _expr_compiles(cls, v: str | None) -> str | None:
        return None if v is None else check_expression(v)

    @model_validator(mode="after")
    def _fn_or_expr(self) -> _Logic:
        given = (self.fn is not None) + (self.expr is not None)
        if given > 1 or (given == 0 and not self._optional):
            raise ValueError("give exactly one of 'fn' or 'expr'")
        return self


# --- operators ---------------------------------------------------------------------------------


class InputNode(InputOperator[Any]):
    """``awel.input``: the call's input, or a fixed ``value``, or a ``stream`` of items.

    ``{op: awel.input}`` passes the call's input on; ``params: {value: 42}`` gives 42 on
    every call; ``params: {stream: [1, 2, 3]}`` gives a stream of those items.
    """

    class Params(OperatorParams):
        value: Any = Field(None, description="A fixed value, the same on every call.")
        stream: list[Any] | None = Field(None, description="Items to stream, in order.")

        @model_validator(mode="after")
        def _one_source(self) -> InputNode.Params:
            if {"value", "stream"} <= self.model_fields_set:
                raise ValueError("give at most one of 'value' or 'stream'")
            return self

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> InputNode:
        if "value" in params.model_fields_set:
            return cls(InputSource.from_data(params.value), **kwargs)
        if params.stream is not None:
            return cls(InputSource.from_iterable(list(params.stream)), **kwargs)
        return cls(InputSource.from_callable(), **kwargs)


class MapNode(MapOperator[Any, Any]):
    """``awel.map``: ``fn`` called with the input, or ``expr`` over it.

    In the expression the input is ``x``; a dict's keys and a model's fields are also bound
    by name (``x`` wins over a key called ``x``).
    """

    class Params(_Logic):
        pass

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> MapNode:
        if params.fn is not None:
            return cls(import_path(params.fn), **kwargs)
        assert params.expr is not None
        return cls(compile_value_expression(params.expr), offload=False, **kwargs)


class JoinNode(JoinOperator[Any]):
    """``awel.join``: ``fn(*inputs)``, or ``expr`` over the list ``inputs`` (upstream order)."""

    class Params(_Logic):
        pass

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> JoinNode:
        if params.fn is not None:
            return cls(import_path(params.fn), **kwargs)
        assert params.expr is not None
        evaluate = compile_expression(params.expr)

        def combine(*inputs: Any) -> Any:
            return evaluate(inputs=list(inputs))

        return cls(combine, offload=False, **kwargs)


class BranchJoinNode(BranchJoinOperator[Any]):
    """``awel.branch_join``: where a branch's paths meet. By default it passes on the input
    of whichever path ran; ``fn`` or ``expr`` (over ``inputs``, skipped ones as None)
    combine them instead."""

    class Params(_Logic):
        _optional: ClassVar[bool] = True

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> BranchJoinNode:
        if params.fn is not None:
            return cls(import_path(params.fn), **kwargs)
        if params.expr is None:
            return cls(**kwargs)
        evaluate = compile_expression(params.expr)

        def combine(*inputs: Any) -> Any:
            return evaluate(inputs=[None if v is SKIP_DATA else v for v in inputs])

        return cls(combine, **kwargs)


class ReduceNode(ReduceStreamOperator[Any, Any]):
    """``awel.reduce``: folds a stream with ``fn(a, b)`` or ``expr`` over ``a`` (the result
    so far) and ``b`` (the next item), starting from ``initial`` if given."""

    class Params(_Logic):
        initial: Any = Field(None, description="The starting value; else the first item.")

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> ReduceNode:
        if "initial" in params.model_fields_set:
            kwargs["initial"] = params.initial
        if params.fn is not None:
            return cls(import_path(params.fn), **kwargs)
        assert params.expr is not None
        evaluate = compile_expression(params.expr)

        def fold(a: Any, b: Any) -> Any:
            return evaluate(a=a, b=b)

        return cls(fold, offload=False, **kwargs)


class BranchCase(OperatorParams):
    """One path of a branch: the node ``to`` runs only when ``when`` is true."""

    when: str = Field(description="A jinja2 expression over the input (bound as in awel.map).")
    to: str = Field(description="The name of a node directly below the branch.")

    @field_validator("when")
    @classmethod
    def _when_compiles(cls, v: str) -> str:
        return check_expression(v)


class BranchNode(BranchOperator[Any]):
    """``awel.branch``: passes its input on to the nodes below it whose case holds.

        route: {op: awel.branch, params: {branches: [{when: "x > 0", to: positive}]}}

    Nodes below the branch that no case names always run.
    """

    class Params(OperatorParams):
        branches: list[BranchCase] = Field(description="The guarded paths, in order.")

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> BranchNode:
        branches: dict[BranchFunc, BaseOperator | str] = {}
        for case in params.branches:
            branches[_predicate(case.when)] = case.to
        return cls(branches, **kwargs)


def _predicate(source: str) -> Callable[[Any], bool]:
    evaluate = compile_value_expression(source)

    # One closure per case: the branch table is keyed by predicate.
    def holds(value: Any) -> bool:
        return bool(evaluate(value))

    return holds


class FormatNode(MapOperator[Any, str]):
    """``awel.format``: renders a jinja2 ``template`` against the input.

    A dict's keys or a model's fields are top-level names; the input itself is ``input``.

        greet: {op: awel.format, params: {template: "Hello, {{ name }}"}}
    """

    class Params(OperatorParams):
        template: str = Field(description="A jinja2 template (sandboxed, StrictUndefined).")

        @field_validator("template")
        @classmethod
        def _compiles(cls, v: str) -> str:
            return check_template(v)

    def __init__(self, template: str, **kwargs: Any) -> None:
        compiled = compile_template(template)

        def render(value: Any) -> str:
            names = {"input": value}
            names.update(fields_of(value))
            return compiled.render(names)

        kwargs.setdefault("offload", False)
        super().__init__(render, **kwargs)
        self.template = template

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> FormatNode:
        return cls(params.template, **kwargs)
