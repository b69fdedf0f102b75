"""Runs whose supervisor died: shown failed by every read, reconciled in one place only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStateError, RunStatus, RunStore, start_run
from jupyter_pyrunner.liveness import (
    as_seen,
    identity_alive,
    is_orphaned,
    process_identity,
    reconcile,
    reconcile_all,
)
from jupyter_pyrunner.models import RunSpec

from .conftest import marker_processes


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def _orphan(store: RunStore, **changes: object) -> str:
    """A run that says ``running``, owned by a process that has gone."""
    record = store.create(RunSpec(source="x"), name="a")
    supervisor = {"pid": _dead_pid(), "host": os.uname().nodename, "start": 1}
    store.update(record.id, status=RunStatus.RUNNING, supervisor=supervisor, **changes)
    return record.id


def _stored_status(store: RunStore, run_id: str) -> str:
    return str(json.loads((store.run_dir(run_id) / "run.json").read_text())["status"])


def test_a_process_is_alive_only_with_the_same_pid_and_start_time() -> None:
    me = process_identity()
    assert identity_alive(me)
    assert not identity_alive({**me, "start": me["start"] + 1})  # a pid reused later
    assert not identity_alive({"pid": _dead_pid(), "host": me["host"], "start": 1})
    assert identity_alive({"pid": 1, "host": "another-machine", "start": 5})  # unknowable
    assert not identity_alive(None)


def test_reading_an_orphan_shows_it_failed_but_writes_and_signals_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = _orphan(store)
    before = (store.run_dir(run_id) / "run.json").stat().st_mtime_ns
    seen = store.get(run_id)
    assert seen.status is RunStatus.FAILED
    assert "stopped unexpectedly" in (seen.message or "")
    assert [r.status for r in store.list_runs()] == [RunStatus.FAILED]
    assert _stored_status(store, run_id) == "running"
    assert (store.run_dir(run_id) / "run.json").stat().st_mtime_ns == before
    assert is_orphaned(store.read(run_id)) and as_seen(store.read(run_id)).status.is_terminal


def test_reconcile_records_the_orphan_failed_once(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = _orphan(store)
    first = reconcile(store, run_id)
    assert first.status is RunStatus.FAILED and first.finished is not None
    assert _stored_status(store, run_id) == "failed"
    assert reconcile(store, run_id).finished == first.finished  # nothing more to do


def test_reconcile_leaves_a_run_with_a_live_supervisor_alone(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = store.create(RunSpec(source="x"), name="a")  # owned by this live process
    assert reconcile(store, record.id).status is RunStatus.QUEUED


def test_cancelling_an_orphan_reconciles_it_and_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = _orphan(store)
    with pytest.raises(RunStateError, match="already ended"):
        store.request_cancel(run_id)
    assert _stored_status(store, run_id) == "failed"


def test_a_stale_program_pid_never_harms_an_unrelated_process(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # the record claims the bystander's pid as its program, with another start time
        run_id = _orphan(store, pid=bystander.pid, pid_start=1)
        assert reconcile(store, run_id).status is RunStatus.FAILED
        time.sleep(0.3)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_sigkilled_supervisors_leftovers_live_until_reconciled_then_stop(
    home: Path, project
) -> None:
    src = project({"main.py": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            while True:
                time.sleep(1)
        print("running", flush=True)
        while True:
            time.sleep(1)
    """})  # fmt: skip
    handle = start_run(src, infer_requirements=False)
    deadline = time.time() + 30
    while "running" not in handle.log_text():
        assert time.time() < deadline, handle.record
        time.sleep(0.05)
    assert len(marker_processes(handle.id)) >= 2
    os.kill(handle.store.read(handle.id).supervisor["pid"], signal.SIGKILL)  # type: ignore[index]
    deadline = time.time() + 10
    while not (seen := RunStore(home).get(handle.id)).status.is_terminal:
        assert time.time() < deadline, "the supervisor's death was never noticed"
        time.sleep(0.05)
    assert seen.status is RunStatus.FAILED
    # the daemon (setsid, re-parented to init) survived its supervisor: reading did not stop it
    assert marker_processes(handle.id)
    reconcile(RunStore(home), handle.id)
    deadline = time.time() + 5
    while marker_processes(handle.id) and time.time() < deadline:
        time.sleep(0.05)
    assert marker_processes(handle.id) == []
    assert "running" in handle.log_text()  # the log so far is kept


