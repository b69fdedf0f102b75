"""The Jupyter Server extension: configuration, the route table, wiring, and the periodic
queue check.

The periodic check (every 200 ms) starts queued runs, and now and then records runs whose
supervisor died and prunes old uploads. Each step's errors are caught and reported at most
once a minute each (``faults.ReportLimiter``): a full disk must not fill the server's log with
tracebacks, nor stop the other steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int, List, Type, Unicode, default

from .._version import __version__
from ..executors import Executor, LocalExecutor
from ..faults import ReportLimiter
from ..liveness import reconcile_all
from ..store import RunStore
from .handlers import (
    CancelHandler,
    CopyHandler,
    LogFileHandler,
    LogHandler,
    OutputFileHandler,
    OutputsHandler,
    OutputsZipHandler,
    RunHandler,
    RunsHandler,
    UploadHandler,
)
from .manager import RunManager
from .stream import RunWatcher, StreamHandler
from .sweephandlers import SWEEP_ID, SweepCancelHandler, SweepHandler, SweepsHandler

API = "/pyrunner/api"
RUN_ID = r"(?P<run_id>[^/]+)"
#: how often runs whose supervisor died are looked for and recorded (see ``liveness``)
RECONCILE_INTERVAL = 5.0


def reattach_dask_runs(store: RunStore) -> list[str]:
    """``daskexec.reattach_all`` when ``dask.distributed`` is installed (without it, no run
    can be on a cluster, and a relay could not start); the ids re-attached."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return []
    from ..daskexec import reattach_all

    return reattach_all(store)


#: every route of the extension (under the server's base URL), as documented in api/openapi.yaml
ROUTES: list[tuple[str, type]] = [
    (rf"{API}/uploads/(?P<filename>[^/]+)", UploadHandler),
    (rf"{API}/runs", RunsHandler),
    (rf"{API}/runs/{RUN_ID}", RunHandler),
    (rf"{API}/runs/{RUN_ID}/cancel", CancelHandler),
    (rf"{API}/runs/{RUN_ID}/copy", CopyHandler),
    (rf"{API}/runs/{RUN_ID}/log\.txt", LogFileHandler),
    (rf"{API}/runs/{RUN_ID}/log", LogHandler),
    (rf"{API}/runs/{RUN_ID}/stream", StreamHandler),
    (rf"{API}/runs/{RUN_ID}/outputs\.zip", OutputsZipHandler),
    (rf"{API}/runs/{RUN_ID}/outputs", OutputsHandler),
    (rf"{API}/runs/{RUN_ID}/outputs/(?P<path>.+)", OutputFileHandler),
    (rf"{API}/sweeps", SweepsHandler),
    (rf"{API}/sweeps/{SWEEP_ID}", SweepHandler),
    (rf"{API}/sweeps/{SWEEP_ID}/cancel", SweepCancelHandler),
]


