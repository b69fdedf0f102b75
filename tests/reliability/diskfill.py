"""A real small disk for the full-disk tests: a tmpfs mounted for the test, filled on purpose.

Mounting needs root (the tests run as root); elsewhere the tests that need it are skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """``path`` as a tmpfs of ``size_mb`` MB for the duration; unmounted afterwards (lazily,
    should a process still hold a file there)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write ``path`` until the disk refuses another byte (1 MiB blocks, then 4 KiB, then
    single bytes: the last page taken too); the file, to delete when space is wanted back."""
    with open(path, "ab", buffering=0) as f:
        for block in (1 << 20, 1 << 12, 1):
            data = b"\0" * block
            try:
                while True:
                    f.write(data)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return path


def free_bytes(path: Path) -> int:
    """Bytes a user could still write on the disk holding ``path``."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
