"""The relay of a run on a Dask cluster: the local owner of a run that executes on a worker.

``python -m jupyter_pyrunner.daskrelay HOME RUN_ID ADDRESS`` runs detached, like a local
supervisor, and outlives whoever started the run. :class:`Relay` (also usable in-process, as
``pyrunner run --dask local`` does):

1. connects a ``distributed.Client`` to the scheduler (``local``: a ``LocalCluster`` of its
   own, whose worker shares this filesystem);
2. submits the run's task (``daskworker.execute``) under the key ``pyrunner-<run_id>``, kept
   alive by the scheduler as a published dataset of that name so that the run outlives this
   process, or re-attaches to it when the record already names that key;
3. writes the log the worker publishes into the local run at the same byte offsets, live,
   asking the worker for any range it missed (a gap, or everything since the last offset
   after re-attaching), so that nothing is lost and nothing written twice;
4. turns the store's cancel request, SIGTERM and SIGINT into the run's distributed cancel
   ``Event``, which the worker turns into the cancel file its supervisor watches;
5. writes the outputs it gets back and the final record; a worker lost (gone from the
   scheduler, or the task refused on the worker it was moved to) ends the run ``failed``,
   naming the worker, the log kept.

On a shared filesystem the worker supervises the run in place (it writes the record and the
log itself): the relay then only waits, cancels and writes down a lost worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import time
from pathlib import Path

from .daskbundle import BundleError, pack_inputs, place_outputs
from .daskworker import (
    STATE_FIELDS,
    STREAM_IDS,
    TOKEN_FILE,
    attempt_name,
    cancel_event_name,
    log_topic,
    loose,
    state_topic,
    task_key,
)
from .errors import RunLostError
from .logfile import LogWriter
from .models import RunRecord, RunStatus
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .capture import OutputSink

#: the run folder's note of the scheduler the run was sent to (for a relay re-attaching)
SCHEDULER_FILE = "dask.json"
#: how often the relay looks at the scheduler's workers and the cancel file
CHECK_INTERVAL = 0.1
WORKERS_INTERVAL = 1.0
CONNECT_TIMEOUT = 10
#: bundles up to this size go in the task; bigger ones are scattered (sent once, by content)
INLINE_BUNDLE = 1 << 20


#: the statuses a mirrored record may move on to from each (its ending comes with the result)
_LATER = {
    RunStatus.QUEUED: ("preparing", "running"),
    RunStatus.PREPARING: ("running",),
}


#: the ending of a run whose relay stopped while it sent the run's task to the scheduler
UNFOLLOWED = (
    "the process sending this run to the Dask cluster stopped before it could follow it; "
    "the run was stopped wherever it had started"
)


def lost_message(address: str | None) -> str:
    where = f" ({address})" if address else ""
    return f"the worker running it{where} was lost; its log up to then is kept"


class Relay:
    """Takes a run queued in ``store`` to its end on the Dask cluster at ``address``."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        address: str,
        *,
        resources: dict[str, float] | None = None,
        outputs_url: str | None = None,
        outputs_limit: int | None = None,
        sink: OutputSink | None = None,
        on_status: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.run_dir = store.run_dir(run_id)
        self.address = address
        self.resources = resources
        self.outputs_url = outputs_url
        self.outputs_limit = outputs_limit
        self.sink = sink
        self.on_status = on_status
        self.worker: str | None = None
        self.shared: bool | None = None
        self._events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._interrupted = False
        self._cancel_sent = False
        self._log: LogWriter | None = None
        self._shown = 0  # how much of a log the worker writes in place was shown (``sink``)
        self._state_shown: tuple[Any, ...] | None = None
        self._cluster: Any = None
        self._client: Any = None
        #: the record's message says what the run waits for (no worker offers it yet)
        self._waiting = False
        #: since when the scheduler has been out of reach (monotonic), None while it is not
        self._unreachable_since: float | None = None

    # -- signals -------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Cancel the run (a signal handler may call this)."""
        self._interrupted = True

    # -- the whole ---------------------------------------------------------------------------
    def run(self) -> RunRecord:
        from .liveness import process_identity

        note = json.dumps(process_identity())
        (self.run_dir / "relay.json").write_text(note)  # this relay owns the run now
        try:
            client = self._connect()
        except Exception as exc:
            return self._end_unstarted(
                f"could not reach the Dask scheduler at {self.address}: {exc}"
            )
        try:
            with LogWriter(self.run_dir) as log:
                self._log = log
                try:
                    return self._relay(client)
                except Exception as exc:  # a bug or a surprise of ours: one message, kept
                    print(f"the relay failed: {exc!r}", file=sys.stderr, flush=True)
                    return self._end(
                        RunStatus.ERROR, f"pyrunner could not follow the run on Dask: {exc}"
                    )
        finally:
            self._close()

    def _connect(self) -> Any:
        dd = loose("distributed")
        if self.address == "local":
            import logging

            # the cluster lives in this process, whose terminal shows the run: its own logs
            # (a shutdown cancelling what waits) are not the user's business
            self._cluster = dd.LocalCluster(
                n_workers=1,
                threads_per_worker=4,
                processes=False,
                dashboard_address=":0",  # a free port: 8787 may be taken
                silence_logs=logging.CRITICAL,
            )
            self._client = dd.Client(self._cluster)
        elif self.address.startswith("gateway:"):
            self._client = gateway_client(self.address)
        else:
            self._client = dd.Client(self.address, timeout=CONNECT_TIMEOUT)
        return self._client

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            if self._client is not None:
                self._client.close()
        with contextlib.suppress(Exception):
            if self._cluster is not None:
                self._cluster.close()

    def _relay(self, client: Any) -> RunRecord:
        key = task_key(self.run_id)
        client.subscribe_topic(log_topic(self.run_id), lambda e: self._events.put(("log", e[1])))
        client.subscribe_topic(
            state_topic(self.run_id), lambda e: self._events.put(("state", e[1]))
        )
        record = self.store.read(self.run_id)
        if record.status.is_terminal:
            return record
        future = self._attach(client, key) if record.dask_key else None
        if future is None:
            if record.dask_key:  # named, yet unknown to the scheduler: its ending never came
                # a task whose relay died as it sent it may still run on a worker: stop it
                self._send_cancel(client)
                if record.worker is None:
                    return self._end(RunStatus.FAILED, UNFOLLOWED)
                return self._end(RunStatus.FAILED, lost_message(record.worker))
            claimed = self._claim()
            if claimed is None:  # cancelled before it could be sent
                return self.store.read(self.run_id)
            from .daskplacement import PlacementError

            try:
                future = self._submit(client, key, claimed)
            except PlacementError as exc:
                return self._end(RunStatus.FAILED, str(exc))
        else:
            self.worker = record.worker
            self._catch_up(client)
        return self._watch(client, future)

    # -- submitting and re-attaching ------------------------------------------------------------
    def _claim(self) -> RunRecord | None:
        """Take the queued run over (``preparing``, owned by this relay), as a supervisor does:
        from now on a cancel goes through the relay. None when it is no longer queued."""
        from .liveness import process_identity

        record = self.store.claim(self.run_id, process_identity())
        if record is not None:
            self._notify(record)
        return record

    def _submit(self, client: Any, key: str, record: RunRecord) -> Any:
        from .daskplacement import place
        from .daskworker import execute

        token = os.urandom(16).hex()
        token_path = self.run_dir / TOKEN_FILE
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w") as f:
            f.write(token)
        placement = place(record.spec, self.resources, _workers(client))
        try:
            bundle: bytes | None
            bundle, digest = pack_inputs(self.store.inputs_dir(self.run_id))
            too_big = None
        except BundleError as exc:  # a worker sharing this filesystem needs no bundle
            bundle, digest, too_big = None, "", str(exc)
        payload = {
            "run_id": self.run_id,
            "home": str(self.store.home),
            "run_dir": str(self.run_dir),
            "token": token,
            "record": record.to_dict(),
            "bundle_sha256": digest,
            "bundle_too_big": too_big,
            "outputs_url": self.outputs_url,
            "outputs_limit": self.outputs_limit,
        }
        # a small bundle travels in the task itself, which the scheduler keeps: should the
        # worker holding a scattered copy be lost, the task would be lost with it
        shipped = (
            bundle if bundle is None or len(bundle) <= INLINE_BUNDLE
            else client.scatter(bundle, hash=True)
        )  # fmt: skip
        dashboard = _dashboard(client)
        self._note_scheduler()
        self._waiting = placement.waiting is not None
        shown = {"message": placement.waiting} if self._waiting else {}
        self.store.update(self.run_id, dask_key=key, executor="dask", dashboard=dashboard, **shown)
        future = client.submit(
            execute,
            payload,
            shipped,
            key=key,
            pure=False,
            retries=0,
            resources=placement.resources,
            workers=placement.workers,
            allow_other_workers=False,
        )
        client.publish_dataset(future, name=key, override=True)
        return future

    def _note_scheduler(self, **more: Any) -> None:
        """Where the run went (for a relay re-attaching later): the scheduler, and once the
        task has started, whether its worker shares this filesystem."""
        note = {**read_note(self.run_dir), "scheduler": self.address, **more}
        (self.run_dir / SCHEDULER_FILE).write_text(json.dumps(note))

    def _attach(self, client: Any, key: str) -> Any:
        """The run's task, when the scheduler still holds it (as a published dataset)."""
        try:
            return client.get_dataset(key, default=None)
        except Exception:
            return None

    def _catch_up(self, client: Any) -> None:
        """After re-attaching, what the worker logged since our last offset."""
        note = read_note(self.run_dir)
        self.shared = note.get("shared")
        if self.worker is not None and self.shared is False and self._log is not None:
            self._fetch(client, self._log.offset)

    # -- watching ------------------------------------------------------------------------------
    def _watch(self, client: Any, future: Any) -> RunRecord:
        last_workers = time.monotonic()
        # the task's end wakes the wait for events below at once
        future.add_done_callback(lambda _done: self._events.put(("done", {})))
        while not future.done():
            self._drain(client)
            self._show_shared()
            if self._cancel_wanted():
                self._send_cancel(client)
                if self.worker is None and not self._starts_soon(client, future):
                    return self._cancel_unstarted(client, future)
            now = time.monotonic()
            if now - last_workers >= WORKERS_INTERVAL:
                last_workers = now
                if self._worker_gone(client):
                    return self._lost(client, future)
                if self._scheduler_gone(client, now):  # the worker stops the run too
                    return self._end(RunStatus.FAILED, self._scheduler_lost())
            # wait for the next event (a log piece is written the moment it comes) or a tick
            self._drain(client, wait=CHECK_INTERVAL)
        self._drain(client)
        ended = self._ended(client, future)
        self._show_shared(final=True)
        return ended

    def _show_shared(self, final: bool = False) -> None:
        """On a shared filesystem the worker writes the log and the record itself: a caller
        in the foreground still sees the output and the status as they change."""
        if not self.shared or (self.sink is None and self.on_status is None):
            return
        from .logfile import read_chunks

        if self.sink is not None:
            while True:
                chunks, end = read_chunks(self.run_dir, self._shown, final=final)
                for chunk in chunks:
                    self.sink(STREAM_IDS.get(chunk.stream, 1), chunk.data)
                if end == self._shown:
                    break
                self._shown = end
        if self.on_status is not None and not final:
            record = self.store.read(self.run_id)
            if record.state != self._state_shown:
                self._state_shown = record.state
                self.on_status(record)

    def _starts_soon(self, client: Any, future: Any, wait: float = 1.0) -> bool:
        """Whether the task turns out to have started (its first event comes within ``wait``
        seconds, or it ended): then the worker stops it, through the cancel ``Event``."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self._drain(client)
            if self.worker is not None or future.done():
                return True
            time.sleep(0.05)
        return False

    def _cancel_unstarted(self, client: Any, future: Any) -> RunRecord:
        """Cancelled while the task waits for a worker: it never starts."""
        with contextlib.suppress(Exception):
            future.cancel()
        self._forget(client)
        return self._end(RunStatus.CANCELLED, "cancelled before it started")

    def _cancel_wanted(self) -> bool:
        return self._interrupted or self.store.cancel_requested(self.run_id)

    def _send_cancel(self, client: Any) -> None:
        if self._cancel_sent:
            return
        with contextlib.suppress(Exception):
            loose("distributed").Event(cancel_event_name(self.run_id), client=client).set()
            self._cancel_sent = True

    def _worker_gone(self, client: Any) -> bool:
        if self.worker is None:
            return False
        try:
            workers = _workers(client)
        except Exception:
            return False
        return self.worker not in workers

    def _drain(self, client: Any, wait: float = 0.0) -> None:
        """Write down every event received; with ``wait``, first wait up to that long for one."""
        while True:
            try:
                kind, event = self._events.get(timeout=wait) if wait else self._events.get_nowait()
            except queue.Empty:
                return
            wait = 0.0
            if kind == "log":
                self._write_event(client, event)
            elif kind != "done":
                self._state(event)

    def _state(self, event: dict[str, Any]) -> None:
        if event.get("kind") == "started":
            self.worker = event["address"]
            self.shared = bool(event.get("shared"))
            self._note_scheduler(shared=self.shared, worker=self.worker)
            cleared = {"message": None} if self._waiting else {}  # it waits no more
            self.store.update(self.run_id, worker=self.worker, **cleared)
            self._waiting = False
            return
        state = event.get("record") or {}
        if self.shared:
            return
        changes = {k: state[k] for k in STATE_FIELDS if k in state}
        status = changes.pop("status", None)
        with self.store.locked(self.run_id):
            record = self.store.read(self.run_id)
            if record.status.is_terminal:
                return
            if status in _LATER.get(record.status, ()):  # never back, never the ending here
                changes["status"] = RunStatus(status)
            for name, value in changes.items():
                setattr(record, name, value)
            self.store.save(record)
        if self.on_status is not None:
            self.on_status(record)

    def _write_event(self, client: Any, event: dict[str, Any]) -> None:
        """Write one log event at its offset: a piece already written is skipped, a gap
        before it is fetched from the worker first."""
        log = self._log
        assert log is not None
        offset, data = int(event["offset"]), bytes(event["data"])
        if offset > log.offset:
            self._fetch(client, log.offset, until=offset)
        if offset + len(data) <= log.offset or offset > log.offset:
            return  # written already (or the gap could not be filled: the worker is gone)
        data = data[log.offset - offset :]
        stream = STREAM_IDS.get(str(event["stream"]), 1)
        log.write(stream, data, float(event["timestamp"]) or None)
        if self.sink is not None:
            self.sink(stream, data)

    def _fetch(self, client: Any, offset: int, until: int | None = None) -> None:
        """The worker's log from ``offset`` (up to ``until``, or to its end), by a small task
        pinned to the run's worker."""
        from .daskworker import read_log

        if self.worker is None:
            return
        while until is None or offset < until:
            try:
                part = client.submit(
                    read_log,
                    self.run_id,
                    offset,
                    workers=[self.worker],
                    allow_other_workers=False,
                    pure=False,
                ).result(timeout=30)
            except Exception:
                return
            for event in part["events"]:
                self._write_event(client, event)
            if part["end"] <= offset:
                return
            offset = part["end"]

    # -- endings --------------------------------------------------------------------------------
    def _lost(self, client: Any, future: Any) -> RunRecord:
        with contextlib.suppress(Exception):
            future.cancel()
        self._forget(client)
        return self._end(RunStatus.FAILED, lost_message(self.worker))

    def _ended(self, client: Any, future: Any) -> RunRecord:
        try:
            result = future.result()
        except RunLostError as exc:
            self._forget(client)
            return self._end(RunStatus.FAILED, _lost_text(exc, self.worker))
        except BundleError as exc:  # too big to ship, or a bad entry: nothing ran
            self._forget(client)
            return self._end(RunStatus.FAILED, str(exc))
        except BaseException as exc:  # KilledWorker, a cancelled task, the worker's own error
            self._forget(client)
            if type(exc).__name__ in ("KilledWorker", "CancelledError", "FutureCancelledError"):
                if str(getattr(client, "status", "running")) != "running":
                    return self._end(RunStatus.FAILED, self._scheduler_lost())
                return self._end(RunStatus.FAILED, lost_message(self.worker))
            return self._end(RunStatus.ERROR, f"the run failed on the Dask worker: {exc!r}")
        self.worker = result.get("worker") or self.worker
        if not result.get("shared"):
            self._fetch(client, self._log.offset if self._log else 0, until=result.get("log_size"))
        final = RunRecord.from_dict(result["record"])
        warnings = list(final.warnings)
        if not result.get("shared"):
            problem = place_outputs(self.store, self.run_id, result)
            if problem:
                warnings.append(problem)  # the worker's copy stays (see prune_worker_store)
            else:
                self._discard(client)
        self._forget(client)
        return self._finish(final, warnings)

    def _discard(self, client: Any) -> None:
        """The worker lets go of the run's folder: its log and outputs are all here now."""
        from .daskworker import discard_run

        if self.worker is None:
            return
        with contextlib.suppress(Exception):
            client.submit(
                discard_run,
                self.run_id,
                workers=[self.worker],
                allow_other_workers=False,
                pure=False,
            ).result(timeout=30)

    def _scheduler_gone(self, client: Any, now: float) -> bool:
        """Whether the scheduler has been out of reach for ``SCHEDULER_GRACE`` seconds."""
        from .daskworker import SCHEDULER_GRACE

        if str(getattr(client, "status", "running")) == "running":
            self._unreachable_since = None
            return False
        self._unreachable_since = self._unreachable_since or now
        return now - self._unreachable_since > SCHEDULER_GRACE

    def _scheduler_lost(self) -> str:
        return (
            f"the Dask scheduler ({self.address}) was lost; the worker stops the run, and its "
            "log up to then is kept"
        )

    def _forget(self, client: Any) -> None:
        """The scheduler lets go of the run's task, its attempt note and its two topics (it
        would keep the last 1000 events of each, the log's bytes among them, for ever)."""
        key = task_key(self.run_id)
        with contextlib.suppress(Exception):
            client.unpublish_dataset(key)
        with contextlib.suppress(Exception):
            client.set_metadata(attempt_name(self.run_id), None)
        with contextlib.suppress(Exception):  # a set event stays on the scheduler until cleared
            loose("distributed").Event(cancel_event_name(self.run_id), client=client).clear()
        # (no unsubscribing: the scheduler would make the topic again to take this client off)
        topics = [log_topic(self.run_id), state_topic(self.run_id)]

        def drop(dask_scheduler: Any = None) -> None:  # runs on the scheduler, sent by value
            broker: Any = getattr(dask_scheduler, "_broker", None)
            for name in topics if broker is not None else []:
                broker.truncate(name)
                getattr(broker, "_topics", {}).pop(name, None)

        with contextlib.suppress(Exception):  # a scheduler that refuses code: kept there
            client.run_on_scheduler(drop)

    def _finish(self, final: RunRecord, warnings: list[str]) -> RunRecord:
        """Write the worker's ending into the local record (the shared case has it already)."""
        with self.store.locked(self.run_id):
            record = self.store.read(self.run_id)
            if not record.status.is_terminal or self.shared is False:
                for name in (*STATE_FIELDS, "exit_code", "finished", "error_details"):
                    setattr(record, name, getattr(final, name))
                record.warnings = warnings
            record.worker = self.worker
            self.store.save_ending(record)
        self._notify(record)
        return record

    def _end(self, status: RunStatus, message: str) -> RunRecord:
        """End the run here (the worker could not): status and message, the log kept."""
        with self.store.locked(self.run_id):
            record = self.store.read(self.run_id)
            if not record.status.is_terminal:
                record.status = status
                record.message = message
                record.finished = time.time()
                record.started = record.started or record.finished
                record.worker = self.worker or record.worker
                record.pid = record.pid_start = None
                self.store.save_ending(record)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.system(f"pyrunner: {message}")
        self._notify(record)
        return record

    def _end_unstarted(self, message: str) -> RunRecord:
        with LogWriter(self.run_dir) as log:
            self._log = log
            return self._end(RunStatus.ERROR, message)

    def _notify(self, record: RunRecord) -> None:
        if self.on_status is not None:
            self.on_status(record)


