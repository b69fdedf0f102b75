"""Finding, measuring and stopping every process of a run, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from jupyter_pyrunner import process_tree
from jupyter_pyrunner.process_tree import (
    MARKER_VAR,
    kill_run,
    proc_info,
    process_start_time,
    run_processes,
    tree_memory,
    verified_pid,
)

FAMILY = """
import os, sys, time
if os.fork() == 0:            # a child in the same group
    if os.fork() == 0:        # a grandchild that leaves: new session, as a daemon would
        os.setsid()
        time.sleep(120)
        os._exit(0)
    time.sleep(120)
    os._exit(0)
print("ready", flush=True)
time.sleep(120)
"""


def _start(code: str, run_id: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, MARKER_VAR: run_id}
    proc = subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, **kwargs
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc  # type: ignore[no-any-return]


def _wait_for(count: int, run_id: str, root: int) -> list[int]:
    deadline = time.time() + 10
    while len(pids := [p.pid for p in run_processes(run_id, root)]) < count:
        assert time.time() < deadline, pids
        time.sleep(0.02)
    return pids


def test_a_runs_processes_are_found_by_tree_and_by_marker_even_after_setsid() -> None:
    proc = _start(FAMILY, "run-tree-1", start_new_session=True)
    try:
        pids = _wait_for(3, "run-tree-1", proc.pid)
        assert proc.pid in pids and os.getpid() not in pids
        assert run_processes("another-run") == []
    finally:
        kill_run("run-tree-1", proc.pid, proc.pid, grace=0.2)
        proc.wait()


def test_kill_run_stops_the_whole_family_daemons_included() -> None:
    proc = _start(FAMILY, "run-tree-2", start_new_session=True)
    _wait_for(3, "run-tree-2", proc.pid)
    found = kill_run("run-tree-2", proc.pid, proc.pid, grace=1.0)
    assert found >= 3
    assert proc.wait(timeout=5) == -signal.SIGTERM
    deadline = time.time() + 5
    while run_processes("run-tree-2"):
        assert time.time() < deadline
        time.sleep(0.02)


def test_a_process_that_ignores_sigterm_gets_sigkill_after_the_grace() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)"
    proc = _start(code, "run-tree-3", start_new_session=True)
    t0 = time.monotonic()
    kill_run("run-tree-3", proc.pid, proc.pid, grace=0.3)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert 0.3 <= time.monotonic() - t0 < 5


def test_a_pid_is_verified_by_its_start_time() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = process_start_time(proc.pid)
        assert start is not None and proc_info(proc.pid) is not None
        assert verified_pid(proc.pid, start) == proc.pid
        assert verified_pid(proc.pid, start + 1) is None  # a reused pid is never trusted
        assert verified_pid(None, start) is None
    finally:
        proc.kill()
        proc.wait()
    assert process_start_time(proc.pid) is None


def test_the_memory_of_a_run_counts_what_its_processes_hold() -> None:
    code = "b = bytearray(80 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ready', flush=True)\nimport time; time.sleep(60)"
    proc = _start(code, "run-tree-4", start_new_session=True)
    try:
        used = tree_memory("run-tree-4", proc.pid, proc.pid)
        assert 80 * 1024 * 1024 <= used < 400 * 1024 * 1024
    finally:
        kill_run("run-tree-4", proc.pid, proc.pid, grace=0.2)
        proc.wait()


def test_becoming_a_subreaper_is_possible_here() -> None:
    code = "from jupyter_pyrunner import process_tree; print(process_tree.become_subreaper())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    assert callable(process_tree.die_with_parent)


# a daemon as ordinary code starts one: a session of its own, an explicit environment without
# the run's variables, after a double fork; it says where it is, then waits
MARKERLESS_DAEMON = """
import os, subprocess, sys, time
code = "import os, time; print(os.getpid(), flush=True); time.sleep(120)"
with open(os.path.join(os.environ["OUTPUT_FOLDER"], "daemon.pid"), "w") as out:
    subprocess.Popen([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"},
                     start_new_session=True, stdout=out)
time.sleep(1)
print("started")
"""


def test_a_daemon_without_the_runs_variables_ends_with_the_run(home, project) -> None:
    """A subreaper supervisor adopts every orphan of the run: all of them are the run's, not only
    those that kept the marker variable."""
    from .conftest import run_cli

    done = run_cli("run", str(project({"main.py": MARKERLESS_DAEMON})))
    assert done.returncode == 0, done.stderr
    pid_file = next((home / "runs").glob("*/outputs/**/daemon.pid"))
    pid = int(pid_file.read_text())
    start = process_start_time(pid)
    if start is not None:  # the pid lives: it must not be the daemon's any more
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"time.sleep(120)" not in f.read(), "the daemon outlived its run"


def test_children_are_listed_by_the_kernel_here() -> None:
    """The cheap listing a subreaper supervisor relies on (it falls back to a full scan)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert proc.pid in (process_tree.children(os.getpid()) or [])
    finally:
        proc.kill()
        proc.wait()
