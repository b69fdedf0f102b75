"""A run's limits: the time limit, the memory limit, and what the program is started with.

The supervisor asks :class:`Limits` whether the deadline has passed and when the memory is due
to be measured again (the whole process tree's proportional set size); :func:`child_setup` is
what the program's process runs before it starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import process_tree

#: how often the memory of the whole process tree is measured
MEMORY_INTERVAL = 0.25


class Limits:
    """A run's time and memory limits, and when the memory is next due to be measured."""

    def __init__(self, timeout: float | None, memory: int | None, memory_mb: int | None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.memory = memory
        self.memory_mb = memory_mb
        self._last_memory = 0.0

    def timed_out(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def memory_due(self, now: float) -> bool:
        if not self.memory or now - self._last_memory < MEMORY_INTERVAL:
            return False
        self._last_memory = now
        return True


def child_setup(memory_bytes: int | None) -> Callable[[], None]:
    """The program's ``preexec_fn``: it dies with its supervisor, and its data segment is capped."""

    def setup() -> None:
        process_tree.die_with_parent()
        if memory_bytes:
            import resource

            # a ceiling on each process's data segment stops runaway allocations at once; the
            # whole tree's memory is also watched by the supervisor (address-space limits would
            # break numpy's threads)
            resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))

    return setup