def _lost_text(exc: BaseException, worker: str | None) -> str:
    text = str(exc)
    return text if "(tcp" in text or worker is None else lost_message(worker)


def gateway_client(address: str) -> Any:
    """A client of a dask-gateway cluster: ``gateway:NAME`` (the gateway of the dask config,
    ``gateway.address``, as JupyterHub deployments set it) or ``gateway://HOST:PORT/NAME``
    (the gateway whose proxy is there). The gateway hands out the cluster's TLS credentials
    to whoever its authentication (``gateway.auth``) lets in."""
    try:
        Gateway = loose("dask_gateway").Gateway
    except ImportError:
        raise RunLostError(
            "a dask-gateway cluster needs dask-gateway: pip install dask-gateway"
        ) from None
    rest = address[len("gateway:") :]
    if rest.startswith("//"):
        where, _, name = rest[2:].partition("/")
        http = loose("dask").config.get("gateway.address", None) or f"http://{where}"
        gateway = Gateway(address=http, proxy_address=f"gateway://{where}")
    else:
        gateway, name = Gateway(), rest
    if not name:
        raise RunLostError(f"'{address}' names no cluster: give gateway://HOST:PORT/NAME")
    return gateway.connect(name).get_client(set_as_default=False)


def _workers(client: Any) -> dict[str, dict[str, Any]]:
    """Every worker of the cluster, as the scheduler describes it (address: facts)."""
    try:
        return dict(client.scheduler_info(n_workers=-1)["workers"])
    except TypeError:  # an older distributed lists them all
        return dict(client.scheduler_info()["workers"])


