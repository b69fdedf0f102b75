"""The worker side of the Dask executor: one run, supervised inside a Dask worker process.

``execute(payload, bundle)`` is the task the relay (``daskrelay``) submits. It:

- refuses to start a run a second time (the scheduler reschedules the tasks of a lost
  worker): the scheduler's metadata names the first attempt, set under a ``Lock``;
- tells whether it shares the client's filesystem: the relay wrote a random token into the
  run folder, and the payload carries both; reading the same token at that path means the
  run can be supervised in place, on the client's own store;
- otherwise unpacks the shipped bundle (the run's ``inputs/`` folder, named by its sha256)
  into the worker's bundle cache once, and makes a run with the same id in the worker's own
  store (``PYRUNNER_HOME`` of the worker, else the default home), environments from the
  worker's own cache;
- runs the ordinary :class:`~.supervisor.Supervisor` in a thread of its own (it forks the
  program, whose parent-death signal follows that thread), while other threads publish the
  log and the record's changes as worker events and turn the distributed cancel ``Event``
  into the run's cancel file;
- returns the ending: the final record and, off a shared filesystem, the outputs as a zip
  (or written to ``outputs_url`` when bigger than ``outputs_limit``).

Nothing here is imported by a plain run: ``distributed`` is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

from .errors import PyRunnerError, RunLostError
from .logfile import STDERR, STDOUT, SYSTEM, read_chunks
from .models import RunRecord, RunStatus
from .store import CANCEL_FILE, RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

#: the file of the run folder holding the relay's token (see the module's docstring)
TOKEN_FILE = "dask-token"
#: the largest piece of log one event carries
EVENT_BYTES = 64 * 1024
#: how often the worker publishes new log and record changes
PUBLISH_INTERVAL = 0.02
#: the record fields the relay mirrors while the run goes (never its pid: that names a
#: process of the worker's machine, which the client must never signal)
STATE_FIELDS = ("status", "progress", "message", "env_key", "python", "started", "timings")
STREAM_IDS = {"stdout": STDOUT, "stderr": STDERR, "system": SYSTEM}
#: outputs bigger than this go to ``outputs_url`` when the payload gives one
DEFAULT_OUTPUTS_LIMIT = 256 << 20


def task_key(run_id: str) -> str:
    return f"pyrunner-{run_id}"


def log_topic(run_id: str) -> str:
    return f"pyrunner-log-{run_id}"


def state_topic(run_id: str) -> str:
    return f"pyrunner-state-{run_id}"


def cancel_event_name(run_id: str) -> str:
    return f"pyrunner-cancel-{run_id}"


def attempt_name(run_id: str) -> str:
    return f"pyrunner-attempt-{run_id}"


def loose(module: str) -> Any:
    """``module`` (``distributed``, ``fsspec``: they ship no type hints), imported only when
    a function needs it, so that a plain run imports none of it."""
    import importlib

    return importlib.import_module(module)


def worker_home() -> Path:
    """The worker's own store: ``PYRUNNER_HOME`` of the worker process, else the default."""
    from .paths import pyrunner_home

    return pyrunner_home()


# -- the task ------------------------------------------------------------------------------
def execute(payload: dict[str, Any], bundle: bytes | None = None) -> dict[str, Any]:
    """Run ``payload["run_id"]`` on this worker and return its ending (see the module)."""
    dd = loose("distributed")
    worker = dd.get_worker()
    client = dd.get_client()
    run_id = payload["run_id"]
    claim_attempt(client, run_id, worker.address)
    shared = is_shared(payload)
    started = {"kind": "started", "address": worker.address, "shared": shared}
    worker.log_event(state_topic(run_id), started)
    store: RunStore
    if shared:
        store = _RelayOwnedStore(payload["home"])
        _hand_over(store, run_id, worker.address)
    else:
        store = RunStore(worker_home())
        _prune_now_and_then(store)
        if payload.get("bundle_too_big"):
            from .daskbundle import BundleError

            raise BundleError(payload["bundle_too_big"])
        place_run(store, payload, bundle)
    done = threading.Event()
    # the cancel watcher ends by itself within its wait once the run is done: not waited for
    threading.Thread(
        target=_watch_cancel,
        args=(client, worker, store, run_id, done),
        daemon=True,
        name="cancel",
    ).start()
    publisher = None
    if not shared:
        publisher = threading.Thread(
            target=_Publisher(worker, store, run_id).loop, args=(done,), daemon=True
        )
        publisher.start()
    try:
        record = _supervise(store, run_id)
    finally:
        done.set()
        if publisher is not None:  # the last of the log is published before the result
            publisher.join(timeout=5)
    result: dict[str, Any] = {
        "worker": worker.address,
        "shared": shared,
        "record": record.to_dict(),
    }
    if not shared:
        result["log_size"] = os.path.getsize(store.run_dir(run_id) / "log.txt")
        result.update(pack_outputs(store, run_id, payload))
    return result


