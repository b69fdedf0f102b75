"""``pyrunner sweep``: one project run for each combination of parameters, shown live.

The engine does the work (``sweeps.submit_sweep``): this face parses ``--param NAME=V1,V2``,
waits for the sweep while showing one line per combination (redrawn in place on a terminal,
a plain line per change otherwise), cancels every run on Ctrl-C (SIGINT, SIGTERM, SIGHUP), and
exits 0 when every run succeeded, :data:`EXIT_SWEEP_FAILED` when one did not, 130 when it was
interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

from .exits import EXIT_CANCELLED

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any, TextIO

    from ..models import RunRecord
    from ..sweeps import SweepHandle

#: the exit code of a sweep in which at least one run did not succeed (failed, timed out,
#: cancelled, or could not be run): the runs' own codes are in ``--json``
EXIT_SWEEP_FAILED = 1
#: how often the table is redrawn (a terminal) or the runs looked at (plain lines)
REFRESH = 0.25
#: after Ctrl-C, how long the runs have to stop before the command gives up waiting
STOP_WAIT = 30.0


def add_parser(sub: Any) -> None:
    """The ``sweep`` sub-command's parser (the run options are ``pyrunner run``'s)."""
    from ..runoptions import add_run_options, number

    sweep = sub.add_parser(
        "sweep",
        help="run a project once per combination of parameters",
        description="Run a project once for each combination of the parameters' values; "
        "arguments after -- go to every run, with {NAME} replaced by the run's value.",
    )
    sweep.add_argument("source", help="the project: a .zip, a folder or a single .py file")
    sweep.add_argument(
        "--param",
        metavar="NAME=V1,V2,...",
        action="append",
        default=[],
        dest="params",
        help="a parameter and its values (comma-separated); repeat for each parameter",
    )
    sweep.add_argument(
        "--parallel",
        metavar="N",
        type=number(int, minimum=0),
        help="at most N runs at once on this machine (default: the number of CPUs)",
    )
    sweep.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=os.environ.get("PYRUNNER_DASK_SCHEDULER"),
        help="run on the Dask cluster of this scheduler ($PYRUNNER_DASK_SCHEDULER)",
    )
    add_run_options(sweep)
    sweep.add_argument(
        "--json",
        action="store_true",
        help="print the sweep with its runs as JSON on stdout (the table goes to stderr)",
    )


def parse_params(words: list[str]) -> list[tuple[str, list[str]]]:
    """``["a=1,2", "b=x"]`` → ``[("a", ["1", "2"]), ("b", ["x"])]`` (``a=`` has no values:
    the engine refuses it, as it refuses a name given twice)."""
    from ..errors import InvalidRunSpecError

    pairs = []
    for word in words:
        name, eq, values = word.partition("=")
        if not eq or not name:
            raise InvalidRunSpecError(
                f"--param takes NAME=V1,V2,... (values separated by commas), not {word[:60]!r}"
            )
        pairs.append((name, values.split(",") if values else []))
    return pairs


def sweep(ns: argparse.Namespace, program_args: list[str]) -> int:
    """``pyrunner sweep``: submit, show the table until every run has ended, report."""
    from ..daskexec import executor_for, stop_local_cluster
    from ..runoptions import spec_from_options
    from ..store import RunStore
    from ..sweeps import submit_sweep

    store = RunStore(ns.home)
    spec = spec_from_options(ns.source, ns, program_args)
    params = parse_params(ns.params)
    handle = None
    try:
        executor = executor_for(ns.dask)  # --dask local: a cluster of this command's own
        handle = submit_sweep(store, spec, params, parallel=ns.parallel, executor=executor)
        out = sys.stderr if ns.json else sys.stdout
        interrupted = _watch(handle, SweepView(handle, out))
    finally:
        stop_local_cluster(store, handle.run_ids if handle is not None else ())
    final = handle.to_dict()
    print(f"pyrunner: sweep {handle.id} {final['status']}: {handle.summary}", file=sys.stderr)
    if ns.json:
        print(json.dumps(final, indent=1))
    if interrupted:
        return EXIT_CANCELLED
    return 0 if final["status"] == "succeeded" else EXIT_SWEEP_FAILED


def _watch(handle: SweepHandle, view: SweepView) -> bool:
    """Show the sweep until every run has ended; a signal cancels them all (and the wait
    goes on until they have stopped). Returns whether it was interrupted."""
    asked: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: asked.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    deadline = None
    try:
        while True:
            records = handle.records()
            view.show(records)
            if all(r is None or r.status.is_terminal for r in records):
                break
            if asked and deadline is None:
                view.note("interrupted: cancelling every run of the sweep")
                handle.cancel()
                deadline = time.monotonic() + STOP_WAIT
            if deadline is not None and time.monotonic() > deadline:
                view.note("some runs did not stop in time; they are still being cancelled")
                break
            time.sleep(REFRESH)
    finally:
        view.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return bool(asked)


class SweepView:
    """The sweep's table: redrawn in place on a terminal, else one line per change."""

    def __init__(self, handle: SweepHandle, out: TextIO) -> None:
        self.handle = handle
        self.out = out
        self.tty = out.isatty()
        self.names = list(handle.params)
        self.combos = [" ".join(f"{k}={v}" for k, v in c.items()) for c in handle.combinations]
        self._drawn = 0  # lines of the last drawing (terminal)
        self._seen: list[tuple[Any, ...] | None] = [None] * len(self.combos)

    def show(self, records: list[RunRecord | None]) -> None:
        if self.tty:
            self._draw(records)
        else:
            self._changes(records)

    def note(self, text: str) -> None:
        self._erase()
        print(f"pyrunner: {text}", file=self.out, flush=True)

    def close(self) -> None:
        """Leave the last drawing on screen (a terminal); print the final table otherwise."""
        if self.tty:
            self._drawn = 0
            return
        print(self._table(self.handle.records()), file=self.out, flush=True)

    # -- a terminal ---------------------------------------------------------------------------
    def _draw(self, records: list[RunRecord | None]) -> None:
        height = _terminal_lines() - 2
        lines = self._table(records, room=max(3, height)).split("\n")
        from ..sweephandle import count_statuses, summary_text

        lines.append(f"sweep {self.handle.id}: {summary_text(count_statuses(records))}")
        self._erase()
        self.out.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self.out.flush()
        self._drawn = len(lines)

    def _erase(self) -> None:
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    # -- plain lines ----------------------------------------------------------------------------
    def _changes(self, records: list[RunRecord | None]) -> None:
        """A line for each run whose status changed (its first sight included but queued)."""
        for i, record in enumerate(records):
            state = None if record is None else (record.status, record.exit_code)
            if state == self._seen[i]:
                continue
            first = self._seen[i] is None
            self._seen[i] = state
            if record is None or (first and record.status.value == "queued"):
                continue
            print(f"{self.combos[i]}: {_change(record)}", file=self.out)
        self.out.flush()

    # -- the table ------------------------------------------------------------------------------
    def _table(self, records: list[RunRecord | None], room: int | None = None) -> str:
        from ..humanize import table

        combos = self.handle.combinations
        rows = [
            [combo[n] for n in self.names] + _cells(record)
            for combo, record in zip(combos, records, strict=True)
        ]
        hidden = 0
        if room is not None and len(rows) + 1 > room:
            rows, hidden = _fit(rows, records, room - 2)
        text = table(rows, [*self.names, "STATUS", "PROGRESS", "EXIT", "DURATION", "RUN"])
        return text + (f"\n… {hidden} more" if hidden else "")


