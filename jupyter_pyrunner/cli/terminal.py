"""The terminal ``pyrunner run`` shows a run in: the program's output relayed as it comes,
and a spinner while the environment is built."""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from ..models import RunRecord


class Terminal:
    """Relays the program's output and shows a spinner while the environment is prepared."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stdout_fd: int) -> None:
        self.stdout_fd = stdout_fd
        import threading

        self.tty = os.isatty(1) and os.isatty(2)
        self._spinning = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._drawn = False
        #: the descriptors whose last byte written was not a newline
        self._mid_line: set[int] = set()

    def write(self, stream: int, data: bytes) -> None:
        fd = self.stdout_fd if stream == 1 else 2  # 1: the program's stdout (logfile.STDOUT)
        if stream == 3 and self._spinning.is_set():  # 3: engine messages (logfile.SYSTEM)
            return  # the spinner says it better while the environment builds
        with self._lock:
            self._clear()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except BrokenPipeError:
                pass
            if data:
                if data.endswith(b"\n"):
                    self._mid_line.discard(fd)
                else:
                    self._mid_line.add(fd)

    def end_line(self) -> None:
        """Start a new line on stderr if the program left the screen's line unfinished (a
        tqdm bar, a last line without its newline), so pyrunner's own lines start their own."""
        with self._lock:
            if 2 in self._mid_line or (self.tty and self._mid_line):
                os.write(2, b"\n")
                self._mid_line.clear()

    def _clear(self) -> None:
        if self._drawn:
            os.write(2, b"\r\x1b[2K")
            self._drawn = False

    def status(self, record: RunRecord) -> None:
        from ..models import RunStatus

        building = (
            record.status is RunStatus.PREPARING and record.message == "building the environment"
        )
        if building and self.tty and self._thread is None:
            label = ", ".join(record.requirements) or "no packages"
            import threading

            self._spinning.set()
            self._thread = threading.Thread(target=self._spin, args=(label,), daemon=True)
            self._thread.start()
        elif record.status is not RunStatus.PREPARING:
            self.stop()

    def _spin(self, label: str) -> None:
        start = time.monotonic()
        if len(label) > 50:
            label = label[:47] + "..."
        i = 0
        while self._spinning.is_set():
            elapsed = time.monotonic() - start
            with self._lock:
                if not self._spinning.is_set():
                    break
                frame = self.FRAMES[i % len(self.FRAMES)]
                os.write(
                    2, f"\r\x1b[2K{frame} building environment ({label}) {elapsed:.1f}s".encode()
                )
                self._drawn = True
            i += 1
            self._stopped.wait(0.1)

    def stop(self) -> None:
        if self._spinning.is_set():
            with self._lock:
                self._spinning.clear()
                self._stopped.set()
                self._clear()
