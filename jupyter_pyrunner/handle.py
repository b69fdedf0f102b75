"""``RunHandle``: one run in a store, seen from any face (CLI, magic, widget, server).

What every face needs of a run lives here once: its record, its whole log or the log from an
offset, following it live, watching its status change, waiting for its end, and cancelling it
and waiting until it has stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from .logfile import LogChunk, follow, read_chunks
from .models import RunRecord, RunStatus
from .store import CANCEL_WAIT, RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .outputs import OutputFile


#: how often a handle may start a new relay for a Dask run whose relay has stopped
RELAY_RETRY = 5.0


class RunHandle:
    """A run in a store: its record, log and outputs, live or finished."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.id = run_id
        self._relay_started = 0.0

    def _follow_again(self, record: RunRecord) -> None:
        """A Dask run whose relay has stopped (a restarted kernel or machine) gets a new one,
        which re-attaches to its task and continues its log; tried at most every few
        seconds, whoever looks at the run through this handle."""
        from .liveness import awaits_relay

        if not awaits_relay(record) or time.monotonic() - self._relay_started < RELAY_RETRY:
            return
        self._relay_started = time.monotonic()
        from .daskexec import reattach

        reattach(self.store, self.id)

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} {self.record.status.value}>"

    @property
    def record(self) -> RunRecord:
        record = self.store.get(self.id)
        self._follow_again(record)
        return record

    @property
    def status(self) -> RunStatus:
        return self.record.status

    @property
    def exit_code(self) -> int | None:
        return self.record.exit_code

    @property
    def run_dir(self) -> Path:
        return self.store.run_dir(self.id)

    @property
    def outputs_dir(self) -> Path:
        return self.store.outputs_dir(self.id)

    @property
    def done(self) -> bool:
        return self.record.status.is_terminal

    @property
    def project_dir(self) -> Path:
        """The project folder: the program's code, and what it wrote beside it."""
        return self.store.project_dir(self.id)

    @property
    def outputs(self) -> list[OutputFile]:
        """The files of ``OUTPUT_FOLDER`` (path, size, mtime, MIME type), sorted by path."""
        from .outputs import list_outputs

        return list_outputs(self.outputs_dir)

    @property
    def project_files(self) -> list[OutputFile]:
        """The files the program created or changed in its project folder while it ran (results
        written beside the code, such as ``plt.savefig("plot.png")``), paths relative to
        ``project_dir``, sorted. Empty for a run whose program has not started, and for runs
        made before pyrunner recorded the project folder."""
        from .workfiles import changed_files

        return changed_files(self.project_dir, self.run_dir)

    def project_file(self, path: str) -> Path:
        """The real path of one of ``project_files`` (``OutputNotFoundError`` for any other file,
        ``..`` or a link)."""
        from .workfiles import resolve_changed_file

        return resolve_changed_file(self.project_dir, self.run_dir, path)

    # -- the log -------------------------------------------------------------------------------
    @property
    def log(self) -> str:
        """The whole log as text: the program's output and the engine's messages."""
        return self.log_text()

    def log_text(self, limit: int | None = None) -> str:
        """The log written so far as text (undecodable bytes replaced); with ``limit``, only
        about its first ``limit`` bytes (whole chunks)."""
        parts: list[str] = []
        size = 0
        for chunk in self.chunks():
            parts.append(chunk.text)
            size += len(chunk.data)
            if limit is not None and size >= limit:
                break
        return "".join(parts)

    def chunks(self, offset: int = 0) -> Iterator[LogChunk]:
        """The log written so far, from byte ``offset``, a bounded read at a time."""
        while True:
            chunks, offset = read_chunks(self.run_dir, offset, final=True)
            if not chunks:
                return
            yield from chunks

    def follow(self, offset: int = 0) -> Iterator[LogChunk]:
        """Log chunks from ``offset``: the past first, then live until the run ends."""
        return follow(self.run_dir, offset, lambda: self.done)

    # -- the run's life ------------------------------------------------------------------------
    def changes(self, poll: float = 0.25) -> Iterator[RunRecord]:
        """The record now, then each time its status, progress or message changes, until (and
        including) its end. Polls every ``poll`` seconds."""
        last: tuple[object, ...] | None = None
        while True:
            record = self.record
            if record.state != last:
                last = record.state
                yield record
            if record.status.is_terminal:
                return
            time.sleep(poll)

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> RunRecord:
        """The final record, once the run has ended; ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.record
            if record.status.is_terminal:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.id} still {record.status.value}")
            time.sleep(poll)

    def cancel(self) -> RunRecord:
        """Ask the run to stop and return at once (see ``RunStore.request_cancel``)."""
        return self.store.request_cancel(self.id)

    def cancel_and_wait(
        self, timeout: float = CANCEL_WAIT, *, keep_waiting_on_interrupt: bool = False
    ) -> RunRecord:
        """Cancel the run and wait until it has stopped (see ``RunStore.cancel_and_wait``)."""
        return self.store.cancel_and_wait(
            self.id, timeout, keep_waiting_on_interrupt=keep_waiting_on_interrupt
        )
