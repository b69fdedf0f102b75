"""The server extension under load: log latency, concurrent runs, big uploads and big logs.

    python benchmarks/bench_server.py [--only latency,concurrent,upload,biglog] [--json PATH]

Starts ``jupyter server`` as a separate process on a store of its own, as a client would meet
it, and reports:

- latency: time from the program's ``print`` to the WebSocket client (p50, p95, max);
- concurrent: 20 runs submitted over REST at once, each printing steadily; all must succeed
  with complete logs; the latency of ``GET /pyrunner/api/runs`` meanwhile (p50, p95);
- upload: a 1 GiB upload streamed to the server: its peak RSS growth, and the throughput beside
  a plain ``cp`` of the same file;
- biglog: a run printing 1 GiB, streamed to a WebSocket client: the server's peak RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, work: Path, *extra: str) -> None:
        self.root = work / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = work / "home"
        self.port = free_port()
        env = {**os.environ, "PYRUNNER_HOME": str(self.home)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             f"--port={self.port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
             f"--IdentityProvider.token={TOKEN}", "--ServerApp.log_level=WARN", *extra],
            stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "ab"), env=env,  # noqa: SIM115
        )  # fmt: skip
        deadline = time.time() + 60
        while True:
            try:
                self.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method
        )
        req.add_header("Authorization", f"token {TOKEN}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=600) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/pyrunner/api/runs", json.dumps(body).encode(),  # type: ignore[no-any-return]
                            {"Content-Type": "application/json"})  # fmt: skip

    def wait(self, run_id: str) -> dict[str, Any]:
        while True:
            record = self.request("GET", f"/pyrunner/api/runs/{run_id}")
            if record["status"] not in ("queued", "preparing", "running"):
                return record  # type: ignore[no-any-return]
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    async def stream(self, run_id: str, on_message: Any, query: str = "") -> None:
        url = f"ws://127.0.0.1:{self.port}/pyrunner/api/runs/{run_id}/stream{query}"
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {TOKEN}"}),
                                     max_message_size=64 * 1024 * 1024)  # fmt: skip
        while (raw := await ws.read_message()) is not None:
            on_message(json.loads(raw))


def project(server: Server, name: str, main: str) -> str:
    folder = server.root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(main))
    (folder / "requirements.txt").write_text("")
    return name


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line_delays(server: Server, run_id: str) -> list[float]:
    """Follow the run's stream to its end: for each line the program printed (its own
    ``time.time()``), how long it took to reach this WebSocket client, in seconds."""
    delays: list[float] = []

    def on_message(m: dict[str, Any]) -> None:
        if m["type"] == "log" and m["stream"] == "stdout":
            now = time.time()
            delays.extend(now - float(line) for line in m["text"].split())

    asyncio.run(server.stream(run_id, on_message))
    return delays


def bench_latency(work: Path) -> dict[str, Any]:
    server = Server(work / "latency")
    try:
        name = project(
            server,
            "ticker",
            """
            import time
            time.sleep(1.0)
            for i in range(300):
                print(f"{time.time():.6f}", flush=True)
                time.sleep(0.02)
        """,
        )
        run = server.run({"path": name})
        delays = line_delays(server, run["id"])
    finally:
        server.stop()
    ms = [d * 1000 for d in delays]
    return {
        "lines": len(ms),
        "p50_ms": statistics.median(ms),
        "p95_ms": pct(ms, 0.95),
        "max_ms": max(ms),
    }


def bench_concurrent(work: Path, runs: int = 20) -> dict[str, Any]:
    server = Server(work / "concurrent", f"--PyRunnerApp.max_concurrent_runs={runs}")
    try:
        name = project(
            server,
            "steady",
            """
            import sys, time
            for i in range(200):
                print(f"{sys.argv[1]} line {i}", flush=True)
                time.sleep(0.01)
        """,
        )
        server.run({"path": name, "args": ["warm"]})  # the shared environment, built once
        time.sleep(2)
        t0 = time.time()
        ids = [server.run({"path": name, "args": [str(i)]})["id"] for i in range(runs)]
        submit = time.time() - t0
        lat: list[float] = []
        while True:
            t = time.perf_counter()
            page = server.request("GET", "/pyrunner/api/runs?limit=50")
            lat.append((time.perf_counter() - t) * 1000)
            states = {r["id"]: r["status"] for r in page["runs"]}
            if all(states.get(i) not in ("queued", "preparing", "running") for i in ids):
                break
            time.sleep(0.05)
        wall = time.time() - t0
        complete = 0
        for index, run_id in enumerate(ids):
            record = server.request("GET", f"/pyrunner/api/runs/{run_id}")
            log = server.request("GET", f"/pyrunner/api/runs/{run_id}/log?max_bytes=16777216")
            lines = [ln for ln in log["text"].splitlines() if not ln.startswith("pyrunner:")]
            if record["status"] == "succeeded" and lines == [
                f"{index} line {i}" for i in range(200)
            ]:
                complete += 1
    finally:
        server.stop()
    return {"runs": runs, "succeeded_complete": complete, "submit_s": submit, "all_done_s": wall,
            "list_requests": len(lat), "list_p50_ms": statistics.median(lat), "list_p95_ms": pct(lat, 0.95)}  # fmt: skip


def bench_upload(work: Path, size: int = 1 << 30) -> dict[str, Any]:
    data = work / "upload.bin"
    with open(data, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    copy = work / "copy.bin"
    t0 = time.perf_counter()
    subprocess.run(["cp", str(data), str(copy)], check=True)
    cp_s = time.perf_counter() - t0
    copy.unlink()
    server = Server(work / "upload", f"--PyRunnerApp.max_upload_size={size * 2}")
    try:
        before = rss_kib(server.proc.pid)
        with open(data, "rb") as body:
            t0 = time.perf_counter()
            info = server.request("PUT", "/pyrunner/api/uploads/big.bin", body,
                                  {"Content-Length": str(size), "Content-Type": "application/octet-stream"})  # fmt: skip
            up_s = time.perf_counter() - t0
        peak = rss_kib(server.proc.pid, "VmHWM")
    finally:
        server.stop()
        data.unlink()
    assert info["size"] == size
    return {"bytes": size, "upload_s": up_s, "upload_MBps": size / up_s / 1e6, "cp_s": cp_s,
            "cp_MBps": size / cp_s / 1e6, "upload_vs_cp": up_s / cp_s,
            "rss_before_MiB": before / 1024, "rss_peak_growth_MiB": (peak - before) / 1024}  # fmt: skip


def bench_biglog(work: Path, size: int = 1 << 30) -> dict[str, Any]:
    server = Server(work / "biglog")
    try:
        name = project(
            server,
            "flood",
            f"""
            import sys
            line = ("x" * 1023 + "\\n").encode()
            block = line * 1024
            out = sys.stdout.buffer
            for _ in range({size >> 20}):
                out.write(block)
        """,
        )
        before = rss_kib(server.proc.pid)
        run = server.run({"path": name})
        received = [0]

        def on_message(m: dict[str, Any]) -> None:
            if m["type"] == "log" and m["stream"] == "stdout":
                received[0] += len(m["text"])

        t0 = time.perf_counter()
        asyncio.run(server.stream(run["id"], on_message))
        elapsed = time.perf_counter() - t0
        peak = rss_kib(server.proc.pid, "VmHWM")
        record = server.wait(run["id"])
    finally:
        server.stop()
    return {"bytes_streamed": received[0], "expected": size, "status": record["status"],
            "stream_s": elapsed, "rss_before_MiB": before / 1024, "rss_peak_growth_MiB": (peak - before) / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="latency,concurrent,upload,biglog")
    parser.add_argument("--json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pyrunner-bench-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("UV_CACHE_DIR", str(work / "uv-cache"))
        for name in args.only.split(","):
            print(f"running {name} ...", file=sys.stderr)
            results[name] = globals()[f"bench_{name}"](work)
            print(json.dumps({name: results[name]}, indent=1))
            shutil.rmtree(work / name, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
