"""Finding where a run's memory cgroup can be made (cgroup v1, v2, hybrid, namespaces), and a
real cgroup holding a real process under its limit."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner.cgroups import PREFIX, MemoryCgroup, candidates

HYBRID_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
4:memory:/process_api/abc
1:cpu:/
0::/
"""


def test_v1_memory_hierarchy_comes_first_then_v2() -> None:
    assert candidates(HYBRID_MOUNTS, HYBRID_CGROUP) == [
        (1, Path("/sys/fs/cgroup/memory/process_api/abc")),
        (2, Path("/sys/fs/cgroup/unified")),
    ]


def test_a_pure_v2_machine_uses_the_process_s_own_cgroup() -> None:
    mounts = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    cgroup = "0::/user.slice/user-1000.slice/session-3.scope\n"
    assert candidates(mounts, cgroup) == [
        (2, Path("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope")),
    ]


def test_a_mount_of_a_sub_hierarchy_and_escaped_names_are_followed() -> None:
    # a container sees only its part of the hierarchy, mounted at its own root
    mounts = r"40 31 0:32 /docker/c1 /sys/fs/cgroup/my\040memory rw - cgroup cgroup rw,memory" "\n"
    cgroup = "7:memory:/docker/c1/job\n"
    assert candidates(mounts, cgroup) == [(1, Path("/sys/fs/cgroup/my memory/job"))]


def test_controllers_sharing_a_v1_hierarchy_are_recognised() -> None:
    mounts = "35 31 0:32 / /sys/fs/cgroup/memory,cpu rw - cgroup cgroup rw,cpu,memory\n"
    cgroup = "4:cpu,memory:/a\n"
    assert candidates(mounts, cgroup) == [(1, Path("/sys/fs/cgroup/memory,cpu/a"))]


def test_no_cgroup_file_system_means_no_candidates() -> None:
    mounts = "22 1 0:21 / /proc rw - proc proc rw\n"
    assert candidates(mounts, "") == []


@pytest.fixture
def cgroup() -> Iterator[MemoryCgroup]:
    group = MemoryCgroup.create("test-cgroups", 64 * 1024 * 1024)
    if group is None:
        pytest.skip("no memory cgroup can be made here")
    yield group
    assert group.remove()


HUNGRY = """
blocks = []
while True:
    block = bytearray(16 * 1024 * 1024)
    block[::4096] = b"\\x01" * (len(block) // 4096)
    blocks.append(block)
"""


def test_the_kernel_kills_a_process_over_the_limit_and_it_is_counted(
    cgroup: MemoryCgroup,
) -> None:
    assert cgroup.path.name.startswith(PREFIX) and cgroup.path.name.endswith("-test-cgroups")
    assert not cgroup.oom_killed()
    proc = subprocess.Popen([sys.executable, "-c", HUNGRY], preexec_fn=cgroup.joiner())
    assert cgroup.holds(proc.pid)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert cgroup.oom_killed()


def test_only_the_new_process_joins_not_its_parent(cgroup: MemoryCgroup) -> None:
    import os

    proc = subprocess.Popen([sys.executable, "-c", "pass"], preexec_fn=cgroup.joiner())
    try:
        assert not cgroup.holds(os.getpid())
    finally:
        proc.wait()


def test_removing_the_cgroup_stops_a_process_still_inside() -> None:
    group = MemoryCgroup.create("test-leftover", 64 * 1024 * 1024)
    if group is None:
        pytest.skip("no memory cgroup can be made here")
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=group.joiner()
    )
    assert group.members() == [sleeper.pid]
    assert group.remove()
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    assert not group.path.exists()


# a daemon that leaves by every door: double fork, a session of its own, an environment
# without the run's variables; it writes its pid where the test finds it, then waits
ESCAPING_DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        pid_file = os.path.join(os.environ["OUTPUT_FOLDER"], "daemon.pid")
        os.execve(sys.executable, [sys.executable, "-c",
                  f"import os, time; open({pid_file!r}, 'w').write(str(os.getpid())); "
                  "time.sleep(120)"], {"PATH": "/usr/bin:/bin"})
    os._exit(0)
time.sleep(1.0)
print("left a daemon behind")
"""


def test_a_run_without_a_memory_limit_has_a_cgroup_that_ends_its_escaped_daemons(
    home: Path, project
) -> None:
    """A supervisor inside a long-lived process (a kernel) is no subreaper: a double-forked
    daemon without the run's variables escapes every other way of finding it; the run's
    cgroup, made for every run where the machine allows, still holds it."""
    from jupyter_pyrunner import RunStatus, run_project
    from jupyter_pyrunner.process_tree import process_start_time

    handle = run_project(project({"main.py": ESCAPING_DAEMON}))
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    pid = int(next((home / "runs").glob("*/outputs/**/daemon.pid")).read_text())
    if process_start_time(pid) is not None:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"time.sleep(120)" not in f.read(), "the daemon outlived its run"
    left = [path for place in candidates_now() for path in place.glob(f"{PREFIX}*-{handle.id}")]
    assert left == [], "the run's cgroup was left behind"


def candidates_now() -> list[Path]:
    """Where this machine's run cgroups are made (the test asserts there is such a place)."""
    places = [
        folder
        for _version, folder in candidates(
            Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text()
        )
        if folder.is_dir()
    ]
    assert places, "this machine gives no cgroup to make: the test means nothing here"
    return places
