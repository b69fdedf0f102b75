"""The memory limit with real programs: resident memory, a message that names the limit, never
a hang. Each test runs twice where the machine allows a memory cgroup: once held by the kernel
(the cgroup) and once by the supervisor's watcher alone (``PYRUNNER_MEMORY_CGROUP=off``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.cgroups import PREFIX, MemoryCgroup, candidates
from jupyter_pyrunner.limits import EXIT_MEMORY
from jupyter_pyrunner.models import RunRecord

from .conftest import marker_processes, program_output


def _cgroup_available() -> bool:
    probe = MemoryCgroup.create("probe", 1 << 30)
    if probe is None:
        return False
    probe.remove()
    return True


CGROUP = _cgroup_available()


@pytest.fixture(
    params=[
        pytest.param(
            "cgroup", marks=pytest.mark.skipif(not CGROUP, reason="no memory cgroup here")
        ),
        "watcher",
    ]
)
def memory_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """How the limit is held: by the kernel (a cgroup) or by the supervisor's watcher."""
    if request.param == "watcher":
        monkeypatch.setenv("PYRUNNER_MEMORY_CGROUP", "off")
    yield request.param
    assert run_cgroups() == [], "a run's cgroup was left behind"


def run_cgroups() -> list[str]:
    """The run cgroups under this process's memory cgroup (none may outlive its run)."""
    places = candidates(
        Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text()
    )
    found = []
    for _version, parent in places:
        if parent.is_dir():
            found += [p.name for p in parent.iterdir() if p.name.startswith(PREFIX)]
    return found


def assert_stopped_at_the_limit(record: RunRecord, limit_mb: int) -> None:
    assert record.status is RunStatus.FAILED, record.message
    assert f"went over the limit of {limit_mb} MB" in (record.message or "")
    assert record.exit_code == EXIT_MEMORY
    assert marker_processes(record.id) == []


STEPS = """
import time
STEP = 50 * 1024 * 1024
blocks = []
for i in range(1, 41):
    block = bytearray(STEP)
    block[::4096] = b"\\x01" * (STEP // 4096)  # every page touched: resident
    blocks.append(block)
    print(f"{i * 50} MB", flush=True)
    time.sleep(0.05)
print("all allocated")
"""


def test_a_program_growing_in_steps_is_stopped_at_the_limit_and_told_so(
    home: Path, project, memory_mode: str
) -> None:
    src = project({"main.py": STEPS})
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, memory_mb=100, timeout=120)
    assert time.monotonic() - t0 < 20
    assert_stopped_at_the_limit(handle.record, 100)
    log = handle.log_text()
    assert "all allocated" not in log and "500 MB" not in log
    assert "pyrunner: stopped: memory use" in log


THREADS = """
import threading, time
# like OpenBLAS: a thread whose allocation fails tries again, for ever
def work():
    blocks = []
    while True:
        try:
            block = bytearray(20 * 1024 * 1024)
            block[::4096] = b"\\x01" * (len(block) // 4096)
            blocks.append(block)
        except MemoryError:
            pass
        time.sleep(0.01)
threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
for t in threads:
    t.start()
print("started", flush=True)
for t in threads:
    t.join()
"""


def test_threads_allocating_under_a_limit_end_well_before_the_timeout(
    home: Path, project, memory_mode: str
) -> None:
    src = project({"main.py": THREADS})
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, memory_mb=200, timeout=120)
    assert time.monotonic() - t0 < 30, "the run hung until its time limit"
    assert_stopped_at_the_limit(handle.record, 200)


MAPPING = """
import mmap
# 1 GB of private address space (as malloc maps it), of which only 150 MB is ever touched
area = mmap.mmap(-1, 1024 * 1024 * 1024, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for offset in range(0, 150 * 1024 * 1024, 4096):
    area[offset] = 1
print("mapped", len(area) // 2**20, "MB")
"""


def test_only_resident_memory_counts_not_address_space(
    home: Path, project, memory_mode: str
) -> None:
    src = project({"main.py": MAPPING})
    handle = run_project(src, infer_requirements=False, memory_mb=300, timeout=60)
    assert handle.record.status is RunStatus.SUCCEEDED, handle.log_text()
    assert "mapped 1024 MB" in handle.log_text()


CGROUP_REPORT = """
import os
print(open("/proc/self/cgroup").read())
"""


def memory_cgroup_of(text: str) -> str:
    """The memory cgroup named in a ``/proc/PID/cgroup`` text."""
    lines = [line.split(":", 2) for line in text.splitlines() if line.count(":") >= 2]
    (path,) = [path for _, controllers, path in lines if "memory" in controllers.split(",")]
    return path


@pytest.mark.skipif(not CGROUP, reason="no memory cgroup here")
def test_the_program_runs_in_its_own_cgroup_and_the_supervisor_does_not(
    home: Path, project
) -> None:
    src = project({"main.py": CGROUP_REPORT})
    handle = run_project(src, infer_requirements=False, memory_mb=100)
    assert handle.record.status is RunStatus.SUCCEEDED, handle.log_text()
    program = memory_cgroup_of(program_output(handle))
    supervisor = memory_cgroup_of(Path("/proc/self/cgroup").read_text())  # this process
    assert program.startswith(supervisor.rstrip("/") + "/" + PREFIX)
    assert program.endswith(handle.id)
    assert run_cgroups() == []


