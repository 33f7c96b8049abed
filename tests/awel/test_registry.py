"""The operator registry: entry points, in-process names, import paths, building nodes."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest
from pydantic import ValidationError

from awel import DAG, AwelError, MapOperator, TriggerOperator, registry
from awel.builtin import FormatNode, MapNode

BUILTIN = [
    "awel.branch",
    "awel.branch_join",
    "awel.format",
    "awel.input",
    "awel.join",
    "awel.map",
    "awel.reduce",
    "awel.trigger",
]


class Shout(MapOperator[str, str]):
    """Upper-cases its input (a class without params)."""

    async def map(self, x: str) -> str:
        return x.upper()


class Repeat(MapOperator[str, str]):
    """A class whose params are its constructor's keywords (no from_params)."""

    class Params(registry.OperatorParams):
        times: int = 2
        sep: str = ""

    def __init__(self, times: int, sep: str, **kwargs: Any) -> None:
        super().__init__(lambda s: sep.join([s] * times), offload=False, **kwargs)


def test_builtins_register_through_entry_points() -> None:
    # The same path third-party packages use: pyproject.toml's entry-point table.
    declared = {ep.name for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert set(BUILTIN) <= declared
    assert set(BUILTIN) <= set(registry.names())
    assert registry.names() == sorted(registry.names())
    assert registry.get("awel.map") is MapNode
    assert registry.get("awel.format") is FormatNode
    assert registry.get("awel.trigger") is TriggerOperator


def test_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(registry.UnknownOperatorError) as info:
        registry.get("awel.mpa")
    assert str(info.value) == "unknown operator 'awel.mpa'; did you mean 'awel.map'?"
    assert info.value.code == "spec.unknown_operator"
    assert info.value.suggestion == "awel.map"
    with pytest.raises(registry.UnknownOperatorError) as far:
        registry.get("nothing.like.it")
    assert far.value.suggestion is None
    assert str(far.value) == "unknown operator 'nothing.like.it'"


def test_register_in_process() -> None:
    with registry.registered("test.shout", Shout):
        assert registry.get("test.shout") is Shout
        assert "test.shout" in registry.names()
        assert registry.name_of(Shout) == "test.shout"
        with pytest.raises(AwelError) as info:
            registry.register("test.shout", Repeat)
        assert info.value.code == "registry.duplicate"
        registry.register("test.shout", Shout)  # the same class again is fine
    assert "test.shout" not in registry.names()
    assert registry.name_of(Shout) is None


def test_register_as_decorator_and_replace() -> None:
    try:
        decorated = registry.register("test.repeat")(Repeat)
        assert decorated is Repeat
        registry.register("test.repeat", Shout, replace=True)
        assert registry.get("test.repeat") is Shout
    finally:
        registry.unregister("test.repeat")


def test_only_operator_classes_register() -> None:
    with pytest.raises(AwelError) as info:
        registry.register("test.bad", int)  # type: ignore[arg-type]
    assert info.value.code == "registry.not_operator"


def test_broken_entry_point_is_reported_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("test.broken", "no_such_module_xyz:Op", registry.ENTRY_POINT_GROUP)
    eps = registry._registry._eps()
    monkeypatch.setitem(eps, "test.broken", broken)
    assert "test.broken" in registry.names()  # listing imports nothing
    with pytest.raises(AwelError) as info:
        registry.get("test.broken")
    assert info.value.code == "registry.broken_entry_point"
    assert "no_such_module_xyz" in str(info.value)
    assert registry.get("awel.map") is MapNode  # the others still work


def test_resolve_import_paths() -> None:
    assert registry.resolve(f"{__name__}:Shout") is Shout
    assert registry.resolve("awel.map") is MapNode
    with pytest.raises(AwelError) as info:
        registry.resolve("json:dumps")
    assert info.value.code == "registry.not_operator"
    with pytest.raises(AwelError) as missing:
        registry.resolve(f"{__name__}:Nope")
    assert missing.value.code == "spec.import"
    assert "has no attribute 'Nope'" in str(missing.value)


def test_import_path_and_object_path() -> None:
    import json

    assert registry.import_path("json:dumps") is json.dumps
    assert registry.import_path("os.path:join.__name__") == "join"
    for bad in ("json", ":dumps", "json:", "no_such_module_xyz:f"):
        with pytest.raises(AwelError):
            registry.import_path(bad)
    assert registry.object_path(json.dumps) == "json:dumps"
    assert registry.object_path(Shout) == f"{__name__}:Shout"
    assert registry.object_path(Shout.map) == f"{__name__}:Shout.map"
    assert registry.object_path(lambda x: x) is None
    assert registry.object_path(42) is None


async def test_build_validates_params_and_remembers_them() -> None:
    with DAG("built"):
        start = registry.build("awel.input", task_name="start")
        rep = registry.build(Repeat, {"times": 3}, task_name="rep")
        loud = registry.build(f"{__name__}:Shout", task_name="loud")
        start >> rep >> loud
    assert isinstance(rep, Repeat)
    assert rep.params == {"times": 3}
    assert getattr(rep, "op_name", None) == f"{__name__}:Repeat"
    assert getattr(loud, "op_name", None) == f"{__name__}:Shout"
    assert loud.params == {}
    assert await loud.call("ab") == "ABABAB"


def test_build_rejects_bad_params() -> None:
    with pytest.raises(ValidationError) as info:
        registry.build(Repeat, {"times": "x", "color": 1})
    assert {e["type"] for e in info.value.errors()} == {"int_parsing", "extra_forbidden"}
    with pytest.raises(ValidationError):
        registry.build(Shout, {"anything": 1})
    assert registry.params_model(Shout) is registry.NoParams
    assert registry.params_model(Repeat) is Repeat.Params


def test_every_operator_pyproject_declares_is_installed_and_loads() -> None:
    # The registry reads the installed metadata; `make install` (run by `make test`)
    # reinstalls whenever pyproject.toml changes. A name missing here means a stale install
    # or a broken entry point, and must fail rather than be patched over in a conftest.
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    declared: dict[str, str] = data["project"]["entry-points"]["awel.operators"]
    missing = sorted(set(declared) - set(registry.names()))
    assert not missing, f"not installed (run make install): {missing}"
    for name in declared:
        assert registry.get(name).__name__ == declared[name].rsplit(":", 1)[1]


def test_imports_refused_stops_every_import_path_and_only_within_the_block() -> None:
    with registry.imports_refused("not here"):
        with pytest.raises(AwelError, match="'os:system' names Python by import path: not here"):
            registry.import_path("os:system")
        with pytest.raises(AwelError) as caught:
            registry.resolve("awel.builtin:MapNode")
        assert caught.value.code == "spec.import_refused"
        # Registered names are not paths.
        assert registry.resolve("awel.map").__name__ == "MapNode"
    assert registry.import_path("os:getcwd") is __import__("os").getcwd
