"""The run queue on its own (no HTTP), over a real store with runs prepared by the real engine.

Most tests hand runs to an executor that only records them (the executor is the queue's
injected interface) and end them by hand, to control exactly when there is room; the last ones
use the real ``LocalExecutor`` and real runs.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStore
from jupyter_pyrunner.executors import Executor, LocalExecutor
from jupyter_pyrunner.models import RunRecord, RunSpec, RunStatus
from jupyter_pyrunner.sdk import prepare_run
from jupyter_pyrunner.server.queue import RunQueue

Prepare = Callable[..., str]


class RecordingExecutor(Executor):
    """Takes runs without starting them, remembering the order; refuses the ids in ``refuse``."""

    name = "recording"

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.submitted: list[str] = []
        self.refuse = refuse if refuse is not None else set()

    def submit(self, store: RunStore, run_id: str) -> None:
        if run_id in self.refuse:
            raise OSError("no more processes allowed")
        self.submitted.append(run_id)


@pytest.fixture
def store(home: Path) -> RunStore:
    return RunStore(home)


@pytest.fixture
def prepare(store: RunStore, project: Callable[[dict[str, str]], Path]) -> Prepare:
    """``prepare(main=...)`` → the id of a new run, through the engine's intake (``queued``)."""

    def make(main: str = "print('hello')") -> str:
        folder = project({"main.py": main, "requirements.txt": ""})
        return prepare_run(store, RunSpec(str(folder))).id

    return make


def end(store: RunStore, run_id: str) -> None:
    """What a supervisor does at the end of a run the recording executor took."""
    store.update(run_id, status=RunStatus.SUCCEEDED, finished=time.time())


def test_runs_start_in_the_order_they_were_submitted(store: RunStore, prepare: Prepare) -> None:
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=1)
    first, second, third = prepare(), prepare(), prepare()
    for run_id in (third, first, second):  # submission order, not creation order, counts
        queue.submit(run_id)
    assert executor.submitted == [third]
    end(store, third)
    assert queue.start_queued() == [first]
    end(store, first)
    assert queue.start_queued() == [second]
    assert executor.submitted == [third, first, second]


def test_no_more_than_max_concurrent_runs_are_handed_over_at_once(
    store: RunStore, prepare: Prepare
) -> None:
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=2)
    runs = [prepare() for _ in range(5)]
    for run_id in runs:
        queue.submit(run_id)
    assert executor.submitted == runs[:2] and queue.active == set(runs[:2])
    assert queue.start_queued() == []  # no room until one ends
    end(store, runs[0])
    assert queue.start_queued() == [runs[2]]
    assert queue.active == {runs[1], runs[2]}
    for run_id in runs[1:3]:
        end(store, run_id)
    assert queue.start_queued() == runs[3:]
    assert [store.get(r).status for r in runs[3:]] == [RunStatus.QUEUED] * 2  # the executor's now


def test_a_limit_below_one_still_lets_one_run_start(store: RunStore, prepare: Prepare) -> None:
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=0)
    first, second = prepare(), prepare()
    queue.submit(first)
    queue.submit(second)
    assert executor.submitted == [first]


def test_a_run_cancelled_while_queued_is_skipped(store: RunStore, prepare: Prepare) -> None:
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=1)
    first, cancelled, last = prepare(), prepare(), prepare()
    for run_id in (first, cancelled, last):
        queue.submit(run_id)
    store.request_cancel(cancelled)
    end(store, first)
    assert queue.start_queued() == [last]
    assert executor.submitted == [first, last]
    assert store.get(cancelled).status is RunStatus.CANCELLED


def test_a_run_deleted_while_queued_is_skipped(store: RunStore, prepare: Prepare) -> None:
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=1)
    first, deleted, last = prepare(), prepare(), prepare()
    for run_id in (first, deleted, last):
        queue.submit(run_id)
    store.delete(deleted, force=True)
    end(store, first)
    assert queue.start_queued() == [last]
    assert executor.submitted == [first, last]


def test_a_run_the_executor_refuses_ends_as_error_and_the_next_one_starts(
    store: RunStore, prepare: Prepare
) -> None:
    refused, next_one = prepare(), prepare()
    executor = RecordingExecutor(refuse={refused})
    queue = RunQueue(store, executor, max_concurrent=1)
    queue.submit(refused)
    record = store.get(refused)
    assert record.status is RunStatus.ERROR and record.finished is not None
    assert record.message == "could not be started: no more processes allowed"
    assert queue.active == set() and queue.queue_position(refused) is None
    queue.submit(next_one)
    assert executor.submitted == [next_one] and queue.active == {next_one}


