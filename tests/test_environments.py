"""Real environments built with uv (and pip) against the package index."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import EnvironmentBuildError, RunStatus, run_project
from jupyter_pyrunner.environments import COMPILED, EnvironmentManager, EnvSpec, Interpreter
from jupyter_pyrunner.hostenv import Role, host_environment
from jupyter_pyrunner.installer import compile_later
from jupyter_pyrunner.process_tree import MARKER_VAR

from .conftest import marker_processes, program_output
from .test_projectinstall import daemon_package, living_daemons, stop_daemons

pytestmark = pytest.mark.network


def _spec(*reqs: str) -> EnvSpec:
    return EnvSpec(tuple(reqs), Interpreter.current())


def _ensure_in_child(home: str, reqs: list[str]) -> tuple[str, bool]:
    env, built = EnvironmentManager(Path(home)).ensure(_spec(*reqs))
    return env.key, built


def test_an_environment_is_built_once_then_reused(home: Path) -> None:
    manager = EnvironmentManager(home)
    env, built = manager.ensure(_spec("six"))
    assert built
    out = subprocess.run(
        [env.python, "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip()
    assert any(line.lower().startswith("six==") for line in env.freeze)
    again, built_again = manager.ensure(_spec("six"))
    assert not built_again and again.path == env.path
    assert manager.ensure(_spec("packaging"))[0].key != env.key


def test_the_key_ignores_order_and_duplicates_but_not_the_interpreter() -> None:
    assert _spec("six", "packaging").key == _spec("packaging", "six", "six").key
    other = EnvSpec(("six",), Interpreter("/other/python", "3.99.0"))
    assert other.key != _spec("six").key
    assert (
        EnvSpec(("six",), Interpreter.current(), system_site_packages=True).key != _spec("six").key
    )


def test_two_processes_asking_at_once_build_it_once(home: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_ensure_in_child, [(str(home), ["packaging"])] * 2)
    assert results[0][0] == results[1][0]
    assert sorted(built for _, built in results) == [False, True]
    assert [p.name for p in (home / "envs").iterdir() if p.name.startswith(".build")] == []


def test_a_failed_build_leaves_nothing_and_says_why(home: Path) -> None:
    manager = EnvironmentManager(home)
    with pytest.raises(EnvironmentBuildError) as info:
        manager.ensure(_spec("no-such-package-pyrunner-test==1.0"))
    assert "no-such-package-pyrunner-test" in info.value.details
    assert [p for p in (home / "envs").iterdir() if not p.name.endswith(".lock")] == []


def test_bytecode_is_written_once_after_the_build(home: Path) -> None:
    manager = EnvironmentManager(home)
    env, _ = manager.ensure(_spec("six"))
    deadline = time.time() + 60
    while not (env.path / COMPILED).exists():
        assert time.time() < deadline
        time.sleep(0.1)
    assert (env.path / COMPILED).read_text() == "ok"
    assert list(env.path.rglob("__pycache__/six.*.pyc"))


def test_pip_is_the_fallback_without_uv(home: Path) -> None:
    manager = EnvironmentManager(home, use_uv=False, compile_bytecode=False)
    env, built = manager.ensure(_spec("six"))
    assert built and env.meta["installer"] == "pip"
    subprocess.run([env.python, "-c", "import six"], check=True)


def test_list_and_prune_respect_age_size_and_use(home: Path) -> None:
    manager = EnvironmentManager(home, compile_bytecode=False)
    old, _ = manager.ensure(_spec("six"))
    new, _ = manager.ensure(_spec("packaging"))
    past = time.time() - 10 * 86400
    os.utime(old.path / ".last-used", (past, past))
    infos = {i.key: i for i in manager.list_envs()}
    assert set(infos) == {old.key, new.key} and all(i.size > 0 for i in infos.values())
    with manager.using(new):
        assert [i.key for i in manager.prune(max_size_bytes=0)] == [old.key]
        assert new.path.exists()  # in use: kept whatever the size
    assert not old.path.exists()
    assert [i.key for i in manager.prune(older_than_days=1)] == []
    assert [i.key for i in manager.prune(max_size_bytes=0)] == [new.key]
    assert manager.list_envs() == []


def test_a_project_with_numpy_runs_in_its_own_environment(home: Path, project) -> None:
    src = project(
        {
            "main.py": "import numpy as np\nprint(int(np.arange(10).sum()))\n",
            "requirements.txt": "numpy\n",
        }
    )
    handle = run_project(src)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "45\n"
    provenance = json.loads((handle.run_dir / "provenance.json").read_text())
    assert any(line.startswith("numpy==") for line in provenance["freeze"])


def test_requirements_are_inferred_from_imports_when_missing(home: Path, project) -> None:
    src = project({"main.py": "import six\nprint(six.moves.range(3)[-1])\n"})
    handle = run_project(src)
    record = handle.record
    assert record.requirements_source == "inferred" and record.requirements == ["six"]
    assert "inferred from the imports: six" in handle.log_text()
    assert record.status is RunStatus.SUCCEEDED and program_output(handle) == "2\n"


def test_no_infer_runs_in_a_bare_environment(home: Path, project) -> None:
    src = project({"main.py": "import six\n"})
    handle = run_project(src, infer_requirements=False)
    assert handle.status is RunStatus.FAILED
    assert "No module named 'six'" in program_output(handle, "stderr")


def test_system_site_packages_lets_the_run_see_host_packages(home: Path, project) -> None:
    # pip lives in the host interpreter's site-packages; uv's environments have none of their own
    src = project({"main.py": "import pip\nprint('seen')\n", "requirements.txt": ""})
    assert run_project(src).status is RunStatus.FAILED
    handle = run_project(src, system_site_packages=True)
    assert handle.status is RunStatus.SUCCEEDED and program_output(handle) == "seen\n"


def test_the_installer_runs_a_project_build_without_host_secrets(
    home: Path, project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "top-secret-token")
    report = tmp_path / "build-env.txt"
    src = project(
        {
            "main.py": "import localpkg\nprint(localpkg.VALUE)",
            "requirements.txt": "./localpkg\n",
            "localpkg/pyproject.toml": "[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n",
            "localpkg/setup.py": f"""
            import os
            from setuptools import setup
            with open({str(report)!r}, "a") as f:
                f.write(os.environ.get("JUPYTER_TOKEN", "absent") + "\\n")
            setup(name="localpkg", version="1.0", py_modules=["localpkg"])
        """,
            "localpkg/localpkg.py": "VALUE = 7\n",
        }
    )
    handle = run_project(src)
    assert handle.status is RunStatus.SUCCEEDED, handle.record.error_details
    assert program_output(handle) == "7\n"
    assert report.exists() and "top-secret-token" not in report.read_text()
    assert "absent" in report.read_text()


# --------------------------------------------------------------------------- local paths in the key

LOCAL_PROJECT = {
    "main.py": "import localpkg\nprint(localpkg.VALUE)\n",
    "requirements.txt": "-e .\n./localpkg\n",
    "setup.py": "from setuptools import setup\nsetup(name='whole', version='1', py_modules=[])\n",
    "localpkg/pyproject.toml": (
        "[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n"
        "[project]\nname = 'localpkg'\nversion = '1.0'\n"
    ),
    "localpkg/localpkg.py": "VALUE = 7\n",
}


def test_two_runs_of_a_project_with_local_paths_share_one_environment(home: Path, project) -> None:
    src = project(LOCAL_PROJECT)
    first = run_project(src)
    second = run_project(src)
    assert first.status is RunStatus.SUCCEEDED, first.record.error_details
    assert second.status is RunStatus.SUCCEEDED and program_output(second) == "7\n"
    assert first.record.install_project == "."
    assert first.record.env_key == second.record.env_key
    assert "built in" in first.log_text() and "built in" not in second.log_text()
    # the environment holds its own copy of the local package, not a link into a run
    env = EnvironmentManager(home).get(second.record.env_key or "")
    assert env is not None and list(env.path.rglob("site-packages/localpkg.py"))


def test_the_key_follows_what_a_local_package_holds(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("A = 1\n")
    copy = tmp_path / "elsewhere" / "pkg"
    copy.parent.mkdir()
    copy.mkdir()
    (copy / "m.py").write_text("A = 1\n")
    assert _spec(str(pkg), "six").key == _spec(str(copy), "six").key
    assert _spec(f"-c {pkg / 'm.py'}").key == _spec(f"-c {copy / 'm.py'}").key
    (copy / "m.py").write_text("A = 2\n")
    assert _spec(str(pkg), "six").key != EnvSpec((str(copy), "six"), Interpreter.current()).key


# --------------------------------------------------------------------------- inferred sets


def test_an_inferred_set_uses_a_cached_environment_that_holds_it(home: Path) -> None:
    manager = EnvironmentManager(home, compile_bytecode=False)
    bigger, _ = manager.ensure(_spec("six", "packaging"))
    assert manager.find_covering(_spec("six")) == _spec("six", "packaging")
    assert manager.find_covering(_spec("six", "packaging")) == _spec("six", "packaging")
    assert manager.find_covering(_spec("six", "tomli")) is None  # not all of them
    assert manager.find_covering(_spec("six==1.16.0")) is None  # declared: exact set
    assert manager.find_covering(_spec("six"), max_extra=0) is None  # too much bigger
    other_python = EnvSpec(("six",), Interpreter("/other/python", "3.99.0"))
    assert manager.find_covering(other_python) is None
    messages: list[str] = []
    with manager.acquire(_spec("six"), log=messages.append, cover=True) as (env, built):
        assert env.key == bigger.key and not built
    assert any(f"using environment {bigger.key}" in m for m in messages)
    with manager.acquire(_spec("six"), cover=False) as (env, built):
        assert env.key != bigger.key and built  # without cover: its own, as declared sets get


def test_env_list_shows_the_python_version(home: Path) -> None:
    manager = EnvironmentManager(home, compile_bytecode=False)
    manager.ensure(_spec())
    (info,) = manager.list_envs()
    assert info.python_version == Interpreter.current().version
    assert info.to_dict()["python_version"] == Interpreter.current().version


def test_a_run_waiting_for_another_runs_build_says_so(home: Path) -> None:
    import fcntl
    import threading

    manager = EnvironmentManager(home, compile_bytecode=False)
    spec = _spec("six")
    logged: list[str] = []
    waited: list[str] = []
    with open(manager.root / f".{spec.key}.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another run is building it
        worker = threading.Thread(
            target=lambda: manager.ensure(spec, logged.append, on_wait=waited.append)
        )
        worker.start()
        deadline = time.time() + 30
        while not waited:
            assert time.time() < deadline and worker.is_alive()
            time.sleep(0.05)
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    worker.join(120)
    expected = f"waiting for environment {spec.key}, which another run is building…"
    assert waited == [expected] and logged[0] == expected
    assert manager.get(spec.key) is not None


# --------------------------------------------------------------------------- what a build leaves


def test_a_daemon_left_by_an_environment_build_is_stopped(home: Path, tmp_path: Path) -> None:
    """The installer of a run carries the run's marker: what a local package's build backend
    leaves running (detached, in a session of its own) is stopped when the step is done."""
    pid_file = tmp_path / "daemons.txt"
    pkg = daemon_package(tmp_path / "daemonpkg", "daemonpkg", pid_file)
    manager = EnvironmentManager(home, compile_bytecode=False)
    installer_env = {**host_environment(Role.INSTALLER), MARKER_VAR: "run-env-1"}
    try:
        env, built = manager.ensure(_spec(str(pkg)), installer_env=installer_env)
        assert built and list(env.path.rglob("site-packages/daemonpkg_pkg.py"))
        assert living_daemons(pid_file) == []
        assert marker_processes("run-env-1") == []
    finally:
        stop_daemons(pid_file)


def test_a_run_whose_requirements_build_leaves_a_daemon_ends_without_it(
    home: Path, project
) -> None:
    pid_file = Path(project({}).parent / "daemons.txt")
    src = project({"main.py": "import daemonpkg_pkg\nprint(daemonpkg_pkg.VALUE)\n"})
    (src / "requirements.txt").write_text("./daemonpkg\n")
    daemon_package(src / "daemonpkg", "daemonpkg", pid_file)
    try:
        handle = run_project(src)
        assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
        assert living_daemons(pid_file) == []
        assert marker_processes(handle.id) == []
    finally:
        stop_daemons(pid_file)


def test_the_bytecode_helper_does_not_carry_the_runs_marker(tmp_path: Path) -> None:
    """It serves the cache and may outlive the run that built the environment: the sweep of
    the run's processes must not stop it."""
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\nexec sleep 30\n")
    fake_python.chmod(0o755)
    pid = compile_later(fake_python, tmp_path / "done", {**os.environ, MARKER_VAR: "run-c1"})
    try:
        deadline = time.time() + 30
        while b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            assert time.time() < deadline
            time.sleep(0.02)
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"PYRUNNER_RUN_ID=run-c1" not in environ
        assert f"PATH={os.environ['PATH']}".encode() in environ  # the rest is passed on
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_a_step_whose_leftover_holds_the_output_open_ends_with_the_step(tmp_path: Path) -> None:
    """A build backend's daemon that keeps the installer's stdout must not hold the build."""
    import signal
    import time as clock

    from jupyter_pyrunner.installer import Installer

    pidfile = tmp_path / "daemon.pid"
    installer = Installer(None, dict(os.environ))
    started = clock.monotonic()
    try:
        out = installer.call(
            ["/bin/sh", "-c", f"echo built; (sleep 30 & echo $! > {pidfile})"], "a step"
        )
        assert out.strip() == "built" and clock.monotonic() - started < 5
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


SLEEPER = """
import time
print("started", time.time(), flush=True)
time.sleep(4)
"""


def test_a_run_waiting_for_a_build_starts_once_it_is_built_not_when_the_builder_ends(
    home: Path, project
) -> None:
    """Two runs of a new project at once: one builds, the other waits for the build only (the
    builder holds a shared lock while its program runs: the waiter must not wait for that)."""
    from jupyter_pyrunner import RunStatus, start_run

    folder = project({"main.py": SLEEPER, "requirements.txt": "six\n"})
    first, second = start_run(folder), start_run(folder)
    starts = []
    for handle in (first, second):
        assert handle.wait(timeout=120).status is RunStatus.SUCCEEDED, handle.log_text()
        line = next(x for x in handle.log_text().splitlines() if x.startswith("started"))
        starts.append(float(line.split()[1]))
    assert abs(starts[0] - starts[1]) < 3.0, f"one program waited for the other: {starts}"
    assert len([p for p in (home / "envs").iterdir() if not p.name.startswith(".")]) == 1