def test_reconcile_all_ends_every_orphan_and_only_them(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    orphans = {_orphan(store), _orphan(store)}
    alive = store.create(RunSpec(source="x"), name="mine").id  # owned by this process
    assert set(reconcile_all(store)) == orphans
    assert {_stored_status(store, i) for i in orphans} == {"failed"}
    assert _stored_status(store, alive) == "queued"
    assert reconcile_all(store) == []


def test_a_run_queued_by_a_process_that_died_never_started_and_says_so(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = store.create(RunSpec(source="x"), name="a")
    store.update(record.id, supervisor={"pid": _dead_pid(), "host": os.uname().nodename,
                                        "start": 1})  # fmt: skip
    seen = store.get(record.id)
    assert seen.status is RunStatus.FAILED
    assert seen.message is not None and seen.message.startswith("never started")
    assert "stopped unexpectedly" not in seen.message
    reconcile(store, record.id)
    assert (
        "never started"
        in json.loads((store.run_dir(record.id) / "run.json").read_text())["message"]
    )


def test_an_ending_kept_in_the_end_reserve_is_read_then_written_into_the_record(
    tmp_path: Path,
) -> None:
    """A supervisor that could write its ending only over its reserve (the disk was full): the
    run reads with the program's exit code, never as orphaned, and housekeeping settles it."""
    from jupyter_pyrunner.faults import END_NAME, reserve_end, write_end

    store = RunStore(tmp_path)
    run_id = _orphan(store)
    run_dir = store.run_dir(run_id)
    assert reserve_end(run_dir) and (run_dir / END_NAME).stat().st_size == 4096
    assert store.get(run_id).message.startswith("the process supervising")  # blank: no ending
    ending = {"status": "failed", "exit_code": 3, "finished": 5.0, "timings": {"run": 1.0},
              "message": "the disk is full: exited with code 3"}  # fmt: skip
    assert write_end(run_dir, run_id, ending)
    assert (run_dir / END_NAME).stat().st_size == 4096  # written over, in place
    seen = store.get(run_id)
    assert (seen.status, seen.exit_code, seen.message) == (
        RunStatus.FAILED, 3, "the disk is full: exited with code 3"
    )  # fmt: skip
    assert not is_orphaned(store.read(run_id))
    assert _stored_status(store, run_id) == "running"
    assert reconcile_all(store) == []  # not an orphan: settled, not failed
    stored = json.loads((run_dir / "run.json").read_text())
    assert (stored["status"], stored["exit_code"]) == ("failed", 3)
    assert store.list_runs(status="failed")[0].exit_code == 3  # the index too
    assert run_id not in store.unfinished_ids()


def test_an_ending_caught_half_written_or_of_another_run_is_no_ending(tmp_path: Path) -> None:
    from jupyter_pyrunner.faults import END_NAME, reserve_end

    store = RunStore(tmp_path)
    run_id = _orphan(store)
    reserve_end(store.run_dir(run_id))
    for text in (
        '{"run_id": "' + run_id + '", "status": "fai',
        '{"run_id": "x", "status": "failed"}',
    ):
        (store.run_dir(run_id) / END_NAME).write_text(text.ljust(4096))
        assert "stopped unexpectedly" in (store.get(run_id).message or "")


def test_reconciling_on_a_full_disk_shows_the_ending_writes_it_later_and_never_raises(
    tmp_path: Path,
) -> None:
    from .reliability.diskfill import fill, small_disk

    with small_disk(tmp_path / "disk", 8) as disk:
        store = RunStore(disk / "home")
        first, second = _orphan(store), _orphan(store)
        ballast = fill(disk / "ballast")
        ended = reconcile(store, first)  # raised OSError (ENOSPC) before
        assert ended.status is RunStatus.FAILED and "stopped unexpectedly" in (ended.message or "")
        assert _stored_status(store, first) == "running"  # not written: no room
        assert [p.name for p in store.run_dir(first).iterdir() if p.name.endswith(".tmp")] == []
        assert sorted(reconcile_all(store)) == sorted([first, second])  # tolerated again
        store.delete(first)  # deleting works on a full disk (it reconciles first)
        assert not store.run_dir(first).exists()
        ballast.unlink()  # space back: the next round writes the ending down
        assert reconcile_all(store) == [second]
        assert _stored_status(store, second) == "failed"
        store.close()


def test_a_supervisor_that_ends_its_run_and_exits_between_two_looks_is_not_taken_for_dead(
    tmp_path: Path,
) -> None:
    """A reader reads the record (live), then the supervisor writes the ending and exits,
    then the reader asks whether it lives: the run must read as it ended, not as orphaned."""
    store = RunStore(tmp_path)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    record = store.create(RunSpec(source="x"), name="a")
    store.update(record.id, status=RunStatus.RUNNING, supervisor=process_identity(supervisor.pid))
    real_read = store.read
    reads = []

    def read_then_the_supervisor_ends(run_id: str):  # type: ignore[no-untyped-def]
        seen = real_read(run_id)
        if not reads:  # the interleaving, forced: the ending lands and its writer exits now
            RunStore(tmp_path).update(run_id, status=RunStatus.CANCELLED, message="cancelled")
            supervisor.communicate(b"")
        reads.append(seen.status)
        return seen

    store.read = read_then_the_supervisor_ends  # type: ignore[method-assign]
    assert store.get(record.id).status is RunStatus.CANCELLED
    assert reads[0] is RunStatus.RUNNING  # the first look did see it live
