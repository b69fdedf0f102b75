"""The server's housekeeping loop records runs whose supervisor died, without any reader."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

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