def _cells(record: RunRecord | None) -> list[str]:
    """STATUS, PROGRESS, EXIT, DURATION, RUN of one combination."""
    from ..humanize import duration_text

    if record is None:
        return ["deleted", "-", "-", "-", "-"]
    return [
        record.status.value,
        "-" if record.progress is None else f"{record.progress:.0%}",
        "-" if record.exit_code is None else str(record.exit_code),
        duration_text(record.duration, compact=True),
        record.id,
    ]


def _change(record: RunRecord) -> str:
    """``running (run ID)``; ``failed, exit 3, 1.2s (run ID)`` once it has ended."""
    from ..humanize import duration_text

    if not record.status.is_terminal:
        return f"{record.status.value} (run {record.id})"
    code = "" if record.exit_code is None else f", exit {record.exit_code}"
    took = duration_text(record.duration, compact=True)
    return f"{record.status.value}{code}, {took} (run {record.id})"


def _fit(
    rows: list[list[str]], records: list[RunRecord | None], room: int
) -> tuple[list[list[str]], int]:
    """The rows that fit a terminal: those that have started and not succeeded come first,
    in order (what needs an eye), then the others; how many were left out."""
    from ..models import RunStatus

    def rank(i: int) -> int:
        record = records[i]
        if record is None or record.status is RunStatus.SUCCEEDED:
            return 2
        return 1 if record.status is RunStatus.QUEUED else 0

    keep = sorted(sorted(range(len(rows)), key=rank)[: max(1, room)])
    return [rows[i] for i in keep], len(rows) - len(keep)


def _terminal_lines() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).lines