def test_queue_positions_count_only_the_runs_still_waiting(
    store: RunStore, prepare: Prepare
) -> None:
    queue = RunQueue(store, RecordingExecutor(), max_concurrent=1)
    running, a, b, c = prepare(), prepare(), prepare(), prepare()
    for run_id in (running, a, b, c):
        queue.submit(run_id)
    assert [queue.queue_position(r) for r in (running, a, b, c)] == [None, 1, 2, 3]
    store.request_cancel(b)
    assert [queue.queue_position(r) for r in (a, b, c)] == [1, None, 2]
    store.delete(a, force=True)
    assert queue.queue_position(c) == 1
    assert queue.queue_position("20260101-000000-abcdef") is None
    end(store, running)
    assert queue.start_queued() == [c] and queue.queue_position(c) is None


def test_runs_live_from_before_a_restart_count_against_the_limit(
    store: RunStore, prepare: Prepare
) -> None:
    earlier = prepare()
    store.update(earlier, status=RunStatus.RUNNING)  # its supervisor (this process) lives on
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=1)  # the server starts again
    assert queue.active == {earlier}
    waiting = prepare()
    queue.submit(waiting)
    assert executor.submitted == [] and queue.queue_position(waiting) == 1
    end(store, earlier)
    assert queue.start_queued() == [waiting]


def drive(queue: RunQueue, run_ids: list[str], timeout: float = 120) -> tuple[list[RunRecord], int]:
    """Start queued runs as the server's periodic check does, until every run has ended; the
    records, and the most runs seen live at once."""
    deadline = time.monotonic() + timeout
    most = 0
    while True:
        queue.start_queued()
        records = [queue.store.get(r) for r in run_ids]
        live = sum(r.status in (RunStatus.PREPARING, RunStatus.RUNNING) for r in records)
        most = max(most, live)
        if all(r.status.is_terminal for r in records):
            return records, most
        assert time.monotonic() < deadline, [r.status for r in records]
        time.sleep(0.02)


def test_real_runs_wait_for_each_other_with_the_local_executor(
    store: RunStore, prepare: Prepare
) -> None:
    queue = RunQueue(store, LocalExecutor(), max_concurrent=1)
    runs = [prepare("import time\ntime.sleep(0.5)\nprint('done')") for _ in range(3)]
    for run_id in runs:
        queue.submit(run_id)
    assert queue.active == {runs[0]}
    assert [queue.queue_position(r) for r in runs] == [None, 1, 2]
    records, most = drive(queue, runs)
    assert [r.status for r in records] == [RunStatus.SUCCEEDED] * 3
    assert most == 1
    for before, after in itertools.pairwise(records):
        assert before.finished is not None and after.started is not None
        assert after.started >= before.finished - 0.05  # one at a time, in order


def test_a_real_run_still_going_after_a_restart_holds_the_next_one_back(
    store: RunStore, prepare: Prepare
) -> None:
    marker = store.home / "go"
    first = prepare(
        f"import pathlib, time\nwhile not pathlib.Path({str(marker)!r}).exists():\n"
        "    time.sleep(0.02)\n"
    )
    RunQueue(store, LocalExecutor(), max_concurrent=1).submit(first)
    deadline = time.monotonic() + 120
    while store.get(first).status is not RunStatus.RUNNING:
        assert time.monotonic() < deadline, store.get(first)
        time.sleep(0.02)

    restarted = RunQueue(store, LocalExecutor(), max_concurrent=1)  # a new server, same store
    assert restarted.active == {first}
    second = prepare()
    restarted.submit(second)
    time.sleep(0.3)
    assert restarted.start_queued() == [] and store.get(second).status is RunStatus.QUEUED
    marker.touch()
    records, most = drive(restarted, [first, second])
    assert [r.status for r in records] == [RunStatus.SUCCEEDED] * 2 and most == 1


def test_runs_of_a_sweep_whose_intake_never_finished_are_removed_not_run(
    store: RunStore, prepare: Prepare
) -> None:
    """A server killed while it took a sweep in leaves queued runs naming a sweep that has no
    ``sweep.json``: its client got no answer, and the runs belong to no sweep one could see or
    cancel. The next server removes them with the sweep's folder; a plain orphan is run."""
    import subprocess
    import sys

    from jupyter_pyrunner.sweepstore import sweep_dir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = {"pid": dead.pid, "host": os.uname().nodename, "start": 1}
    half_sweep = "20261130-000000-abcdef"
    sweep_dir(store, half_sweep).mkdir(parents=True)
    taken_in = [prepare(), prepare()]
    for run_id in taken_in:
        store.update(run_id, sweep=half_sweep, params={"a": run_id[-1]}, supervisor=gone)
    plain = prepare()
    store.update(plain, supervisor=gone)
    executor = RecordingExecutor()
    queue = RunQueue(store, executor, max_concurrent=4)  # the server starts again
    assert queue.adopted == [plain]
    assert not sweep_dir(store, half_sweep).exists()
    assert [r.id for r in store.list_runs()] == [plain]
    assert queue.start_queued() == [plain] and executor.submitted == [plain]
