"""The server's housekeeping loop records runs whose supervisor died, without any reader, and
reports a repeated error (a full disk) once a minute rather than on every round."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_pyrunner import RunStatus, RunStore
from jupyter_pyrunner.models import RunSpec


async def test_an_orphaned_run_is_recorded_failed_by_the_server_on_its_own(api, home: Path) -> None:
    await api.json("GET", "runs")  # the server is up
    store = RunStore(home)
    record = store.create(RunSpec(source="x"), name="orphan")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.update(record.id, status=RunStatus.RUNNING,
                 supervisor={"pid": dead.pid, "host": os.uname().nodename, "start": 1})  # fmt: skip
    run_json = store.run_dir(record.id) / "run.json"
    deadline = asyncio.get_running_loop().time() + 15
    while json.loads(run_json.read_text())["status"] != "failed":
        assert asyncio.get_running_loop().time() < deadline, "never reconciled"
        await asyncio.sleep(0.1)
    assert "stopped unexpectedly" in json.loads(run_json.read_text())["message"]


def test_a_repeated_error_is_reported_once_a_minute_with_the_count_held_back() -> None:
    from jupyter_pyrunner.faults import ReportLimiter

    limiter = ReportLimiter(interval=60)
    full = OSError(28, "No space left on device")
    assert limiter.should_report(full, now=0.0) == 0
    assert [limiter.should_report(full, now=t / 5) for t in range(1, 300)] == [None] * 299
    assert limiter.should_report(OSError(5, "Input/output error"), now=1.0) == 0  # another one
    assert limiter.should_report(full, now=60.0) == 299  # a minute on: reported, with the count
    assert limiter.should_report(full, now=61.0) is None


class Collected(logging.Handler):
    """Every record at WARNING or above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_on_a_full_disk_the_housekeeping_reports_once_and_writes_the_ending_later(
    api, tmp_path: Path, jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An orphaned run on a full disk: recording it failed raised every round (with the
    server checking every 200 ms: five tracebacks a second). It is reported once; the ending
    is written once there is room."""
    from jupyter_pyrunner.server import app as app_module

    from ..reliability.diskfill import fill, small_disk

    await api.json("GET", "runs")  # the server is up
    with small_disk(tmp_path / "disk", 8) as disk:
        store = RunStore(disk)
        manager = jp_serverapp.web_app.settings["pyrunner_manager"]
        monkeypatch.setattr(manager, "store", store)  # the server's store, on the small disk
        record = store.create(RunSpec(source="x"), name="orphan")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        store.update(record.id, status=RunStatus.RUNNING,
                     supervisor={"pid": dead.pid, "host": os.uname().nodename, "start": 1})  # fmt: skip
        ballast = fill(disk / "ballast")
        collected = Collected()
        loggers = [jp_serverapp.log, logging.getLogger("jupyter_pyrunner")]
        for logger in loggers:
            logger.addHandler(collected)
        monkeypatch.setattr(app_module, "RECONCILE_INTERVAL", 0.05)  # every round (200 ms)
        try:
            await asyncio.sleep(3)
            reports = [r.getMessage() for r in collected.records]
            assert len(reports) <= 1, reports  # (was about 15 tracebacks in these 3 s)
            assert all(r.exc_info is None for r in collected.records)
            run_json = store.run_dir(record.id) / "run.json"
            assert json.loads(run_json.read_text())["status"] == "running"  # no room yet
            got = await api.json("GET", "runs", record.id)  # reads go on meanwhile
            assert got["status"] == "failed"
            ballast.unlink()
            deadline = asyncio.get_running_loop().time() + 10
            while json.loads(run_json.read_text())["status"] != "failed":
                assert asyncio.get_running_loop().time() < deadline, "never written"
                await asyncio.sleep(0.1)
        finally:
            for logger in loggers:
                logger.removeHandler(collected)
            store.close()
