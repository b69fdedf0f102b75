"""The server's run queue: prepared runs start in the order they were submitted, at most
``max_concurrent`` at a time.

The queue holds run ids only; the store holds the runs. A run is *active* from the moment it is
handed to the executor until the store shows it ended. Nothing here waits: ``start_queued`` is
called on every submission and periodically by the server, and starts what there is room for.
"""

from __future__ import annotations

import collections
import threading
import time

from ..errors import PyRunnerError
from ..executors import Executor
from ..models import RunStatus
from ..store import RunStore

#: the statuses of runs already handed to an executor (after a restart they still count)
LIVE_STATUSES = ("preparing", "running")


class RunQueue:
    """A first-in first-out queue of prepared runs in front of an executor."""

    def __init__(self, store: RunStore, executor: Executor, max_concurrent: int) -> None:
        self.store = store
        self.executor = executor
        self.max_concurrent = max(1, max_concurrent)
        self._waiting: collections.deque[str] = collections.deque()
        self._active: set[str] = set()
        # submit() runs in worker threads, start_queued() also on the event loop: one at a time
        self._lock = threading.Lock()
        # runs still going from before a restart count against the limit
        for status in LIVE_STATUSES:
            self._active.update(r.id for r in store.list_runs(limit=10_000, status=status))

    @property
    def active(self) -> frozenset[str]:
        """The runs handed to the executor and not yet seen to end."""
        with self._lock:
            return frozenset(self._active)

    def submit(self, run_id: str) -> None:
        """Queue a prepared (``queued``) run behind the others, and start what there is room for."""
        with self._lock:
            self._waiting.append(run_id)
        self.start_queued()

    def start_queued(self) -> list[str]:
        """Hand queued runs to the executor while there is room; returns the ids started."""
        with self._lock:
            self._forget_ended()
            started = []
            while self._waiting and len(self._active) < self.max_concurrent:
                run_id = self._waiting.popleft()
                if self._still_queued(run_id) and self._hand_over(run_id):
                    self._active.add(run_id)
                    started.append(run_id)
            return started

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when the run is not waiting.

        Runs ahead that were cancelled (or deleted) while waiting do not count.
        """
        with self._lock:
            waiting = list(self._waiting)
        if run_id not in waiting:
            return None
        position = 0
        for other in waiting:
            try:
                queued = self.store.read(other).status is RunStatus.QUEUED
            except PyRunnerError:
                queued = False
            if queued:
                position += 1
            if other == run_id:
                return position if queued else None
        return None

    # -- steps of start_queued (called with the lock held) ----------------------------------
    def _forget_ended(self) -> None:
        """Make room for the runs that ended (or were deleted) since the last look."""
        for run_id in list(self._active):
            try:
                if self.store.get(run_id).status.is_terminal:
                    self._active.discard(run_id)
            except PyRunnerError:
                self._active.discard(run_id)

    def _still_queued(self, run_id: str) -> bool:
        """False for a run cancelled or deleted while it waited: it is skipped."""
        try:
            record = self.store.get(run_id)
        except PyRunnerError:
            return False
        return not record.status.is_terminal

    def _hand_over(self, run_id: str) -> bool:
        """Give the run to the executor; one it refuses ends as ``error``, never stays queued."""
        try:
            self.executor.submit(self.store, run_id)
        except Exception as exc:
            self.store.update(run_id, status=RunStatus.ERROR, finished=time.time(),
                              message=f"could not be started: {exc}")  # fmt: skip
            return False
        return True
