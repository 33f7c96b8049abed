"""Guard the public API: what ``awel`` exports, and that it is documented.

Adding or removing a public name is a deliberate change: update EXPECTED with it.
"""

from __future__ import annotations

import inspect

import pytest

import awel

EXPECTED = {
    "DAG",
    "EMPTY",
    "SKIP_DATA",
    "AwelError",
    "BaseOperator",
    "BranchJoinOperator",
    "BranchOperator",
    "DAGBuildError",
    "DAGContext",
    "DAGNode",
    "DAGValidationError",
    "DeadlineExceeded",
    "InputOperator",
    "InputSource",
    "JoinOperator",
    "MapOperator",
    "NodeError",
    "OperatorType",
    "Problem",
    "ReduceStreamOperator",
    "RunError",
    "SourceLocation",
    "SpecError",
    "StreamCall",
    "StreamifyAbsOperator",
    "TransformStreamAbsOperator",
    "TriggerOperator",
    "UnstreamifyAbsOperator",
    "current_context",
    "current_dag",
}


def test_all_is_the_expected_set() -> None:
    assert len(awel.__all__) == len(set(awel.__all__)), "duplicates in __all__"
    assert set(awel.__all__) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_public_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from awel import {name}", namespace)
    assert namespace[name] is getattr(awel, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from awel import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPECTED


@pytest.mark.parametrize(
    "name",
    sorted(n for n in EXPECTED if inspect.isclass(getattr(awel, n)) or callable(getattr(awel, n))),
)
def test_public_classes_and_functions_have_docstrings(name: str) -> None:
    obj = getattr(awel, name)
    doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"awel.{name} has no docstring"
    if inspect.isclass(obj):
        # Not just inherited: every public class says what it is itself.
        assert "__doc__" in vars(obj) and vars(obj)["__doc__"], f"awel.{name} inherits its doc"


def test_public_classes_live_in_the_engine_package() -> None:
    for name in EXPECTED:
        obj = getattr(awel, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("awel."), (name, obj.__module__)


def test_package_docstring_and_version() -> None:
    assert awel.__doc__ and ">>>" in awel.__doc__
    assert isinstance(awel.__version__, str) and awel.__version__.count(".") == 2


def test_error_codes_are_stable() -> None:
    assert awel.AwelError.code == "awel.error"
    assert awel.DAGValidationError.code == "dag.invalid"
    assert awel.DAGBuildError.code == "dag.build"
    assert awel.SpecError.code == "spec.invalid"
    assert awel.NodeError.code == "run.node_failed"
    assert awel.DeadlineExceeded.code == "run.deadline"
    assert awel.RunError.code == "run.invalid"
    for cls in (
        awel.DAGValidationError,
        awel.DAGBuildError,
        awel.SpecError,
        awel.NodeError,
        awel.DeadlineExceeded,
        awel.RunError,
    ):
        assert issubclass(cls, awel.AwelError)
    assert issubclass(awel.DeadlineExceeded, TimeoutError)


def test_sentinels_are_falsy_and_distinct() -> None:
    assert not awel.EMPTY and not awel.SKIP_DATA
    assert awel.EMPTY is not awel.SKIP_DATA
    assert repr(awel.EMPTY) == "EMPTY" and repr(awel.SKIP_DATA) == "SKIP_DATA"


@pytest.mark.parametrize("module", ["awel", "awel.dag"])
def test_module_doc_examples_run(module: str) -> None:
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module), report=False)
    assert tried > 0
    assert failures == 0
