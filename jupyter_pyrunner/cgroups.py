"""A cgroup for one run, where the machine allows it: every process of the run is in it, and with a
memory limit the kernel holds the run's resident memory under it.

Every run gets one, with or without a memory limit: it is where the run's processes are found
whatever they did (a daemon that double-forked, left the session and dropped the run's
variables is still inside), and stopping a run stops everything in it. A run without a memory
limit needs no controller (cgroup v1's ``memory`` hierarchy, or any v2 cgroup, only to hold the
processes).

A run's memory limit means resident memory, as users read it. Where the supervisor may create
a child of its own cgroup with the memory controller (cgroup v1's ``memory`` hierarchy, or
cgroup v2 with ``memory`` enabled in the supervisor's ``cgroup.subtree_control``), the program
is started inside that child: the kernel reclaims and, at the limit, kills the largest process
of the run (never the supervisor, which stays outside). Everything is detected at run time;
when anything is missing (no cgroup file system, no write access, no controller) the caller
gets ``None`` and falls back on watching the process tree's memory.

Under cgroup v2 a cgroup that holds processes cannot hand the memory controller to its
children, so v2 serves where the supervisor's cgroup delegates it (the root cgroup, or a
cgroup set up with ``+memory`` in its ``cgroup.subtree_control``); the supervisor never moves
itself or its host (a kernel, a server) to make that possible.

The cgroup's name carries its owner (the supervisor's pid and start time), so one left behind
by a supervisor that was killed is removed by the next run that starts in the same place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

#: every cgroup this module creates starts with this
PREFIX = "pyrunner-"
_V1, _V2 = 1, 2


def _unescape(field: str) -> str:
    r"""A path field of ``/proc/self/mountinfo``, whose spaces and the like are ``\040``..."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts(mountinfo: str) -> list[tuple[str, str, str, str]]:
    """(root, mount point, file system type, super options) of each cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] in ("cgroup", "cgroup2"):
            found.append((_unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2]))
    return found


def _memberships(proc_cgroup: str) -> tuple[str | None, str | None]:
    """This process's cgroup in the v1 memory hierarchy and in the v2 one (``/proc/self/cgroup``)."""
    v1 = v2 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        ident, controllers, path = parts
        if ident == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v1, v2


def _under(mount_root: str, mount_point: str, path: str) -> Path:
    """Where cgroup ``path`` appears under a mount of the hierarchy's ``mount_root``."""
    if mount_root != "/" and (path == mount_root or path.startswith(mount_root + "/")):
        path = path[len(mount_root) :]
    return Path(mount_point) / path.lstrip("/")


