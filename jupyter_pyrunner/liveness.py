"""Who owns a run, whether that owner still lives, and the one place orphans are reconciled.

A run's record names its supervisor (pid, host, process start time). Reading a record never
signals a process nor writes anything: a run whose supervisor has died is only *shown* as
``failed`` (:func:`as_seen`). :func:`reconcile` is the one place that writes that ending down
and stops what is left of the run's processes; it is called by the actions that need the
truth on disk (cancel, delete) and by the server's housekeeping loop.
"""

from __future__ import annotations

import os
import time

from .models import RunRecord, RunStatus

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any, Protocol

    class RecordStore(Protocol):
        """What reconciling needs of a store (``RunStore`` is one); named here so that this
        module does not import the store, which imports it."""

        def locked(self, run_id: str) -> AbstractContextManager[None]: ...
        def read(self, run_id: str) -> RunRecord: ...
        def save(self, record: RunRecord) -> None: ...
        def unfinished_ids(self) -> list[str]: ...


__all__ = [
    "as_seen",
    "identity_alive",
    "is_orphaned",
    "process_identity",
    "reconcile",
    "reconcile_all",
]


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """Names a process (this one by default) so that others can tell later whether it lives.

    The start time tells a live process from a later one that got the same pid; a process
    already gone when named gets start -1, and so is never taken for alive.
    """
    from .process_tree import process_start_time

    pid = os.getpid() if pid is None else pid
    start = process_start_time(pid)
    return {"pid": pid, "host": os.uname().nodename, "start": -1 if start is None else start}


def identity_alive(identity: dict[str, Any] | None) -> bool:
    """Whether the process named by ``identity`` still runs (unknowable on another host: yes)."""
    if not identity:
        return False
    if identity.get("host") != os.uname().nodename:
        return True
    from .process_tree import process_start_time

    start = process_start_time(int(identity["pid"]))
    return start is not None and start == identity.get("start")


def is_orphaned(record: RunRecord) -> bool:
    """A run that has not ended, whose supervisor is gone."""
    return not record.status.is_terminal and not identity_alive(record.supervisor)


def _orphan_message(record: RunRecord) -> str:
    pid = (record.supervisor or {}).get("pid")
    return (
        f"the process supervising this run (pid {pid}) stopped unexpectedly; "
        "the run was ended and its log and outputs so far are kept"
    )


def as_seen(record: RunRecord) -> RunRecord:
    """The record as a reader should see it: an orphaned run is shown ``failed`` with the
    reason. Nothing is written and no process is signalled (see :func:`reconcile`)."""
    if not is_orphaned(record):
        return record
    seen = RunRecord.from_dict(record.to_dict())
    seen.status = RunStatus.FAILED
    seen.message = _orphan_message(record)
    return seen


def reconcile(store: RecordStore, run_id: str) -> RunRecord:
    """If the run is orphaned, stop its leftover processes and record it ``failed``; returns
    the record as stored afterwards. Safe to call at any time, from any process."""
    with store.locked(run_id):
        record = store.read(run_id)
        if not is_orphaned(record):
            return record  # finished or handed on meanwhile
        _stop_leftovers(record)
        record.status = RunStatus.FAILED
        record.message = _orphan_message(record)
        record.finished = time.time()
        store.save(record)
        return record


def reconcile_all(store: RecordStore) -> list[str]:
    """:func:`reconcile` every run the store holds as not ended; the ids of those that were
    orphaned. A long-lived host (the server) calls this now and then."""
    from .errors import RunNotFoundError

    ended = []
    for run_id in store.unfinished_ids():
        try:
            if is_orphaned(store.read(run_id)):
                reconcile(store, run_id)
                ended.append(run_id)
        except (RunNotFoundError, FileNotFoundError):
            continue  # deleted meanwhile
    return ended


def _stop_leftovers(record: RunRecord) -> None:
    """Stop whatever is left of a run nobody supervises any more.

    The recorded program pid is used only while it still names the program (same start
    time): after a crash or a reboot it may belong to anything. The run's marker variable
    finds the rest, wherever it was re-parented.
    """
    from .process_tree import kill_run, verified_pid

    pid = verified_pid(record.pid, record.pid_start)
    kill_run(record.id, pid, pid, grace=0.5)
    if record.spec.memory_mb:  # its memory cgroup, which only its supervisor would remove
        from .cgroups import remove_run

        remove_run(record.id)
