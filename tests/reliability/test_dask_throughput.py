"""How the Dask path scales and what it costs, on a real scheduler and real workers.

- 20 runs of 1 s each: two workers (one run at a time each) finish them at least 1.8 times
  as fast as one worker.
- The per-run overhead of the Dask path beside the local path (a hello project, medians).
- How long a line takes from the program on the worker to the local log (p95).

Long: ``make stress`` runs them. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.daskexec import DaskExecutor
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.sdk import start_run

from ..daskcluster import Cluster

pytest.importorskip("distributed")
pytestmark = pytest.mark.stress

SECOND = {"main.py": "import time\ntime.sleep(1)\n"}
HELLO = {"main.py": "print('hello')\n"}
TICKS = {
    "main.py": """
        import time
        for i in range(100):
            print(f"tick {i} {time.time():.6f}", flush=True)
            time.sleep(0.02)
    """
}


def _batch(source: Path, home: Path, address: str, count: int) -> tuple[float, float]:
    """``count`` runs submitted at once: the seconds from submitting the first to the end of
    the last, and the cluster's own span (from the first run's start on a worker to the last
    one's end: on this machine the relays' start-up competes with the workers for its two
    cores, which a cluster's workers on other machines do not)."""
    executor = DaskExecutor(address)
    started = time.monotonic()
    handles = [
        start_run(source, home=home, executor=executor, requirements=[]) for _ in range(count)
    ]
    records = [handle.wait(timeout=300) for handle in handles]
    wall = time.monotonic() - started
    assert all(r.status is RunStatus.SUCCEEDED for r in records)
    span = max(r.finished or 0 for r in records) - min(r.started or 0 for r in records)
    return wall, span


def test_two_workers_finish_twenty_runs_at_least_1_8_times_as_fast_as_one(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    source = project(SECOND)
    cluster.add_worker("one", tmp_path / "one", nthreads=1)
    _batch(source, home, cluster.address, 1)  # the environment, built once beforehand
    one, one_span = _batch(source, home, cluster.address, 20)
    cluster.add_worker("two", tmp_path / "two", nthreads=1)
    two, two_span = _batch(source, home, cluster.address, 20)
    print(
        f"\n20 runs of 1 s: 1 worker {one:.1f} s (cluster span {one_span:.1f} s), "
        f"2 workers {two:.1f} s (span {two_span:.1f} s): {one_span / two_span:.2f}x "
        f"({one / two:.2f}x with the relays' start)"
    )
    assert one_span / two_span >= 1.8


def test_the_overhead_of_the_dask_path_and_the_latency_of_a_log_line(
    cluster: Cluster, home: Path, project, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    hello = project(HELLO)
    dask = DaskExecutor(cluster.address)
    timings: dict[str, list[float]] = {"local": [], "dask": []}
    for _ in range(6):
        for name, executor in (("local", None), ("dask", dask)):
            started = time.monotonic()
            handle = start_run(hello, home=home, executor=executor, requirements=[])
            assert handle.wait(timeout=60).status is RunStatus.SUCCEEDED
            timings[name].append(time.monotonic() - started)
    local, remote = (statistics.median(timings[k][1:]) for k in ("local", "dask"))
    handle = start_run(project(TICKS), home=home, executor=dask, requirements=[])
    seen: dict[int, float] = {}
    log = handle.run_dir / "log.txt"
    while len(seen) < 100:
        now = time.time()
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("tick "):
                _, index, printed = line.split()
                seen.setdefault(int(index), now - float(printed))
        assert not handle.status.is_terminal or len(seen) == 100 or log.stat().st_size
        time.sleep(0.005)
    handle.wait(timeout=60)
    latencies = sorted(seen.values())
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    print(
        f"\nhello run: local {local:.2f} s, dask {remote:.2f} s (+{remote - local:.2f} s); "
        f"log line worker -> local log: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms"
    )
    assert p95 < 1.0
