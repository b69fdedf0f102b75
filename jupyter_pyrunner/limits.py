"""A run's limits: the time limit, the memory limit, and what the program is started with.

The memory limit means resident memory. Where the machine allows it, the program runs in a
cgroup of its own (:mod:`.cgroups`) and the kernel holds it under the limit; the supervisor
then only asks, every :data:`MEMORY_INTERVAL` seconds, whether the kernel killed a process of
the run at the limit, whether the run waits at the limit with the OOM killer switched off, and
whether the kernel still holds the program (one running as root can leave its cgroup or raise
its limit). Elsewhere, and from the moment the kernel no longer holds the program, the
supervisor measures the whole process tree (proportional set size) every
:data:`MEMORY_INTERVAL` seconds and stops the run when it is over. No per-process data or
address-space ceiling is set: threaded libraries (OpenBLAS) spin for ever when their
allocations fail under one.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from . import process_tree
from .models import RunStatus

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .cgroups import MemoryCgroup

#: how often the memory of the run is checked
MEMORY_INTERVAL = 0.25
#: the exit codes recorded for a run the engine stopped, whatever signal ended the program:
#: the time limit (as ``timeout`` exits), cancel (as a shell reports Ctrl-C) and the memory
#: limit (as a shell reports SIGKILL, which the kernel sends at a cgroup's limit)
EXIT_TIMEOUT = 124
EXIT_CANCELLED = 130
EXIT_MEMORY = 137
STOPPED_EXIT_CODES = {RunStatus.TIMED_OUT: EXIT_TIMEOUT, RunStatus.CANCELLED: EXIT_CANCELLED}
#: the supervisor's setting that turns the memory cgroup off (``off``, ``0`` or ``no``)
CGROUP_SETTING = "PYRUNNER_MEMORY_CGROUP"


class Limits:
    """A run's time and memory limits, and when the memory is next due to be checked."""

    def __init__(
        self,
        timeout: float | None,
        memory: int | None,
        memory_mb: int | None,
        cgroup: MemoryCgroup | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.memory = memory
        self.memory_mb = memory_mb
        self.cgroup = cgroup
        self._last_memory = 0.0
        self._waiting = False  # the run waited at the cgroup's limit at the last check
        self._watching = cgroup is None  # the tree is measured (no cgroup, or it was left)

    def timed_out(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def memory_due(self, now: float) -> bool:
        if not self.memory or now - self._last_memory < MEMORY_INTERVAL:
            return False
        self._last_memory = now
        return True

    def memory_exceeded(self, now: float, measure: Callable[[], int]) -> str | None:
        """Why the run must stop, when it is over its memory limit (checked every
        :data:`MEMORY_INTERVAL`); ``measure`` gives the tree's memory, for the watcher."""
        if not self.memory_due(now):
            return None
        if self.cgroup is not None:  # the kernel holds the limit: did it kill, or is it stuck?
            if self._cgroup_stopped(self.cgroup):
                return self.memory_message()
            if not self._watching and not self.cgroup.kept():
                self._watching = True  # the program slipped the kernel's hold: measure it
            if not self._watching:
                return None
        used = measure()
        return self.memory_message(used) if self.memory and used > self.memory else None

    def _cgroup_stopped(self, cgroup: MemoryCgroup) -> bool:
        """The kernel killed a process of the run at the limit, or the run has waited there on
        two checks in a row (the OOM killer is off: nothing else would ever end it; one check
        could be the moment before the kernel kills)."""
        killed, waiting = cgroup.oom_state()
        waited, self._waiting = self._waiting, waiting
        return killed or (waiting and waited)

    def memory_message(self, used: int | None = None) -> str:
        """What a run stopped at its memory limit says (``used``: bytes measured, if known)."""
        measured = f" ({used / 2**20:.0f} MB)" if used is not None else ""
        return f"stopped: memory use{measured} went over the limit of {self.memory_mb} MB"


def run_cgroup(run_id: str, memory: int | None) -> MemoryCgroup | None:
    """The run's cgroup, where the machine allows one: it holds every process of the run and,
    with ``memory`` bytes, the run's memory limit (elsewhere the watcher serves).

    ``PYRUNNER_MEMORY_CGROUP=off`` in the supervisor's environment makes none (for a host where
    cgroups are managed by something else): the run's processes are then found by their
    group, their parents and their marker variable, and the memory limit by the watcher."""
    if os.environ.get(CGROUP_SETTING, "").lower() in ("0", "off", "no"):
        return None
    from .cgroups import MemoryCgroup

    return MemoryCgroup.create(run_id, memory or None)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name of their own
        return f"signal {number}"


def final_outcome(
    stopped: RunStatus | None, why: str | None, returncode: int
) -> tuple[RunStatus, str | None, int]:
    """A run's status, message and recorded exit code, from how the program ended and why the
    engine stopped it (``stopped``: None when it ended by itself).

    A run the engine stopped records the code the CLI exits with (124 for the time limit, 130
    for cancel, 137 for the memory limit), whatever signal ended the program; that signal is
    named in the message: ``stopped after the time limit of 5 s (SIGTERM)``."""
    if stopped is not None:
        ending = signal_name(-returncode) if returncode < 0 else f"exit code {returncode}"
        return stopped, f"{why} ({ending})", STOPPED_EXIT_CODES.get(stopped, EXIT_MEMORY)
    if returncode < 0:
        return RunStatus.FAILED, f"killed by {signal_name(-returncode)}", returncode
    if returncode:
        return RunStatus.FAILED, f"exited with code {returncode}", returncode
    return RunStatus.SUCCEEDED, None, 0


def child_setup(cgroup: MemoryCgroup | None = None) -> Callable[[], None]:
    """The program's ``preexec_fn``: it dies with its supervisor and, when the run has a
    cgroup, starts inside it (its supervisor stays outside)."""
    join = cgroup.joiner() if cgroup is not None else None

    def setup() -> None:
        process_tree.die_with_parent()
        if join is not None:
            join()

    return setup
