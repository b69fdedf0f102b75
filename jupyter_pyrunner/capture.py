"""Capture of a running program's output: its pipes relayed, in chunks, to the run log.

Output is read up to 256 KiB at a time as it becomes ready (never line by line), written to
the log with its stream, handed to the caller's sink (a terminal, a kernel) and scanned for
progress lines. After a small read it waits a moment so that the next read takes a larger piece:
a program printing a line per write would otherwise cost a wake-up, a read and two writes per
line. The pipes are widened to 256 KiB (Linux's default is 64 KiB), which a program writing
60-byte lines unbuffered fills in about a millisecond: with the default it spent a third of its
time waiting for the supervisor to read.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from collections.abc import Callable

from .logfile import STDERR, STDOUT, LogWriter
from .progress import ProgressScanner

OutputSink = Callable[[int, bytes], None]
READ_SIZE = 1 << 18
PIPE_SIZE = 1 << 18
COALESCE_BELOW = 16 * 1024
COALESCE_WAIT = 0.002


class OutputCapture:
    """Relays the stdout and stderr pipes of ``proc`` until both are closed."""

    def __init__(
        self, proc: subprocess.Popen[bytes], log: LogWriter, sink: OutputSink | None = None
    ) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.log = log
        self.sink = sink
        self.progress: float | None = None
        #: the last byte relayed was not a line break (a progress bar's ``\r``, an unfinished
        #: line): whoever writes a line of its own after it must start a new line first
        self.mid_line = False
        self._scanner = ProgressScanner()
        self._small_before = False
        self._streams = {proc.stdout.fileno(): STDOUT, proc.stderr.fileno(): STDERR}
        self._selector = selectors.DefaultSelector()
        for fd in self._streams:
            _widen(fd)
            self._selector.register(fd, selectors.EVENT_READ)

    @property
    def open(self) -> bool:
        """Whether a pipe is still open (a descendant may hold them after the program ends)."""
        return bool(self._streams)

    def pump(self, timeout: float) -> None:
        """Relay what is ready within ``timeout`` seconds; with both pipes closed, just wait
        that long for the program to end (it is still timed, cancelled and measured)."""
        if not self._streams:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
            return
        ready = self._selector.select(timeout=timeout)
        small = bool(ready)
        for key, _ in ready:
            got = self._read(int(key.fd))
            if got == 0 or got >= COALESCE_BELOW:
                small = False
        # a second small read in a row: the program writes a little at a time, so wait for
        # more (a single line, such as a short program's only one, is relayed without waiting)
        streaming, self._small_before = self._small_before, small
        if small and streaming and self.proc.poll() is None:  # (ended: all is in the pipes)
            time.sleep(COALESCE_WAIT)

    def _read(self, fd: int) -> int:
        """One read from ``fd``, relayed; its size (0: the pipe is closed)."""
        data = os.read(fd, READ_SIZE)
        if not data:
            self._selector.unregister(fd)
            del self._streams[fd]
            return 0
        stream = self._streams[fd]
        self.mid_line = data[-1] != 0x0A
        self.log.write(stream, data)
        if self.sink is not None:
            self.sink(stream, data)
        found = self._scanner.feed(data)
        if found is not None:
            self.progress = found
        return len(data)

    def close(self) -> float | None:
        """Close the pipes; the last progress seen (an unfinished last line counts too)."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._selector.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
        final = self._scanner.flush()
        if final is not None:
            self.progress = final
        return self.progress


def _widen(fd: int) -> None:
    """Give the pipe room for what a fast program writes while the log is being written."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
