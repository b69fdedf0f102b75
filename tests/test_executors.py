"""Executors: where a prepared run is supervised. LocalExecutor with real detached processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import Executor, LocalExecutor, RunStatus, RunStore
from jupyter_pyrunner.handle import RunHandle
from jupyter_pyrunner.intake import prepare_run
from jupyter_pyrunner.liveness import identity_alive
from jupyter_pyrunner.models import RunSpec

from .conftest import marker_processes, wait_for_output


def test_an_executor_must_implement_submit() -> None:
    with pytest.raises(TypeError):
        Executor()  # type: ignore[abstract]


def test_the_local_executor_hands_the_run_to_a_detached_supervisor_at_once(
    home: Path, project
) -> None:
    src = project({"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)",
                   "requirements.txt": ""})  # fmt: skip
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src)))
    LocalExecutor().submit(store, record.id)
    owner = store.read(record.id)
    assert owner.executor == "local"
    assert owner.supervisor is not None and owner.supervisor["pid"] != os.getpid()
    assert identity_alive(owner.supervisor)
    # in a session of its own: a Ctrl-C in the caller's terminal does not reach it
    assert os.getsid(owner.supervisor["pid"]) == owner.supervisor["pid"]
    handle = RunHandle(store, record.id)
    wait_for_output(handle, "up")
    assert handle.cancel_and_wait().status is RunStatus.CANCELLED
    assert marker_processes(record.id) == []


def test_a_run_submitted_twice_is_supervised_once(home: Path, project) -> None:
    src = project({"main.py": """
        import os
        with open(os.path.join(os.environ["OUTPUT_FOLDER"], "starts.txt"), "a") as f:
            f.write("started\\n")
    """, "requirements.txt": ""})  # fmt: skip
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src)))
    LocalExecutor().submit(store, record.id)
    LocalExecutor().submit(store, record.id)
    handle = RunHandle(store, record.id)
    assert handle.wait(timeout=30).status is RunStatus.SUCCEEDED
    time.sleep(0.5)  # a second supervisor, had it claimed the run, would have started it by now
    assert (handle.outputs_dir / "starts.txt").read_text() == "started\n"


def test_a_run_cancelled_before_its_supervisor_claims_it_never_starts(home: Path, project) -> None:
    src = project({"main.py": "open('started', 'w')", "requirements.txt": ""})
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(src)))
    store.request_cancel(record.id)  # queued: cancelled here and now
    LocalExecutor().submit(store, record.id)
    time.sleep(1.0)
    final = store.get(record.id)
    assert final.status is RunStatus.CANCELLED
    assert not (store.project_dir(record.id) / "started").exists()
