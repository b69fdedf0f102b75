"""The server's run queue: prepared runs start in the order they were submitted, at most
``max_concurrent`` at a time.

The queue holds run ids only; the store holds the runs. A run is *active* from the moment it is
handed to the executor until the store shows it ended. Nothing here waits: ``start_queued`` is
called on every submission and periodically by the server, and starts what there is room for.

The queue lives in memory, so a server that stops takes it along; its runs stay ``queued`` in
the store, owned by a process that is gone. A server that starts on the store queues them
again, oldest first, and starts them as before: they were asked for and never ran. (Until
then, a reader sees them ``failed``, "never started": see ``liveness``.)

A hand-over that fails for want of disk space is not the run's fault: the run goes back to the
head of the queue, and hand-overs pause for ``DISK_FULL_PAUSE`` seconds before the next try
(rather than start a supervisor five times a second that cannot write either).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time

from ..errors import PyRunnerError
from ..executors import Executor
from ..faults import is_unwritable
from ..liveness import is_orphaned, process_identity
from ..models import RunRecord, RunStatus
from ..store import RunStore

#: the statuses of runs already handed to an executor (after a restart they still count)
LIVE_STATUSES = ("preparing", "running")
#: after a hand-over failed on a full disk, how long before the next one is tried
DISK_FULL_PAUSE = 5.0


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
        self._paused_until = 0.0
        #: the last hand-over that failed for want of space, until the server reports it
        self.problem: BaseException | None = None
        # runs still going from before a restart count against the limit
        for status in LIVE_STATUSES:
            self._active.update(r.id for r in store.list_runs(limit=10_000, status=status))
        #: the runs queued again at start, left by a server that stopped (see the module)
        self.adopted = self._adopt_orphans()
        self._waiting.extend(self.adopted)

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
            started: list[str] = []
            while self._waiting and len(self._active) < self.max_concurrent:
                if time.monotonic() < self._paused_until:
                    break
                run_id = self._waiting.popleft()
                if self._still_queued(run_id) and self._hand_over(run_id):
                    self._active.add(run_id)
                    started.append(run_id)
            return started

    def take_problem(self) -> BaseException | None:
        """The hand-over failure not reported yet (see ``problem``), once."""
        with self._lock:
            problem, self.problem = self.problem, None
            return problem

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
        """False for a run cancelled or deleted while it waited: it is skipped. One that
        started meanwhile (a hand-over tried again after a full disk had gone through after
        all) counts as active."""
        try:
            record = self.store.get(run_id)
        except PyRunnerError:
            return False
        if record.status is not RunStatus.QUEUED:
            if not record.status.is_terminal:
                self._active.add(run_id)
            return False
        return True

    def _hand_over(self, run_id: str) -> bool:
        """Give the run to the executor; one it refuses ends as ``error``, never stays queued.
        On a full disk the run waits at the head of the queue instead (see the module)."""
        try:
            self.executor.submit(self.store, run_id)
        except Exception as exc:
            if is_unwritable(exc):
                self._waiting.appendleft(run_id)
                self._paused_until = time.monotonic() + DISK_FULL_PAUSE
                self.problem = exc  # for the server's loop to report (once a minute)
                return False
            self.store.update(run_id, status=RunStatus.ERROR, finished=time.time(),
                              message=f"could not be started: {exc}")  # fmt: skip
            return False
        return True

    def _adopt_orphans(self) -> list[str]:
        """Queued runs whose owner is gone (a server that stopped), made this process's, oldest
        first. One the disk is too full to take over is left: it reads "never started"."""
        me = process_identity()
        adopted: list[RunRecord] = []
        for run_id in self.store.unfinished_ids():
            try:
                seen = self.store.read(run_id)
                if not _orphaned_in_queue(seen):
                    continue  # (most are: nothing to lock)
                if seen.sweep and not _sweep_taken_in(self.store, seen.sweep):
                    _remove_unfinished_sweep(self.store, seen.sweep, run_id)
                    continue
                with self.store.locked(run_id):
                    record = self.store.read(run_id)
                    if not _orphaned_in_queue(record):
                        continue
                    record.supervisor = me
                    self.store.save(record)
                adopted.append(record)
            except PyRunnerError:
                continue  # deleted meanwhile
            except Exception as exc:
                if not is_unwritable(exc):
                    raise
        adopted.sort(key=lambda r: (r.created, r.id))
        return [r.id for r in adopted]


def _sweep_taken_in(store: RunStore, sweep_id: str) -> bool:
    """Whether a sweep's intake finished: its ``sweep.json`` is written only then."""
    from ..sweepstore import SWEEP_FILE, sweep_dir

    try:
        return (sweep_dir(store, sweep_id) / SWEEP_FILE).exists()
    except PyRunnerError:  # a malformed id
        return False


def _remove_unfinished_sweep(store: RunStore, sweep_id: str, run_id: str) -> None:
    """A run of a sweep whose intake never finished (the server stopped while it took the
    sweep in; its client got no answer): removed with the sweep's folder, as the intake itself
    removes everything of a sweep it cannot finish, rather than run outside any sweep."""
    import shutil

    from ..sweepstore import sweep_dir

    store.delete(run_id, force=True)
    with contextlib.suppress(PyRunnerError):
        shutil.rmtree(sweep_dir(store, sweep_id), ignore_errors=True)


def _orphaned_in_queue(record: RunRecord) -> bool:
    """A run still queued whose owner (the process that queued it) is gone."""
    return record.status is RunStatus.QUEUED and is_orphaned(record)
