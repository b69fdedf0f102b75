"""Faults in the middle of a run: the installer killed while it builds, the kernel restarted
while ``%pyrunner run`` follows a run. What must hold: a truthful status, nothing already logged
lost, no process of the run left, the store still readable, and the next run unharmed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from jupyter_pyrunner import RunStatus, RunStore, start_run
from jupyter_pyrunner.handle import RunHandle

from ..conftest import marker_processes, program_output, write_project

SLOW_BACKEND = """
import os, time


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    open(os.path.join({started!r}, str(os.getpid())), "w").close()
    time.sleep(120)
    raise SystemExit("never built")
"""

SLOW_PYPROJECT = """
[build-system]
requires = []
build-backend = "slow_backend"
backend-path = ["."]

[project]
name = "slowpkg"
version = "0.1"
"""


def _wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.05)


def _installer_pids(run_id: str) -> list[int]:
    """The run's uv processes (they carry the run's marker)."""
    found = []
    for pid in marker_processes(run_id):
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if exe == "uv":
            found.append(pid)
    return found


def test_an_installer_killed_mid_build_ends_the_run_with_a_reason_and_leaves_nothing(
    home: Path, tmp_path: Path
) -> None:
    started = tmp_path / "builds-started"
    started.mkdir()
    project = write_project(tmp_path / "project", {
        "main.py": "import slowpkg\n",
        "requirements.txt": "./slowpkg\n",
        "slowpkg/pyproject.toml": SLOW_PYPROJECT,
        "slowpkg/slow_backend.py": SLOW_BACKEND.format(started=str(started)),
    })  # fmt: skip
    handle = start_run(project)
    _wait_for(lambda: list(started.iterdir()), 120, "the build")
    (uv,) = _wait_for(lambda: _installer_pids(handle.id), 30, "finding uv")
    os.kill(uv, signal.SIGKILL)
    record = handle.wait(timeout=60)
    assert record.status is RunStatus.ERROR, record
    assert record.message and "could not build the environment" in record.message, record.message
    print(f"killed uv {uv}: {record.message!r}")
    assert "Traceback" not in handle.log_text()
    _wait_for(lambda: not marker_processes(handle.id), 10, "the build's processes ending")
    assert not list((home / "envs").glob(".build-*")), "a half-built environment was left"
    again = start_run(write_project(tmp_path / "other", {"main.py": "print('fine')\n"}))
    assert again.wait(timeout=120).status is RunStatus.SUCCEEDED
    assert RunStore(home).get(handle.id).status is RunStatus.ERROR


LONG = """
import time
for i in range(80):
    print(f"line {i}", flush=True)
    time.sleep(0.05)
"""


def test_a_kernel_restarted_during_a_run_loses_nothing_and_follows_it_again(
    home: Path, tmp_path: Path
) -> None:
    """``%pyrunner run`` follows a run from the kernel; the kernel is restarted mid-run. The
    run goes on (its supervisor is not the kernel's), ends whole, and the new kernel shows
    its whole log; nothing of the run is left running."""
    from jupyter_client.manager import KernelManager

    workspace = tmp_path / "ws"
    write_project(workspace / "long", {"main.py": LONG, "requirements.txt": ""})
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(workspace), env={**os.environ, "PYRUNNER_HOME": str(home)})
    try:
        client = manager.blocking_client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.execute("%load_ext jupyter_pyrunner\n%pyrunner run long")
        store = RunStore(home)
        run_id = _wait_for(lambda: [r.id for r in store.list_runs()], 60, "the run")[0]
        handle = RunHandle(store, run_id)
        _wait_for(lambda: "line 5" in handle.log_text(), 60, "the first lines")
        client.stop_channels()
        manager.restart_kernel(now=True)
        client = manager.blocking_client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        record = handle.wait(timeout=60)
        assert record.status is RunStatus.SUCCEEDED, record
        assert program_output(handle) == "".join(f"line {i}\n" for i in range(80))
        assert marker_processes(run_id) == []
        reply_text = _execute_text(client, f"%load_ext jupyter_pyrunner\n%pyrunner logs {run_id}")
        assert "line 0\n" in reply_text and "line 79\n" in reply_text
    finally:
        manager.shutdown_kernel(now=True)


def _execute_text(client, code: str) -> str:  # type: ignore[no-untyped-def]
    """What the cell printed (its stdout), once it is done."""
    msg_id = client.execute(code)
    text = []
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(text)
