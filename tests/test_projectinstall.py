"""The project itself installed for one run (as ``uv run`` installs it), beside a shared
environment that stays as it was built."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.environments import EnvironmentManager, EnvSpec, Interpreter
from jupyter_pyrunner.errors import EnvironmentBuildError
from jupyter_pyrunner.installer import freeze
from jupyter_pyrunner.projectinstall import install_project

from .conftest import program_output, write_project

pytestmark = pytest.mark.network

SRC_LAYOUT = {
    "pyproject.toml": """
        [project]
        name = "wordstats"
        version = "0.1.0"
        requires-python = ">=3.9"
        dependencies = ["six"]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
    """,
    "src/wordstats/__init__.py": "def top(text):\n    return max(text.split(), key=len)\n",
    "scripts/main.py": """
        import six
        from wordstats import top
        print(top("a few words"), six.PY3)
    """,
}


def test_the_project_is_installed_into_the_run_not_into_the_environment(
    home: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project", SRC_LAYOUT)
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(EnvSpec(("six",), Interpreter.current()))
    before = freeze(env.path)
    site = install_project(manager, env, project, ".", tmp_path / "run" / "site")
    script = str(project / "scripts" / "main.py")
    alone = subprocess.run([str(env.python), script], capture_output=True, text=True)
    assert "No module named 'wordstats'" in alone.stderr  # what a run without it sees
    with_site = subprocess.run(
        [str(env.python), script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert with_site.stdout == "words True\n", with_site.stderr
    assert freeze(env.path) == before  # the shared environment is untouched


def test_a_project_that_cannot_be_installed_says_why(home: Path, tmp_path: Path) -> None:
    broken = dict(SRC_LAYOUT)
    broken["pyproject.toml"] = SRC_LAYOUT["pyproject.toml"].replace(
        "hatchling.build", "no_such_backend.build"
    )
    project = write_project(tmp_path / "project", broken)
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(EnvSpec((), Interpreter.current()))
    with pytest.raises(EnvironmentBuildError) as info:
        install_project(manager, env, project, ".", tmp_path / "site")
    assert "installing the project failed" in str(info.value)
    assert "no_such_backend" in info.value.details


def test_a_folder_without_a_project_file_is_refused(home: Path, tmp_path: Path) -> None:
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(EnvSpec((), Interpreter.current()))
    (tmp_path / "sub").mkdir()
    with pytest.raises(EnvironmentBuildError, match="the project in 'sub': it has no"):
        install_project(manager, env, tmp_path, "sub", tmp_path / "site")


def test_a_src_layout_project_with_its_script_in_a_subfolder_runs(
    home: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project", SRC_LAYOUT)
    handle = run_project(project)
    assert handle.record.install_project == "."
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "words True\n"
