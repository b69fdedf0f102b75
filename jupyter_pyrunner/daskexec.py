"""``DaskExecutor``: runs executed on a Dask cluster, owned here by a detached relay.

As ``LocalExecutor`` starts a detached supervisor, ``DaskExecutor.submit`` starts a detached
relay (``python -m jupyter_pyrunner.daskrelay HOME RUN_ID ADDRESS``, see ``daskrelay``) in its
own session and records it as the run's owner before returning: the run outlives its caller.
A caller that restarts re-attaches with :func:`reattach` (a new relay continues the log from
its last offset). ``"local"`` as the address starts a ``LocalCluster`` in the relay.

``distributed`` is an optional dependency, imported by the relay only: without it, making a
``DaskExecutor`` fails with one readable message.
"""

from __future__ import annotations

import json
import os
import sys

from .errors import DaskUnavailableError
from .executors import Executor, _forget, start_detached
from .liveness import identity_alive, process_identity
from .models import RunStatus
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from .capture import OutputSink
    from .daskrelay import Relay
    from .models import RunRecord

__all__ = [
    "DaskExecutor",
    "DaskUnavailableError",
    "executor_for",
    "foreground_relay",
    "local_scheduler",
    "reattach",
    "reattach_all",
    "require_distributed",
    "stop_local_cluster",
]

#: the environment variable naming the scheduler (the CLI's default for ``--dask``)
SCHEDULER_VAR = "PYRUNNER_DASK_SCHEDULER"
RELAY_FILE = "relay.json"
#: how long the end of a ``--dask local`` command waits for its runs' relays to end
RELAY_WAIT = 10.0


