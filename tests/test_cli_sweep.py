"""``pyrunner sweep``, driven as a user drives it: real subprocesses, real runs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.cli import _parser
from jupyter_pyrunner.liveness import identity_alive
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.store import RunStore

from .conftest import marker_processes, run_cli
from .test_sweeps import RECORDER


@pytest.fixture
def recorder(project) -> Path:
    return project({"main.py": RECORDER})


def _sweep_dirs(home: Path) -> list[Path]:
    root = home / "sweeps"
    return sorted(root.iterdir()) if root.is_dir() else []


def test_a_sweep_runs_every_combination_and_fails_when_one_run_failed(
    home: Path, recorder: Path
) -> None:
    result = run_cli(
        "sweep", str(recorder), "--param", "a=1,2,3", "--param", "b=x,y", "--no-infer",
        "--", "--a={a}", "{b}",
        env={**os.environ, "SLEEP": "0"},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # a=2 b=y exits 3
    assert "6 runs: 5 succeeded, 1 failed" in result.stderr
    lines = result.stdout.splitlines()
    # plain lines (not a terminal): one per change, then the final table
    assert any(line.startswith("a=2 b=y: failed, exit 3") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("a  b  STATUS"))
    table = [line.split() for line in lines[header + 1 :]]
    assert [(row[0], row[1], row[2]) for row in table] == [
        ("1", "x", "succeeded"), ("1", "y", "succeeded"), ("2", "x", "succeeded"),
        ("2", "y", "failed"), ("3", "x", "succeeded"), ("3", "y", "succeeded"),
    ]  # fmt: skip
    runs = RunStore(home).list_runs()
    argv = {
        r.id: json.loads((home / "runs" / r.id / "outputs" / "seen.json").read_text())["argv"]
        for r in runs
    }
    assert sorted(argv.values()) == sorted([f"--a={a}", b] for a in "123" for b in "xy")
    listed = run_cli("runs")
    (sweep_dir,) = _sweep_dirs(home)
    assert "SWEEP" in listed.stdout.splitlines()[0]
    assert listed.stdout.count(sweep_dir.name) == 6


def test_json_prints_the_sweep_with_its_runs(home: Path, recorder: Path) -> None:
    result = run_cli(
        "sweep", str(recorder), "--param", "a=1,4", "--json", "--no-infer", "--", "{a}",
        env={**os.environ, "SLEEP": "0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded" and data["params"] == {"a": ["1", "4"]}
    assert [(r["params"], r["status"], r["exit_code"]) for r in data["runs"]] == [
        ({"a": "1"}, "succeeded", 0),
        ({"a": "4"}, "succeeded", 0),
    ]
    for run in data["runs"]:
        assert RunStore(home).get(run["id"]).sweep == data["id"]
    assert "a=1: succeeded" in result.stderr  # the table went to stderr


def test_interrupting_the_command_cancels_every_run_and_leaves_no_process(
    home: Path, recorder: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_pyrunner.cli", "sweep", str(recorder),
         "--param", "a=1,3,4,5", "--parallel", "2", "--no-infer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLEEP": "60"},
    )  # fmt: skip
    assert proc.stdout is not None
    running = 0
    deadline = time.monotonic() + 60
    while running < 2:  # two programs started: the other two wait their turn
        line = proc.stdout.readline()
        assert line and time.monotonic() < deadline, "the runs never started"
        running += ": running" in line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelling every run" in out
    records = RunStore(home).list_runs()
    assert len(records) == 4
    assert {r.status for r in records} == {RunStatus.CANCELLED}
    assert all(marker_processes(r.id) == [] for r in records)
    (sweep_dir,) = _sweep_dirs(home)
    scheduler = json.loads((sweep_dir / "sweep.json").read_text())["scheduler"]
    deadline = time.monotonic() + 10
    while identity_alive(scheduler):
        assert time.monotonic() < deadline, "the sweep's scheduler is still running"
        time.sleep(0.1)


def _values(name: str, count: int) -> str:
    return f"{name}=" + ",".join(map(str, range(count)))


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--param", "a="], "'a' has no values"),
        (["--param", "a=1", "--param", "a=2"], "'a' is given twice"),
        (["--param", "1a=1"], "is not a parameter name"),
        (["--param", "a"], "--param takes NAME=V1,V2"),
        (["--param", "a=1", "--", "{b}"], r"\{b\}, which is not a parameter"),
        (["--param", "a=1", "--", "{a"], "does not enclose a parameter name"),
        (["--param", _values("a", 101), "--param", _values("b", 100)], "10,100 combinations"),
        ([], "at least one parameter"),
        (["--param", "a=1", "--parallel", "0"], "must be more than 0"),
    ],
)
def test_a_bad_sweep_gets_one_line_and_creates_nothing(
    home: Path, recorder: Path, words: list[str], message: str
) -> None:
    result = run_cli("sweep", str(recorder), "--no-infer", *words)
    assert result.returncode == 125
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "runs").is_dir() or list((home / "runs").iterdir()) == []
    assert _sweep_dirs(home) == []


def test_on_a_terminal_the_table_is_redrawn_in_place(home: Path, recorder: Path) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_pyrunner.cli", "sweep", str(recorder),
         "--param", "a=1,3", "--param", "b=x", "--no-infer"],
        stdout=slave,
        stderr=slave,
        env={**os.environ, "SLEEP": "0.5"},
    )  # fmt: skip
    os.close(slave)
    screen = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        screen += data
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = screen.decode()
    assert "a  b  STATUS     PROGRESS  EXIT  DURATION  RUN" in text
    assert "\x1b[3F\x1b[J" in text or "\x1b[4F\x1b[J" in text  # redrawn over itself
    assert "2 runs: 2 succeeded" in text


def test_help_lists_the_sweep_command_and_double_dash_is_for_run_and_sweep(
    home: Path,
) -> None:
    assert "sweep" in _parser().format_help()
    result = run_cli("runs", "--", "x")
    assert result.returncode == 125 and "only for 'run' and 'sweep'" in result.stderr


def test_dask_local_runs_the_whole_sweep_on_one_cluster_of_the_commands_own(
    home: Path, recorder: Path
) -> None:
    pytest.importorskip("distributed")
    result = run_cli(
        "sweep", str(recorder), "--param", "a=1,2,3", "--dask", "local", "--no-infer",
        "--", "{a}",
        env={**os.environ, "SLEEP": "0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 runs: 3 succeeded" in result.stderr
    assert "Traceback" not in result.stderr and "Port 8787" not in result.stderr
    runs = RunStore(home).list_runs()
    notes = [json.loads((home / "runs" / r.id / "dask.json").read_text()) for r in runs]
    schedulers = {note["scheduler"] for note in notes}
    assert len(schedulers) == 1 and next(iter(schedulers)).startswith("tcp://127.0.0.1:")
    assert all(r.executor == "dask" and r.worker for r in runs)
    for record in runs:  # the relays have ended, and with them the cluster's workers
        relay = json.loads((home / "runs" / record.id / "relay.json").read_text())
        assert not identity_alive(relay)
        assert marker_processes(record.id) == []
    assert _spawned_workers(home) == []


def _spawned_workers(home: Path) -> list[int]:
    """Live processes started by multiprocessing (a LocalCluster's workers) for ``home``."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"spawn_main" in cmdline and f"PYRUNNER_HOME={home}".encode() in environ:
            found.append(int(name))
    return found
