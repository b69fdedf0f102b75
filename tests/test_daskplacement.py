"""A run's CPUs, memory and worker resources, as restrictions of its task on a real cluster.

The workers here share this machine's filesystem (the placement does not depend on it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.daskexec import DaskExecutor
from jupyter_pyrunner.daskplacement import PlacementError, place
from jupyter_pyrunner.models import RunSpec, RunStatus
from jupyter_pyrunner.sdk import start_run

from .daskcluster import Cluster

pytest.importorskip("distributed")

#: prints the thread count numerical libraries were given, and when it started and ended
SHOW = {
    "main.py": """
        import json, os, sys, time
        start = time.time()
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
        print(json.dumps({"omp": os.environ.get("OMP_NUM_THREADS"), "t": [start, time.time()]}))
    """,
}


def shown(text: str) -> dict[str, object]:
    return dict(json.loads(next(line for line in text.splitlines() if line.startswith("{"))))


def worker_names(address: str) -> dict[str, str]:
    """The cluster's workers: address -> name."""
    from distributed import Client

    with Client(address, timeout=10) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    return {a: str(info["name"]) for a, info in workers.items()}


def test_cpus_and_memory_go_to_a_worker_big_enough_or_the_run_fails_at_once(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("small", tmp_path / "w", nthreads=1, memory_limit="300MB")
    cluster.add_worker("big", tmp_path / "w", nthreads=2, memory_limit="2GB")
    names = worker_names(cluster.address)
    source = project(SHOW)
    executor = DaskExecutor(cluster.address)
    for options in ({"cpus": 2}, {"memory_mb": 1000}):
        for _ in range(3):  # left free, the scheduler puts some on the small worker
            handle = start_run(source, home=home, executor=executor, requirements=[], **options)
            record = handle.wait(timeout=90)
            assert record.status is RunStatus.SUCCEEDED, record.message
            assert names[str(record.worker)] == "big", options
        expected = "2" if "cpus" in options else None
        assert shown(handle.log_text())["omp"] == expected
    refused = start_run(source, home=home, executor=executor, requirements=[], cpus=8)
    record = refused.wait(timeout=60)
    assert record.status is RunStatus.FAILED
    assert record.message == (
        "no worker of the Dask cluster has 8 threads (the largest has 2 threads, 1907 MB); "
        "start bigger workers, or declare CPU and MEMORY as worker resources"
    )
    assert record.worker is None and refused.log_text() == f"pyrunner: {record.message}\n"


def test_cpus_declared_by_the_workers_are_counted_so_runs_needing_all_do_not_overlap(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("counted", tmp_path / "w", nthreads=4, resources="CPU=2")
    source = project(SHOW)
    executor = DaskExecutor(cluster.address)
    handles = [
        start_run(source, home=home, executor=executor, requirements=[], args=["1.5"], cpus=2)
        for _ in range(2)
    ]
    spans = []
    for handle in handles:
        record = handle.wait(timeout=90)
        assert record.status is RunStatus.SUCCEEDED, record.message
        spans.append(shown(handle.log_text())["t"])
    first, second = sorted(spans)  # type: ignore[type-var]
    assert second[0] >= first[1]  # the worker's 4 threads would have run both at once


def test_a_resource_no_worker_offers_yet_waits_saying_so_until_one_joins(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("plain", tmp_path / "w")
    handle = start_run(
        project(SHOW), home=home, executor=DaskExecutor(cluster.address), requirements=[],
        resources={"GPU": 1},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not handle.record.message:
        assert time.monotonic() < deadline, "the run never said what it waits for"
        time.sleep(0.1)
    assert handle.record.message == (
        "waiting for a Dask worker with GPU=1: none of the cluster's 1 worker has it"
    )
    assert handle.record.status is RunStatus.PREPARING
    cluster.add_worker("gpu", tmp_path / "w", resources="GPU=1")
    record = handle.wait(timeout=90)
    assert record.status is RunStatus.SUCCEEDED
    assert worker_names(cluster.address)[str(record.worker)] == "gpu"
    assert record.message is None


# -- the placement itself, from what a scheduler says of its workers --------------------------
WORKERS = {
    "tcp://a:1": {"nthreads": 1, "memory_limit": 1 << 30, "resources": {}},
    "tcp://b:1": {"nthreads": 8, "memory_limit": 0, "resources": {"GPU": 1}},
}


def test_the_runs_resources_add_to_the_executors_and_win_over_them() -> None:
    spec = RunSpec(source="x", resources={"GPU": 1, "licence": 2})
    placed = place(spec, {"GPU": 2, "scratch": 1}, WORKERS)
    assert placed.resources == {"GPU": 1, "scratch": 1, "licence": 2}
    assert placed.workers is None
    assert placed.waiting == (
        "waiting for a Dask worker with GPU=1, scratch=1, licence=2: none of the cluster's "
        "2 workers has it"
    )


def test_a_worker_without_a_memory_limit_fits_any_memory() -> None:
    placed = place(RunSpec(source="x", memory_mb=4096, cpus=2), None, WORKERS)
    assert placed.workers == ["tcp://b:1"] and placed.resources is None
    assert placed.waiting is None


def test_an_empty_cluster_cannot_take_a_run_that_needs_cpus() -> None:
    with pytest.raises(PlacementError, match="the Dask cluster has no workers to run it"):
        place(RunSpec(source="x", cpus=1), None, {})
    assert place(RunSpec(source="x"), None, {}).waiting is None  # may wait for workers
