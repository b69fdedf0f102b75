"""Runs on a Dask cluster: throughput with one and two workers, the Dask path's cost per run
beside the local path, and how long a printed line takes from the worker to a browser's
WebSocket.

Real processes: a ``dask scheduler`` and ``dask worker`` processes (one thread each, like one
run slot), a ``jupyter server`` configured with the Dask executor. The workers do not see the
client's run store (each runs in a mount namespace of its own with an empty tmpfs over it, as
root), so projects are shipped and logs streamed back, as on Kubernetes or cloud workers.

    .venv/bin/python benchmarks/bench_dask.py [--runs 20] [--repeat 6] [--json PATH]

Target: 2 workers give at least 1.8x the throughput of 1 worker on 20 runs of 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT
from bench_server import Server, line_delays, pct

sys.path.insert(0, str(ROOT))

from tests.daskcluster import Cluster  # (the tests' real-process cluster)

SECOND = "import time\ntime.sleep(1)\n"
HELLO = "print('hello')\n"
TICKER = """
import time
time.sleep(1.0)
for i in range(200):
    print(f"{time.time():.6f}", flush=True)
    time.sleep(0.02)
"""


def _project(root: Path, name: str, main: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(main)
    (folder / "requirements.txt").write_text("")
    return folder


def _batch(source: Path, home: Path, address: str, count: int) -> tuple[float, float]:
    """``count`` runs submitted at once: seconds from the first submission to the last end,
    and the cluster's own span (first start on a worker to last end there)."""
    from jupyter_pyrunner import DaskExecutor, RunStatus, start_run

    executor = DaskExecutor(address)
    started = time.monotonic()
    handles = [start_run(source, home=home, executor=executor) for _ in range(count)]
    records = [handle.wait(timeout=600) for handle in handles]
    wall = time.monotonic() - started
    if not all(r.status is RunStatus.SUCCEEDED for r in records):
        raise SystemExit(f"a run failed: {[r.message for r in records]}")
    span = max(r.finished or 0 for r in records) - min(r.started or 0 for r in records)
    return wall, span


def bench_throughput(work: Path, runs: int) -> dict[str, Any]:
    cluster = Cluster(work / "cluster")
    try:
        home = work / "home"
        source = _project(work, "second", SECOND)
        cluster.add_worker("one", work / "one", hide=home, nthreads=1)
        _batch(source, home, cluster.address, 1)  # the worker's environment, built once
        one = _batch(source, home, cluster.address, runs)
        cluster.add_worker("two", work / "two", hide=home, nthreads=1)
        _batch(source, home, cluster.address, 2)  # the second worker's environment too
        two = _batch(source, home, cluster.address, runs)
    finally:
        cluster.stop()
    return {
        "runs": runs,
        "one_worker": {"wall": one[0], "span": one[1]},
        "two_workers": {"wall": two[0], "span": two[1]},
        "speedup_span": one[1] / two[1],
        "speedup_wall": one[0] / two[0],
    }


def bench_overhead(work: Path, repeat: int) -> dict[str, Any]:
    """A hello run, local and on a worker that does not see the store, interleaved."""
    from jupyter_pyrunner import DaskExecutor, RunStatus, start_run

    cluster = Cluster(work / "cluster-overhead")
    try:
        home = work / "home-overhead"
        hello = _project(work, "hello", HELLO)
        cluster.add_worker("isolated", work / "isolated", hide=home, nthreads=1)
        dask = DaskExecutor(cluster.address)
        seconds: dict[str, list[float]] = {"local": [], "dask": []}
        for _ in range(repeat + 1):  # the first round builds the environments
            for name, executor in (("local", None), ("dask", dask)):
                started = time.monotonic()
                handle = start_run(hello, home=home, executor=executor)
                if handle.wait(timeout=120).status is not RunStatus.SUCCEEDED:
                    raise SystemExit(f"the {name} run failed: {handle.log_text()}")
                seconds[name].append(time.monotonic() - started)
    finally:
        cluster.stop()
    local = statistics.median(seconds["local"][1:])
    remote = statistics.median(seconds["dask"][1:])
    return {"local_s": local, "dask_s": remote, "added_s": remote - local}


def bench_latency(work: Path) -> dict[str, Any]:
    """Printed on the worker → received by a WebSocket client of a server using Dask."""
    cluster = Cluster(work / "cluster-latency")
    try:
        server_work = work / "server"
        cluster.add_worker("isolated", work / "isolated-latency", hide=server_work / "home")
        server = Server(
            server_work,
            "--PyRunnerApp.executor_class=jupyter_pyrunner.server.daskconfig.DaskExecutor",
            f"--DaskExecutor.scheduler_address={cluster.address}",
        )
        try:
            _project(server.root, "ticker", TICKER)
            run = server.run({"path": "ticker"})
            delays = line_delays(server, run["id"])
            record = server.wait(run["id"])
        finally:
            server.stop()
    finally:
        cluster.stop()
    ms = [d * 1000 for d in delays]
    return {
        "lines": len(ms),
        "status": record["status"],
        "worker": record.get("worker"),
        "p50_ms": statistics.median(ms),
        "p95_ms": pct(ms, 0.95),
        "max_ms": max(ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of 1 s for the throughput")
    parser.add_argument("--repeat", type=int, default=6, help="hello runs per path")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        work = Path(tmp)
        print(f"throughput: {args.runs} runs of 1 s ...", file=sys.stderr)
        throughput = bench_throughput(work / "throughput", args.runs)
        print("overhead: hello runs, local and on a worker ...", file=sys.stderr)
        overhead = bench_overhead(work / "overhead", args.repeat)
        print("latency: printed on a worker -> WebSocket ...", file=sys.stderr)
        latency = bench_latency(work / "latency")
    one, two = throughput["one_worker"], throughput["two_workers"]
    print(f"\n### Dask: {args.runs} runs of 1 s\n")
    print("| workers | wall (s) | cluster span (s) |\n|---|---:|---:|")
    print(f"| 1 | {one['wall']:.1f} | {one['span']:.1f} |")
    print(f"| 2 | {two['wall']:.1f} | {two['span']:.1f} |")
    speedup = throughput["speedup_span"]
    print(
        f"\nthroughput, 2 workers / 1: {speedup:.2f}x on the cluster's span "
        f"({throughput['speedup_wall']:.2f}x wall); target >= 1.8x: "
        f"{'met' if speedup >= 1.8 else 'NOT met'}"
    )
    print(
        f"hello run: local {overhead['local_s']:.2f} s, Dask {overhead['dask_s']:.2f} s "
        f"(+{overhead['added_s']:.2f} s per run)"
    )
    print(
        f"log line, worker -> WebSocket client ({latency['lines']} lines): "
        f"p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms, "
        f"max {latency['max_ms']:.0f} ms"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"throughput": throughput, "overhead": overhead, "latency": latency}, indent=1
            )
        )


if __name__ == "__main__":
    main()
