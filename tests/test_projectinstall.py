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

from .conftest import marker_processes, program_output, write_project

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


# --------------------------------------------------------------------------- what a build leaves

_DAEMON_BACKEND = """
import base64, hashlib, os, subprocess, zipfile

NAME = {name!r}


def _leave_a_daemon():
    # in a session of its own: out of the installer's process group, re-parented when the
    # backend exits, as a careless (or hostile) build script may leave one
    daemon = subprocess.Popen(
        ["sleep", "777"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open({pid_file!r}, "a") as f:
        f.write(f"{{daemon.pid}}\\n")


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _leave_a_daemon()
    wheel = f"{{NAME}}-0.1-py3-none-any.whl"
    info = f"{{NAME}}-0.1.dist-info"
    files = {{
        f"{{NAME}}_pkg.py": b"VALUE = 1\\n",
        f"{{info}}/METADATA": f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: 0.1\\n".encode(),
        f"{{info}}/WHEEL": (
            b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        ),
    }}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    record.append(f"{{info}}/RECORD,,")
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{{info}}/RECORD", "\\n".join(record) + "\\n")
    return wheel
"""

_DAEMON_PYPROJECT = """
[build-system]
requires = []
build-backend = "daemon_backend"
backend-path = ["."]

[project]
name = "{name}"
version = "0.1"
dependencies = []
"""


def daemon_package(root: Path, name: str, pid_file: Path) -> Path:
    """A package whose in-tree build backend (no build requirements: nothing is downloaded)
    leaves a detached ``sleep 777`` behind, its pid appended to ``pid_file``."""
    return write_project(
        root,
        {
            "pyproject.toml": _DAEMON_PYPROJECT.format(name=name),
            "daemon_backend.py": _DAEMON_BACKEND.format(name=name, pid_file=str(pid_file)),
        },
    )


def living_daemons(pid_file: Path) -> list[int]:
    """The ``sleep 777`` processes of ``pid_file`` still alive (zombies are not alive)."""
    assert pid_file.exists(), "the build backend never ran"
    alive = []
    for pid in map(int, pid_file.read_text().split()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline == b"sleep\x00777\x00" and state not in (b"Z", b"X"):
            alive.append(pid)
    return alive


def stop_daemons(pid_file: Path) -> None:
    """Whatever a failing test left running goes, so that it cannot disturb the next ones."""
    import contextlib
    import signal

    for pid in living_daemons(pid_file) if pid_file.exists() else []:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def test_a_daemon_left_by_the_projects_build_is_stopped_with_the_run(
    home: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "daemons.txt"
    src = daemon_package(tmp_path / "project", "daemonproject", pid_file)
    (src / "main.py").write_text("import daemonproject_pkg\nprint(daemonproject_pkg.VALUE)\n")
    try:
        handle = run_project(src)
        assert handle.record.install_project == "."
        assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
        assert program_output(handle) == "1\n"
        assert living_daemons(pid_file) == []
        assert marker_processes(handle.id) == []
    finally:
        stop_daemons(pid_file)


def test_install_project_stops_what_the_build_left_running(home: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "daemons.txt"
    src = daemon_package(tmp_path / "project", "daemonproject", pid_file)
    manager = EnvironmentManager(home, compile_bytecode=False)
    env, _ = manager.ensure(EnvSpec((), Interpreter.current()))
    try:
        site = install_project(manager, env, src, ".", tmp_path / "site", run_id="run-x1")
        assert (site / "daemonproject_pkg.py").is_file()
        assert living_daemons(pid_file) == []
        assert marker_processes("run-x1") == []
    finally:
        stop_daemons(pid_file)
