"""What each process of a run inherits from the host: the rule, and every core entry point."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project, start_run
from jupyter_pyrunner.hostenv import (
    DEFAULT_ENV_DENY,
    Role,
    configured_deny,
    deny_patterns,
    host_environment,
)

from .conftest import run_cli
from .envprobe import (
    HARMLESS,
    RUN_DENY,
    SECRETS,
    assert_no_secrets,
    installer_environment,
    make_probe_project,
    program_report,
)

HOST = {
    "PATH": "/usr/bin",
    "JUPYTER_TOKEN": "t",
    "JPY_SESSION": "s",
    "JUPYTERHUB_API_TOKEN": "h",
    "AWS_SECRET_X": "a",
    "PYTHONPATH": "/p",
    "VIRTUAL_ENV": "/v",
    "PYRUNNER_HOME": "/home",
    "PYRUNNER_ENV_DENY": "AWS_*, ,OTHER",
    "KEPT": "k",
}


@pytest.mark.parametrize("role", list(Role))
def test_no_role_ever_gets_a_secret(role: Role) -> None:
    env = host_environment(role, [], HOST)
    for name in ("JUPYTER_TOKEN", "JPY_SESSION", "JUPYTERHUB_API_TOKEN", "AWS_SECRET_X"):
        assert name not in env, f"{role.value} got {name}"
    assert env["KEPT"] == "k" and env["PATH"] == "/usr/bin"


def test_the_program_loses_what_would_undo_its_isolation_and_pyrunners_own_settings() -> None:
    env = host_environment(Role.PROGRAM, [], HOST)
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "PYRUNNER_HOME", "PYRUNNER_ENV_DENY"} & set(env)


def test_the_installer_loses_the_callers_virtual_env_but_keeps_pythonpath_and_settings() -> None:
    env = host_environment(Role.INSTALLER, [], HOST)
    assert "VIRTUAL_ENV" not in env
    assert env["PYTHONPATH"] == "/p" and env["PYRUNNER_HOME"] == "/home"


def test_the_detached_supervisor_keeps_everything_but_the_secrets() -> None:
    env = host_environment(Role.SUPERVISOR, ["KEPT"], HOST)
    assert "KEPT" not in env  # the run's own deny list applies to it too
    assert env["VIRTUAL_ENV"] == "/v" and env["PYRUNNER_HOME"] == "/home"


def test_the_deny_list_is_the_defaults_then_the_variable_then_the_runs_own() -> None:
    assert configured_deny(HOST) == ["AWS_*", "OTHER"]
    assert deny_patterns(["MINE"], HOST) == [*DEFAULT_ENV_DENY, "AWS_*", "OTHER", "MINE"]


def test_without_a_base_the_hosts_own_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "x")
    monkeypatch.setenv("PROBE_HARMLESS", "kept")
    env = host_environment(Role.SUPERVISOR)
    assert "JUPYTER_TOKEN" not in env and env["PROBE_HARMLESS"] == "kept"


# -- every core entry point, with a real installer, program and supervisor -----------------------


@pytest.fixture
def secrets_in_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SECRETS, **HARMLESS}.items():
        monkeypatch.setenv(name, value)


def _probe(tmp_path: Path) -> tuple[Path, Path]:
    report = tmp_path / "installer-env.json"
    return make_probe_project(tmp_path / "probe-project", report), report


@pytest.mark.usefixtures("secrets_in_host")
def test_run_project_keeps_the_runs_deny_list_from_the_installer_and_the_program(
    home: Path, tmp_path: Path
) -> None:
    source, installer_report = _probe(tmp_path)
    handle = run_project(source, env_deny=RUN_DENY)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert_no_secrets(installer_environment(installer_report), "the installer")
    assert_no_secrets(program_report(handle.log_text())["program"], "the program")


@pytest.mark.usefixtures("secrets_in_host")
def test_start_run_keeps_secrets_from_the_installer_the_program_and_the_detached_supervisor(
    home: Path, tmp_path: Path
) -> None:
    source, installer_report = _probe(tmp_path)
    handle = start_run(source, env_deny=RUN_DENY)
    assert handle.wait(timeout=240).status is RunStatus.SUCCEEDED, handle.log_text()
    report = program_report(handle.log_text())
    assert_no_secrets(installer_environment(installer_report), "the installer")
    assert_no_secrets(report["program"], "the program")
    assert "jupyter_pyrunner.supervisor" in report["parent_cmdline"]
    assert_no_secrets(report["parent"], "the detached supervisor")


@pytest.mark.usefixtures("secrets_in_host")
def test_the_cli_takes_its_deny_list_from_pyrunner_env_deny_for_installer_and_program(
    home: Path, tmp_path: Path
) -> None:
    source, installer_report = _probe(tmp_path)
    env = {**os.environ, "PYRUNNER_ENV_DENY": ",".join(RUN_DENY)}
    result = run_cli("run", str(source), env=env)
    assert result.returncode == 0, result.stderr
    assert_no_secrets(installer_environment(installer_report), "the installer")
    assert_no_secrets(program_report(result.stdout)["program"], "the program")


def test_the_probe_sees_secrets_when_nothing_denies_them(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe itself works: a harmless-looking secret that no rule names reaches everyone."""
    monkeypatch.setenv("AWS_SECRET_X", "aws-secret")
    source, installer_report = _probe(tmp_path)
    handle = run_project(source)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert installer_environment(installer_report).get("AWS_SECRET_X") == "aws-secret"
    assert program_report(handle.log_text())["program"]["AWS_SECRET_X"] == "aws-secret"
    assert sys.executable  # (the in-process caller is the program's parent here: not checked)


KERNEL = {
    "PATH": "/usr/bin",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "TERM": "xterm-color",
    "CLICOLOR": "1",
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
}


@pytest.mark.parametrize("role", [Role.PROGRAM, Role.INSTALLER])
def test_what_a_kernel_set_for_itself_reaches_neither_installer_nor_program(role: Role) -> None:
    assert host_environment(role, [], KERNEL) == {"PATH": "/usr/bin"}


def test_a_terminals_own_settings_are_kept() -> None:
    terminal = {"MPLBACKEND": "Agg", "TERM": "xterm-color", "FORCE_COLOR": "1", "PAGER": "less"}
    assert host_environment(Role.PROGRAM, [], terminal) == terminal
    inline_only = {"MPLBACKEND": "module://ipykernel.pylab.backend_inline", "TERM": "xterm"}
    assert host_environment(Role.PROGRAM, [], inline_only) == {"TERM": "xterm"}


def test_the_detached_supervisor_keeps_the_kernels_settings() -> None:
    assert host_environment(Role.SUPERVISOR, [], KERNEL) == KERNEL


def test_a_runs_cpus_set_the_thread_counts_and_its_dask_resources_are_noted_here(
    home: Path, project
) -> None:
    show = "import os\nprint(os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])\n"
    handle = run_project(
        project({"main.py": show}), requirements=[], cpus=2.5, resources={"GPU": 1}
    )
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert handle.log_text().endswith(
        "\npyrunner: note: GPU=1 is asked of Dask workers; here, nothing checks it\n2 2\n"
    )
