"""The run log on disk: raw output bytes plus a small index of who wrote them, and when.

``log.txt`` holds stdout, stderr and the engine's own messages, in arrival order, byte for byte
(``\\r`` and invalid UTF-8 kept). ``log.idx`` holds one fixed-size record per chunk written:
(byte offset, wall-clock time, stream). Offsets into ``log.txt`` are the public cursor: a reader
replays from any offset and then tails the file, so a late or reconnecting reader loses nothing and
memory stays bounded whatever the log size.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ._core import Record

LOG_NAME = "log.txt"
INDEX_NAME = "log.idx"

STDOUT, STDERR, SYSTEM = 1, 2, 3
STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr", SYSTEM: "system"}

_RECORD = struct.Struct("<QdB")  # offset, timestamp, stream


class LogChunk(Record):
    """A run of bytes from one stream; ``offset`` is where it starts in ``log.txt``."""

    _fields = ("offset", "stream", "data", "timestamp")
    __slots__ = _fields

    offset: int
    stream: str
    data: bytes
    timestamp: float

    def __init__(self, offset: int, stream: str, data: bytes, timestamp: float) -> None:
        self.offset = offset
        self.stream = stream
        self.data = data
        self.timestamp = timestamp

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class LogWriter:
    """Appends chunks; each write reaches the file at once so followers see it."""

    def __init__(self, run_dir: Path) -> None:
        self._log = open(run_dir / LOG_NAME, "ab", buffering=0)  # noqa: SIM115
        self._idx = open(run_dir / INDEX_NAME, "ab", buffering=0)  # noqa: SIM115
        self.offset = self._log.seek(0, os.SEEK_END)

    def write(self, stream: int, data: bytes, timestamp: float | None = None) -> None:
        if not data:
            return
        # index first: a reader never sees bytes whose stream it cannot tell
        self._idx.write(_RECORD.pack(self.offset, timestamp or time.time(), stream))
        view = memoryview(data)
        while view:
            written = self._log.write(view)
            view = view[written or 0 :]
        self.offset += len(data)

    def system(self, message: str) -> None:
        """An engine message, shown to followers among the program's output."""
        self.write(SYSTEM, (message.rstrip("\n") + "\n").encode())

    def close(self) -> None:
        self._log.close()
        self._idx.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _utf8_cut(data: bytes) -> int:
    """Length of ``data`` without a multi-byte UTF-8 sequence cut short at its end."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte < 0x80:
            return n
        if byte >= 0xC0:  # lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return n if back >= need else n - back
    return n


def tail_offset(run_dir: Path, tail: int) -> int:
    """Where to start reading to get about the last ``tail`` bytes of the log.

    The start of the first whole line in that stretch; when the stretch holds no line break,
    the first character boundary in it (never inside a multi-byte UTF-8 sequence).
    """
    if tail < 1:
        raise ValueError("a log tail is at least one byte")
    try:
        size = os.stat(run_dir / LOG_NAME).st_size
    except FileNotFoundError:
        return 0
    if size <= tail:
        return 0
    start = size - tail
    with open(run_dir / LOG_NAME, "rb") as f:
        f.seek(start - 1)  # the byte before: a line break there means start is a line start
        block = f.read(min(tail + 1, 1 << 16))
    newline = block.find(b"\n")
    if newline != -1:
        return start - 1 + newline + 1
    skip = 0
    while skip < 3 and skip + 1 < len(block) and 0x80 <= block[skip + 1] < 0xC0:
        skip += 1  # continuation bytes of a character begun before start
    return start + skip


class _Index:
    """Read-only view of ``log.idx`` with a binary search on offsets."""

    def __init__(self, path: Path) -> None:
        import mmap  # here: only readers need it

        self._data: bytes | mmap.mmap = b""
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size >= _RECORD.size:
                    self._data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            pass
        self.count = len(self._data) // _RECORD.size

    def record(self, i: int) -> tuple[int, float, int]:
        offset, ts, stream = _RECORD.unpack_from(self._data, i * _RECORD.size)
        return int(offset), float(ts), int(stream)

    def find(self, offset: int) -> int:
        """Index of the last record starting at or before ``offset`` (0 if none)."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.record(mid)[0] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return max(lo - 1, 0)

    def close(self) -> None:
        if not isinstance(self._data, bytes):  # an mmap
            self._data.close()


def log_size(run_dir: Path) -> int:
    try:
        return (run_dir / LOG_NAME).stat().st_size
    except FileNotFoundError:
        return 0


