"""Crashes of the processes that own runs: each run still reads truthfully, keeps its log and
leaves no process behind.

- A supervisor killed (SIGKILL) mid-run: the run reads ``failed`` with the reason, its log so
  far is kept, its program is gone, and the server's housekeeping writes the ending down.
- A server killed (SIGKILL) with one run running and one queued, then started again: the
  running one goes on (its supervisor does not belong to the server) and ends as its program
  did; the queued one never started, says so while the server is away, and is started by the
  server when it comes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_pyrunner import RunStatus, RunStore

from ..conftest import marker_processes, write_project
from ..server import conftest as _server
from ..server.test_e2e import Server

# the server fixtures (a real Jupyter server with the extension, on a store of the test's own)
api = _server.api
contents = _server.contents
jp_server_config = _server.jp_server_config
pyrunner_config = _server.pyrunner_config

STEADY = {
    "main.py": """
        import itertools, time
        for i in itertools.count():
            print(f"line {i}", flush=True)
            time.sleep(0.02)
    """,
    "requirements.txt": "",
}


async def test_a_supervisor_killed_mid_run_reads_failed_keeps_its_log_and_leaves_nothing(
    api, contents, home: Path
) -> None:
    contents("steady", STEADY)
    run = await api.json("POST", "runs", body={"path": "steady"})
    deadline = asyncio.get_running_loop().time() + 90
    while "line 50\n" not in (await api.json("GET", "runs", run["id"], "log"))["text"]:
        assert asyncio.get_running_loop().time() < deadline, "the program never got going"
        await asyncio.sleep(0.1)
    supervisor = (await api.json("GET", "runs", run["id"]))["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)

    ended = await api.wait(run["id"], timeout=30)
    assert ended["status"] == "failed"
    assert f"(pid {supervisor}) stopped unexpectedly" in ended["message"]
    assert ended["exit_code"] is None  # nothing is made up
    log = await api.json("GET", "runs", run["id"], "log", params={"max_bytes": 1 << 24})
    numbers = [int(line.split()[1]) for line in log["text"].splitlines() if line.startswith("line")]
    assert numbers == list(range(len(numbers))) and len(numbers) > 50  # every line, in order
    deadline = time.monotonic() + 15
    while marker_processes(run["id"]):
        assert time.monotonic() < deadline, marker_processes(run["id"])
        await asyncio.sleep(0.1)
    stored = home / "runs" / run["id"] / "run.json"
    while json.loads(stored.read_text())["status"] != "failed":  # the housekeeping wrote it
        assert time.monotonic() < deadline, "the ending was never written down"
        await asyncio.sleep(0.2)
    print(f"supervisor SIGKILL after {len(numbers)} lines: all kept, run failed, 0 processes left")


@pytest.fixture
def one_at_a_time(tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Jupyter config folder that lets the server start one run at a time."""
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"PyRunnerApp": {"max_concurrent_runs": 1}})
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    return config


def _wait(server: Server, run_id: str, until: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, record = server.request("GET", f"/pyrunner/api/runs/{run_id}")
        assert code == 200, record
        if until(record):
            return record  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, record
        time.sleep(0.1)


def _log(server: Server, run_id: str) -> str:
    code, log = server.request("GET", f"/pyrunner/api/runs/{run_id}/log?max_bytes=1048576")
    assert code == 200, log
    return str(log["text"])


def test_a_server_killed_with_a_run_running_and_one_queued_comes_back_truthful(
    tmp_path: Path, one_at_a_time: Path
) -> None:
    root, home, trigger = tmp_path / "root", tmp_path / "home", tmp_path / "go"
    write_project(root / "first", {"main.py": f"""
        import os, time
        print("first up", flush=True)
        while not os.path.exists({str(trigger)!r}):
            time.sleep(0.05)
        print("first done", flush=True)
    """, "requirements.txt": ""})  # fmt: skip
    write_project(root / "second", {"main.py": "print('second ran')\n", "requirements.txt": ""})
    server = Server(root, home, tmp_path / "server.log")
    server.start()
    try:
        code, first = server.request("POST", "/pyrunner/api/runs", b'{"path": "first"}')
        assert code == 201, first
        _wait(server, first["id"], lambda r: r["status"] == "running")
        deadline = time.monotonic() + 30
        while "first up" not in _log(server, first["id"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        code, second = server.request("POST", "/pyrunner/api/runs", b'{"path": "second"}')
        assert code == 201 and second["status"] == "queued" and second["queue_position"] == 1

        server.kill()
        store = RunStore(home)
        assert store.get(first["id"]).status is RunStatus.RUNNING  # its supervisor lives on
        away = store.get(second["id"])
        assert away.status is RunStatus.FAILED and away.message is not None
        assert away.message.startswith("never started"), away.message
        assert "stopped unexpectedly" not in away.message
        store.close()

        server.start()  # the same store: the queued run is taken up again, behind the first
        back = _wait(server, second["id"], lambda r: r["status"] == "queued")
        assert back["queue_position"] == 1 and back["message"] is None
        trigger.touch()
        done = _wait(server, first["id"], lambda r: r["status"] in ("succeeded", "failed"))
        assert (done["status"], done["exit_code"]) == ("succeeded", 0), done
        assert _log(server, first["id"]).endswith("first up\nfirst done\n")
        ran = _wait(server, second["id"], lambda r: r["status"] in ("succeeded", "failed"))
        assert (ran["status"], ran["exit_code"]) == ("succeeded", 0), ran
        assert _log(server, second["id"]).endswith("second ran\n")
        assert marker_processes(first["id"]) == marker_processes(second["id"]) == []
        assert "queued when the server stopped" in (tmp_path / "server.log").read_text()
    finally:
        server.stop()
        trigger.touch()  # a test stopped halfway must not leave its programs waiting for ever
        from jupyter_pyrunner.process_tree import kill_run

        for run_dir in (home / "runs").iterdir() if (home / "runs").is_dir() else []:
            kill_run(run_dir.name, grace=0.2)
