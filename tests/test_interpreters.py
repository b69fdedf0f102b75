"""Choosing the Python a project asks for: ``requires-python`` matched against the Pythons
installed on the machine (pyenv's, uv's, ``PATH``), and refused clearly when none fits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, RunStore, run_project
from jupyter_pyrunner.environments import EnvironmentManager, EnvSpec
from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.interpreters import Interpreter, available_pythons
from jupyter_pyrunner.versionspec import check_specifier, poetry_to_pep440, version_matches

from .conftest import program_output, run_cli

FOUND = available_pythons()
VERSIONS = [v for _, v in FOUND]
HAS_313 = any(v.startswith("3.13.") for v in VERSIONS)
needs_313 = pytest.mark.skipif(not HAS_313, reason="no Python 3.13 on this machine")


@pytest.mark.parametrize(
    ("specifier", "version", "expected"),
    [
        (">=3.13", "3.13.0", True),
        (">=3.13", "3.11.7", False),
        (">=3.10,<3.13", "3.12.1", True),
        (">=3.10,<3.13", "3.13.0", False),
        ("==3.11.*", "3.11.7", True),
        ("!=3.11.*", "3.11.7", False),
        ("~=3.10", "3.13.0", True),
        ("~=3.10.2", "3.11.0", False),
        (">3.11", "3.11.0", False),
        (">=3.13.0rc1", "3.13.0", True),
        ("<3.13.0rc1", "3.13.0", False),
        (">=3.8,<3.9 || >=3.12", "3.13.0", True),
        ("", "3.9.1", True),
    ],
)
def test_python_versions_are_matched_as_pep_440_says(
    specifier: str, version: str, expected: bool
) -> None:
    assert version_matches(specifier, version) is expected


@pytest.mark.parametrize("bad", ["3.10", ">=3.x", ">=3.*", "~=3"])
def test_a_specifier_that_cannot_be_read_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_specifier(bad)


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^3.10", ">=3.10,<4.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1", ">=1,<2"),
        ("1.4", "==1.4"),
        ("*", ""),
        (">= 1.2 < 2", ">=1.2,<2"),
        ("^2 || ^3", ">=2,<3 || >=3,<4"),
        ("~=1.4", "~=1.4"),
    ],
)
def test_poetry_constraints_become_pep_440(poetry: str, pep440: str) -> None:
    assert poetry_to_pep440(poetry) == pep440


def test_the_current_python_is_kept_when_it_satisfies_the_project() -> None:
    current = Interpreter.current()
    assert Interpreter.find(None) == current
    assert Interpreter.find(None, f"=={current.version}") == current
    assert Interpreter.find(None, ">=3.8") == current


@needs_313
def test_a_project_requiring_3_13_gets_python_3_13() -> None:
    chosen = Interpreter.find(None, ">=3.13")
    assert chosen.version.startswith("3.13.")
    out = subprocess.run([chosen.path, "-c", "import sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "(3, 13)"


def test_no_matching_python_is_refused_naming_the_requirement_and_what_exists() -> None:
    with pytest.raises(ProjectError) as info:
        Interpreter.find(None, ">=3.99")
    message = str(info.value)
    assert "requires Python >=3.99" in message
    assert Interpreter.current().version in message and "--python" in message


def test_a_python_passed_by_the_user_must_satisfy_the_project() -> None:
    other = next((p for p, v in FOUND if v != Interpreter.current().version), None)
    if other is None:
        pytest.skip("a single Python on this machine")
    version = Interpreter.find(other).version
    with pytest.raises(ProjectError) as info:
        Interpreter.find(other, f"!={version}")
    assert f"is Python {version}" in str(info.value) and f"!={version}" in str(info.value)
    assert Interpreter.find(other, f"=={version}").version == version


def test_a_bad_requires_python_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match="not a version specifier"):
        Interpreter.find(None, "python3")


@needs_313
@pytest.mark.network
def test_an_environment_is_built_on_the_python_the_project_asks_for(home: Path) -> None:
    interpreter = Interpreter.find(None, ">=3.13")
    env, built = EnvironmentManager(home, compile_bytecode=False).ensure(
        EnvSpec(("six",), interpreter)
    )
    out = subprocess.run([str(env.python), "-c", "import six, sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert built and out.stdout.strip() == "(3, 13)"
    info = EnvironmentManager(home).list_envs()[0]
    assert info.python_version == interpreter.version


SCRIPT_313 = """\
# /// script
# requires-python = ">=3.13"
# dependencies = []
# ///
import sys
print(sys.version_info[:2])
"""


@needs_313
@pytest.mark.network
def test_a_pep723_script_requiring_3_13_runs_on_3_13(home: Path, project) -> None:
    handle = run_project(project({"main.py": SCRIPT_313}))
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "(3, 13)\n"


def test_a_pep723_script_requiring_3_99_is_refused_clearly_and_is_no_run(
    home: Path, project
) -> None:
    src = project({"main.py": SCRIPT_313.replace(">=3.13", ">=3.99")})
    with pytest.raises(ProjectError, match=r"requires Python >=3\.99"):
        run_project(src)
    assert RunStore(home).list_runs() == []  # refused at intake, as any invalid project
    cli = run_cli("run", str(src))
    assert cli.returncode == 125 and "requires Python >=3.99" in cli.stderr
    assert cli.stderr.count("\n") == 1 and "Traceback" not in cli.stderr


# Anything named like a Python is asked its version: a program that only carries the name must
# cost at most one short, bounded probe, and say clearly why it cannot serve.
def _sleepers(tag: str) -> list[int]:
    """Live processes whose command line carries ``tag`` (what a probe left running)."""
    import os

    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and tag.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


def test_a_python_that_never_answers_is_refused_in_seconds_and_stopped(tmp_path: Path) -> None:
    import time

    from jupyter_pyrunner.errors import EnvironmentBuildError

    script = tmp_path / "python-that-sleeps"
    script.write_text("#!/bin/sh\nsleep 987\n")
    script.chmod(0o755)
    t0 = time.monotonic()
    with pytest.raises(EnvironmentBuildError) as err:
        Interpreter.find(str(script))  # as --python PATH asks it
    assert time.monotonic() - t0 < 10
    assert f"cannot use '{script}' as the Python interpreter" in str(err.value)
    assert "did not answer within 3 s" in str(err.value)
    assert _sleepers("sleep 987") == [], "the probe's own child was left running"
    t0 = time.monotonic()
    with pytest.raises(EnvironmentBuildError, match="did not answer"):
        Interpreter.find(str(script))  # the refusal is kept: not a second wait
    assert time.monotonic() - t0 < 1


def test_a_python_that_writes_endlessly_is_cut_off(tmp_path: Path) -> None:
    import resource
    import time

    from jupyter_pyrunner.errors import EnvironmentBuildError

    script = tmp_path / "python-that-talks"
    script.write_text("#!/bin/sh\nexec yes python\n")
    script.chmod(0o755)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(EnvironmentBuildError) as err:
        Interpreter.find(str(script), ">=3.10")  # as --python PATH asks it
    assert time.monotonic() - t0 < 5
    assert f"cannot use '{script}' as the Python interpreter" in str(err.value)
    assert "wrote more than 4096 bytes" in str(err.value)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"reading the probe grew this process by {grown_mb:.0f} MB"


def test_a_failed_probe_on_path_is_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil
    import time

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to make a binary that sleeps")
    source = tmp_path / "sleeper.c"
    source.write_text("#include <unistd.h>\nint main(void) { sleep(600); return 0; }\n")
    fake = tmp_path / "bin" / "python3.14"
    fake.parent.mkdir()
    subprocess.run([compiler, "-o", str(fake), str(source)], check=True)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    t0 = time.monotonic()
    with pytest.raises(ProjectError, match=r"requires Python >=3\.99"):
        Interpreter.find(None, ">=3.99")  # probes it once, then lists what exists
    assert time.monotonic() - t0 < 10
    t0 = time.monotonic()
    assert fake.name not in {Path(p).name for p, _ in available_pythons()}
    assert time.monotonic() - t0 < 1, "the Python that never answered was asked again"
