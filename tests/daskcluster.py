"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` processes on loopback.

A worker may be started in its own mount namespace with an empty tmpfs over a folder (the
client's run store), so that it cannot see the client's files, as a worker of a Kubernetes or
cloud cluster cannot; it shares the PID namespace, so tests still find and kill its processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One scheduler and the workers a test adds; everything is stopped by :meth:`stop`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        command = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--no-dashboard", "--no-show"]
        self.scheduler = self._start("scheduler", command)
        self._wait_for_port(port)

    def _start(self, name: str, command: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def _wait_for_port(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError("the scheduler did not start")

    def add_worker(
        self,
        name: str,
        home: Path,
        *,
        hide: Path | None = None,
        env: dict[str, str] | None = None,
        resources: str | None = None,
        nthreads: int = 4,
        memory_limit: str = "auto",
    ) -> subprocess.Popen[bytes]:
        """A worker (no nanny: killing it is losing it) with its own ``PYRUNNER_HOME``;
        ``hide``: a folder it sees empty (a tmpfs over it, in its own mount namespace)."""
        command = [sys.executable, "-m", "distributed.cli.dask_worker", self.address]
        command += [
            "--host",
            "127.0.0.1",
            "--nthreads",
            str(nthreads),
            "--no-nanny",
            "--name",
            name,
        ]
        command += ["--memory-limit", memory_limit, "--no-dashboard"]
        command += ["--local-directory", str(self.folder / "scratch")]
        if resources:
            command += ["--resources", resources]
        if hide is not None:
            hide.mkdir(parents=True, exist_ok=True)
            mount = f'mount -t tmpfs none "{hide}" && exec "$@"'
            unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh"]
            command = unshare + command
        proc = self._start(f"worker-{name}", command, {"PYRUNNER_HOME": str(home), **(env or {})})
        self._wait_for_log(f"worker-{name}", "Registered to", proc)
        return proc

    def _wait_for_log(
        self, name: str, text: str, proc: subprocess.Popen[bytes], timeout: float = 60
    ) -> None:
        path = self.folder / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in path.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise RuntimeError(f"{name} ended:\n{path.read_text(errors='replace')}")
            time.sleep(0.05)
        raise TimeoutError(f"{name} did not start:\n{path.read_text(errors='replace')}")

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
