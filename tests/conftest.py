"""Shared fixtures: an isolated store per test, one uv cache per session, project builders."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


class LeftBehind(logging.Handler):
    """Keeps asyncio's reports of tasks a test left behind. asyncio logs them (through its
    ``asyncio`` logger, not as warnings) only when such a task is garbage-collected, often
    after the test, or at exit where nothing fails; see ``pytest_runtest_teardown``."""

    MESSAGES = ("Task was destroyed but it is pending", "Task exception was never retrieved")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(self.MESSAGES):
            self.reports.append(message)

    def take(self) -> list[str]:
        reports, self.reports = self.reports, []
        return reports


LEFT_BEHIND = LeftBehind()
logging.getLogger("asyncio").addHandler(LEFT_BEHIND)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """Fail the test that left an asyncio task behind (a server's, a kernel client's). Once
    every fixture is torn down (a server stopped, its loop closed), a task of that loop still
    pending would be destroyed unfinished; and collecting garbage now makes asyncio report, against this test, the tasks
    destroyed pending or whose exception nobody retrieved (it logs them when they are freed,
    which may otherwise be at exit, where nothing fails)."""
    loop = getattr(item, "funcargs", {}).get("jp_asyncio_loop")
    result = yield
    pending = [] if loop is None else [t for t in asyncio.all_tasks(loop) if not t.done()]
    gc.collect()
    reports = [f"left pending after the server stopped: {task!r}" for task in pending]
    reports += LEFT_BEHIND.take()
    if reports:
        pytest.fail("asyncio tasks were left behind:\n" + "\n".join(reports), pytrace=False)
    return result


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One package cache for the whole session: the index is asked once per package."""
    existing = os.environ.get("PYRUNNER_TEST_UV_CACHE")
    if existing:
        return Path(existing)
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def home(tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh run store and environment cache, used by the API and by CLI subprocesses.

    Whatever a failing test left running is stopped afterwards, so one failure cannot leave
    processes behind to disturb the next tests.
    """
    path = tmp_path / "pyrunner-home"
    monkeypatch.setenv("PYRUNNER_HOME", str(path))
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    yield path
    from jupyter_pyrunner.process_tree import kill_run

    runs = path / "runs"
    for run_dir in runs.iterdir() if runs.is_dir() else []:
        kill_run(run_dir.name, grace=0.2)


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


@pytest.fixture
def project(tmp_path: Path) -> Iterator[object]:
    """``project({"main.py": "..."})`` → a project folder in this test's tmp dir."""
    counter = iter(range(1000))

    def make(files: dict[str, str]) -> Path:
        return write_project(tmp_path / f"project-{next(counter)}", files)

    yield make


def run_cli(*args: str, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The real ``pyrunner`` command, as a user would start it."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_pyrunner.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,  # type: ignore[call-overload]
    )


def run_json(*args: str, timeout: float = 600) -> tuple[dict[str, Any], str]:
    """``pyrunner run ARGS --json``: the final record, and what the command wrote on stderr."""
    source, *rest = args
    result = run_cli("run", source, "--json", *rest, timeout=timeout)
    assert result.stdout, result.stderr
    return json.loads(result.stdout), result.stderr


def processes_with_env(variable: str, value: str) -> list[int]:
    """Live processes whose environment holds ``variable=value`` (zombies left out)."""
    found = []
    needle = f"{variable}={value}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def marker_processes(run_id: str) -> list[int]:
    """Live processes carrying the run's marker: after a run ends there must be none."""
    return processes_with_env("PYRUNNER_RUN_ID", run_id)


def program_output(handle: object, stream: str = "stdout") -> str:
    """What the program wrote on one stream (engine messages left out)."""
    from jupyter_pyrunner.logfile import read_chunks

    chunks, _ = read_chunks(handle.run_dir, 0, max_bytes=1 << 40, final=True)  # type: ignore[attr-defined]
    return "".join(c.text for c in chunks if c.stream == stream)


def wait_for_output(handle: object, text: str, timeout: float = 30) -> None:
    """Wait until the run's log holds ``text`` (the program is up and running)."""
    import time

    deadline = time.time() + timeout
    while text not in handle.log_text():  # type: ignore[attr-defined]
        assert time.time() < deadline, f"{text!r} never appeared in the log"
        time.sleep(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[object]:
    """A real ``dask scheduler`` (workers are added by the test: ``cluster.add_worker``),
    stopped with everything it started."""
    from .daskcluster import Cluster

    started = Cluster(tmp_path / "cluster")
    try:
        yield started
    finally:
        started.stop()
