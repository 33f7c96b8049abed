"""Loading flow files: Python modules, YAML specs, folders, and every problem located."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from awel import DAG, SpecError
from awel.loader import check_dag, flow_files, load_path, load_paths


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


HELLO = """
from awel import DAG, InputOperator, MapOperator

PREFIX = "Hello, "

with DAG("{id}") as dag:
    start = InputOperator.from_callable(task_name="start")
    greet = MapOperator(lambda name: PREFIX + name, task_name="greet")
    start >> greet
"""


async def test_a_python_file_gives_its_module_level_dags(tmp_path: Path) -> None:
    file = write(tmp_path / "hello.py", HELLO.format(id="hello"))
    [dag] = load_path(file)
    assert dag.dag_id == "hello"
    assert await dag.output_node.call("Ada") == "Hello, Ada"
    # The flow points at the line that declared it, for later problems.
    assert str(dag.location) == f"{file}:5"


def test_every_dag_once_in_definition_order(tmp_path: Path) -> None:
    file = write(
        tmp_path / "two.py",
        """
        from awel import DAG, InputOperator

        second = DAG("b")
        InputOperator.from_callable(dag=second)
        first = DAG("a")
        InputOperator.from_callable(dag=first)
        alias = second
        not_a_dag = "b"
        """,
    )
    assert [d.dag_id for d in load_path(file)] == ["b", "a"]


def test_each_file_gets_a_module_of_its_own(tmp_path: Path) -> None:
    one = write(tmp_path / "one" / "flow.py", HELLO.format(id="one"))
    two = write(tmp_path / "two" / "flow.py", HELLO.format(id="two"))
    [a] = load_path(one)
    [b] = load_path(two)
    assert (a.dag_id, b.dag_id) == ("one", "two")
    module_a = a.output_node.map_function.__module__  # type: ignore[attr-defined]
    module_b = b.output_node.map_function.__module__  # type: ignore[attr-defined]
    assert module_a != module_b
    assert module_a.startswith("awel_flow_") and module_a in sys.modules
    # Loading again gives fresh objects (a reload) under the same module name.
    [again] = load_path(one)
    assert again is not a
    assert again.output_node.map_function.__module__ == module_a  # type: ignore[attr-defined]


def test_a_syntax_error_is_located(tmp_path: Path) -> None:
    file = write(
        tmp_path / "broken.py",
        """
        from awel import DAG

        def f(:
            pass
        """,
    )
    with pytest.raises(SpecError) as info:
        load_path(file)
    [problem] = info.value.problems
    assert problem.code == "spec.syntax"
    assert str(problem) == f"{file}:3:7: SyntaxError: invalid syntax"
    assert not [n for n in sys.modules if n.startswith("awel_flow_") and n.endswith("_broken")]


def test_an_error_while_importing_points_at_the_deepest_line_in_the_file(tmp_path: Path) -> None:
    file = write(
        tmp_path / "fails.py",
        """
        import json


        def settings():
            return json.loads("{not json")


        SETTINGS = settings()
        """,
    )
    with pytest.raises(SpecError) as info:
        load_path(file)
    [problem] = info.value.problems
    assert problem.code == "spec.import"
    assert problem.location is not None
    # Line 5 is inside settings(); frames in the json module are not the user's file.
    assert (problem.location.file, problem.location.line) == (str(file), 5)
    assert problem.message.startswith("JSONDecodeError: Expecting property name")
    assert isinstance(info.value.__cause__, ValueError)


def test_a_flow_imports_helpers_next_to_it(tmp_path: Path) -> None:
    write(tmp_path / "_greetings.py", "def greet(name):\n    return 'Hi, ' + name\n")
    file = write(
        tmp_path / "uses_helper.py",
        """
        from _greetings import greet

        from awel import DAG, InputOperator, MapOperator

        with DAG("helped") as dag:
            InputOperator.from_callable() >> MapOperator(greet)
        """,
    )
    [dag] = load_path(file)
    assert dag.dag_id == "helped"
    assert str(tmp_path) not in sys.path
    sys.modules.pop("_greetings", None)


def test_an_error_in_an_imported_module_points_at_the_import(tmp_path: Path) -> None:
    write(tmp_path / "_broken_helper.py", "x = 1\nraise RuntimeError('helper is broken')\n")
    file = write(
        tmp_path / "uses_broken_helper.py",
        """
        import json

        import _broken_helper
        """,
    )
    with pytest.raises(SpecError) as info:
        load_path(file)
    assert [str(p) for p in info.value.problems] == [f"{file}:3: RuntimeError: helper is broken"]


def test_an_invalid_dag_reports_each_problem_at_its_with_block(tmp_path: Path) -> None:
    file = write(
        tmp_path / "invalid.py",
        """
        from awel import DAG, InputOperator, MapOperator

        with DAG("invalid") as dag:
            a = InputOperator.from_callable(task_name="a")
            b = InputOperator.from_callable(task_name="b")
        """,
    )
    with pytest.raises(SpecError) as info:
        load_path(file)
    problems = info.value.problems
    assert {p.code for p in problems} == {"dag.disconnected", "dag.entry"}
    assert {str(p.location) for p in problems} == {f"{file}:3"}


def test_a_build_error_keeps_its_code(tmp_path: Path) -> None:
    file = write(
        tmp_path / "dup.py",
        """
        from awel import DAG, MapOperator

        with DAG("dup"):
            MapOperator(task_name="same")
            MapOperator(task_name="same")
        """,
    )
    with pytest.raises(SpecError) as info:
        load_path(file)
    [problem] = info.value.problems
    assert problem.code == "dag.duplicate_name"
    assert str(problem.location) == f"{file}:5"


def test_a_folder_means_its_flow_files_sorted_not_recursive(tmp_path: Path) -> None:
    write(tmp_path / "b.py", HELLO.format(id="b"))
    write(tmp_path / "a.py", HELLO.format(id="a"))
    write(tmp_path / "_private.py", "raise SystemExit('never imported')\n")
    write(tmp_path / "notes.txt", "not a flow")
    write(tmp_path / "sub" / "c.py", HELLO.format(id="c"))
    assert [p.name for p in flow_files(tmp_path)] == ["a.py", "b.py"]
    assert [d.dag_id for d in load_path(tmp_path)] == ["a", "b"]


def test_load_paths_collects_problems_from_every_file(tmp_path: Path) -> None:
    write(tmp_path / "good.py", HELLO.format(id="good"))
    write(tmp_path / "bad1.py", "x = (\n")
    write(tmp_path / "bad2.py", "import awel\nundefined_name\n")
    dags, problems = load_paths([tmp_path, tmp_path / "good.py", tmp_path / "missing.py"])
    assert [d.dag_id for d in dags] == ["good"]
    assert [(p.code, p.location.file if p.location else None) for p in problems] == [
        ("spec.syntax", str(tmp_path / "bad1.py")),
        ("spec.import", str(tmp_path / "bad2.py")),
        ("spec.not_found", str(tmp_path / "missing.py")),
    ]
    assert str(problems[1]).endswith("bad2.py:2: NameError: name 'undefined_name' is not defined")


def test_a_folder_with_broken_files_raises_them_all(tmp_path: Path) -> None:
    write(tmp_path / "bad1.py", "x = (\n")
    write(tmp_path / "bad2.py", "undefined_name\n")
    with pytest.raises(SpecError) as info:
        load_path(tmp_path)
    assert len(info.value.problems) == 2


def test_a_flow_id_defined_twice_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path / "a.py", HELLO.format(id="same"))
    write(tmp_path / "b.py", HELLO.format(id="same"))
    dags, problems = load_paths([tmp_path])
    assert [str(d.location) for d in dags] == [f"{tmp_path / 'a.py'}:5"]
    [problem] = problems
    assert problem.code == "spec.duplicate_flow"
    assert str(problem) == (
        f"{tmp_path / 'b.py'}:5: flow 'same' is already defined in {tmp_path / 'a.py'};"
        " flow ids are unique"
    )


STREAM_INTO_MAP_ONLY = """
from awel import DAG, MapOperator, ReduceStreamOperator
from awel.trigger import HttpTrigger

with DAG("kinds") as dag:
    trigger = HttpTrigger("/kinds", task_name="trigger")
    total = ReduceStreamOperator(lambda a, b: a + b, task_name="total")
    trigger >> total
"""


def test_checks_compile_the_plan_and_leave_out_flows_that_cannot_run(tmp_path: Path) -> None:
    write(tmp_path / "kinds.py", STREAM_INTO_MAP_ONLY)
    dags, problems = load_paths([tmp_path])
    assert dags == []
    [problem] = problems
    assert problem.code == "dag.kind"
    assert "node 'total' reduces a stream, but its input is a single value" in problem.message
    # A trigger's flow takes a value, so the mismatch is found when the DAG is built:
    # skipping the loader's own checks does not let it through.
    dags, problems = load_paths([tmp_path], check=False)
    assert dags == []
    assert [p.code for p in problems] == ["dag.kind"]


def test_check_accepts_an_input_meant_for_a_stream() -> None:
    from awel import InputOperator, ReduceStreamOperator

    with DAG("sum") as dag:
        InputOperator.from_callable() >> ReduceStreamOperator(lambda a, b: a + b)
    assert check_dag(dag) == []


def test_a_file_that_is_not_a_flow(tmp_path: Path) -> None:
    file = write(tmp_path / "notes.txt", "hello")
    with pytest.raises(SpecError) as info:
        load_path(file)
    assert info.value.problems[0].code == "spec.file_type"
    with pytest.raises(SpecError) as info:
        load_path(tmp_path / "nope.py")
    assert str(info.value.problems[0]) == f"{tmp_path / 'nope.py'}: no such file"


# --- YAML ----------------------------------------------------------------------------------

HELLO_YAML = """
name: {id}
trigger: {{}}
nodes:
  greet: {{op: awel.format, params: {{template: "Hello, {{{{ name }}}}"}}}}
edges:
  - trigger >> greet
"""


async def test_a_yaml_file_is_one_flow(tmp_path: Path) -> None:
    file = write(tmp_path / "hello.yaml", HELLO_YAML.format(id="yaml.hello"))
    [dag] = load_path(file)
    assert dag.dag_id == "yaml.hello"
    assert await dag.output_node.call({"name": "Ada"}) == "Hello, Ada"
    assert dag.location is not None and dag.location.file == str(file)


def test_a_folder_mixes_python_and_yaml(tmp_path: Path) -> None:
    write(tmp_path / "b.yml", HELLO_YAML.format(id="b"))
    write(tmp_path / "a.py", HELLO.format(id="a"))
    write(tmp_path / "c.yaml", HELLO_YAML.format(id="c"))
    dags, problems = load_paths([tmp_path])
    assert problems == []
    assert [d.dag_id for d in dags] == ["a", "b", "c"]


def test_yaml_problems_are_collected_with_python_ones(tmp_path: Path) -> None:
    write(
        tmp_path / "typo.yaml",
        """
        name: typo
        nodes:
          a: {op: awel.mapp}
        edges:
          - a >> missing
        """,
    )
    write(tmp_path / "typo.py", "x = (\n")
    dags, problems = load_paths([tmp_path])
    assert dags == []
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'typo.py'}:1:5: SyntaxError: '(' was never closed",
        f"{tmp_path / 'typo.yaml'}:3:11: node 'a': unknown operator 'awel.mapp';"
        " did you mean 'awel.map'?",
        f"{tmp_path / 'typo.yaml'}:5:10: edge 'a >> missing': unknown node 'missing'",
    ]


def test_a_yaml_and_a_python_flow_with_one_id(tmp_path: Path) -> None:
    write(tmp_path / "a.py", HELLO.format(id="same"))
    write(tmp_path / "b.yaml", HELLO_YAML.format(id="same"))
    dags, problems = load_paths([tmp_path])
    assert [d.dag_id for d in dags] == ["same"]
    assert [p.code for p in problems] == ["spec.duplicate_flow"]
    assert str(problems[0]).startswith(f"{tmp_path / 'b.yaml'}:1:1: flow 'same' is already")


def test_flow_files_can_look_into_subfolders(tmp_path: Path) -> None:
    (tmp_path / "group").mkdir()
    (tmp_path / "top.yaml").write_text("")
    (tmp_path / "group" / "inner.py").write_text("")
    (tmp_path / "group" / "_helper.py").write_text("")
    (tmp_path / "group" / "notes.txt").write_text("")
    assert flow_files(tmp_path) == [tmp_path / "top.yaml"]
    assert flow_files(tmp_path, recursive=True) == [
        tmp_path / "group" / "inner.py",
        tmp_path / "top.yaml",
    ]