def read_note(run_dir: Path) -> dict[str, Any]:
    """The run folder's note of where the run went (``{}`` when there is none)."""
    try:
        note = json.loads((run_dir / SCHEDULER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def _dashboard(client: Any) -> str | None:
    """The URL of the cluster's dashboard, when its scheduler serves one (it answers an HTTP
    server's port even without the dashboard's packages: the page itself must be there).

    The link is Dask's (``distributed.dashboard.link``). A link without a host, such as
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status`` on JupyterHub or Binder, is for the
    user's browser through the Jupyter server's proxy: the page is looked for on the
    scheduler's own host, and the link is kept as it is."""
    import urllib.parse
    import urllib.request

    with contextlib.suppress(Exception):
        info = client.scheduler_info()
        port = info.get("services", {}).get("dashboard")
        if port:
            link = str(client.dashboard_link)
            probe = link
            if "://" not in link:
                host = urllib.parse.urlsplit(str(info["address"])).hostname or "127.0.0.1"
                probe = f"http://{host}:{port}/status"
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return link
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m jupyter_pyrunner.daskrelay HOME RUN_ID ADDRESS``: a detached relay."""
    args = sys.argv[1:] if argv is None else argv
    home, run_id, address = args[0], args[1], args[2]
    options = json.loads(os.environ.get("PYRUNNER_DASK_OPTIONS") or "{}")
    relay = Relay(RunStore(home), run_id, address, **options)
    signal.signal(signal.SIGTERM, lambda *_: relay.interrupt())
    signal.signal(signal.SIGINT, lambda *_: relay.interrupt())
    relay.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