def claim_attempt(client: Any, run_id: str, address: str) -> None:
    """Note this attempt under a lock; a run whose first attempt already started (its worker
    was lost, and the scheduler gave its task to another) is refused with ``RunLostError``."""
    dd = loose("distributed")
    with dd.Lock(f"pyrunner-lock-{run_id}"):
        # the scheduler's metadata, not a ``Variable``: asking a Variable that is not set waits
        # for it, and the scheduler logs the timeout as an error with a traceback
        first = client.get_metadata(attempt_name(run_id), default=None)
        if first:
            raise RunLostError(
                f"the worker running it ({first}) was lost; the run is not started again"
            )
        client.set_metadata(attempt_name(run_id), address)


def is_shared(payload: dict[str, Any]) -> bool:
    """Whether this worker sees the client's run folder: the token the relay wrote is there."""
    try:
        found = (Path(payload["run_dir"]) / TOKEN_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return bool(found) and found == payload["token"]


class _RelayOwnedStore(RunStore):
    """The client's store, seen from a worker sharing its filesystem: the supervisor claims
    the run without becoming its owner. The owner stays the relay on the client's machine,
    whose liveness that machine can check (a worker's process, on another host, it cannot);
    the relay writes the ending down if the worker is lost."""

    def claim(self, run_id: str, identity: dict[str, Any]) -> RunRecord | None:
        """Take over the run the relay claimed: it stays ``preparing`` (readers never see it
        step back to ``queued``) and owned by the relay. None once it has ended (a cancel
        came first)."""
        with self.locked(run_id):
            record = self.read(run_id)
            return record if record.status is RunStatus.PREPARING else None


def _hand_over(store: RunStore, run_id: str, address: str) -> None:
    """On a shared filesystem the relay hands the run it claimed to this worker's supervisor
    (see ``_RelayOwnedStore.claim``); the record names the worker from now on."""
    with store.locked(run_id):
        record = store.read(run_id)
        record.worker = address
        store.save(record)


def _supervise(store: RunStore, run_id: str) -> RunRecord:
    """The ordinary supervisor, in a thread of its own that lives as long as the program (the
    program's parent-death signal is tied to the thread that started it)."""
    from .supervisor import Supervisor

    supervisor = Supervisor(store, run_id, subreaper=False, on_cluster=True)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["record"] = supervisor.run()
        except BaseException as exc:  # the supervisor recorded it as the run's error
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"pyrunner-{run_id}")
    thread.start()
    thread.join()
    if "record" in box:
        return box["record"]  # type: ignore[no-any-return]
    return store.read(run_id)


#: how long a worker's run goes on without its scheduler before the worker stops it
SCHEDULER_GRACE = 10.0


def _watch_cancel(
    client: Any, worker: Any, store: RunStore, run_id: str, done: threading.Event
) -> None:
    """The relay's cancel (a distributed ``Event``) becomes the run's cancel file, which the
    supervisor watches as it does for a local run.

    The worker also stops the run itself, for it ends on the relay's side anyway: at once when
    the worker is shutting down (a scale-down, the end of a batch job), and when it has lost
    its scheduler for ``SCHEDULER_GRACE`` seconds. The program does not go on unseen."""
    import time

    event = loose("distributed").Event(cancel_event_name(run_id), client=client)
    lost_since: float | None = None
    while not done.is_set():
        if _closing(worker):
            store.request_stop(run_id, f"the Dask worker {worker.address} was shutting down")
            return
        try:
            if event.wait(timeout=0.5):
                (store.run_dir(run_id) / CANCEL_FILE).touch()
                return
            reachable = str(getattr(client, "status", "running")) == "running"
        except Exception:  # the scheduler is unreachable, for a moment or for good
            reachable = False
            done.wait(0.5)
        if reachable:
            lost_since = None
            continue
        lost_since = lost_since or time.monotonic()
        if time.monotonic() - lost_since > SCHEDULER_GRACE:
            store.request_stop(run_id, "the Dask scheduler was lost: the worker stopped the run")
            return


