"""Load: runs at once with live followers, and many runs one after the other, against a real
``jupyter server`` process. What must hold: every run ends truthfully, every follower gets the
whole log once, no process of a run is left, the server keeps answering, and its file
descriptors, threads and memory do not grow with the number of runs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import marker_processes, write_project
from ..server.test_e2e import Server, follow, stdout_of

LINES = 200
CHATTY = f"""
import time
for i in range({LINES}):
    print(f"line {{i}}", flush=True)
    time.sleep(0.005)
"""
EXPECTED = "".join(f"line {i}\n" for i in range(LINES))


@pytest.fixture
def server(tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    root = tmp_path / "root"
    root.mkdir()
    write_project(root / "chatty", {"main.py": CHATTY, "requirements.txt": ""})
    write_project(root / "hello", {"main.py": "print('hello')\n", "requirements.txt": ""})
    srv = Server(root, tmp_path / "home", tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


def _submit(server: Server, path: str) -> str:
    code, run = server.request("POST", "/pyrunner/api/runs", json.dumps({"path": path}).encode())
    assert code == 201, run
    return str(run["id"])


def _process_figures(pid: int) -> dict[str, int]:
    """The server's open descriptors, threads and resident memory (KiB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "threads": int(fields["Threads"]),
        "rss_kib": int(fields["VmRSS"].split()[0]),
    }


async def _follow_all(server: Server, run_ids: list[str]) -> list[str]:
    results = await asyncio.gather(*(follow(server, run_id, 0) for run_id in run_ids))
    ends = [messages[-1] for messages, _ in results]
    assert all(m["type"] == "end" for m in ends), ends
    return [stdout_of(messages) for messages, _ in results]


def test_runs_at_once_with_live_followers_all_end_whole(server: Server) -> None:
    """Eight runs submitted together, each followed over a WebSocket from its first byte while
    the run list is read over and over: every follower gets its run's whole log exactly once."""
    run_ids = [_submit(server, "chatty") for _ in range(8)]
    latencies: list[float] = []

    async def list_meanwhile(done: asyncio.Event) -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            code, _ = await asyncio.to_thread(server.request, "GET", "/pyrunner/api/runs?limit=50")
            assert code == 200
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)

    async def scenario() -> list[str]:
        done = asyncio.Event()
        lister = asyncio.create_task(list_meanwhile(done))
        try:
            return await _follow_all(server, run_ids)
        finally:
            done.set()
            await lister

    texts = asyncio.run(scenario())
    assert texts == [EXPECTED] * len(run_ids)
    for run_id in run_ids:
        code, record = server.request("GET", f"/pyrunner/api/runs/{run_id}")
        assert code == 200 and record["status"] == "succeeded", record
        assert marker_processes(run_id) == []
    assert latencies and max(latencies) < 5.0, latencies


def _sequential_runs(server: Server, count: int) -> None:
    for _ in range(count):
        run_id = _submit(server, "hello")
        messages, _ = asyncio.run(follow(server, run_id, 0))
        assert stdout_of(messages) == "hello\n"
        assert messages[-1]["status"] == "succeeded", messages[-1]


def _stays_flat(server: Server, warm: int, count: int) -> tuple[dict[str, int], dict[str, int]]:
    assert server.proc is not None
    _sequential_runs(server, warm)  # caches, pools and the first run's imports
    before = _process_figures(server.proc.pid)
    _sequential_runs(server, count)
    after = _process_figures(server.proc.pid)
    assert after["fds"] - before["fds"] <= 2, (before, after)
    assert after["threads"] - before["threads"] <= 2, (before, after)
    assert after["rss_kib"] - before["rss_kib"] < 24 * 1024, (before, after)
    return before, after


def test_sequential_runs_leave_the_server_flat(server: Server) -> None:
    """25 runs, each submitted, followed to its end and read: no descriptor, thread or memory
    growth in the server (the long version runs 100: ``make stress``)."""
    _stays_flat(server, warm=5, count=25)


@pytest.mark.stress
def test_a_hundred_sequential_runs_leave_the_server_flat(server: Server) -> None:
    before, after = _stays_flat(server, warm=10, count=100)
    print(f"server before {before}, after 100 runs {after}")
