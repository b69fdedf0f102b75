"""End to end: ``jupyter server`` as a separate process, driven like an outside client would.

Also the server's restart in the middle of a run: the run goes on (its supervisor does not
belong to the server) and is followed again after the restart, nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from ..conftest import marker_processes, write_project, zip_folder

TOKEN = "e2e-test-token"
LINES = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``jupyter server`` process with the extension enabled by its installed config."""

    def __init__(self, root: Path, home: Path, log: Path, args: tuple[str, ...] = ()) -> None:
        self.root, self.home, self.log = root, home, log
        self.args = list(args)  # more settings on its command line
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYRUNNER_HOME": str(self.home), "JUPYTER_TOKEN": TOKEN}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                 f"--port={self.port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
                 f"--IdentityProvider.token={TOKEN}", "--ServerApp.port_retries=0", *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        deadline = time.time() + 60
        while True:
            try:
                self.request("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                assert self.proc.poll() is None, self.log.read_text()[-3000:]
                assert time.time() < deadline, "server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, Any]:  # fmt: skip
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"token {TOKEN}")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                code = resp.status
        except urllib.error.HTTPError as exc:
            raw, code = exc.read(), exc.code
        try:
            return code, json.loads(raw) if raw else None
        except ValueError:
            return code, raw


@pytest.fixture
def server(tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    root = tmp_path / "root"
    root.mkdir()
    srv = Server(root, tmp_path / "home", tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


async def follow(
    server: Server, run_id: str, offset: int, stop_after: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Messages from the stream; stops after ``stop_after`` log messages, or at the end."""
    url = f"ws://127.0.0.1:{server.port}/pyrunner/api/runs/{run_id}/stream?offset={offset}"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {TOKEN}"}))
    messages: list[dict[str, Any]] = []
    logs = 0
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=60)
        if raw is None:
            break
        message = json.loads(raw)
        messages.append(message)
        if message["type"] == "log":
            offset = message["next_offset"]
            logs += 1
            if stop_after is not None and logs >= stop_after:
                ws.close()
                break
    return messages, offset


def stdout_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m["text"] for m in messages if m["type"] == "log" and m["stream"] == "stdout")


def test_an_outside_client_uploads_runs_follows_and_downloads(
    server: Server, tmp_path: Path
) -> None:
    folder = write_project(tmp_path / "proj", {
        "main.py": "import os\nprint('hello from e2e')\nopen(os.environ['OUTPUT_FOLDER'] + '/out.txt', 'w').write('e2e')\n",
        "requirements.txt": "",
    })  # fmt: skip
    archive = zip_folder(folder, tmp_path / "proj.zip", prefix="proj/")
    code, upload = server.request("PUT", "/pyrunner/api/uploads/proj.zip", archive.read_bytes(),
                                  "application/octet-stream")  # fmt: skip
    assert code == 201, upload
    code, run = server.request("POST", "/pyrunner/api/runs",
                               json.dumps({"upload_id": upload["upload_id"]}).encode())  # fmt: skip
    assert code == 201, run
    messages, _ = asyncio.run(follow(server, run["id"], 0))
    assert stdout_of(messages) == "hello from e2e\n"
    assert messages[-1]["type"] == "end" and messages[-1]["status"] == "succeeded"
    code, data = server.request("GET", f"/pyrunner/api/runs/{run['id']}/outputs/out.txt")
    assert code == 200 and data == b"e2e"
    code, listed = server.request("GET", "/pyrunner/api/runs")
    assert [r["id"] for r in listed["runs"]] == [run["id"]]
    no_token = urllib.request.Request(server.url + "/pyrunner/api/runs")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(no_token, timeout=10)
    assert info.value.code == 403


def write_long(root: Path, lines: int) -> None:
    """``root/long``: a project printing ``line 0``, ``line 1``... 20 lines a second."""
    write_project(root / "long", {
        "main.py": f"""
            import time
            for i in range({lines}):
                print(f"line {{i}}", flush=True)
                time.sleep(0.05)
        """,
        "requirements.txt": "",
    })  # fmt: skip


def test_a_run_survives_a_server_restart_and_is_followed_again(server: Server) -> None:
    write_long(server.root, LINES)
    code, run = server.request("POST", "/pyrunner/api/runs", json.dumps({"path": "long"}).encode())
    assert code == 201, run
    before, offset = asyncio.run(follow(server, run["id"], 0, stop_after=5))
    server.kill()  # the hardest way down: no chance to clean up
    time.sleep(0.5)
    server.start()
    code, record = server.request("GET", f"/pyrunner/api/runs/{run['id']}")
    assert code == 200 and record["status"] in ("running", "succeeded"), record
    after, _ = asyncio.run(follow(server, run["id"], offset))
    text = stdout_of(before) + stdout_of(after)
    assert text == "".join(f"line {i}\n" for i in range(LINES))
    assert after[-1]["type"] == "end" and after[-1]["status"] == "succeeded"
    assert marker_processes(run["id"]) == []


def test_installing_the_package_enables_the_extension() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_server.extension.serverextension", "list"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = listed.stdout + listed.stderr
    assert "jupyter_pyrunner enabled" in text.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert "jupyter_pyrunner 0." in text and "OK" in text
