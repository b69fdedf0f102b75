"""Who owns a run, whether that owner still lives, and the one place orphans are reconciled.

A run's record names its supervisor (pid, host, process start time). Reading a record never
signals a process nor writes anything: a run whose supervisor has died is only *shown* as
``failed`` (:func:`as_seen`). :func:`reconcile` is the one place that writes that ending down
and stops what is left of the run's processes; it is called by the actions that need the
truth on disk (cancel, delete) and by the server's housekeeping loop.

Writing an ending down may fail: on a full (or read-only) disk, :func:`reconcile` leaves the
record as it is, says so once in the log, and returns the run as seen, so that the action that
asked (a cancel, a delete, which frees space) goes on; the next round of housekeeping writes it.
A run whose supervisor kept its ending in the end reserve (see ``faults``) is not orphaned: it
is read with that ending, and :func:`reconcile_all` copies it into the record once it can.
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
    "awaits_relay",
    "identity_alive",
    "is_orphaned",
    "on_cluster",
    "process_identity",
    "reconcile",
    "reconcile_all",
]


#: the message of a Dask run whose relay has stopped, until a new one re-attaches
RELAY_GONE = (
    "the process following this run on the Dask cluster stopped; it is followed again "
    "(from its last log offset) as soon as it is looked at"
)


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
    """A run that has not ended, whose supervisor is gone (and that no new relay can take
    over: see :func:`awaits_relay`)."""
    return (
        not record.status.is_terminal
        and not identity_alive(record.supervisor)
        and not on_cluster(record)
    )


def on_cluster(record: RunRecord) -> bool:
    """A run sent to a Dask cluster: its task goes on there whether or not the relay that
    follows it from here lives, and a new relay re-attaches to it (``daskexec.reattach``)."""
    return record.executor == "dask" and record.dask_key is not None


def awaits_relay(record: RunRecord) -> bool:
    """A Dask run still going whose relay has stopped: it needs a new one to be followed."""
    return (
        not record.status.is_terminal
        and on_cluster(record)
        and not identity_alive(record.supervisor)
    )


def _orphan_message(record: RunRecord) -> str:
    pid = (record.supervisor or {}).get("pid")
    if record.status is RunStatus.QUEUED:  # nothing of it ever ran: no supervisor failed
        return (
            f"never started: the process that queued it (pid {pid}) stopped before the run "
            "could start"
        )
    return (
        f"the process supervising this run (pid {pid}) stopped unexpectedly; "
        "the run was ended and its log and outputs so far are kept"
    )


def as_seen(record: RunRecord) -> RunRecord:
    """The record as a reader should see it: an orphaned run is shown ``failed`` with the
    reason. Nothing is written and no process is signalled (see :func:`reconcile`). A Dask
    run whose relay has stopped is shown as it stands, with a message saying so."""
    if awaits_relay(record):
        seen = RunRecord.from_dict(record.to_dict())
        seen.message = RELAY_GONE
        return seen
    if not is_orphaned(record):
        return record
    seen = RunRecord.from_dict(record.to_dict())
    seen.status = RunStatus.FAILED
    seen.message = _orphan_message(record)
    return seen


def reconcile(store: RecordStore, run_id: str) -> RunRecord:
    """If the run is orphaned, stop its leftover processes and record it ``failed``; returns
    the record as it stands afterwards (as seen, when the disk was too full to write it).
    Safe to call at any time, from any process."""
    with store.locked(run_id):
        record = store.read(run_id)
        if not is_orphaned(record):
            return record  # finished or handed on meanwhile
        _stop_leftovers(record)
        ended = as_seen(record)
        ended.finished = time.time()
        if _write(store, ended):
            _UNWRITTEN.discard(run_id)
        return ended


def reconcile_all(store: RecordStore) -> list[str]:
    """:func:`reconcile` every run the store holds as not ended; the ids of those that were
    orphaned. A long-lived host (the server) calls this now and then.

    A run that reads as ended although the index still holds it as live (its supervisor could
    write its ending only into the end reserve, or not into the index: the disk was full) has
    that ending written into its record and the index, once there is room.
    """
    from .errors import RunNotFoundError

    ended = []
    for run_id in store.unfinished_ids():
        try:
            record = store.read(run_id)
            if record.status.is_terminal:
                _settle(store, run_id)
            elif is_orphaned(record):
                reconcile(store, run_id)
                ended.append(run_id)
        except (RunNotFoundError, FileNotFoundError):
            continue  # deleted meanwhile
    return ended


#: runs whose ending could not be written yet (each is reported once)
_UNWRITTEN: set[str] = set()


def _write(store: RecordStore, record: RunRecord) -> bool:
    """Save a record; False (reported once per run) when the disk cannot take it now."""
    from .faults import is_unwritable

    try:
        store.save(record)
        return True
    except Exception as exc:
        if not is_unwritable(exc):
            raise
        if record.id not in _UNWRITTEN:
            _UNWRITTEN.add(record.id)
            import logging

            logging.getLogger("jupyter_pyrunner").warning(
                "pyrunner: the ending of run %s cannot be written now (%s); it is shown as "
                "ended and will be written once there is room",
                record.id,
                exc,
            )
        return False


def _settle(store: RecordStore, run_id: str) -> None:
    """Write down the ending a run reads with (see :func:`reconcile_all`)."""
    with store.locked(run_id):
        record = store.read(run_id)
        if record.status.is_terminal and _write(store, record):
            _UNWRITTEN.discard(run_id)


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