def candidates(mountinfo: str, proc_cgroup: str) -> list[tuple[int, Path]]:
    """The folders where a child cgroup with a memory limit may be made: (version, folder),
    the v1 memory hierarchy first (where both exist, v2 cannot hold the memory controller)."""
    v1_path, v2_path = _memberships(proc_cgroup)
    found: list[tuple[int, Path]] = []
    for root, point, fstype, options in _mounts(mountinfo):
        if fstype == "cgroup" and v1_path is not None and "memory" in options.split(","):
            found.append((_V1, _under(root, point, v1_path)))
    for root, point, fstype, _options in _mounts(mountinfo):
        if fstype == "cgroup2" and v2_path is not None:
            found.append((_V2, _under(root, point, v2_path)))
    return found


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _process_alive(pid: int, start: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[19].decode() == start


def _owner() -> str:
    """This process, named so that it cannot be confused with a later one of the same pid."""
    with open("/proc/self/stat", "rb") as f:
        start = f.read().rsplit(b")", 1)[1].split()[19].decode()
    return f"{os.getpid()}.{start}"


def remove_stale(parent: Path) -> None:
    """Remove the run cgroups under ``parent`` whose supervisor is gone (it was killed)."""
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            owner = child.name[len(PREFIX) :].split("-", 1)[0]
            pid, _, start = owner.partition(".")
            stale = pid.isdigit() and bool(start) and not _process_alive(int(pid), start)
            if child.name.startswith(PREFIX) and stale:
                with contextlib.suppress(OSError):
                    child.rmdir()  # refused while a process is still inside: fine


def remove_run(run_id: str) -> None:
    """Remove the cgroup of run ``run_id`` that a supervisor which died left behind (its
    processes are killed first): called when such a run is reconciled. Never raises."""
    try:
        places = candidates(_read(Path("/proc/self/mountinfo")), _read(Path("/proc/self/cgroup")))
    except (OSError, IndexError, ValueError):
        return
    for version, parent in places:
        with contextlib.suppress(OSError):
            for child in parent.glob(f"{PREFIX}*-{run_id}"):
                MemoryCgroup(child, version, 0).remove(wait=1.0)


class MemoryCgroup:
    """A cgroup holding one run's processes under ``limit`` bytes of memory."""

    def __init__(self, path: Path, version: int, limit: int | None) -> None:
        self.path = path
        self.version = version
        self.limit = limit
        self._events = path / ("memory.oom_control" if version == _V1 else "memory.events")
        self._limit_file = path / ("memory.limit_in_bytes" if version == _V1 else "memory.max")
        #: the program's pid once :meth:`holds` has seen it inside (its membership is watched)
        self.program: int | None = None

    # -- making one ----------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, limit: int | None) -> MemoryCgroup | None:
        """A new cgroup for run ``name`` with ``limit`` bytes (None: no limit, the cgroup only
        holds the run's processes); None where the machine does not allow one (it never raises
        for that)."""
        try:
            places = candidates(
                _read(Path("/proc/self/mountinfo")), _read(Path("/proc/self/cgroup"))
            )
            owner = _owner()
        except (OSError, IndexError, ValueError):
            return None
        for version, parent in places:
            if not parent.is_dir():
                continue
            remove_stale(parent)
            made = cls._make(parent / f"{PREFIX}{owner}-{name}", version, limit)
            if made is not None:
                return made
        return None

    @classmethod
    def _make(cls, path: Path, version: int, limit: int | None) -> MemoryCgroup | None:
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, version, limit)
        if limit is None:
            return group  # it holds the processes: no controller needed
        try:
            if version == _V2 and not (path / "memory.max").exists():
                raise OSError("the memory controller is not delegated here")
            group._set_limit()
            group.oom_kills()  # the kernel reports OOM kills: without that, no use
        except (OSError, ValueError, IndexError):
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return group

    def _set_limit(self) -> None:
        value = str(self.limit)
        if self.version == _V1:
            _write(self.path / "memory.limit_in_bytes", value)
            # swap would let the run go over the limit; absent without swap accounting
            with contextlib.suppress(OSError):
                _write(self.path / "memory.memsw.limit_in_bytes", value)
        else:
            _write(self.path / "memory.max", value)
            with contextlib.suppress(OSError):
                _write(self.path / "memory.swap.max", "0")
            with contextlib.suppress(OSError):  # one process killed: all of the run's are
                _write(self.path / "memory.oom.group", "1")

    # -- the program in it ---------------------------------------------------------------------
    def joiner(self) -> Callable[[], None]:
        """For the program's ``preexec_fn``: move the new process (only it: not its
        supervisor) into the cgroup before it starts. Errors are left for :meth:`holds`."""
        procs = os.fsencode(self.path / "cgroup.procs")

        def join() -> None:
            try:
                fd = os.open(procs, os.O_WRONLY)
                try:
                    os.write(fd, b"0")  # 0: the writing process
                finally:
                    os.close(fd)
            except OSError:
                pass

        return join

    def holds(self, pid: int) -> bool:
        """Whether process ``pid`` is in the cgroup (its start went as planned); the program
        found there is remembered, so that :meth:`kept` can tell when it leaves."""
        if pid in self.members():
            self.program = pid
            return True
        return False

    def _counters(self) -> dict[str, int]:
        """The numbers of the OOM file (v1 ``memory.oom_control``, v2 ``memory.events``)."""
        found = {}
        for line in _read(self._events).splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                found[key] = int(value)
        return found

    def oom_kills(self) -> int:
        """How many processes of the run the kernel has killed for going over the limit."""
        counters = self._counters()
        if "oom_kill" not in counters:
            raise ValueError("this kernel does not count the cgroup's OOM kills")
        return counters["oom_kill"]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run at the limit (False if unknown)."""
        return self.oom_state()[0]

    def oom_state(self) -> tuple[bool, bool]:
        """(killed, waiting): whether the kernel killed a process of the run at the limit, and
        whether the run's processes wait at the limit for memory that nothing will free (v1's
        ``under_oom``: a program may switch the OOM killer off in ``memory.oom_control``;
        v2 has no such switch). Both False when unknown; one file read."""
        try:
            counters = self._counters()
        except OSError:
            return False, False
        return counters.get("oom_kill", 0) > 0, counters.get("under_oom", 0) > 0

    def kept(self) -> bool:
        """Whether the kernel still holds the program: it is still inside (a program running
        as root may write its pid into another cgroup) and the limit is not raised (nor
        removed: v2's ``max``). True when the program is not known (:meth:`holds`)."""
        if self.program is not None and self.program not in self.members():
            return False
        if self.limit is None:
            return True
        try:
            value = _read(self._limit_file).strip()
        except OSError:
            return True  # the cgroup is being removed: nothing to say
        return value.isdigit() and int(value) <= self.limit

    def members(self) -> list[int]:
        """The processes in the cgroup: the run's, wherever they went (a fourth way to find
        them, beside the process group, the descendants and the marker variable)."""
        try:
            return [int(pid) for pid in _read(self.path / "cgroup.procs").split()]
        except (OSError, ValueError):
            return []

    def stop(self, grace: float) -> int:
        """SIGTERM to every process in the cgroup, up to ``grace`` seconds for them to end,
        then SIGKILL until none is left (a process forking meanwhile is caught on the next
        round); cgroup v2's ``cgroup.kill`` does the last step at once where the kernel has it.
        Returns how many processes were found."""
        found = set(self.members())
        if not found:
            return 0
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.members():
            time.sleep(0.02)
        for _ in range(100):
            left = self.members()
            if not left:
                break
            found.update(left)
            if self.version == _V2:
                with contextlib.suppress(OSError):
                    _write(self.path / "cgroup.kill", "1")
            self._signal(signal.SIGKILL)
            time.sleep(0.01)
        return len(found)

    def _signal(self, sig: int) -> None:
        for pid in self.members():  # only the run's processes are ever in it
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def remove(self, wait: float = 2.0) -> bool:
        """Delete the cgroup once its processes are gone (the run's processes are stopped
        before this; any found still inside are killed). True when it is gone."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                    return False
            for pid in self.members():  # only the run's processes are ever in it
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
