"""The run store: one folder per run (the truth) and a SQLite index for listing.

Layout under the store's home::

    runs/<id>/run.json          the record (rewritten atomically)
    runs/<id>/log.txt, log.idx  the log (see ``logfile``)
    runs/<id>/inputs/input_1    the project; input_2..input_5 the user's inputs (port layout)
    runs/<id>/inputs/           the project and the inputs, side by side (flat layout)
    runs/<id>/outputs/output_1..output_4
    runs/<id>/provenance.json   interpreter, frozen packages, archive hash, timings
    index.sqlite                WAL-mode index; several processes may use the store at once

Storage only: reading a record never signals a process nor writes (a run whose supervisor
died is shown ``failed`` by ``liveness.as_seen``); ``liveness.reconcile`` writes such endings
down, and is called here only by the actions that need the truth on disk (cancel, delete).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import RunNotFoundError, RunStateError
from .faults import disk_full_message, is_disk_full, is_unwritable, read_end, write_end
from .liveness import as_seen, awaits_relay, is_orphaned, process_identity, reconcile
from .logfile import INDEX_NAME, LOG_NAME
from .models import INPUT_PORTS, OUTPUT_PORTS, RunRecord, RunSpec, RunStatus
from .paths import private_home, pyrunner_home

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any


RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
CANCEL_FILE = "cancel"
#: how long ``cancel_and_wait`` waits for a run to stop: the supervisor's grace period (2 s)
#: plus the time to write the record, with room to spare
CANCEL_WAIT = 15.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created DESC);
"""


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
    return f"{stamp}-{os.urandom(3).hex()}"


