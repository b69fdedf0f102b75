"""The sweep scheduler: a detached process that starts a sweep's queued runs, on this machine
or on the sweep's Dask cluster, at most ``parallel`` at once, each as an earlier one ends.

``python -m jupyter_pyrunner.sweepscheduler HOME SWEEP_ID``, started by ``sweeps.submit_sweep``
in a session of its own, so that the sweep outlives its caller as a run does. It owns the
runs while they wait (their records name it: should it die, they read as never started), and
hands each to the local executor, whose detached supervisor then owns it. It polls: which of
its started runs have ended (a run whose supervisor died counts as ended), and whether the
sweep was cancelled (the ``cancel`` file of the sweep's folder, or SIGTERM/SIGINT to this
process), in which case it cancels what has not ended and starts nothing more. It exits once
every run it started has ended.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque

from .errors import RunNotFoundError
from .models import RunStatus
from .store import RunStore
from .sweepstore import CANCEL_FILE, adopt, cancel_run, read_sweep, sweep_dir

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from .executors import Executor

#: how often the runs and the cancel request are looked at
POLL = 0.1
#: how long a run's owner may take to exit after the run's ending before its place is free
LINGER = 5.0


class SweepScheduler:
    """Starts the queued runs of one sweep, ``parallel`` at a time."""

    def __init__(self, store: RunStore, sweep_id: str) -> None:
        self.store = store
        self.sweep_id = sweep_id
        data = read_sweep(store, sweep_id)
        self.executor_options: dict[str, Any] | None = data.get("executor_options")
        self.run_ids: list[str] = list(data["runs"])
        self.parallel = max(1, int(data["parallel"]))
        self.cancel_file = sweep_dir(store, sweep_id) / CANCEL_FILE
        self._stopping = False
        self._first_ready = False

    def stop(self) -> None:
        """Cancel the sweep (a signal handler may call it)."""
        self._stopping = True

    def run(self) -> None:
        from .liveness import process_identity

        identity = process_identity()
        for run_id in self.run_ids:  # those its starter could not hand over before it ended
            try:
                adopt(self.store, run_id, identity)
            except RunNotFoundError:
                continue
        executor = self._executor()
        pending = deque(self.run_ids)
        active: list[str] = []
        cancelled = False
        first: str | None = None
        while pending or active:
            if not cancelled and (self._stopping or self.cancel_file.exists()):
                cancelled = True
                for run_id in [*active, *pending]:
                    cancel_run(self.store, run_id)
                pending.clear()
            active = [run_id for run_id in active if not self._ended(run_id)]
            while pending and len(active) < self.parallel and not self._preparing(first):
                run_id = pending.popleft()
                if self._start(executor, run_id):
                    active.append(run_id)
                    first = first or run_id
            time.sleep(POLL)

    def _executor(self) -> Executor:
        """The executor the sweep was given: this machine's, or the Dask cluster's."""
        from .executors import LocalExecutor

        if self.executor_options is None:
            return LocalExecutor()
        from .daskexec import DaskExecutor

        return DaskExecutor.from_description(self.executor_options)

    def _preparing(self, first: str | None) -> bool:
        """Whether the first run started is still getting its environment. The others wait
        for it: it alone builds the environment they all share, and they find it ready (a
        run waiting on another's build lock would wait until that run has ended)."""
        if first is None or self._first_ready:
            return False
        try:
            status = self.store.get(first).status
        except RunNotFoundError:
            status = RunStatus.CANCELLED
        self._first_ready = status not in (RunStatus.QUEUED, RunStatus.PREPARING)
        return not self._first_ready

    def _ended(self, run_id: str) -> bool:
        """Whether the run has ended and its owner (a supervisor, a relay) has exited: only
        then is its place free (for ``LINGER`` seconds at most after the ending)."""
        from .liveness import identity_alive

        try:
            record = self.store.get(run_id)
        except RunNotFoundError:
            return True
        if not record.status.is_terminal:
            return False
        since = time.time() - (record.finished or 0.0)
        return since > LINGER or not identity_alive(record.supervisor)

    def _start(self, executor: Executor, run_id: str) -> bool:
        """Hand a still-queued run to the executor; False when there was nothing to start
        (cancelled, deleted) or it could not be started (recorded as an error)."""
        try:
            if self.store.read(run_id).status is not RunStatus.QUEUED:
                return False
            executor.submit(self.store, run_id)
            return True
        except RunNotFoundError:
            return False
        except Exception as exc:  # no process could be started: say so in the run, go on
            print(f"run {run_id} could not be started: {exc!r}", file=sys.stderr, flush=True)
            with self.store.locked(run_id):
                record = self.store.read(run_id)
                if record.status is RunStatus.QUEUED:
                    record.status = RunStatus.ERROR
                    record.message = f"the sweep could not start it: {exc}"
                    record.finished = time.time()
                    self.store.save(record)
            return False


def _wait_for_handover() -> None:
    """Block until the starter closes our stdin: its runs are handed over by then."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m jupyter_pyrunner.sweepscheduler HOME SWEEP_ID``."""
    args = sys.argv[1:] if argv is None else argv
    home, sweep_id = args[0], args[1]
    scheduler: SweepScheduler | None = None
    stop_asked = False

    def on_signal(*_: object) -> None:
        nonlocal stop_asked
        stop_asked = True
        if scheduler is not None:
            scheduler.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _wait_for_handover()
    scheduler = SweepScheduler(RunStore(home), sweep_id)
    if stop_asked:
        scheduler.stop()
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
