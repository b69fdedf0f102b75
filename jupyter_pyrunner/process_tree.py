"""Finding and stopping every process of a run, grandchildren and daemons included (Linux).

A run's processes are found three ways, so none escapes: the process group the program starts
in, the descendants of its first process, and any process carrying the run's marker variable
(``PYRUNNER_RUN_ID``) in its environment, which survives ``setsid`` and double forks. A
supervisor that is a subreaper needs none of these: every descendant it has is the run's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable

from ._core import Record

MARKER_VAR = "PYRUNNER_RUN_ID"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ProcInfo(Record):
    _fields = ("pid", "ppid", "pgid", "start", "rss")
    __slots__ = _fields

    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks since boot: with the pid, names a process uniquely
    rss: int  # bytes

    def __init__(self, pid: int, ppid: int, pgid: int, start: int, rss: int) -> None:
        self.pid = pid
        self.ppid = ppid
        self.pgid = pgid
        self.start = start
        self.rss = rss


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Adopt orphaned descendants (daemons re-parent to us, not to init), where supported."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    """For ``preexec_fn``: the child is killed if its supervisor dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def proc_info(pid: int) -> ProcInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after its last ')'
    fields = raw[raw.rfind(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):  # zombie or dead: nothing left to kill or measure
        return None
    return ProcInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        start=int(fields[19]),
        rss=int(fields[21]) * _PAGE,
    )


def process_start_time(pid: int) -> int | None:
    info = proc_info(pid)
    return info.start if info else None


def all_processes() -> list[ProcInfo]:
    infos = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = proc_info(int(name))
            if info is not None:
                infos.append(info)
    return infos


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def run_processes(
    run_id: str,
    root_pid: int | None = None,
    pgid: int | None = None,
    everywhere: bool = True,
    spare: Iterable[int] = (),
) -> list[ProcInfo]:
    """Every live process that belongs to the run (never the caller itself).

    With ``everywhere`` false the caller is a subreaper supervisor: every orphan of the run is
    re-parented to it, so its descendants are the run's processes, whatever their environment
    (a daemon that dropped the marker variable too), except the subtrees of ``spare`` (its own
    helpers, such as an environment's bytecode compiler). Where the kernel does not list a
    process's children, and with ``everywhere``, every process is looked at.
    """
    me = os.getpid()
    if not everywhere:
        adopted = _descendants(me, set(spare))
        if adopted is not None:
            return [info for info in map(proc_info, adopted) if info is not None]
    procs = all_processes()
    by_parent: dict[int, list[ProcInfo]] = {}
    for p in procs:
        by_parent.setdefault(p.ppid, []).append(p)
    found: dict[int, ProcInfo] = {}
    if root_pid is not None:
        stack = [p for p in procs if p.pid == root_pid]
        while stack:
            p = stack.pop()
            if p.pid not in found and p.pid != me:
                found[p.pid] = p
                stack.extend(by_parent.get(p.pid, []))
    marker = f"{MARKER_VAR}={run_id}".encode()
    for p in procs:
        if p.pid in found or p.pid == me:
            continue
        if (pgid is not None and p.pgid == pgid) or (
            (everywhere or p.ppid == me) and _has_marker(p.pid, marker)
        ):
            found[p.pid] = p
            stack = list(by_parent.get(p.pid, []))
            while stack:  # and everything below it
                child = stack.pop()
                if child.pid not in found and child.pid != me:
                    found[child.pid] = child
                    stack.extend(by_parent.get(child.pid, []))
    return list(found.values())


def children(pid: int) -> list[int] | None:
    """The direct children of ``pid`` (of all its threads); None where the kernel does not
    list them (``/proc/PID/task/TID/children`` needs ``CONFIG_PROC_CHILDREN``)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(child) for child in f.read().split())
        except FileNotFoundError:
            if os.path.isdir(f"/proc/{pid}/task/{tid}"):
                return None  # the thread is there, its list is not: not supported
        except OSError:
            continue
    return found


def _descendants(pid: int, spare: set[int]) -> list[int] | None:
    """Every descendant of ``pid``, leaving out the subtrees of ``spare``; None when
    children cannot be listed. Reading ``/proc`` for a few processes costs far less than
    reading every process's status."""
    found: dict[int, None] = {}
    stack = [pid]
    while stack:
        kids = children(stack.pop())
        if kids is None:
            return None
        for kid in kids:
            if kid not in spare and kid not in found:
                found[kid] = None
                stack.append(kid)
    return list(found)


def _signal_all(procs: Iterable[ProcInfo], sig: int) -> None:
    for p in procs:
        current = proc_info(p.pid)
        if current is None or current.start != p.start:
            continue  # gone, or the pid was reused by another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, sig)


def _reap(pids: Iterable[int]) -> None:
    """Collect exit statuses of adopted orphans (we may be their subreaper)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def kill_run(
    run_id: str,
    root_pid: int | None = None,
    pgid: int | None = None,
    grace: float = 2.0,
    skip: Iterable[int] = (),
    everywhere: bool = True,
    reap: bool = False,
    spare: Iterable[int] = (),
) -> int:
    """SIGTERM the run's processes, wait up to ``grace`` seconds, then SIGKILL what is left.

    Returns how many processes were found. With ``reap`` (for a supervisor, whose adopted
    orphans they are) exit statuses are collected, except for the pids in ``skip`` (the
    caller's own ``Popen`` child, which it waits for itself). ``spare``: see
    :func:`run_processes`.
    """
    skipped = set(skip)
    spared = list(spare)
    procs = run_processes(run_id, root_pid, pgid, everywhere, spared)
    total = len(procs)
    if not procs:
        return 0
    _signal_all(procs, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap:
            _reap(p.pid for p in procs if p.pid not in skipped)
        procs = run_processes(run_id, root_pid, pgid, everywhere, spared)
        if not procs:
            return total
        time.sleep(0.02)
    for _ in range(50):  # new processes may still be forking: repeat until none is left
        _signal_all(procs, signal.SIGKILL)
        time.sleep(0.01)
        if reap:
            _reap(p.pid for p in procs if p.pid not in skipped)
        procs = run_processes(run_id, root_pid, pgid, everywhere, spared)
        if not procs:
            break
        total += len(procs)
    return total


def _pss(pid: int) -> int | None:
    """Proportional set size in bytes: shared pages count once across the processes."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def tree_memory(
    run_id: str,
    root_pid: int,
    pgid: int | None = None,
    everywhere: bool = True,
    spare: Iterable[int] = (),
) -> int:
    """Memory of all the run's processes, in bytes: PSS where the kernel tells it, else RSS."""
    total = 0
    for p in run_processes(run_id, root_pid, pgid, everywhere, spare):
        pss = _pss(p.pid)
        total += p.rss if pss is None else pss
    return total


def reap_orphans(skip: Iterable[int] = ()) -> None:
    """Collect every exited child (a subreaper's adopted orphans), except those in ``skip``."""
    skipped = set(skip)
    me = os.getpid()
    listed = children(me)
    if listed is None:  # exited children wait as zombies until collected: look at them all
        listed = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    for pid in listed:
        if pid not in skipped:
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if fields[0] == b"Z" and int(fields[1]) == me:
                    _reap([pid])


def verified_pid(pid: int | None, start: int | None) -> int | None:
    """``pid`` if it still names the process that started at ``start``, else None."""
    if pid is None or start is None:
        return None
    return pid if process_start_time(pid) == start else None
