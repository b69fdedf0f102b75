"""Runs on a real Dask cluster: ``dask scheduler`` and ``dask worker`` processes on loopback.

Two kinds of worker: one that shares this machine's filesystem (as on an HPC cluster with a
shared home), and one in its own mount namespace with an empty tmpfs over the run store (as a
Kubernetes or cloud worker): the project travels as a bundle, the worker builds its own
environment, the log streams back at the same offsets and the outputs come back.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.daskexec import DaskExecutor, relay_alive
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.sdk import start_run

from .conftest import marker_processes, run_cli
from .daskcluster import Cluster

pytest.importorskip("distributed")
if os.geteuid() != 0:  # a worker that cannot see our files needs a mount namespace
    pytestmark = pytest.mark.skip(reason="needs root for unshare --mount")

#: a project with a requirement; its output goes to OUTPUT_FOLDER and beside the code
PROJECT = {
    "main.py": """
        import os, pathlib, sys, time
        import six
        print("up", six.__name__, flush=True)
        flag = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None
        while flag is not None and not flag.exists():
            time.sleep(0.02)
        print("é" * 3, file=sys.stderr, flush=True)
        pathlib.Path(os.environ["OUTPUT_FOLDER"], "result.txt").write_text("42")
        pathlib.Path("beside.txt").write_text("written beside the code")
        print("done", flush=True)
    """,
    "requirements.txt": "six\n",
}


def watch_statuses(record: Path, seconds: float = 120) -> list[str]:
    """The statuses ``record`` goes through, each noted once when it changes (read every
    millisecond or so, in a thread, until the run has ended)."""
    import json
    import threading

    seen: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                status = json.loads(record.read_bytes())["status"]
            except (OSError, ValueError):
                continue
            if not seen or seen[-1] != status:
                seen.append(status)
            if status not in ("queued", "preparing", "running"):
                return
            time.sleep(0.001)

    threading.Thread(target=watch, daemon=True).start()
    return seen


def wait_until(check, timeout: float = 30, what: str = "the condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.05)


def test_a_project_with_a_requirement_runs_on_a_worker_sharing_the_filesystem(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("shared", tmp_path / "worker-home")
    handle = start_run(project(PROJECT), home=home, executor=DaskExecutor(cluster.address))
    seen = watch_statuses(handle.run_dir / "run.json")
    record = handle.wait(timeout=120)
    assert record.status is RunStatus.SUCCEEDED, handle.log_text()
    time.sleep(0.1)
    order = ["queued", "preparing", "running", "succeeded"]
    assert seen == sorted(set(seen), key=order.index)  # never a step back (to queued)
    assert record.executor == "dask"
    assert record.dask_key == f"pyrunner-{record.id}"
    assert record.worker is not None and record.worker.startswith("tcp://127.0.0.1:")
    assert "up six" in handle.log_text()
    assert (handle.run_dir / "outputs" / "result.txt").read_text() == "42"
    # supervised in place: nothing was placed in the worker's own store
    assert not (tmp_path / "worker-home" / "runs" / record.id).exists()
    wait_until(lambda: not relay_alive(handle.store, record.id), what="the relay's end")
    assert marker_processes(record.id) == []


def test_a_worker_that_cannot_see_the_store_gets_the_bundle_and_streams_the_log_live(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    worker_home = tmp_path / "worker-home"
    cluster.add_worker("isolated", worker_home, hide=home)
    source = project(PROJECT)
    flag = tmp_path / "go"
    executor = DaskExecutor(cluster.address)
    handle = start_run(source, home=home, executor=executor, args=[str(flag)])
    # live: the first line is here while the program still waits for the flag
    wait_until(lambda: "up six" in handle.log_text(), timeout=90, what="the first line")
    assert not handle.status.is_terminal
    assert handle.record.status is RunStatus.RUNNING
    flag.touch()
    record = handle.wait(timeout=60)
    assert record.status is RunStatus.SUCCEEDED, handle.log_text()
    assert record.worker is not None
    assert handle.log_text().endswith("\nup six\nééé\ndone\n")
    # all of it is here: the worker let go of its copy of the run
    wait_until(lambda: not (worker_home / "runs" / record.id).exists(), what="the discard")
    # the outputs came back: the output port and the file written beside the code
    assert (handle.run_dir / "outputs" / "result.txt").read_text() == "42"
    beside = handle.store.project_dir(record.id) / "beside.txt"
    assert beside.read_text() == "written beside the code"
    from jupyter_pyrunner.workfiles import ProjectFiles

    assert [f.path for f in ProjectFiles.of_run(handle.store, record.id).files()] == ["beside.txt"]
    # the worker kept its own environment and the unpacked bundle
    assert list((worker_home / "envs").glob(f"{record.env_key}*"))
    bundles = list((worker_home / "bundles").iterdir())
    assert len(bundles) == 1
    # the same project again: the bundle is not unpacked a second time
    flag.touch()
    again = start_run(source, home=home, executor=executor, args=[str(flag)]).wait(timeout=60)
    assert again.status is RunStatus.SUCCEEDED
    assert list((worker_home / "bundles").iterdir()) == bundles


@pytest.mark.parametrize("how", ["cancel", "sigterm"])
def test_cancel_and_ctrl_c_stop_the_program_on_the_worker(
    cluster: Cluster, home: Path, project, tmp_path: Path, how: str
) -> None:
    worker_home = tmp_path / "worker-home"
    cluster.add_worker("isolated", worker_home, hide=home)
    source = project({"main.py": "import time\nprint('up', flush=True)\ntime.sleep(120)\n"})
    handle = start_run(source, home=home, executor=DaskExecutor(cluster.address), requirements=[])
    wait_until(lambda: "up" in handle.log_text(), timeout=60, what="the program's start")
    assert marker_processes(handle.id)  # the program runs (on the worker: this machine)
    started = time.monotonic()
    if how == "cancel":
        handle.cancel()
    else:  # Ctrl-C or SIGTERM to the run's owner
        relay = handle.record.supervisor
        assert relay is not None
        os.kill(int(relay["pid"]), signal.SIGTERM)
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.CANCELLED
    assert time.monotonic() - started < 10
    assert marker_processes(handle.id) == []
    assert "up" in handle.log_text()


def test_pyrunner_run_dask_local_runs_in_the_foreground(home: Path, project) -> None:
    source = project({"main.py": "print('hello from dask')\n", "requirements.txt": ""})
    done = run_cli("run", "--dask", "local", "--json", str(source), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "hello from dask" in done.stderr  # (the output goes to stderr with --json)
    # the cluster lives in the command's process: none of its logs reach the user's terminal
    assert "Traceback" not in done.stderr and "distributed." not in done.stderr, done.stderr
    import json

    record = json.loads(done.stdout[done.stdout.index("{") :])
    assert record["executor"] == "dask"
    assert record["worker"]
    shown = run_cli("show", record["id"])
    assert f"worker:       {record['worker']}" in shown.stdout


def test_without_an_address_the_executor_says_what_to_give() -> None:
    from jupyter_pyrunner.errors import PyRunnerError

    with pytest.raises(PyRunnerError, match="scheduler"):
        DaskExecutor("")


def test_pyrunner_run_on_the_scheduler_of_the_environment_variable_shows_the_output(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    source = project({"main.py": "import sys\nprint('from the worker')\nsys.exit(3)\n"})
    env = {**os.environ, "PYRUNNER_DASK_SCHEDULER": cluster.address}
    done = run_cli("run", "--no-infer", str(source), env=env, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "from the worker" in done.stdout
    assert "failed" in done.stderr
    shown = run_cli("show", "last", env=env)
    assert "worker:       tcp://127.0.0.1:" in shown.stdout


def test_the_time_limit_stops_the_program_on_the_worker(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    source = project({"main.py": "import time\nprint('up', flush=True)\ntime.sleep(120)\n"})
    executor = DaskExecutor(cluster.address)
    handle = start_run(source, home=home, executor=executor, requirements=[], timeout=1.0)
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.TIMED_OUT
    assert "time limit" in handle.log_text()
    assert marker_processes(handle.id) == []


def test_big_outputs_go_through_the_outputs_url(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    store = tmp_path / "object-store"  # seen by the worker and by us, as a bucket would be
    store.mkdir()
    source = project(
        {
            "main.py": """
                import os, pathlib
                pathlib.Path(os.environ["OUTPUT_FOLDER"], "big.bin").write_bytes(os.urandom(4096))
            """
        }
    )
    executor = DaskExecutor(cluster.address, outputs_url=f"file://{store}", outputs_limit=1024)
    record = start_run(source, home=home, executor=executor, requirements=[]).wait(timeout=60)
    assert record.status is RunStatus.SUCCEEDED
    assert [p.name for p in store.iterdir()] == [f"{record.id}.zip"]
    big = home / "runs" / record.id / "outputs" / "big.bin"
    assert big.stat().st_size == 4096


def test_worker_resources_become_restrictions_and_a_waiting_run_can_be_cancelled(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("gpu", tmp_path / "worker-home", hide=home, resources="GPU=1")
    source = project({"main.py": "print('on a GPU worker')\n"})
    fits = DaskExecutor(cluster.address, resources={"GPU": 1})
    record = start_run(source, home=home, executor=fits, requirements=[]).wait(timeout=60)
    assert record.status is RunStatus.SUCCEEDED
    too_big = DaskExecutor(cluster.address, resources={"GPU": 2})
    handle = start_run(source, home=home, executor=too_big, requirements=[])
    time.sleep(2)  # no worker has two: it waits
    assert handle.record.status is RunStatus.PREPARING
    handle.cancel()
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.CANCELLED
    assert record.message == "cancelled before it started"
    assert "on a GPU worker" not in handle.log_text()


def test_run_project_with_a_dask_executor_waits_and_sees_the_output(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    from jupyter_pyrunner.sdk import run_project

    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    seen: list[bytes] = []
    handle = run_project(
        project({"main.py": "print('seen here')\n"}),
        home=home,
        executor=DaskExecutor(cluster.address),
        requirements=[],
        on_output=lambda stream, data: seen.append(data),
    )
    assert handle.status is RunStatus.SUCCEEDED
    assert b"seen here" in b"".join(seen)


def test_a_worker_removes_what_no_relay_came_back_for_after_a_day(tmp_path: Path) -> None:
    """Runs whose relay never fetched them (its machine went away) and bundles nobody used
    for a day go; younger ones and runs still going stay."""
    from jupyter_pyrunner.daskworker import WORKER_KEEP, prune_worker_store
    from jupyter_pyrunner.models import RunSpec
    from jupyter_pyrunner.store import RunStore

    store = RunStore(tmp_path / "worker-home")
    now = time.time()
    ids = {}
    for name, status, finished in (("old", RunStatus.SUCCEEDED, now - WORKER_KEEP - 60),
                                   ("young", RunStatus.FAILED, now - 60),
                                   ("going", RunStatus.RUNNING, None)):  # fmt: skip
        record = store.create(RunSpec(source="x"), name=name)
        store.update(record.id, status=status, finished=finished)
        ids[name] = record.id
    for name, age in (("a" * 64, WORKER_KEEP + 60), ("b" * 64, 60)):
        (store.home / "bundles" / name / "inputs").mkdir(parents=True)
        (store.home / "bundles" / name / ".complete").touch()
        os.utime(store.home / "bundles" / name / ".complete", (now - age, now - age))
    assert prune_worker_store(store, now) == [ids["old"], "a" * 64]
    assert sorted(p.name for p in store.runs_dir.iterdir()) == sorted([ids["young"], ids["going"]])
    assert [p.name for p in (store.home / "bundles").iterdir()] == ["b" * 64]


def _relays(home: Path) -> int:
    """How many runs of ``home`` have a live relay process (a relay's child between its fork
    and its exec shows the same command line: runs are counted, not processes)."""
    runs = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"jupyter_pyrunner.daskrelay" in cmdline and str(home).encode() in cmdline:
            runs.add(cmdline[cmdline.index(str(home).encode()) + 1])
    return len(runs)


def test_a_sweep_on_dask_hands_over_at_most_parallel_runs_at_once(
    cluster: Cluster, home: Path, project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run handed to the cluster is followed by a relay process here: a sweep of many
    must not start them all at once."""
    from jupyter_pyrunner import run_sweep

    from .test_sweeps import RECORDER

    cluster.add_worker("shared", tmp_path / "worker-home", nthreads=4)
    monkeypatch.setenv("SLEEP", "0.6")
    handle = run_sweep(
        project({"main.py": RECORDER}), {"a": ["1", "3", "4"], "b": ["x", "z"]},
        parallel=2, executor=DaskExecutor(cluster.address), requirements=[],
    )  # fmt: skip
    most = 0
    deadline = time.monotonic() + 120
    while not handle.done:
        assert time.monotonic() < deadline, "the sweep did not end"
        now = _relays(home)
        most = max(most, now)
        time.sleep(0.02)
    records = handle.wait(timeout=10)
    assert [r.status for r in records if r] == [RunStatus.SUCCEEDED] * 6
    assert {r.executor for r in records if r} == {"dask"}
    assert 1 <= most <= 2, f"{most} relays at once with parallel=2"
    spans = [(s["start"], s["end"]) for s in (
        __import__("json").loads((run.outputs_dir / "seen.json").read_text()) for run in handle.runs
    )]  # fmt: skip
    assert max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans) <= 2


