"""Sweeps in the engine: combinations, substitution, checks at submission, and real sweeps of
real runs (a detached scheduler, a bounded number at once, one environment for all)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import SweepHandle, run_sweep
from jupyter_pyrunner.errors import InvalidRunSpecError, ProjectError
from jupyter_pyrunner.liveness import identity_alive
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.store import RunStore
from jupyter_pyrunner.sweeps import MAX_COMBINATIONS, expand, substitute

from .conftest import marker_processes

#: a program that writes what it was given (its arguments and PYRUNNER_PARAMS) and when it
#: ran into its outputs; it fails with 3 for a=2, b=y, and sleeps SLEEP seconds
RECORDER = """
import json, os, sys, time
params = json.loads(os.environ["PYRUNNER_PARAMS"])
start = time.time()
time.sleep(float(os.environ.get("SLEEP", "0.4")))
with open(os.path.join(os.environ["OUTPUT_FOLDER"], "seen.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "params": params, "start": start, "end": time.time()}, f)
print("done", flush=True)
sys.exit(3 if params == {"a": "2", "b": "y"} else 0)
"""


@pytest.fixture
def recorder(project) -> Path:
    return project({"main.py": RECORDER})


def _seen(handle: SweepHandle) -> list[dict]:
    return [json.loads((run.outputs_dir / "seen.json").read_text()) for run in handle.runs]


def _nothing_created(home: Path) -> bool:
    runs = list((home / "runs").iterdir()) if (home / "runs").is_dir() else []
    sweeps = list((home / "sweeps").iterdir()) if (home / "sweeps").is_dir() else []
    return runs == [] and sweeps == []


# -- combinations and arguments -----------------------------------------------------------------
def test_expand_gives_the_cartesian_product_with_the_last_parameter_fastest() -> None:
    combos = expand({"a": ["1", "2", "3"], "b": ["x", "y"]})
    assert [(c["a"], c["b"]) for c in combos] == [
        ("1", "x"), ("1", "y"), ("2", "x"), ("2", "y"), ("3", "x"), ("3", "y"),
    ]  # fmt: skip
    assert list(combos[0]) == ["a", "b"]


def test_substitute_replaces_names_and_keeps_doubled_braces_literal() -> None:
    args = ["--lr={a}", "{b}{a}", '{{"x": {a}}}', "plain"]
    assert substitute(args, {"a": "0.1", "b": "adam"}) == [
        "--lr=0.1",
        "adam0.1",
        '{"x": 0.1}',
        "plain",
    ]
    with pytest.raises(InvalidRunSpecError, match=r"\{c\}, which is not a parameter"):
        substitute(["{c}"], {"a": "1"})


@pytest.mark.parametrize(
    ("params", "args", "message"),
    [
        ({}, [], "at least one parameter"),
        ({"a": []}, [], "'a' has no values"),
        ([("a", ["1"]), ("a", ["2"])], [], "'a' is given twice"),
        ({"1a": ["1"]}, [], "is not a parameter name"),
        ({"a-b": ["1"]}, [], "is not a parameter name"),
        ({"status": ["1"]}, [], "names a column of the sweep's table"),
        ({"a": "123"}, [], "must be a list"),
        ({"a": [None]}, [], "must be text or a number"),
        ({"a": [float("nan")]}, [], "a value of 'a' must be a finite number, not nan"),
        ({"a": [1, float("-inf")]}, [], "must be a finite number, not -inf"),
        ({"a": ["1"]}, ["{b}"], r"\{b\}, which is not a parameter"),
        ({"a": ["1"]}, ["{a"], "does not enclose a parameter name"),
        ({"a": ["1"]}, ["a}"], "lone '}'"),
        ({"a": ["1"]}, ["{0}"], "does not enclose a parameter name"),
        (
            {"a": [str(i) for i in range(101)], "b": [str(i) for i in range(100)]},
            [],
            f"10,100 combinations \\(101 x 100\\); a sweep may have at most {MAX_COMBINATIONS:,}",
        ),
        ({"a": ["x" * 200]}, ["{a}" * 700], "the limit is"),  # one combination's argument
    ],
)
def test_a_bad_sweep_is_refused_with_one_message_and_creates_nothing(
    home: Path, recorder: Path, params: object, args: list[str], message: str
) -> None:
    with pytest.raises(InvalidRunSpecError, match=message):
        run_sweep(recorder, params, args=args, infer_requirements=False)
    assert _nothing_created(home)


def test_parallel_must_be_a_whole_number_of_runs(home: Path, recorder: Path) -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidRunSpecError, match="parallel must be"):
            run_sweep(recorder, {"a": ["1"]}, parallel=bad, infer_requirements=False)  # type: ignore[arg-type]
    assert _nothing_created(home)


def test_a_bad_project_creates_no_run_and_no_sweep(home: Path, project) -> None:
    empty = project({"README.md": "no code here"})
    with pytest.raises(ProjectError):
        run_sweep(empty, {"a": ["1", "2"]})
    assert _nothing_created(home)


# -- real sweeps --------------------------------------------------------------------------------
def test_each_combination_runs_with_its_arguments_and_its_params_variable(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "0")
    handle = run_sweep(
        recorder,
        {"a": ["1", "2", "3"], "b": ["x", "y"]},
        args=["--a={a}", "{b}-{{literal}}"],
        infer_requirements=False,
    )
    records = handle.wait(timeout=120)
    combos = expand({"a": ["1", "2", "3"], "b": ["x", "y"]})
    assert [r.params for r in records if r] == combos
    assert {r.sweep for r in records if r} == {handle.id}
    for combo, seen in zip(combos, _seen(handle), strict=True):
        assert seen["params"] == combo  # PYRUNNER_PARAMS
        assert seen["argv"] == [f"--a={combo['a']}", f"{combo['b']}-{{literal}}"]
    # a failing combination fails alone: the others ran to their end
    statuses = [r.status for r in records if r]
    assert statuses.count(RunStatus.FAILED) == 1 and statuses.count(RunStatus.SUCCEEDED) == 5
    assert records[3] is not None and records[3].exit_code == 3
    assert handle.status == "failed" and handle.counts == {"succeeded": 5, "failed": 1}
    # the sweep's folder, private as the store
    folder = home / "sweeps" / handle.id
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "sweep.json").stat().st_mode) == 0o600
    data = json.loads((folder / "sweep.json").read_text())
    assert data["runs"] == [r.id for r in records if r] and data["args"] == [
        "--a={a}",
        "{b}-{{literal}}",
    ]
    # the history knows each run's sweep; the table has a row per combination
    listed = RunStore(home).list_runs()
    assert {r.sweep for r in listed} == {handle.id}
    rows = handle.rows()
    assert [(row["a"], row["b"], row["status"]) for row in rows][3] == ("2", "y", "failed")
    as_dict = handle.to_dict()
    assert as_dict["runs"][3]["params"] == {"a": "2", "b": "y"}
    assert as_dict["runs"][3]["exit_code"] == 3 and as_dict["status"] == "failed"


def test_parallel_bounds_how_many_run_at_once_and_one_environment_serves_all(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "0.8")
    handle = run_sweep(
        recorder, {"a": ["1", "3", "4"], "b": ["x", "z"]}, parallel=2, infer_requirements=False
    )
    records = handle.wait(timeout=120)
    assert all(r is not None and r.status is RunStatus.SUCCEEDED for r in records)
    spans = [(s["start"], s["end"]) for s in _seen(handle)]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 2, f"{most} programs ran at once with parallel=2: {spans}"
    # one environment for the six runs: built once, by one of them
    builds = sum("built in" in run.log_text() for run in handle.runs)
    assert builds == 1
    assert len({r.env_key for r in records if r}) == 1
    assert len([p for p in (home / "envs").iterdir() if not p.name.startswith(".")]) == 1
    # the scheduler is gone once the sweep has ended
    deadline = time.monotonic() + 10
    while identity_alive(handle.info["scheduler"]):
        assert time.monotonic() < deadline, "the sweep's scheduler did not exit"
        time.sleep(0.1)


def test_the_sweep_goes_on_after_the_process_that_started_it_has_ended(
    home: Path, recorder: Path
) -> None:
    script = (
        "import sys\n"
        "from jupyter_pyrunner import run_sweep\n"
        f"h = run_sweep({str(recorder)!r}, {{'a': ['1', '3', '4']}}, parallel=1,"
        " infer_requirements=False)\n"
        "print(h.id)\n"
    )
    env = {**os.environ, "SLEEP": "0.3"}
    started = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    handle = SweepHandle.open(started.stdout.strip())
    records = handle.wait(timeout=120)
    assert [r.status for r in records if r] == [RunStatus.SUCCEEDED] * 3


def test_cancelling_a_sweep_stops_its_runs_and_starts_no_more(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "60")
    handle = run_sweep(recorder, {"a": ["1", "3", "4", "5"]}, parallel=2, infer_requirements=False)
    deadline = time.monotonic() + 60
    while handle.counts.get("running", 0) < 2:
        assert time.monotonic() < deadline, handle.summary
        time.sleep(0.1)
    records = handle.cancel_and_wait(timeout=30)
    assert [r.status for r in records if r] == [RunStatus.CANCELLED] * 4
    assert [r.message for r in records if r][2:] == ["cancelled before it started"] * 2
    assert all(marker_processes(r.id) == [] for r in records if r)
    deadline = time.monotonic() + 10
    while identity_alive(handle.info["scheduler"]):
        assert time.monotonic() < deadline, "the sweep's scheduler did not exit"
        time.sleep(0.1)
    assert handle.status == "cancelled"


def test_a_killed_scheduler_leaves_its_waiting_runs_visibly_never_started(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "1")
    handle = run_sweep(recorder, {"a": ["1", "3", "4"]}, parallel=1, infer_requirements=False)
    os.kill(handle.info["scheduler"]["pid"], signal.SIGKILL)
    records = handle.wait(timeout=60)
    waiting = [r for r in records if r and r.status is not RunStatus.SUCCEEDED]
    assert waiting and all("never started" in (r.message or "") for r in waiting)


def test_the_table_is_a_list_of_rows_without_pandas(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "0")
    handle = run_sweep(recorder, {"a": ["1"], "b": ["x", "y"]}, infer_requirements=False)
    handle.wait(timeout=60)
    monkeypatch.setitem(sys.modules, "pandas", None)  # importing it fails, as without pandas
    table = handle.table()
    assert isinstance(table, list)
    assert [(row["a"], row["b"], row["status"], row["exit_code"]) for row in table] == [
        ("1", "x", "succeeded", 0),
        ("1", "y", "succeeded", 0),
    ]
    assert all(row["duration"] > 0 for row in table)


def test_a_host_with_its_own_queue_gets_the_runs_in_order(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_pyrunner.executors import LocalExecutor
    from jupyter_pyrunner.sdk import run_spec
    from jupyter_pyrunner.sweeps import submit_sweep

    monkeypatch.setenv("SLEEP", "0")
    store = RunStore(home)
    queued: list[str] = []
    spec = run_spec(recorder, args=["{a}"], infer_requirements=False)
    handle = submit_sweep(store, spec, {"a": ["1", "3"]}, enqueue=queued.append)
    assert queued == handle.run_ids and handle.info["scheduler"] is None
    assert handle.counts == {"queued": 2}  # owned by this process until it starts them
    for run_id in queued:
        LocalExecutor().submit(store, run_id)
    assert [r.status for r in handle.wait(timeout=60) if r] == [RunStatus.SUCCEEDED] * 2
    assert [s["argv"] for s in _seen(handle)] == [["1"], ["3"]]


def test_ctrl_c_while_the_runs_are_handed_to_the_scheduler_cancels_the_whole_sweep(
    home: Path, recorder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while the caller hands the queued runs over, one by one, to the sweep's
    (real, detached) scheduler: the interleaving is forced at the third run. The scheduler
    must cancel every run, not take the half-done hand-over for a finished one."""
    from jupyter_pyrunner import sweeps

    monkeypatch.setenv("SLEEP", "30")
    real_adopt, handed = sweeps.adopt, []

    def adopt_then_interrupted(store: RunStore, run_id: str, identity: dict) -> None:
        if len(handed) == 2:
            raise KeyboardInterrupt
        handed.append(run_id)
        real_adopt(store, run_id, identity)

    monkeypatch.setattr(sweeps, "adopt", adopt_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(recorder, {"a": ["1", "3", "4", "5"]}, parallel=2, infer_requirements=False)
    (folder,) = (home / "sweeps").iterdir()
    handle = SweepHandle(RunStore(home), folder.name)
    records = handle.wait(timeout=60)
    assert [r.status for r in records if r] == [RunStatus.CANCELLED] * 4, handle.summary
    assert all(marker_processes(r.id) == [] for r in records if r)


def test_an_executor_the_scheduler_cannot_rebuild_gets_every_run_at_once(
    home: Path, recorder: Path
) -> None:
    """A custom executor (no ``description``) is handed the runs by the caller itself."""
    from jupyter_pyrunner.executors import Executor

    class Recording(Executor):
        name = "recording"

        def __init__(self) -> None:
            self.taken: list[str] = []

        def submit(self, store: RunStore, run_id: str) -> None:
            self.taken.append(run_id)

    executor = Recording()
    handle = run_sweep(recorder, {"a": ["1", "3"]}, executor=executor, infer_requirements=False)
    assert executor.taken == handle.run_ids
    assert handle.info["scheduler"] is None and handle.info["executor"] == "recording"
