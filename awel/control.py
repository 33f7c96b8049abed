"""Choosing one path: ``awel.switch`` and ``awel.if``.

Both are branches (:class:`~awel.operators.BranchOperator`): they pass their input on
unchanged to the one node below them that they choose, and the engine skips the others,
with everything below those that has no other input. Where the paths meet, an
``awel.branch_join`` (or :class:`~awel.operators.EitherJoin`, when one path streams) takes
whichever ran::

    nodes:
      route:
        op: awel.switch
        params:
          value: "intent"                       # an expression over the input
          cases:
            - {equals: sql, to: ask_db}
            - {when: "score < 0.3", to: clarify}
          default: chat
      ask_db: ...
      clarify: ...
      chat: ...
      answer: {op: awel.branch_join}
    edges:
      - trigger >> route >> [ask_db, clarify, chat] >> answer

Unlike ``awel.branch``, which runs every path whose guard holds, these run exactly one
(or none: a switch without a ``default`` whose cases all fail runs none of them).
Expressions run in the sandbox of :mod:`awel.expressions`, with the input bound as in
``awel.map`` (``x``, and a dict's keys or a model's fields by name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator, model_validator

from .expressions import check_expression, compile_value_expression
from .operators import BaseOperator, BranchFunc, BranchOperator
from .registry import OperatorParams

__all__ = ["ChoiceOperator", "IfNode", "SwitchCase", "SwitchNode"]

#: Picks the label of the one child to run for a value (None: run none of them).
Route = Callable[[Any], str | None]


class ChoiceOperator(BranchOperator[Any]):
    """A branch that runs exactly one of the children it names, chosen by ``route``.

    ``guards`` maps each named child to a short description of when it runs (drawn on the
    edge by :mod:`awel.draw`); children it does not name always run, as under any branch.
    """

    def __init__(self, route: Route, guards: dict[str, str], **kwargs: Any) -> None:
        # The base class keeps one predicate per target for drawing and validation; they
        # are never called, since choose() asks route() once per value instead.
        branches: dict[BranchFunc, BaseOperator | str] = {
            _named_never(why): target for target, why in guards.items()
        }
        super().__init__(branches, **kwargs)
        self._route = route
        self._targets = frozenset(guards)

    async def choose(self, value: Any) -> set[str]:
        chosen = self._route(value)
        return {t for t in self._targets if t != chosen}


def _named_never(name: str) -> Callable[[Any], bool]:
    def guard(value: Any) -> bool:
        return False

    guard.__name__ = name
    return guard


def _truth(source: str) -> Callable[[Any], bool]:
    evaluate = compile_value_expression(source)

    def holds(value: Any) -> bool:
        return bool(evaluate(value))

    return holds


class SwitchCase(OperatorParams):
    """One case of a switch: the node ``to`` runs when ``when`` holds, or when the switch's
    ``value`` equals ``equals``."""

    when: str | None = Field(
        None, description="A jinja2 expression over the input; the case holds when truthy."
    )
    equals: Any = Field(
        None, description="The case holds when the switch's 'value' equals this (any JSON)."
    )
    to: str = Field(description="The name of a node directly below the switch.")

    @field_validator("when")
    @classmethod
    def _when_compiles(cls, v: str | None) -> str | None:
        return None if v is None else check_expression(v)

    @model_validator(mode="after")
    def _one_test(self) -> SwitchCase:
        given = (self.when is not None) + ("equals" in self.model_fields_set)
        if given != 1:
            raise ValueError("give exactly one of 'when' or 'equals'")
        return self


class SwitchNode(ChoiceOperator):
    """``awel.switch``: runs the node of the first case that holds, else ``default``.

    route:
      op: awel.switch
      params:
        value: "lang"                 # optional: what `equals` compares against
        cases: [{equals: fr, to: french}, {when: "len(text) > 500", to: summarise}]
        default: english
    """

    class Params(OperatorParams):
        value: str | None = Field(
            None,
            description="A jinja2 expression over the input, evaluated once per call; the"
            " cases' 'equals' compare against it.",
        )
        cases: list[SwitchCase] = Field(
            min_length=1, description="The cases, tried in order; the first that holds wins."
        )
        default: str | None = Field(
            None, description="The node to run when no case holds; omit to run none."
        )

        @field_validator("value")
        @classmethod
        def _value_compiles(cls, v: str | None) -> str | None:
            return None if v is None else check_expression(v)

        @model_validator(mode="after")
        def _equals_needs_value(self) -> SwitchNode.Params:
            if self.value is None:
                for case in self.cases:
                    if "equals" in case.model_fields_set:
                        raise ValueError("a case with 'equals' needs the switch's 'value'")
            return self

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> SwitchNode:
        subject = compile_value_expression(params.value) if params.value is not None else None
        tests: list[tuple[Callable[[Any, Any], bool], str]] = []
        guards: dict[str, str] = {}
        for case in params.cases:
            tests.append((_case_test(case), case.to))
            shown = case.when if case.when is not None else f"{params.value} == {case.equals!r}"
            guards.setdefault(case.to, shown)
        default = params.default
        if default is not None:
            guards.setdefault(default, "default")

        def route(value: Any) -> str | None:
            got = subject(value) if subject is not None else None
            for test, target in tests:
                if test(value, got):
                    return target
            return default

        return cls(route, guards, **kwargs)


def _case_test(case: SwitchCase) -> Callable[[Any, Any], bool]:
    """``test(input, value)``: whether ``case`` holds for the input and the switch's value."""
    if case.when is not None:
        holds = _truth(case.when)

        def when(value: Any, got: Any) -> bool:
            return holds(value)

        return when
    wanted = case.equals

    def equals(value: Any, got: Any) -> bool:
        return bool(got == wanted)

    return equals


class IfNode(ChoiceOperator):
    """``awel.if``: runs ``then`` when the expression ``when`` holds, else ``else``.

    check: {op: awel.if, params: {when: "rows | length > 0", then: show, else: apologise}}
    """

    class Params(OperatorParams):
        when: str = Field(description="A jinja2 expression over the input (bound as in awel.map).")
        then: str = Field(description="The node below this one to run when 'when' is truthy.")
        else_: str | None = Field(
            None,
            alias="else",
            description="The node below this one to run otherwise; omit to run nothing then.",
        )

        @field_validator("when")
        @classmethod
        def _when_compiles(cls, v: str) -> str:
            return check_expression(v)

        @model_validator(mode="after")
        def _two_paths(self) -> IfNode.Params:
            if self.else_ == self.then:
                raise ValueError(f"'then' and 'else' both name '{self.then}'")
            return self

    @classmethod
    def from_params(cls, params: Params, **kwargs: Any) -> IfNode:
        holds = _truth(params.when)
        then, otherwise = params.then, params.else_
        guards = {then: params.when}
        if otherwise is not None:
            guards[otherwise] = f"not ({params.when})"

        def route(value: Any) -> str | None:
            return then if holds(value) else otherwise

        return cls(route, guards, **kwargs)