def test_the_scheduler_keeps_nothing_of_a_run_that_has_ended(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    """The log travels through the scheduler as events: once the run is over, its topics (and
    the bytes in their last 1000 events), its dataset and its attempt note go."""
    from distributed import Client

    from jupyter_pyrunner.daskworker import attempt_name, log_topic, state_topic

    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    chatty = "import sys\nfor i in range(2000):\n    print('x' * 500, flush=True)\n"
    handle = start_run(project({"main.py": chatty}), home=home,
                       executor=DaskExecutor(cluster.address), requirements=[])  # fmt: skip
    record = handle.wait(timeout=90)
    assert record.status is RunStatus.SUCCEEDED
    assert handle.log_text().count("x" * 500) == 2000

    def topics(dask_scheduler=None):  # type: ignore[no-untyped-def]
        return sorted(dask_scheduler._broker._topics)

    wait_until(lambda: not relay_alive(handle.store, record.id), what="the relay's end")
    with Client(cluster.address, timeout=10) as client:
        held = client.run_on_scheduler(topics)
        assert log_topic(record.id) not in held and state_topic(record.id) not in held
        assert client.list_datasets() == ()
        assert client.get_metadata(attempt_name(record.id), None) is None


def test_outputs_too_big_for_the_scheduler_without_an_outputs_url_stay_on_the_worker(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    """Without an outputs URL, outputs over the limit are not pushed through the scheduler
    (nor held whole in memory): the run says so, and the worker keeps them."""
    worker_home = tmp_path / "worker-home"
    cluster.add_worker("isolated", worker_home, hide=home)
    writer = (
        "import os\nopen(os.environ['OUTPUT_FOLDER'] + '/big.bin', 'wb').write(os.urandom(4096))\n"
    )
    executor = DaskExecutor(cluster.address, outputs_limit=1024)
    handle = start_run(project({"main.py": writer}), home=home, executor=executor, requirements=[])
    record = handle.wait(timeout=90)
    assert record.status is RunStatus.SUCCEEDED
    (warning,) = record.warnings
    assert warning.startswith("the outputs (0 MB zipped) were too big to come back through")
    assert "give the executor an outputs_url" in warning
    assert not (handle.outputs_dir / "big.bin").exists()
    kept = worker_home / "runs" / record.id / "outputs" / "big.bin"
    assert kept.stat().st_size == 4096


#: lists what the program sees of its project: names (as bytes), links, folders, modes
LISTER = """
import os
for folder, dirs, files in sorted(os.walk(b".")):
    for name in sorted(dirs + files):
        path = os.path.join(folder, name)
        kind = "link" if os.path.islink(path) else "dir" if os.path.isdir(path) else oct(os.stat(path).st_mode & 0o111)
        print(repr(path), kind)
"""


def test_a_worker_that_cannot_see_the_store_gets_the_project_as_a_local_run_does(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    """Names that are not UTF-8, a link inside the project, an empty folder, an executable
    bit: the worker's copy of the project is the one a local run sees."""
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    source = project({"main.py": LISTER, "conf/a.cfg": "a", "tool.sh": "#!/bin/sh\n"})
    (source / os.fsdecode(b"\xff\xfe.txt")).write_bytes(b"x")
    os.symlink("conf/a.cfg", source / "current.cfg")
    (source / "data" / "empty").mkdir(parents=True)
    os.chmod(source / "tool.sh", 0o755)
    seen = []
    for executor in (None, DaskExecutor(cluster.address)):
        handle = start_run(source, home=home, executor=executor, requirements=[])
        record = handle.wait(timeout=90)
        assert record.status is RunStatus.SUCCEEDED, (record.message, handle.log_text())
        seen.append([line for line in handle.log_text().splitlines() if line.startswith("b'")])
    local, remote = seen
    assert "b'./current.cfg' link" in local and "b'./data/empty' dir" in local
    assert "b'./\\xff\\xfe.txt' 0o0" in local and "b'./tool.sh' 0o111" in local
    assert remote == local


@pytest.mark.parametrize("shared", [False, True], ids=["isolated", "shared"])
def test_inputs_too_big_to_ship_fail_on_a_worker_that_cannot_see_them_only(
    cluster: Cluster, home: Path, project, tmp_path: Path, shared: bool
) -> None:
    from jupyter_pyrunner.daskbundle import MAX_BUNDLE

    cluster.add_worker("w", tmp_path / "worker-home", hide=None if shared else home)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: big to ship, nothing on the disk
        f.truncate(MAX_BUNDLE + 1)
    source = project({"main.py": "print('ran')\n"})
    handle = start_run(source, home=home, executor=DaskExecutor(cluster.address),
                       requirements=[], inputs=[str(big)])  # fmt: skip
    record = handle.wait(timeout=90)
    if shared:
        assert record.status is RunStatus.SUCCEEDED, record.message
    else:
        assert record.status is RunStatus.FAILED
        assert record.message is not None and record.message.startswith(
            "the project and its inputs take 537 MB, more than the 537 MB shipped to a Dask "
            "worker that cannot see them"
        )
        assert "ran" not in handle.log_text()
