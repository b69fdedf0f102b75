"""RunSpec validates itself: the engine's checks and messages, whichever face built the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_pyrunner import RunStore, run_project, start_run
from jupyter_pyrunner.cli.exits import EXIT_INVALID
from jupyter_pyrunner.errors import InvalidRunSpecError, ProjectError
from jupyter_pyrunner.models import MAX_ARG_BYTES, RunSpec

from .conftest import run_cli


def test_a_spec_with_sensible_values_is_valid() -> None:
    spec = RunSpec("p.zip", entry="src/app.py", inputs=["a", "b"], args=["--x", ""],
                   timeout=0.5, memory_mb=512, env_deny=["AWS_*", "TOKEN_?", "[AB]_KEY", "spring.*"])  # fmt: skip
    assert spec.validate() is spec
    assert RunSpec("p.zip", layout="flat").validate().layout == "flat"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timeout": -5}, "the time limit (timeout) must be more than 0 seconds, not -5"),
        ({"timeout": 0}, "must be more than 0 seconds, not 0"),
        ({"timeout": float("nan")}, "must be a number of seconds, not nan"),
        ({"timeout": True}, "must be a number of seconds, not True"),
        ({"timeout": "5"}, "must be a number of seconds, not '5'"),
        ({"timeout": 1e12}, "must be at most"),
        ({"memory_mb": -1}, "the memory limit (memory_mb) must be more than 0 MB, not -1"),
        ({"memory_mb": 1.5}, "must be a whole number of MB, not 1.5"),
        ({"memory_mb": 10**30}, "must be at most"),
        ({"args": ["a\0b"]}, "cannot contain a NUL character"),
        ({"args": ["x" * (MAX_ARG_BYTES + 1)]}, "pass big values in an input file"),
        ({"args": ["x" * 100_000] * 12}, "the program's arguments take"),
        ({"args": "--fast"}, "must be a list"),
        ({"args": [1]}, "must be a list, each item a string"),
        ({"inputs": ["a"] * 5}, "5 inputs given, but there are 4 input ports"),
        ({"inputs": ["a\0"]}, "an input (inputs) cannot contain a NUL character"),
        ({"inputs": [""]}, "an input (inputs) must be a non-empty path"),
        ({"entry": ""}, "the entry point (entry) must be a non-empty path"),
        ({"python": "py\0"}, "cannot contain a NUL character"),
        ({"output_dir": 3}, "the output folder (output_dir) must be a non-empty path"),
        ({"infer_requirements": "yes"}, "'infer_requirements' must be true or false"),
        ({"system_site_packages": None}, "'system_site_packages' must be true or false"),
        ({"env_deny": ["A B"]}, "'A B' in env_deny is not a variable name or pattern"),
        ({"env_deny": ["X=1"]}, "is not a variable name or pattern"),
        ({"source": ""}, "the project must be a non-empty path"),
        ({"timeout": 10**400}, "the time limit (timeout) must be at most"),
        ({"memory_mb": -(10**400)}, "must be more than 0 MB"),
        ({"args": ["\ud800"]}, "holds characters that cannot be passed to it"),
        ({"args": ["x"] * 120_000}, "the program's arguments take"),
        ({"output_dir": "out\ud800"}, "holds characters that cannot be a file name"),
        ({"env_deny": "MY_TOKEN"}, "env_deny must be a list"),
        ({"env_deny": ["A\n"]}, "is not a variable name or pattern"),
        ({"layout": "Flat"}, "the input layout (layout) must be 'ports' or 'flat', not 'Flat'"),
        ({"layout": None}, "the input layout (layout) must be 'ports' or 'flat', not None"),
        ({"cpus": 0}, "the CPUs of the run (cpus) must be more than 0 CPUs, not 0"),
        ({"cpus": 1e6}, "the CPUs of the run (cpus) must be at most 4096 CPUs"),
        ({"resources": ["GPU"]}, "must map names to amounts, such as {'GPU': 1}"),
        ({"resources": {"GPU": 0}}, "the resource GPU must be more than 0 units, not 0"),
        ({"resources": {"GPU": "1"}}, "the resource GPU must be a number of units, not '1'"),
        ({"resources": {"1GPU": 1}}, "'1GPU' is not a resource name"),
        ({"resources": {"a b": 1}}, "'a b' is not a resource name"),
        ({"resources": {f"R{i}": 1 for i in range(17)}}, "may name at most 16, not 17"),
    ],
)
def test_each_invalid_value_is_refused_with_a_message_for_the_user(
    changes: dict[str, object], message: str
) -> None:
    spec = RunSpec("p.zip")
    for key, value in changes.items():
        setattr(spec, key, value)
    with pytest.raises(InvalidRunSpecError) as caught:
        spec.validate()
    assert message in str(caught.value)
    assert isinstance(caught.value, ProjectError)  # every face already shows these


@pytest.mark.parametrize("entry", ["run_project", "start_run"])
def test_the_api_refuses_invalid_options_before_creating_a_run(
    entry: str, home: Path, project
) -> None:
    src = project({"main.py": "print('never')"})
    start = {"run_project": run_project, "start_run": start_run}[entry]
    with pytest.raises(InvalidRunSpecError, match="memory limit"):
        start(src, memory_mb=10**30)
    with pytest.raises(InvalidRunSpecError, match="NUL"):
        start(src, args=["a\0"])
    with pytest.raises(InvalidRunSpecError, match="env_deny must be a list"):
        start(src, env_deny="MY_TOKEN")  # type: ignore[arg-type]  # never split into letters
    with pytest.raises(InvalidRunSpecError, match="must be a list"):
        start(src, args="--verbose")  # type: ignore[arg-type]
    assert RunStore(home).count() == 0


def test_the_api_refuses_an_unknown_option_as_python_would(home: Path, project) -> None:
    with pytest.raises(TypeError, match="timout"):
        run_project(project({"main.py": ""}), timout=5)  # type: ignore[call-arg]


def test_the_cli_shows_the_engines_message_and_starts_nothing(home: Path, project) -> None:
    src = project({"main.py": "print('never')"})
    result = run_cli("run", str(src), "--timeout", "-5")
    assert result.returncode == EXIT_INVALID
    assert result.stderr.strip() == (
        "pyrunner: error: the time limit (timeout) must be more than 0 seconds, not -5"
    )
    assert RunStore(home).count() == 0


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ("numpy", "must be a list"),
        ([1], "must be a list"),
        ([""], "is not a requirement"),
        (["numpy\nsix"], "is not a requirement"),
        (["-r /etc/passwd"], "an option or a local path"),
        (["--index-url=http://evil"], "an option or a local path"),
        (["./localpkg"], "an option or a local path"),
        (["/abs/pkg"], "an option or a local path"),
        (["x"] * 1001, "at most 1000"),
    ],
)
def test_requirements_given_with_a_run_are_names_not_options_or_paths(
    requirements: object, expected: str
) -> None:
    with pytest.raises(InvalidRunSpecError, match=expected):
        RunSpec("p", requirements=requirements).validate()  # type: ignore[arg-type]
    RunSpec("p", requirements=["numpy>=1.26", "pkg @ https://example.org/pkg.whl"]).validate()


@pytest.mark.parametrize(
    "item",
    [
        "outpkg@file:///tmp/outside",
        "outpkg @ file:///etc",
        "x@file://${HOME}/../y",
        "x @ /abs/pkg",
        "x@./pkg",
        "x @ git+file:///repo",
        "${HOME}/pkg",
    ],
)
def test_requirements_given_with_a_run_name_no_local_package(item: str) -> None:
    with pytest.raises(InvalidRunSpecError, match="an option or a local path"):
        RunSpec("p", requirements=[item]).validate()
    RunSpec("p", requirements=["x @ https://example.org/x-1.0-py3-none-any.whl"]).validate()