@pytest.mark.skipif(not CGROUP, reason="no memory cgroup here")
def test_a_run_without_a_memory_limit_gets_a_cgroup_without_a_limit(home: Path, project) -> None:
    """The cgroup holds the run's processes (so that none escapes); it limits nothing."""
    limit_report = CGROUP_REPORT + (
        "import re\n"
        "path = re.search(r'memory[^:]*:(/.*)', open('/proc/self/cgroup').read())[1]\n"
        "print('limit', open(f'/sys/fs/cgroup/memory{path}/memory.limit_in_bytes').read())\n"
    )
    handle = run_project(project({"main.py": limit_report}), infer_requirements=False)
    assert handle.record.status is RunStatus.SUCCEEDED, handle.log_text()
    program = memory_cgroup_of(program_output(handle))
    assert PREFIX in program and program.endswith(handle.id)
    limit = int(program_output(handle).split("limit", 1)[1].split()[0])
    assert limit >= 2**60  # the kernel's "no limit"
    assert run_cgroups() == []


@pytest.mark.skipif(not CGROUP, reason="no memory cgroup here")
def test_the_cgroup_of_a_supervisor_that_was_killed_is_removed_by_the_next_run(
    home: Path, project
) -> None:
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    start = Path(f"/proc/{gone.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[19].decode()
    gone.wait()
    (_version, parent), *_ = candidates(
        Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text()
    )
    stale = parent / f"{PREFIX}{gone.pid}.{start}-20260101-000000-abcdef"
    stale.mkdir()
    try:
        src = project({"main.py": "print('hi')"})
        assert (
            run_project(src, infer_requirements=False, memory_mb=100).status is RunStatus.SUCCEEDED
        )
        assert not stale.exists()
    finally:
        if stale.exists():
            stale.rmdir()


WORKER = """
import multiprocessing, time

def hungry():
    blocks = []
    while True:
        block = bytearray(20 * 1024 * 1024)
        block[::4096] = b"\\x01" * (len(block) // 4096)
        blocks.append(block)

if __name__ == "__main__":
    worker = multiprocessing.Process(target=hungry)
    worker.start()
    time.sleep(120)   # like a pool waiting for a result that never comes
"""


def test_a_worker_killed_at_the_limit_stops_the_whole_run(
    home: Path, project, memory_mode: str
) -> None:
    src = project({"main.py": WORKER})
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, memory_mb=150, timeout=120)
    assert time.monotonic() - t0 < 30, "the run waited for a worker that was gone"
    assert_stopped_at_the_limit(handle.record, 150)


@pytest.mark.skipif(not CGROUP, reason="no memory cgroup here")
def test_reconciling_a_run_whose_supervisor_died_removes_its_cgroup(home: Path, project) -> None:
    """The server's housekeeping ends such a run: its cgroup must not wait for another run."""
    import os
    import signal

    from jupyter_pyrunner import RunStore, start_run
    from jupyter_pyrunner.liveness import reconcile

    src = project({"main.py": "import time\nprint('running', flush=True)\ntime.sleep(600)\n"})
    handle = start_run(src, infer_requirements=False, memory_mb=200)
    deadline = time.time() + 30
    while "running" not in handle.log_text():
        assert time.time() < deadline, handle.record
        time.sleep(0.05)
    assert len(run_cgroups()) == 1
    os.kill(handle.store.read(handle.id).supervisor["pid"], signal.SIGKILL)  # type: ignore[index]
    deadline = time.time() + 10
    while not RunStore(home).get(handle.id).status.is_terminal:
        assert time.time() < deadline, "the supervisor's death was never noticed"
        time.sleep(0.05)
    assert len(run_cgroups()) == 1  # nobody removed it yet
    reconcile(RunStore(home), handle.id)
    assert run_cgroups() == [] and marker_processes(handle.id) == []


# A program running as root can reach its own cgroup's files. Each of these switches the
# kernel's hold off in one way, then allocates far past the limit; the run must still end at
# the limit, well before its time limit, and leave no cgroup behind.
OWN_CGROUP = """
import os, time
from pathlib import Path

def own_memory_cgroup():
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path
    return ""

path = own_memory_cgroup()
assert Path(path).name.startswith("pyrunner-"), path   # only ever a run's own cgroup
here = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
"""
LEAVE = "(here.parent / 'cgroup.procs').write_text(str(os.getpid()))\n"
RAISE = """
if (here / "memory.memsw.limit_in_bytes").exists():  # never below the memory limit
    (here / "memory.memsw.limit_in_bytes").write_text(str(2**40))
(here / "memory.limit_in_bytes").write_text(str(2**40))
"""
OOM_KILLER_OFF = "(here / 'memory.oom_control').write_text('1')\n"
ALLOCATE = """
print("done:", own_memory_cgroup(), flush=True)
blocks = []
for i in range(30):
    block = bytearray(10 * 1024 * 1024)
    block[::4096] = b"\\x01" * (len(block) // 4096)
    blocks.append(block)
    time.sleep(0.05)
print("allocated 300 MB", flush=True)
"""
V1 = Path("/sys/fs/cgroup/memory").is_dir()


@pytest.mark.skipif(not (CGROUP and V1), reason="no cgroup v1 memory cgroup here")
@pytest.mark.parametrize(
    "escape", [LEAVE, RAISE, OOM_KILLER_OFF], ids=["leaves-its-cgroup", "raises-limit", "oom-off"]
)
def test_a_program_that_switches_its_cgroup_s_limit_off_is_still_stopped_at_the_limit(
    home: Path, project, escape: str
) -> None:
    src = project({"main.py": OWN_CGROUP + escape + ALLOCATE})
    t0 = time.monotonic()
    handle = run_project(src, infer_requirements=False, memory_mb=100, timeout=90)
    assert time.monotonic() - t0 < 30, "the run waited for its time limit"
    assert "done:" in program_output(handle), handle.log_text()  # it did switch it off
    assert "allocated 300 MB" not in handle.log_text()
    assert_stopped_at_the_limit(handle.record, 100)
    assert run_cgroups() == [], "a run's cgroup was left behind"
