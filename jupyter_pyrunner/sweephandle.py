"""``SweepHandle``: a sweep seen from any face: its runs, their statuses, a table; waiting
for it and cancelling it."""

from __future__ import annotations

import os
import time

from .errors import RunNotFoundError
from .models import RunRecord, RunStatus
from .store import RunStore
from .sweepparams import expand
from .sweepstore import cancel_sweep, read_sweep

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from .handle import RunHandle


class SweepHandle:
    """A sweep in a store: its runs, their statuses, a table; wait for it or cancel it."""

    def __init__(self, store: RunStore, sweep_id: str) -> None:
        self.store = store
        self.id = sweep_id
        self.info = read_sweep(store, sweep_id)

    @classmethod
    def open(cls, sweep_id: str, home: str | os.PathLike[str] | None = None) -> SweepHandle:
        """The sweep ``sweep_id`` of the store at ``home`` (from another process, later)."""
        return cls(RunStore(home), sweep_id)

    def __repr__(self) -> str:
        return f"<SweepHandle {self.id} {self.summary}>"

    @property
    def params(self) -> dict[str, list[str]]:
        return dict(self.info["params"])

    @property
    def run_ids(self) -> list[str]:
        return list(self.info["runs"])

    @property
    def combinations(self) -> list[dict[str, str]]:
        """Each run's parameters, in the order of :attr:`runs`."""
        return expand(self.info["params"])

    @property
    def runs(self) -> list[RunHandle]:
        from .handle import RunHandle

        return [RunHandle(self.store, run_id) for run_id in self.run_ids]

    def records(self) -> list[RunRecord | None]:
        """Each run's record as a reader sees it (None for a run deleted since)."""
        records: list[RunRecord | None] = []
        for run_id in self.run_ids:
            try:
                records.append(self.store.get(run_id))
            except RunNotFoundError:
                records.append(None)
        return records

    @property
    def counts(self) -> dict[str, int]:
        """How many runs are in each status (``deleted`` for runs removed since)."""
        return count_statuses(self.records())

    @property
    def status(self) -> str:
        """The sweep in one word: ``running`` while a run has not ended; then ``succeeded``
        when every run did, ``failed`` when one failed, timed out or could not run,
        ``cancelled`` otherwise."""
        return sweep_status(self.counts)

    @property
    def summary(self) -> str:
        """``6 runs: 4 succeeded, 1 failed, 1 running``."""
        return summary_text(self.counts)

    @property
    def done(self) -> bool:
        return self.status != "running"

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> list[RunRecord | None]:
        """The final records once every run has ended; ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            records = self.records()
            if all(r is None or r.status.is_terminal for r in records):
                return records
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"sweep {self.id} still running: {self.summary}")
            time.sleep(poll)

    def cancel(self) -> None:
        """Cancel every run that has not ended; returns at once."""
        cancel_sweep(self.store, self.id)

    def cancel_and_wait(self, timeout: float = 30.0) -> list[RunRecord | None]:
        """Cancel, then wait until every run has stopped (``TimeoutError`` past ``timeout``)."""
        self.cancel()
        return self.wait(timeout)

    def rows(self) -> list[dict[str, Any]]:
        """One row per combination: its parameters, then run, status, exit code, progress,
        duration (seconds) and message."""
        rows = []
        for run_id, combo, record in zip(
            self.run_ids, self.combinations, self.records(), strict=True
        ):
            rows.append({**combo, **_run_row(run_id, record)})
        return rows

    def table(self) -> Any:
        """:meth:`rows` as a pandas ``DataFrame`` when pandas can be imported, else the list."""
        rows = self.rows()
        try:
            import pandas  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            return rows
        return pandas.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The sweep with its runs (id, params, status, exit code, progress, duration,
        message), as ``pyrunner sweep --json`` and the REST API give it."""
        runs = []
        counts: dict[str, int] = {}
        for run_id, combo, record in zip(
            self.run_ids, self.combinations, self.records(), strict=True
        ):
            run = _run_row(run_id, record)
            runs.append({"id": run.pop("run"), "params": combo, **run})
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        info = {k: v for k, v in self.info.items() if k != "runs"}
        return {**info, "status": sweep_status(counts), "counts": counts, "runs": runs}


def _run_row(run_id: str, record: RunRecord | None) -> dict[str, Any]:
    """A run's columns in a sweep's table."""
    if record is None:
        return {
            "run": run_id,
            "status": "deleted",
            "exit_code": None,
            "progress": None,
            "duration": None,
            "message": "the run was deleted",
        }
    duration = record.duration
    return {
        "run": run_id,
        "status": record.status.value,
        "exit_code": record.exit_code,
        "progress": record.progress,
        "duration": None if duration is None else round(duration, 3),
        "message": record.message,
    }


def count_statuses(records: Iterable[RunRecord | None]) -> dict[str, int]:
    """How many of ``records`` are in each status (None: ``deleted``), in order of first sight."""
    counts: dict[str, int] = {}
    for record in records:
        key = "deleted" if record is None else record.status.value
        counts[key] = counts.get(key, 0) + 1
    return counts


def summary_text(counts: Mapping[str, int]) -> str:
    """``6 runs: 4 succeeded, 1 failed, 1 running``."""
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{sum(counts.values())} runs: {parts}"


#: the statuses that make a sweep ``failed``
_FAILING = {"failed", "timed_out", "error", "deleted"}


def sweep_status(counts: Mapping[str, int]) -> str:
    """A sweep's one word from how many runs are in each status (see ``SweepHandle.status``)."""
    live = {RunStatus.QUEUED.value, RunStatus.PREPARING.value, RunStatus.RUNNING.value}
    if any(counts.get(s) for s in live):
        return "running"
    if any(counts.get(s) for s in _FAILING):
        return "failed"
    if counts.get("cancelled"):
        return "cancelled"
    return "succeeded"
