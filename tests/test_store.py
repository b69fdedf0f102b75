"""The run store shared by several processes."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import RunNotFoundError, RunStateError, RunStatus, RunStore, start_run
from jupyter_pyrunner.models import RunSpec

from .conftest import marker_processes, wait_for_output


def _create_many(home: str, count: int) -> list[str]:
    store = RunStore(home)
    return [store.create(RunSpec(source="x"), name=f"p{os.getpid()}").id for _ in range(count)]


def test_runs_are_listed_newest_first_and_paginated(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = []
    for i in range(5):
        record = store.create(RunSpec(source="x"), name=f"run{i}")
        store.update(record.id, status=RunStatus.SUCCEEDED, created=1000.0 + i)
        ids.append(record.id)
    listed = [r.id for r in store.list_runs(limit=3)]
    assert listed == ids[::-1][:3]
    assert [r.id for r in store.list_runs(limit=3, offset=3)] == ids[::-1][3:]
    assert store.count() == 5
    assert store.count(status="succeeded") == 5
    assert store.list_runs(status="failed") == []


def test_several_processes_share_one_store(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_create_many, [(str(tmp_path), 10)] * 4)
    created = {run_id for ids in results for run_id in ids}
    assert len(created) == 40
    store = RunStore(tmp_path)
    assert {r.id for r in store.list_runs(limit=100)} == created
    for run_id in created:
        assert (store.run_dir(run_id) / "inputs" / "input_5").is_dir()


def test_ids_resolve_from_prefix_and_last(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = store.create(RunSpec(source="x"), name="a")
    store.update(first.id, status=RunStatus.SUCCEEDED, created=1.0)
    second = store.create(RunSpec(source="x"), name="b")
    store.update(second.id, status=RunStatus.SUCCEEDED, created=2.0)
    assert store.resolve_id("last") == second.id
    n = next(i for i in range(1, len(second.id) + 1) if not first.id.startswith(second.id[:i]))
    assert store.resolve_id(second.id[:n]) == second.id
    with pytest.raises(RunNotFoundError, match="several"):
        store.resolve_id(second.id[:4])  # the year: both runs match
    with pytest.raises(RunNotFoundError):
        store.resolve_id("nope")
    with pytest.raises(RunNotFoundError):
        store.run_dir("../../etc")


def test_the_index_can_be_rebuilt_from_the_folders(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = {store.create(RunSpec(source="x"), name="a").id for _ in range(3)}
    (tmp_path / "index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"index.sqlite{suffix}").unlink(missing_ok=True)
    fresh = RunStore(tmp_path)
    assert fresh.count() == 0
    assert fresh.reindex() == 3
    assert {r.id for r in fresh.list_runs()} == ids


def test_deleting_a_live_run_needs_force(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = store.create(RunSpec(source="x"), name="a")  # owned by this live process
    with pytest.raises(RunStateError):
        store.delete(record.id)
    store.delete(record.id, force=True)
    assert not store.run_dir(record.id).exists()
    with pytest.raises(RunNotFoundError):
        store.get(record.id)


def test_cancelling_a_finished_run_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = store.create(RunSpec(source="x"), name="a")
    store.update(record.id, status=RunStatus.SUCCEEDED)
    with pytest.raises(RunStateError, match="already ended"):
        store.request_cancel(record.id)


def test_force_deleting_a_live_detached_run_stops_it_first(home: Path, project) -> None:
    src = project(
        {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)", "requirements.txt": ""}
    )
    handle = start_run(src)
    wait_for_output(handle, "up")
    store = RunStore(home)
    store.delete(handle.id, force=True)
    time.sleep(0.5)  # a supervisor still writing would bring files back
    assert not store.run_dir(handle.id).exists()
    assert store.count() == 0
    assert marker_processes(handle.id) == []


def test_the_project_folder_follows_the_runs_layout(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ports = store.create(RunSpec(source="x"), name="ports")
    flat = store.create(RunSpec(source="x", layout="flat"), name="flat")
    assert store.project_dir(ports.id) == store.inputs_dir(ports.id) / "input_1"
    assert store.project_dir(flat.id) == store.inputs_dir(flat.id)
    assert store.project_dir(flat.id, "ports") == store.inputs_dir(flat.id) / "input_1"
    assert not (store.inputs_dir(flat.id) / "input_1").exists()  # INPUT_FOLDER holds only files
