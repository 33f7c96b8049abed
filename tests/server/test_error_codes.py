"""One table answers every domain error: each code the operators raise is listed (or of a
family the server knows), and the declared HTTP-200 failures stay a trigger's choice."""

from __future__ import annotations

import importlib
import pkgutil

import operators
from awel.errors import AwelError, BadRequest, NodeError
from server.errors import ANSWERS, describe


def _subclasses(cls: type[AwelError]) -> set[type[AwelError]]:
    found: set[type[AwelError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _domain_errors() -> list[type[AwelError]]:
    for info in pkgutil.walk_packages(operators.__path__, "operators."):
        importlib.import_module(info.name)
    return sorted(
        (c for c in _subclasses(AwelError) if c.__module__.startswith("operators.")),
        key=lambda c: c.__qualname__,
    )


def test_every_domain_error_code_is_dotted_and_answered_by_the_table() -> None:
    errors = _domain_errors()
    assert len(errors) >= 25, [c.__qualname__ for c in errors]
    for cls in errors:
        code = cls.code
        assert "." in code and code == code.lower(), (cls.__qualname__, code)
        failure = describe(AwelError("x", code=code))
        listed = code in ANSWERS
        # Listed codes are answers for the client; engine-level codes (llm.load_failed,
        # secrets) are the server's own failures and hide behind an error id.
        assert listed or not failure.public, (cls.__qualname__, code, failure)


def test_a_failing_node_is_answered_by_its_causes_code() -> None:
    cause = BadRequest("dimensions is 9", code="request.invalid_value", param="dimensions")
    node = NodeError(flow="f", node="n", operator="Map", cause=cause)
    node.__cause__ = cause
    failure = describe(node)
    assert (failure.status, failure.code, failure.err_code, failure.param) == (
        400,
        "invalid_value",
        "invalid_value",
        "dimensions",
    )
    assert failure.message == "dimensions is 9" and failure.public


def test_an_unknown_failure_inside_a_node_is_private() -> None:
    cause = ZeroDivisionError("division by zero")
    node = NodeError(flow="f", node="n", operator="Map", cause=cause)
    node.__cause__ = cause
    failure = describe(node)
    assert failure.status == 500 and not failure.public


def test_a_user_code_of_a_family_is_shown_as_raised() -> None:
    failure = describe(AwelError("no shelf", code="not_found.shelf"))
    assert (failure.status, failure.code, failure.err_code) == (
        404,
        "not_found.shelf",
        "not_found.shelf",
    )
