"""Capture with real programs: pipes wide enough for a fast writer, memory bounded by the read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.capture import PIPE_SIZE
from jupyter_pyrunner.logfile import read_chunks

from .conftest import run_cli

PIPE_REPORT = """
import fcntl, json, os, stat
sizes = {}
for fd in (1, 2):
    assert stat.S_ISFIFO(os.fstat(fd).st_mode)
    sizes[fd] = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
print(json.dumps(sizes))
"""

# a 10 MB line with no line break until its end, then a 200 MB flood, written in 64 KiB
# pieces so the program itself stays small and the peak measured is the supervisor's
FLOOD = """
import os
piece = b"x" * 65536
for _ in range(160):
    os.write(1, piece)
os.write(1, b"\\n")
line = b"y" * 65535 + b"\\n"
for _ in range(3200):
    os.write(1, line)
"""
FLOOD_BYTES = 160 * 65536 + 1 + 3200 * 65536

PEAK = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_the_programs_pipes_are_widened(home: Path, project) -> None:
    """A program writing faster than the log is written fills a 64 KiB pipe in about a
    millisecond and then waits; the wider pipe is what keeps it going."""
    folder = project({"main.py": PIPE_REPORT})
    handle = run_project(folder)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    sizes = json.loads(handle.log_text().strip().splitlines()[-1])
    assert sizes == {"1": PIPE_SIZE, "2": PIPE_SIZE}


def _peak_kib(folder: Path) -> int:
    """The peak resident size of ``pyrunner run FOLDER`` (its program stays small)."""
    cli = [sys.executable, "-m", "jupyter_pyrunner.cli", "run", str(folder)]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *cli], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_a_long_line_and_a_flood_cost_the_supervisor_no_memory(home: Path, project) -> None:
    small = project({"main.py": "print('hello')\n"})
    flood = project({"main.py": FLOOD})
    assert run_cli("run", str(small)).returncode == 0  # the environment, built once
    baseline = _peak_kib(small)
    peak = _peak_kib(flood)
    assert peak - baseline < 12 * 1024, (baseline, peak)
    run_dir = max((home / "runs").iterdir(), key=lambda run: (run / "log.txt").stat().st_size)
    assert _stdout_bytes(run_dir) == FLOOD_BYTES


def _stdout_bytes(run_dir: Path) -> int:
    """How many bytes of the log the program wrote on stdout, read a piece at a time."""
    total = offset = 0
    while True:
        chunks, offset = read_chunks(run_dir, offset, final=True)
        if not chunks:
            return total
        total += sum(len(c.data) for c in chunks if c.stream == "stdout")