def project_folder(run_dir: Path, layout: str) -> Path:
    """Where a run's project is put in ``layout`` (see the module's layout)."""
    inputs = run_dir / "inputs"
    return inputs if layout == "flat" else inputs / "input_1"


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` at once; a write that fails (a full disk) leaves the old
    file as it was and no temporary file taking space."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private, as the store
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _with_ending(record: RunRecord, ending: dict[str, Any]) -> RunRecord:
    """``record`` with the ending its supervisor could only write into the end reserve."""
    try:
        status = RunStatus(ending["status"])
    except ValueError:
        return record
    if not status.is_terminal:
        return record
    record.status = status
    record.exit_code = ending.get("exit_code")
    record.message = ending.get("message")
    record.finished = ending.get("finished") or record.finished
    if ending.get("timings"):
        record.timings = dict(ending["timings"])
    return record


class RunStore:
    """Runs on disk, shared safely by every process that opens the same home."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = pyrunner_home(home)
        self.runs_dir = self.home / "runs"
        private_home(self.home)  # 0700 folders, 0600 files: other local users read nothing
        index = self.home / "index.sqlite"
        if not index.exists():  # SQLite gives its -wal and -shm files the index's mode
            os.close(os.open(index, os.O_WRONLY | os.O_CREAT, 0o600))
        self._local = threading.local()  # one SQLite connection per thread

    # -- index -------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.home / "index.sqlite", timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection to the index."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _index(self, record: RunRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO runs (id, created, status, name, record) VALUES (?, ?, ?, ?, ?)",
            (
                record.id,
                record.created,
                record.status.value,
                record.name,
                json.dumps(record.to_dict()),
            ),
        )

    def reindex(self) -> int:
        """Rebuild the index from the run folders (the truth). Returns the number of runs."""
        self.db.execute("DELETE FROM runs")
        count = 0
        for run_dir in self.runs_dir.iterdir():
            if RUN_ID.match(run_dir.name) and (run_dir / "run.json").exists():
                self._index(self.read(run_dir.name))
                count += 1
        return count

    # -- folders -----------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID.match(run_id):
            raise RunNotFoundError(f"'{run_id}' is not a run id")
        return self.runs_dir / run_id

    def inputs_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "inputs"

    def outputs_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "outputs"

    def project_dir(self, run_id: str, layout: str | None = None) -> Path:
        """The folder holding the run's project: ``inputs/input_1`` in the port layout,
        ``inputs`` itself in the flat one. ``layout`` is read from the record when not given."""
        if layout is None:
            layout = self.read(run_id).spec.layout
        return project_folder(self.run_dir(run_id), layout)

    def resolve_id(self, text: str) -> str:
        """A run id from what a user typed: the id, a unique prefix of it, or ``last``."""
        if text in ("last", "latest"):
            row = self.db.execute(
                "SELECT id FROM runs ORDER BY created DESC, id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise RunNotFoundError("there are no runs yet")
            return str(row[0])
        if RUN_ID.match(text):
            return text
        rows = self.db.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (text.replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            raise RunNotFoundError(f"no run '{text}' in {self.home}")
        raise RunNotFoundError(f"'{text}' matches several runs: give more of the id")

    def create(self, spec: RunSpec, name: str) -> RunRecord:
        """A new ``queued`` run with its folder layout; owned by this process until handed on."""
        now = time.time()
        while True:
            run_id = new_run_id(now)
            run_dir = self.runs_dir / run_id
            try:
                run_dir.mkdir(mode=0o700)
                break
            except FileExistsError:
                continue
        (run_dir / "logs").mkdir()
        for log_file in (LOG_NAME, INDEX_NAME):  # followers may open them before any write
            (run_dir / log_file).touch(mode=0o600)
        (run_dir / "inputs").mkdir()
        if spec.layout != "flat":
            for port in range(1, INPUT_PORTS + 1):
                (run_dir / "inputs" / f"input_{port}").mkdir()
        for port in range(1, OUTPUT_PORTS + 1):
            (run_dir / "outputs" / f"output_{port}").mkdir(parents=True)
        record = RunRecord(
            id=run_id,
            name=name,
            status=RunStatus.QUEUED,
            created=now,
            spec=spec,
            supervisor=process_identity(),
        )
        self.save(record)
        return record

    # -- records -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, run_id: str) -> Iterator[None]:
        """Serialises read-modify-write of one run's record across processes."""
        with open(self.run_dir(run_id) / ".lock", "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def save(self, record: RunRecord) -> None:
        _atomic_write(self.run_dir(record.id) / "run.json", json.dumps(record.to_dict(), indent=1))
        self._index(record)

    def read(self, run_id: str) -> RunRecord:
        """The record as stored, without checking that its supervisor lives (see ``get``).

        A record still marked live whose supervisor wrote its ending into the end reserve
        (the disk was full: see ``faults``) is read with that ending: the folder holds both."""
        run_dir = self.run_dir(run_id)
        try:
            record = RunRecord.from_dict(json.loads((run_dir / "run.json").read_text()))
        except FileNotFoundError:
            raise RunNotFoundError(f"no run '{run_id}' in {self.home}") from None
        if not record.status.is_terminal:
            ending = read_end(run_dir, run_id)
            if ending is not None:
                record = _with_ending(record, ending)
        return record

    def save_ending(self, record: RunRecord) -> str:
        """Write a run's final record come what may; how it was kept.

        ``"record"``: all of it. On a full (or read-only) disk the message says so
        (``faults.disk_full_message``) and the ending is written over the run's end reserve
        first, which needs no new space; then ``run.json`` is tried once more without its long
        fields (the installer's output, the warnings): ``"short"`` when that worked,
        ``"reserve"`` when only the reserve holds the ending, ``"lost"`` when not even that.
        The index is brought up to date when it can be; when it cannot, ``liveness.reconcile_all``
        does it later (the folder is the truth). The log is never touched: what was logged stays.
        """
        path = self.run_dir(record.id) / "run.json"
        kept = "record"
        try:
            _atomic_write(path, json.dumps(record.to_dict(), indent=1))
        except OSError as exc:
            if not is_unwritable(exc):
                raise
            record.message = disk_full_message(record.message)
            reserved = write_end(path.parent, record.id, record.to_dict())
            record.error_details, record.warnings = None, []
            try:
                _atomic_write(path, json.dumps(record.to_dict()))
                kept = "short"
            except OSError as again:
                if not is_unwritable(again):
                    raise
                return "reserve" if reserved else "lost"
        try:
            self._index(record)
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                raise
        return kept

    def get(self, run_id: str) -> RunRecord:
        """The record as a reader should see it: a run whose supervisor has died is shown
        ``failed`` (nothing is written, no process signalled: see ``liveness``).

        A supervisor writes its run's ending, then exits. Should both happen between the
        read and the look at whether it lives, the run would read as orphaned although its
        ending is on disk: a run that looks orphaned is read once more before it is shown so."""
        record = self.read(run_id)
        if is_orphaned(record) or awaits_relay(record):
            record = self.read(run_id)
        return as_seen(record)

    def update(self, run_id: str, **changes: Any) -> RunRecord:
        """Change fields of a record under its lock; returns the new record."""
        with self.locked(run_id):
            record = self.read(run_id)
            for key, value in changes.items():
                setattr(record, key, value)
            self.save(record)
            return record

    def list_runs(
        self, limit: int = 50, offset: int = 0, status: str | None = None
    ) -> list[RunRecord]:
        """Runs, newest first."""
        sql = "SELECT id, record FROM runs"
        params: list[Any] = []
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY created DESC, id DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        records = []
        for run_id, raw in self.db.execute(sql, params).fetchall():
            record = RunRecord.from_dict(json.loads(raw))
            if not (self.runs_dir / run_id).is_dir():
                continue  # deleted on a disk too full to update the index (see ``delete``)
            if not record.status.is_terminal:
                try:
                    record = self.get(run_id)  # the folder is the truth for a live run
                except RunNotFoundError:
                    continue
            records.append(record)
        return records

    def unfinished_ids(self) -> list[str]:
        """Ids of the runs the index holds as not ended (queued, preparing or running)."""
        rows = self.db.execute(
            "SELECT id FROM runs WHERE status IN ('queued', 'preparing', 'running')"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def count(self, status: str | None = None) -> int:
        if status:
            row = self.db.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ?", (status,)
            ).fetchone()
        else:
            row = self.db.execute("SELECT COUNT(*) FROM runs").fetchone()
        return int(row[0])

    def request_cancel(self, run_id: str) -> RunRecord:
        """Stop a run: a queued one is cancelled here and now, a live one is asked to stop (its
        supervisor sees the request within ~100 ms). Returns the record as it stands. An
        orphaned run is reconciled (recorded failed, its leftovers stopped) and refused."""
        record = self.read(run_id)
        if is_orphaned(record):
            record = reconcile(self, run_id)
        if record.status.is_terminal:
            raise RunStateError(f"run {run_id} has already ended ({record.status.value})")
        (self.run_dir(run_id) / CANCEL_FILE).touch()
        with self.locked(run_id):
            record = self.read(run_id)
            if record.status is RunStatus.QUEUED:
                record.status = RunStatus.CANCELLED
                record.message = "cancelled before it started"
                record.finished = time.time()
                self.save(record)
        return record

    def claim(self, run_id: str, identity: dict[str, Any]) -> RunRecord | None:
        """Take a queued run over for supervision; None when it is no longer queued."""
        with self.locked(run_id):
            record = self.read(run_id)
            if record.status is not RunStatus.QUEUED:
                return None
            record.status = RunStatus.PREPARING
            record.supervisor = identity
            record.started = time.time()
            self.save(record)
            return record

    def cancel_and_wait(
        self, run_id: str, timeout: float = CANCEL_WAIT, *, keep_waiting_on_interrupt: bool = False
    ) -> RunRecord:
        """Cancel the run and wait until it has stopped (its processes gone); returns the
        record, still live if it did not stop within ``timeout``. A run that has already
        ended is returned as it is. ``keep_waiting_on_interrupt``: a Ctrl-C (a kernel's
        second interrupt) while waiting does not stop the wait."""
        try:
            self.request_cancel(run_id)
        except RunStateError:
            return self.get(run_id)  # it ended meanwhile
        deadline = time.monotonic() + timeout
        while True:
            try:
                record = self.read(run_id)
                if is_orphaned(record):  # its supervisor died meanwhile: its leftovers go now
                    record = reconcile(self, run_id)
                if record.status.is_terminal or time.monotonic() > deadline:
                    return record
                time.sleep(0.05)
            except KeyboardInterrupt:
                if not keep_waiting_on_interrupt:
                    raise

    def cancel_requested(self, run_id: str) -> bool:
        return (self.run_dir(run_id) / CANCEL_FILE).exists()

    def request_stop(self, run_id: str, reason: str) -> None:
        """Stop a run for a reason that is not a user's cancel (its Dask worker is shutting
        down): it ends ``failed`` with ``reason`` as its message."""
        path = self.run_dir(run_id) / CANCEL_FILE
        partial = path.with_name(f".{CANCEL_FILE}.{os.getpid()}")
        partial.write_text(reason)
        os.replace(partial, path)

    def stop_reason(self, run_id: str) -> str | None:
        """Why the run is being stopped, when it is not a cancel (see :meth:`request_stop`)."""
        try:
            with open(self.run_dir(run_id) / CANCEL_FILE, encoding="utf-8") as f:
                return f.read(1000).strip() or None
        except (OSError, ValueError):
            return None

    def delete(self, run_id: str, force: bool = False) -> None:
        """Remove a finished run and its files (``force`` cancels a live one first). Works
        on a full disk: nothing before the removal needs space."""
        try:
            record = self.read(run_id)
        except RunNotFoundError:
            if RUN_ID.match(run_id):  # its folder went, its row may not have (a full disk)
                self._unindex(run_id)
            raise
        if is_orphaned(record):
            record = reconcile(self, run_id)  # its leftovers must not outlive its folder
        if not record.status.is_terminal:
            if not force:
                raise RunStateError(f"run {run_id} is still {record.status.value}: cancel it first")
            record = self.cancel_and_wait(run_id)
            if is_orphaned(self.read(run_id)):  # its supervisor died rather than stopped
                record = reconcile(self, run_id)
            if not record.status.is_terminal:
                raise RunStateError(f"run {run_id} did not stop; try again in a moment")
        # nothing above needs space on a full disk (reconciling tolerates it): this frees it
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        self._unindex(run_id)

    def _unindex(self, run_id: str) -> None:
        """Remove a run's row from the index (its folder is gone). On a disk too full even
        for that, the row stays behind: listing skips the rows whose folder is gone, and the
        next delete of the id removes it."""
        try:
            self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                raise
