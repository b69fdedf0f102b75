"""Faults of a run on a real Dask cluster: a worker killed mid-run, the relay killed mid-run.

- A worker killed (SIGKILL) while its program runs: the run ends ``failed`` naming that
  worker, its log so far is kept, no program of it is left on the worker's machine (this
  machine: found by the run's marker), and the scheduler's rescheduling of the task on
  another worker does not run the program a second time.
- The relay (the run's local owner) killed (SIGKILL) while the program prints: a new relay
  re-attaches to the task on the cluster and the log goes on from its last offset, every byte
  once.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.daskexec import DaskExecutor, reattach, reattach_all, relay_alive
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.sdk import start_run

from ..conftest import marker_processes, run_cli
from ..daskcluster import Cluster

pytest.importorskip("distributed")
if os.geteuid() != 0:
    pytestmark = pytest.mark.skip(reason="needs root for unshare --mount")

SLEEPER = {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(120)\n"}
COUNTER = {
    "main.py": """
        import sys, time
        for i in range(int(sys.argv[1])):
            print(f"line {i:05d}", flush=True)
            time.sleep(0.005)
    """
}


def wait_until(check, timeout: float = 30, what: str = "the condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.05)


@pytest.mark.parametrize("shared", [False, True], ids=["isolated", "shared"])
def test_a_worker_killed_mid_run_fails_the_run_naming_it_and_it_is_not_run_again(
    cluster: Cluster, home: Path, project, tmp_path: Path, shared: bool
) -> None:
    first = cluster.add_worker("first", tmp_path / "first", hide=None if shared else home)
    source = project(SLEEPER)
    handle = start_run(source, home=home, executor=DaskExecutor(cluster.address), requirements=[])
    wait_until(lambda: "up" in handle.log_text(), timeout=60, what="the program's start")
    address = handle.record.worker
    assert address is not None
    assert marker_processes(handle.id)
    # a second worker, where the scheduler puts the task of the lost one
    second_home = tmp_path / "second"
    cluster.add_worker("second", second_home, hide=None if shared else home)
    first.send_signal(signal.SIGKILL)
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.FAILED
    assert address in (record.message or ""), record.message
    assert "up" in handle.log_text()  # the log up to then is kept
    wait_until(lambda: not marker_processes(handle.id), timeout=10, what="no program left")
    # the scheduler gave the task to the second worker, which refused to start it again
    wait_until(
        lambda: "the run is not started again" in cluster.log("worker-second"),
        timeout=10,
        what="the refusal on the second worker",
    )
    assert not (second_home / "runs" / handle.id).exists()
    assert handle.log_text().count("\nup\n") == 1
    assert not marker_processes(handle.id)


def test_a_new_relay_reattaches_and_the_log_continues_from_its_last_offset(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    worker_home = tmp_path / "worker-home"
    cluster.add_worker("isolated", worker_home, hide=home)
    lines = 600
    source = project(COUNTER)
    handle = start_run(
        source,
        home=home,
        executor=DaskExecutor(cluster.address),
        requirements=[],
        args=[str(lines)],
    )
    wait_until(lambda: "line 00050" in handle.log_text(), timeout=60, what="the first lines")
    relay = handle.record.supervisor
    assert relay is not None
    os.kill(int(relay["pid"]), signal.SIGKILL)
    kept = handle.log_text()
    time.sleep(1.0)  # the program goes on printing while nobody relays
    assert handle.log_text() == kept
    assert reattach_all(handle.store) == [handle.id]  # what a restarted server calls
    assert not reattach(handle.store, handle.id)  # a relay owns it again
    record = handle.wait(timeout=60)
    assert record.status is RunStatus.SUCCEEDED, (record.message, handle.log_text()[-500:])
    text = handle.log_text()
    assert [text.count(f"line {i:05d}\n") for i in range(lines)] == [1] * lines


@pytest.mark.parametrize("looker", ["handle", "cli"])
def test_a_run_whose_relay_died_reads_as_going_on_and_whoever_looks_follows_it_again(
    cluster: Cluster, home: Path, project, tmp_path: Path, looker: str
) -> None:
    """Between the relay's death and a new relay, readers must not see the run ``failed``
    (a follower would take that for its end); a handle waiting on it re-attaches by itself."""
    from jupyter_pyrunner.handle import RunHandle
    from jupyter_pyrunner.liveness import RELAY_GONE, reconcile_all
    from jupyter_pyrunner.store import RunStore

    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    lines = 400
    handle = start_run(
        project(COUNTER), home=home, executor=DaskExecutor(cluster.address), requirements=[],
        args=[str(lines)],
    )  # fmt: skip
    wait_until(lambda: "line 00050" in handle.log_text(), timeout=60, what="the first lines")
    relay = handle.store.read(handle.id).supervisor
    assert relay is not None
    os.kill(int(relay["pid"]), signal.SIGKILL)
    time.sleep(0.3)
    store = RunStore(home)
    seen = store.get(handle.id)
    assert (seen.status, seen.message) == (RunStatus.RUNNING, RELAY_GONE)
    assert reconcile_all(store) == []  # not an orphan: its task goes on on the cluster
    if looker == "cli":  # pyrunner show starts a new relay, and shows the run as it stands
        shown = run_cli("show", handle.id)
        assert "status:       running\n" in shown.stdout, shown.stderr
        assert relay_alive(store, handle.id)
        record = handle.wait(timeout=90)
    else:
        record = RunHandle(store, handle.id).wait(timeout=90)  # a new handle: a new kernel's
    assert record.status is RunStatus.SUCCEEDED, (record.message, handle.log_text()[-300:])
    text = handle.log_text()
    assert [text.count(f"line {i:05d}\n") for i in range(lines)] == [1] * lines


@pytest.mark.parametrize("shared", [False, True], ids=["isolated", "shared"])
def test_a_worker_shutting_down_stops_its_program_at_once(
    cluster: Cluster, home: Path, project, tmp_path: Path, shared: bool
) -> None:
    """SIGTERM to a worker (a Kubernetes scale-down, the end of a Slurm job): the run ends
    ``failed`` and its program is stopped then, not when the worker process finally exits."""
    worker = cluster.add_worker("going", tmp_path / "going", hide=None if shared else home)
    handle = start_run(
        project(SLEEPER), home=home, executor=DaskExecutor(cluster.address), requirements=[]
    )
    wait_until(lambda: "up" in handle.log_text(), timeout=60, what="the program's start")
    os.killpg(worker.pid, signal.SIGTERM)
    record = handle.wait(timeout=30)
    assert record.status is RunStatus.FAILED, record.message
    wait_until(lambda: not marker_processes(handle.id), timeout=5, what="the program's stop")
    assert handle.record.status is RunStatus.FAILED  # an ending is never written over


def test_a_lost_scheduler_ends_the_run_saying_so_and_the_worker_stops_the_program(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("alone", tmp_path / "alone", hide=home)
    handle = start_run(
        project(SLEEPER), home=home, executor=DaskExecutor(cluster.address), requirements=[]
    )
    wait_until(lambda: "up" in handle.log_text(), timeout=60, what="the program's start")
    os.killpg(cluster.scheduler.pid, signal.SIGKILL)
    record = handle.wait(timeout=60)
    assert record.status is RunStatus.FAILED
    assert record.message == (
        f"the Dask scheduler ({cluster.address}) was lost; the worker stops the run, and its "
        "log up to then is kept"
    )
    wait_until(lambda: not marker_processes(handle.id), timeout=30, what="the program's stop")
    wait_until(lambda: not relay_alive(handle.store, handle.id), timeout=30, what="the relay's end")


def _relay_that_dies_as_it_publishes(home: str, run_id: str, address: str) -> None:
    """A relay (in a child process) that dies right after submitting the task, before it could
    publish it: the moment a SIGKILL would be the worst."""
    import distributed

    from jupyter_pyrunner.daskrelay import Relay
    from jupyter_pyrunner.store import RunStore

    def die(*_args: object, **_kwargs: object) -> None:
        time.sleep(0.5)  # the task reaches the worker, whose program starts
        os._exit(9)

    distributed.Client.publish_dataset = die  # type: ignore[method-assign]
    Relay(RunStore(home), run_id, address).run()


def test_a_relay_dying_as_it_sends_the_task_leaves_no_program_going(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    import multiprocessing

    from jupyter_pyrunner.daskrelay import UNFOLLOWED
    from jupyter_pyrunner.intake import prepare_run
    from jupyter_pyrunner.models import RunSpec
    from jupyter_pyrunner.store import RunStore

    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    ticker = (
        "import time\nfor i in range(300):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"
    )
    store = RunStore(home)
    record = prepare_run(store, RunSpec(source=str(project({"main.py": ticker})), requirements=[]))
    store.update(record.id, executor="dask")
    relay = multiprocessing.get_context("spawn").Process(
        target=_relay_that_dies_as_it_publishes, args=(str(home), record.id, cluster.address)
    )
    relay.start()
    relay.join(60)
    assert relay.exitcode == 9
    wait_until(lambda: marker_processes(record.id), timeout=30, what="the program's start")
    assert reattach_all(store) == [record.id]
    ended = RunStore(home).get(record.id)
    deadline = time.monotonic() + 60
    while not ended.status.is_terminal:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.1)
        ended = store.get(record.id)
    assert (ended.status, ended.message) == (RunStatus.FAILED, UNFOLLOWED)
    wait_until(lambda: not marker_processes(record.id), timeout=10, what="the program's stop")
