"""Executors decide where a prepared run is supervised.

The engine prepares a run (intake) in the caller, then hands it to an executor. ``LocalExecutor``
starts a detached supervisor process on this machine, which outlives the caller (a notebook
kernel, the Jupyter server, a CLI). Other executors (a Dask cluster) implement the same interface.
"""

from __future__ import annotations

import abc
import subprocess
import sys

from .hostenv import Role, host_environment
from .liveness import process_identity
from .models import RunStatus
from .store import RunStore


class Executor(abc.ABC):
    """Starts the supervision of runs that the store holds as ``queued``."""

    name: str = "abstract"

    @abc.abstractmethod
    def submit(self, store: RunStore, run_id: str) -> None:
        """Start supervising the run; return without waiting for it."""


class LocalExecutor(Executor):
    """One detached supervisor process per run, in its own session."""

    name = "local"

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def submit(self, store: RunStore, run_id: str) -> None:
        proc = start_detached(
            store, run_id, self.python, "jupyter_pyrunner.supervisor", [], "supervisor.log"
        )
        # hand ownership over at once, so the run never looks orphaned if the caller exits now
        identity = process_identity(proc.pid)
        with store.locked(run_id):
            record = store.read(run_id)
            if record.status is RunStatus.QUEUED:
                record.supervisor = identity
                record.executor = self.name
                store.save(record)
        _forget(proc)


def start_detached(
    store: RunStore,
    run_id: str,
    python: str,
    module: str,
    args: list[str],
    log_name: str,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``python -m MODULE HOME RUN_ID *ARGS`` in a session of its own, in the run folder, its
    output to ``log_name`` there: the process that owns a run (a supervisor, a relay) and
    outlives whoever started it. Its environment is the host's as a supervisor gets it: the
    program can read it in ``/proc`` (same user), so no secrets."""
    run_dir = store.run_dir(run_id)
    env = host_environment(Role.SUPERVISOR, store.read(run_id).spec.env_deny)
    env.update(extra_env or {})
    with open(run_dir / log_name, "ab") as errors:
        return subprocess.Popen(
            [python, "-m", module, str(store.home), run_id, *args],
            stdin=subprocess.DEVNULL,
            stdout=errors,
            stderr=errors,
            start_new_session=True,
            close_fds=True,
            cwd=run_dir,
            env=env,
        )


def _forget(proc: subprocess.Popen[bytes]) -> None:
    """The supervisor is not our child to wait for: let a thread reap it when it ends."""
    import threading

    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
