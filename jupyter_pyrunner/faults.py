"""Faults of the machine that runs must survive: a full disk, and errors a loop repeats.

**A full disk.** :func:`is_disk_full` tells "no space" apart from other errors (``ENOSPC``,
``EDQUOT``, and SQLite's own "database or disk is full"); :func:`is_unwritable` adds a
read-only filesystem. Callers turn them into :class:`~.errors.DiskFullError`, which the
server answers with 507.

**A run's ending, kept without new space.** When a run ends on a full disk, its final record
cannot be written: ``run.json`` is replaced atomically, through a new file, and a new file
needs free blocks. So that the program's exit code and the cause are not lost, the supervisor
writes a small *end reserve* when the run starts, while there is room: ``end``, a file of
:data:`END_SIZE` spaces in the run's folder. Its blocks are then the run's. At the end, should
the record fail for want of space, the ending (status, exit code, message, times) is written
*over* those blocks, in place, without truncating: on the filesystems runs are kept on (ext4,
xfs, tmpfs) that needs no new space. (A copy-on-write filesystem such as btrfs or ZFS may still
refuse it; the run then reads as a run whose supervisor stopped, as it did before.)

Readers (``RunStore.read``) lay a written ending over a record still marked as live, so the
run reads with its real ending at once; the server's housekeeping later copies it into
``run.json`` (``liveness.reconcile_all``), once there is room. A reserve left blank, or caught
half written, is no ending: JSON that does not parse, or that names another run, is ignored.

**Errors a loop repeats.** :class:`ReportLimiter` lets a background loop (the server's queue
check, its housekeeping) report each distinct error at most once a minute, so that a full
disk does not write tracebacks five times a second into a log that is full too.
"""

from __future__ import annotations

import errno
import json
import os
import time

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = [
    "DISK_FULL",
    "END_NAME",
    "END_SIZE",
    "ReportLimiter",
    "disk_full_message",
    "is_disk_full",
    "is_unwritable",
    "read_end",
    "reserve_end",
    "write_end",
]

END_NAME = "end"
#: the reserve's size: one page, room for an ending with a message of a few hundred characters
END_SIZE = 4096
#: the longest message kept in the reserve (a longer one is cut, marked with "…")
END_MESSAGE_LIMIT = 1000
#: the fields of a record an ending sets
END_FIELDS = ("status", "exit_code", "message", "finished", "timings")

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: how a message about a full disk starts
DISK_FULL = "the disk is full"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in _NO_SPACE
    # sqlite3.OperationalError, told by its message (importing sqlite3 here would cost)
    return type(exc).__name__ == "OperationalError" and "disk is full" in str(exc)


def is_unwritable(exc: BaseException) -> bool:
    """Whether ``exc`` says nothing can be written now: a full disk or a read-only filesystem."""
    return is_disk_full(exc) or (isinstance(exc, OSError) and exc.errno == errno.EROFS)


def disk_full_message(message: str | None) -> str:
    """A run's message, saying that the disk is full (once)."""
    if message and message.startswith(DISK_FULL):
        return message
    return f"{DISK_FULL}: {message or 'the run ended, but its record could not be written in full'}"


def reserve_end(run_dir: Path) -> bool:
    """Create the run's end reserve (:data:`END_SIZE` spaces); False when there was no room
    (the run goes on without one)."""
    try:
        fd = os.open(run_dir / END_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return False
    try:
        return os.write(fd, b" " * END_SIZE) == END_SIZE
    except OSError:
        return False
    finally:
        os.close(fd)


def write_end(run_dir: Path, run_id: str, ending: dict[str, Any]) -> bool:
    """Write ``ending`` (fields of :data:`END_FIELDS`) over the run's end reserve, in place;
    False when there is no reserve or the write failed."""
    kept = {key: ending.get(key) for key in END_FIELDS}
    message = kept.get("message")
    if isinstance(message, str) and len(message) > END_MESSAGE_LIMIT:
        kept["message"] = message[: END_MESSAGE_LIMIT - 1] + "…"
    data = json.dumps({"run_id": run_id, **kept}).encode()
    if len(data) > END_SIZE:  # (only the timings could make it so): the essentials only
        kept["timings"] = {}
        data = json.dumps({"run_id": run_id, **kept}).encode()
    try:
        # no O_CREAT, no O_TRUNC: the reserve's own blocks, overwritten
        fd = os.open(run_dir / END_NAME, os.O_WRONLY)
    except OSError:
        return False
    try:
        return os.pwrite(fd, data.ljust(END_SIZE), 0) == END_SIZE
    except OSError:
        return False
    finally:
        os.close(fd)


def read_end(run_dir: Path, run_id: str) -> dict[str, Any] | None:
    """The ending written in the run's end reserve; None when there is none (no reserve, a
    blank one, or one caught half written)."""
    try:
        with open(run_dir / END_NAME, "rb") as f:
            raw = f.read(END_SIZE + 1).strip()
    except OSError:
        return None
    if not raw:
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("run_id") != run_id or "status" not in found:
        return None
    return {key: found.get(key) for key in END_FIELDS}


class ReportLimiter:
    """Decides which errors of a repeating task get reported: each distinct one (its type
    and message) at most once per ``interval`` seconds, with the number of repeats held back."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def should_report(self, exc: BaseException, now: float | None = None) -> int | None:
        """None to stay silent; else how many times the error was held back since it was
        last reported (0 the first time)."""
        now = time.monotonic() if now is None else now
        key = (type(exc).__name__, str(exc))
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return None
        self._last[key] = (now, 0)
        if len(self._last) > 1000:  # errors whose text varies without end: forget the old
            self._last = {key: (now, 0)}
        return 0 if last is None else last[1]