def require_distributed() -> None:
    """Raise one readable error when ``distributed`` cannot be imported."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise DaskUnavailableError(
            "running on Dask needs dask.distributed: pip install 'jupyter-pyrunner[dask]'"
        )


class DaskExecutor(Executor):
    """Submits each run to the Dask scheduler at ``scheduler_address`` (``"local"``: a
    ``LocalCluster`` of the relay's own). ``resources`` become the task's restrictions (Dask
    worker resources, such as ``{"GPU": 1}``); outputs bigger than ``outputs_limit`` bytes are
    written to the fsspec URL ``outputs_url`` rather than sent back."""

    name = "dask"

    def __init__(
        self,
        scheduler_address: str,
        *,
        resources: dict[str, float] | None = None,
        outputs_url: str | None = None,
        outputs_limit: int | None = None,
        python: str | None = None,
    ) -> None:
        require_distributed()
        if not scheduler_address or not isinstance(scheduler_address, str):
            raise DaskUnavailableError("give the Dask scheduler's address (or 'local')")
        self.scheduler_address = scheduler_address
        self.options: dict[str, Any] = {
            "resources": resources,
            "outputs_url": outputs_url,
            "outputs_limit": outputs_limit,
        }
        self.python = python or sys.executable

    def description(self) -> dict[str, Any]:
        """What rebuilds this executor in another process (:meth:`from_description`): a
        sweep's scheduler hands the sweep's runs to it."""
        return {"scheduler_address": self.scheduler_address, "python": self.python, **self.options}

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> DaskExecutor:
        described = dict(description)
        return cls(described.pop("scheduler_address"), **described)

    def submit(self, store: RunStore, run_id: str) -> None:
        identity = start_relay(store, run_id, self.scheduler_address, self.options, self.python)
        with store.locked(run_id):  # hand ownership over before returning, as locally
            record = store.read(run_id)
            if record.status is RunStatus.QUEUED:
                record.supervisor = identity
                record.executor = self.name
                store.save(record)


def executor_for(address: str | None) -> DaskExecutor | None:
    """The executor of ``--dask ADDRESS`` (None without one: this machine runs it).

    ``local`` is a ``LocalCluster`` of this process's own (:func:`local_scheduler`), shared by
    every run it starts: a sweep's runs, or a kernel's, queue on its workers, one per CPU,
    rather than each starting a cluster."""
    if not address:
        return None
    require_distributed()
    return DaskExecutor(local_scheduler() if address == "local" else address)


_local_cluster: Any = None


def local_scheduler() -> str:
    """The scheduler address of this process's own ``LocalCluster``, started on first use
    (one worker process per CPU, one thread each) and stopped by :func:`stop_local_cluster`
    or when the process exits. Its runs end when it does: it is for trying Dask out."""
    global _local_cluster
    if _local_cluster is None:
        import atexit
        import logging

        from .daskworker import loose

        _local_cluster = loose("distributed").LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port: 8787 may be taken
            silence_logs=logging.CRITICAL,
        )
        atexit.register(stop_local_cluster)
    return str(_local_cluster.scheduler_address)


def stop_local_cluster(store: RunStore | None = None, run_ids: Iterable[str] = ()) -> None:
    """Stop this process's ``LocalCluster`` (its workers and their runs), if it has one;
    first, for up to ``RELAY_WAIT`` seconds, wait for the relays of ``run_ids`` to end (a
    relay whose scheduler has gone spends half a minute trying to reconnect)."""
    global _local_cluster
    cluster, _local_cluster = _local_cluster, None
    if cluster is not None:
        import time

        deadline = time.monotonic() + RELAY_WAIT
        waiting = list(run_ids) if store is not None else []
        while waiting and time.monotonic() < deadline:
            assert store is not None
            waiting = [r for r in waiting if relay_alive(store, r)]
            time.sleep(0.05)
        import contextlib

        with contextlib.suppress(Exception):
            cluster.close()


def start_relay(
    store: RunStore,
    run_id: str,
    address: str,
    options: dict[str, Any] | None = None,
    python: str | None = None,
) -> dict[str, Any]:
    """A detached relay for the run, in its own session; its identity (also kept in the run
    folder's ``relay.json``, which tells whether a relay still owns the run)."""
    given = json.dumps({k: v for k, v in (options or {}).items() if v})
    proc = start_detached(
        store,
        run_id,
        python or sys.executable,
        "jupyter_pyrunner.daskrelay",
        [address],
        "relay.log",
        {"PYRUNNER_DASK_OPTIONS": given},
    )
    identity = process_identity(proc.pid)
    (store.run_dir(run_id) / RELAY_FILE).write_text(json.dumps(identity))
    _forget(proc)
    return identity


def relay_alive(store: RunStore, run_id: str) -> bool:
    """Whether the relay that owns the run still runs."""
    try:
        identity = json.loads((store.run_dir(run_id) / RELAY_FILE).read_text())
    except (OSError, ValueError):
        return False
    return identity_alive(identity)


def reattach(store: RunStore, run_id: str, address: str | None = None) -> bool:
    """Start a new relay for a Dask run whose relay has gone (a restarted server or kernel);
    it re-attaches to the task on the cluster and continues the log from its last offset.
    False when the run has ended, is not a Dask run, or a relay still owns it."""
    from .daskrelay import read_note

    # under the run's lock: of two callers re-attaching at once, one starts a relay
    with store.locked(run_id):
        record = store.read(run_id)
        if record.status.is_terminal or record.executor != "dask" or relay_alive(store, run_id):
            return False
        address = address or read_note(store.run_dir(run_id)).get("scheduler")
        if not address:
            return False
        options = {}
        raw = os.environ.get("PYRUNNER_DASK_OPTIONS")
        if raw:
            options = json.loads(raw)
        identity = start_relay(store, run_id, address, options)
        if not identity_alive(record.supervisor):
            record.supervisor = identity
            store.save(record)
    return True


def foreground_relay(
    store: RunStore,
    run_id: str,
    address: str,
    sink: OutputSink | None = None,
    on_status: Callable[[RunRecord], None] | None = None,
) -> Relay:
    """The relay of a run, to run in this process (the CLI waits for its runs): its output
    goes to ``sink`` as it comes; ``relay.interrupt()`` cancels the run."""
    require_distributed()
    from .daskrelay import Relay

    return Relay(store, run_id, address, sink=sink, on_status=on_status)


def reattach_all(store: RunStore) -> list[str]:
    """:func:`reattach` every Dask run of the store that has no relay any more; their ids. A
    restarted host (the server) calls this before reconciling orphans, which would otherwise
    end those runs as failed."""
    from .errors import RunNotFoundError

    started = []
    for run_id in store.unfinished_ids():
        try:
            if reattach(store, run_id):
                started.append(run_id)
        except (RunNotFoundError, OSError):
            continue
    return started