def _closing(worker: Any) -> bool:
    """Whether the worker is shutting down (its status, by name: ``closing``...)."""
    status = getattr(worker, "status", None)
    return getattr(status, "name", str(status)) in {
        "closing",
        "closing_gracefully",
        "closed",
        "failed",
    }


# -- placing the run in the worker's store ---------------------------------------------------
def place_run(store: RunStore, payload: dict[str, Any], bundle: bytes | None) -> None:
    """A run with the payload's id and record in the worker's store, its ``inputs/`` copied
    from the unpacked bundle (kept once per sha256 in ``<home>/bundles``)."""
    run_id = payload["run_id"]
    run_dir = store.runs_dir / run_id
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a leftover of an attempt this worker never ran
    unpacked = cached_bundle(store.home, payload["bundle_sha256"], bundle)
    run_dir.mkdir(mode=0o700, parents=True)
    (run_dir / "logs").mkdir()
    for name in ("log.txt", "log.idx"):
        (run_dir / name).touch(mode=0o600)
    shutil.copytree(unpacked, run_dir / "inputs", symlinks=True)
    for port in range(1, 5):
        (run_dir / "outputs" / f"output_{port}").mkdir(parents=True)
    record = RunRecord.from_dict(payload["record"])
    record.status = RunStatus.QUEUED
    record.spec.output_dir = None  # copied on the client's side, once the outputs are back
    record.supervisor = None
    record.pid = record.pid_start = None
    store.save(record)