def read_chunks(
    run_dir: Path,
    offset: int = 0,
    max_bytes: int = 1 << 20,
    final: bool = False,
    merge: bool = True,
) -> tuple[list[LogChunk], int]:
    """Chunks from ``offset`` (at most ``max_bytes``) and the offset to continue from.

    A multi-byte character cut by the end of the read is left for the next call, so every
    chunk decodes cleanly; only when ``final`` (nothing more will be written) and the read
    reaches the end of the log are trailing bytes returned as they are. ``merge`` joins
    neighbouring chunks of one stream (keeping the first one's time).
    """
    if offset < 0:
        raise ValueError("a log offset cannot be negative")
    try:
        with open(run_dir / LOG_NAME, "rb") as f:
            available = os.fstat(f.fileno()).st_size - offset
            if available <= 0:  # at or past the end: nothing yet (and no seek a file system
                return [], offset  # refuses, as one to 2**63 - 1)
            data = os.pread(f.fileno(), max(0, min(max_bytes, available)), offset)
    except FileNotFoundError:
        return [], offset
    if not data:
        return [], offset
    if not (final and len(data) == available):
        cut = _utf8_cut(data)
        if cut or len(data) == available:  # (a read too small for one character goes as is)
            data = data[:cut]
    end = offset + len(data)
    index = _Index(run_dir / INDEX_NAME)
    chunks: list[LogChunk] = []
    try:
        # index records start at strictly increasing offsets: record i covers [start_i, start_i+1)
        i = index.find(offset)
        pos = offset
        while pos < end:
            ts, stream = (index.record(i)[1:]) if index.count else (0.0, STDOUT)
            stop = min(index.record(i + 1)[0], end) if i + 1 < index.count else end
            if stop <= pos:  # a damaged index: give the rest to the current stream
                stop = end
            name = STREAM_NAMES.get(stream, "stdout")
            chunks.append(LogChunk(pos, name, data[pos - offset : stop - offset], ts))
            pos = stop
            i += 1
    finally:
        index.close()
    return (_merge(chunks) if merge else chunks), end


def _merge(chunks: list[LogChunk]) -> list[LogChunk]:
    """Join neighbouring chunks of the same stream (fewer, larger messages for followers).

    Each run of chunks is joined once (not chunk by chunk, which would copy a page of many
    small writes over and over: quadratic time and a burst of memory)."""
    merged: list[LogChunk] = []
    run: list[LogChunk] = []
    for chunk in chunks:
        if run and (run[-1].stream != chunk.stream or run[-1].end != chunk.offset):
            merged.append(_joined(run))
            run = []
        run.append(chunk)
    if run:
        merged.append(_joined(run))
    return merged


def _joined(run: list[LogChunk]) -> LogChunk:
    """Neighbouring chunks of one stream as one, with the first one's time."""
    if len(run) == 1:
        return run[0]
    first = run[0]
    return LogChunk(first.offset, first.stream, b"".join(c.data for c in run), first.timestamp)


def follow(
    run_dir: Path,
    offset: int,
    is_finished: Callable[[], bool],
    *,
    poll: float = 0.02,
    max_poll: float = 0.1,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[LogChunk]:
    """Replay from ``offset``, then tail until the run is finished and everything is read."""
    delay = poll
    while True:
        finished = is_finished()  # read before the data: nothing written after it is missed
        chunks, offset = read_chunks(run_dir, offset, final=finished)
        yield from chunks
        if chunks:
            delay = poll
            continue
        if finished or (should_stop is not None and should_stop()):
            return
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll)


def iter_lines(run_dir: Path, offset: int = 0) -> Iterator[tuple[float, str, bytes]]:
    """(timestamp, stream, line) for each line; a line takes the time of the chunk it starts in."""
    pending: dict[str, tuple[float, bytes]] = {}
    while True:
        chunks, offset = read_chunks(run_dir, offset, final=True, merge=False)
        if not chunks:
            break
        for chunk in chunks:
            ts0, buf = pending.pop(chunk.stream, (chunk.timestamp, b""))
            data = buf + chunk.data
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                yield (ts0 if start == 0 else chunk.timestamp), chunk.stream, data[start : nl + 1]
                start = nl + 1
            if start < len(data):
                pending[chunk.stream] = (ts0 if start == 0 else chunk.timestamp, data[start:])
    for stream, (ts, rest) in pending.items():
        yield ts, stream, rest
