"""The checks the test suite makes of every test, tried on a test that breaks them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

ABANDONS_A_TASK = """
import asyncio


def test_leaves_a_task_pending():
    loop = asyncio.new_event_loop()

    async def forever():
        await asyncio.sleep(3600)

    loop.create_task(forever())
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def test_is_tidy():
    asyncio.run(asyncio.sleep(0))
"""


def test_a_test_that_leaves_an_asyncio_task_pending_fails(tmp_path: Path) -> None:
    """Any test, not only the server's: a task destroyed pending is reported against it."""
    (tmp_path / "test_abandon.py").write_text(ABANDONS_A_TASK)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "asyncio tasks were left behind" in done.stdout
    assert "Task was destroyed but it is pending" in done.stdout
    assert "ERROR test_abandon.py::test_leaves_a_task_pending" in done.stdout
    assert "test_is_tidy" not in done.stdout.split("short test summary")[-1]