def cached_bundle(home: Path, sha256: str, bundle: bytes | None) -> Path:
    """The folder the bundle unpacks to, unpacked only the first time (checked by its hash)."""
    from ._core import sha256 as hasher
    from .daskbundle import unpack_inputs

    if not sha256.isalnum():
        raise RunLostError("the run's bundle has no valid name")
    target = home / "bundles" / sha256
    if (target / ".complete").exists():
        with contextlib.suppress(OSError):
            os.utime(target / ".complete")  # used now: kept another WORKER_KEEP seconds
        return target / "inputs"
    if bundle is None or hasher(bundle).hexdigest() != sha256:
        raise RunLostError("the run's bundle did not arrive intact")
    partial = target.with_name(f".{sha256}.{os.getpid()}.{threading.get_ident()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        unpack_inputs(bundle, partial / "inputs")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / ".complete").touch()
    try:
        partial.rename(target)
    except OSError:  # another task unpacked it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    return target / "inputs"


# -- tidying the worker's store ------------------------------------------------------------
#: a run folder or a bundle on a worker that nobody came back for is removed after this long
WORKER_KEEP = 86400.0
#: how often a worker process looks for such leftovers (as it starts a run)
PRUNE_INTERVAL = 3600.0
_last_prune = 0.0


def discard_run(run_id: str) -> bool:
    """Remove an ended run from this worker's store, once its relay has all of it back (the
    log, the outputs): a small task the relay pins to the run's worker. False when there
    was nothing to remove, or the run has not ended."""
    from .errors import RunNotFoundError, RunStateError

    try:
        RunStore(worker_home()).delete(run_id)
    except (RunNotFoundError, RunStateError):
        return False
    return True


def prune_worker_store(store: RunStore, now: float | None = None) -> list[str]:
    """Remove what no relay came back for: ended runs that finished over ``WORKER_KEEP``
    seconds ago (their relay and its machine went away), and bundles unused that long.
    Returns the names removed (run ids, then bundle hashes)."""
    import time

    now = time.time() if now is None else now
    removed = []
    for folder in sorted(store.runs_dir.iterdir()) if store.runs_dir.is_dir() else []:
        try:
            record = store.read(folder.name)
        except Exception:  # a folder half-written or damaged: not ours to judge
            continue
        if record.status.is_terminal and (record.finished or now) < now - WORKER_KEEP:
            with contextlib.suppress(PyRunnerError, OSError):
                store.delete(folder.name)
                removed.append(folder.name)
    bundles = store.home / "bundles"
    for folder in sorted(bundles.iterdir()) if bundles.is_dir() else []:
        try:
            used = (folder / ".complete").stat().st_mtime
        except OSError:
            continue  # being unpacked, or a partial one its task will remove
        if used < now - WORKER_KEEP:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _prune_now_and_then(store: RunStore) -> None:
    import time

    global _last_prune
    if time.monotonic() - _last_prune < PRUNE_INTERVAL and _last_prune:
        return
    _last_prune = time.monotonic()
    with contextlib.suppress(OSError):
        prune_worker_store(store)


# -- live log and record -------------------------------------------------------------------
class _Publisher:
    """Tails the worker-local log and record, and publishes what is new as worker events."""

    def __init__(self, worker: Any, store: RunStore, run_id: str) -> None:
        self.worker = worker
        self.store = store
        self.run_id = run_id
        self.run_dir = store.run_dir(run_id)
        self.offset = 0
        self.state: dict[str, Any] = {}

    def loop(self, done: threading.Event) -> None:
        while True:
            finished = done.is_set()
            # the record first: a status the program's first line depends on comes before it
            self.publish_state()
            self.publish_log(final=finished)
            if finished:
                return
            done.wait(PUBLISH_INTERVAL)

    def publish_log(self, final: bool = False) -> None:
        while True:
            chunks, end = read_chunks(
                self.run_dir, self.offset, EVENT_BYTES * 8, final=final, merge=False
            )
            for chunk in chunks:
                for event in log_events(chunk.offset, chunk.stream, chunk.timestamp, chunk.data):
                    self.worker.log_event(log_topic(self.run_id), event)
            if end == self.offset:
                return
            self.offset = end

    def publish_state(self) -> None:
        with contextlib.suppress(Exception):
            record = self.store.read(self.run_id).to_dict()
            state = {k: record[k] for k in STATE_FIELDS}
            if state != self.state:
                self.state = state
                self.worker.log_event(state_topic(self.run_id), {"kind": "record", "record": state})


def log_events(offset: int, stream: str, timestamp: float, data: bytes) -> list[dict[str, Any]]:
    """One chunk as events of at most ``EVENT_BYTES`` each."""
    return [
        {
            "offset": offset + start,
            "stream": stream,
            "timestamp": timestamp,
            "data": bytes(data[start : start + EVENT_BYTES]),
        }
        for start in range(0, len(data), EVENT_BYTES)
    ]


def read_log(run_id: str, offset: int, max_bytes: int = 1 << 20) -> dict[str, Any]:
    """The log of a run in this worker's store from ``offset``: a small task the relay pins to
    the run's worker to fill a gap or to catch up after re-attaching."""
    store = RunStore(worker_home())
    chunks, end = read_chunks(store.run_dir(run_id), offset, max_bytes, final=True, merge=False)
    events = [
        event
        for chunk in chunks
        for event in log_events(chunk.offset, chunk.stream, chunk.timestamp, chunk.data)
    ]
    return {"events": events, "end": end}


# -- outputs -------------------------------------------------------------------------------
def pack_outputs(store: RunStore, run_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The run's outputs as a zip: ``outputs/...`` (the output ports), ``project/...`` (the
    files written beside the code) and ``provenance.json``, built in a temporary file, each
    file streamed in. Up to ``outputs_limit`` bytes (compressed) they travel in the result;
    bigger, they are written to ``outputs_url`` when there is one, and otherwise stay on the
    worker (the result says how big they were)."""
    import shutil
    import tempfile
    import zipfile

    from .outputs import list_outputs, open_output
    from .workfiles import ProjectFiles

    limit = payload.get("outputs_limit") or DEFAULT_OUTPUTS_LIMIT
    url = payload.get("outputs_url")
    outputs = store.outputs_dir(run_id)
    with tempfile.TemporaryFile(dir=store.run_dir(run_id)) as buffer:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for item in list_outputs(outputs):
                with (
                    open_output(outputs, item.path) as f,
                    zf.open(f"outputs/{item.path}", "w") as w,
                ):
                    shutil.copyfileobj(f, w, 1 << 20)
            with contextlib.suppress(OSError, PyRunnerError):
                project_files = ProjectFiles.of_run(store, run_id)
                for item in project_files.files():
                    with (
                        project_files.open(item.path) as f,
                        zf.open(f"project/{item.path}", "w") as w,
                    ):
                        shutil.copyfileobj(f, w, 1 << 20)
            provenance = store.run_dir(run_id) / "provenance.json"
            if provenance.is_file():
                zf.write(provenance, "provenance.json")
        size = buffer.tell()
        buffer.seek(0)
        if size <= limit:
            return {"outputs": buffer.read()}
        if not url:
            return {"outputs_size": size, "outputs_limit": limit}
        target = f"{url.rstrip('/')}/{run_id}.zip"
        with loose("fsspec").open(target, "wb") as f:
            shutil.copyfileobj(buffer, f, 1 << 20)
        return {"outputs_url": target}