class PyRunnerApp(ExtensionApp):
    """Upload-and-run REST API with live log streaming, over the jupyter-pyrunner engine."""

    name = "pyrunner"
    version = __version__
    description = __doc__

    store_root = Unicode(
        "", config=True,
        help="Folder of the run store and environment cache (default: $PYRUNNER_HOME, else a "
        "'pyrunner' folder in Jupyter's data directory).",
    )  # fmt: skip
    max_upload_size = Int(
        2 * 1024**3, config=True, help="Largest upload accepted, in bytes (413 above it)."
    )
    max_concurrent_runs = Int(
        0, config=True,
        help="Runs started at once; more are queued in order (0: the number of CPUs).",
    )  # fmt: skip
    default_timeout = Float(
        0.0, config=True, help="Time limit in seconds for runs that set none (0: no limit)."
    )
    default_memory_mb = Int(
        0, config=True, help="Memory limit in MB for runs that set none (0: no limit)."
    )
    env_deny = List(
        Unicode(), config=True,
        help="Patterns of environment variables never passed to programs, beside the built-in "
        "ones (JUPYTER_TOKEN, JPY_*, hub tokens).",
    )  # fmt: skip
    executor_class = Type(
        default_value=LocalExecutor, klass=Executor, config=True,
        help="Where runs are supervised (an Executor subclass).",
    )  # fmt: skip
    upload_ttl_hours = Float(
        24.0, config=True, help="Uploads not used after this long are removed."
    )

    @default("max_concurrent_runs")
    def _default_concurrency(self) -> int:
        return os.cpu_count() or 1

    def initialize_settings(self) -> None:
        from ..validation import variable_pattern

        for pattern in self.env_deny:  # a bad setting is the operator's to fix, at start
            variable_pattern(pattern)
        store = RunStore(self.store_root or None)
        root = Path(self.serverapp.root_dir if self.serverapp else os.getcwd())
        executor = self._make_executor()
        # Dask runs whose relay stopped with the last server: relays again, before anything
        # (the queue, the housekeeping) could take them for orphans
        for run_id in reattach_dask_runs(store):
            self.log.info("pyrunner: Dask run %s re-attached", run_id)
        manager = RunManager(
            store,
            executor,
            contents_root=root,
            max_concurrent=self.max_concurrent_runs or (os.cpu_count() or 1),
            max_upload_size=self.max_upload_size,
            default_timeout=self.default_timeout or None,
            default_memory_mb=self.default_memory_mb or None,
            env_deny=list(self.env_deny),
            upload_ttl=self.upload_ttl_hours * 3600,
        )
        self._reports = ReportLimiter()
        with contextlib.suppress(OSError):
            manager.uploads.prune()
        for run_id in manager.queue.adopted:
            self.log.warning("pyrunner: run %s was queued when the server stopped: queued again",
                             run_id)  # fmt: skip
        self.settings.update(pyrunner_manager=manager, pyrunner_watcher=RunWatcher(store))
        self._queue_check = PeriodicCallback(self._check_queue, 200)
        self._queue_check.start()
        self.log.info("pyrunner: run store at %s", store.home)

    def _make_executor(self) -> Executor:
        """The configured executor; a ``Configurable`` one (``daskconfig.DaskExecutor``) reads
        its own section of the configuration (``c.DaskExecutor...``)."""
        from traitlets.config import Configurable

        cls: Any = self.executor_class
        if issubclass(cls, Configurable):
            return cls(parent=self)  # type: ignore[no-any-return]
        return cls()  # type: ignore[no-any-return]  # a configured concrete class

    def _check_queue(self) -> asyncio.Future[None]:
        """One queue check, kept so that stopping the server can wait for the one under way
        (stopping the periodic callback does not)."""
        self._queue_checking: asyncio.Future[None] = asyncio.ensure_future(self._start_queued())
        return self._queue_checking

    async def _start_queued(self) -> None:
        """Start the queued runs there is room for; every 5 s, record the runs whose
        supervisor died as failed and stop their leftovers; every 10 minutes, prune old
        uploads."""
        manager: RunManager = self.settings["pyrunner_manager"]
        # spawning takes ms: not on the loop
        await self._step("starting queued runs", manager.queue.start_queued)
        problem = manager.queue.take_problem()
        if problem is not None:
            self._report("starting queued runs", problem)
        now = time.monotonic()
        if now - getattr(self, "_last_reconcile", 0.0) > RECONCILE_INTERVAL:
            self._last_reconcile = now
            # first relays again for Dask runs whose relay died: they are not orphans
            for run_id in await self._step("re-attaching Dask runs", reattach_dask_runs,
                                           manager.store) or []:  # fmt: skip
                self.log.warning("pyrunner: Dask run %s lost its relay; re-attached", run_id)
            ended = await self._step("recording runs whose supervisor died", reconcile_all,
                                     manager.store)  # fmt: skip
            for run_id in ended or []:
                self.log.warning("pyrunner: run %s lost its supervisor; recorded failed", run_id)
        if now - getattr(self, "_last_prune", 0.0) > 600:
            self._last_prune = now
            await self._step("pruning old uploads", manager.uploads.prune)

    async def _step(self, what: str, work: Callable[..., Any], *args: Any) -> Any:
        """One step of the periodic check, in a thread; its error is reported (see
        :meth:`_report`) and None returned, so the next steps and checks go on."""
        try:
            return await asyncio.to_thread(work, *args)
        except Exception as exc:
            self._report(what, exc)
            return None

    def _report(self, what: str, exc: BaseException) -> None:
        """Log an error of the periodic check: each distinct one at most once a minute (with
        the traceback the first time, and how many were held back since)."""
        held_back = self._reports.should_report(exc)
        if held_back is None:
            return
        if held_back == 0:
            self.log.error("pyrunner: %s failed: %s", what, exc, exc_info=exc)
        else:
            self.log.error("pyrunner: %s failed: %s (%d more times in the last minute)",
                           what, exc, held_back)  # fmt: skip

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        """Stop the queue check and wait for the one under way, then end and await the live
        streams (before the store they read is closed), so no task is left pending when the
        server's loop closes."""
        if getattr(self, "_queue_check", None) is not None:
            self._queue_check.stop()
        checking = getattr(self, "_queue_checking", None)
        if checking is not None:
            await asyncio.gather(checking, return_exceptions=True)  # its errors are logged
            await asyncio.sleep(0)  # and the periodic callback's own task ends with it
        watcher = self.settings.get("pyrunner_watcher")
        if watcher is not None:
            await watcher.close()
        manager = self.settings.get("pyrunner_manager")
        if manager is not None:
            manager.close()
