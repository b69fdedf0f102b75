"""The server's run manager: what the handlers ask of the engine, in one object. No Tornado.

The engine does the work; this composes what a multi-user web service adds on top of it:
uploads kept until used (``uploads.py``), paths confined to the contents root and outputs
copied into it (``workspace.py``), and a queue that starts at most ``max_concurrent`` runs at a
time, in order (``queue.py``). The handlers reach it as ``settings["pyrunner_manager"]``.

Reads need no space. The actions that write (submit, cancel, copy) answer a full or read-only
disk with ``DiskFullError`` (507), never a traceback; deleting a run works on a full disk, and
frees space.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import DiskFullError, RunStateError
from ..executors import Executor
from ..faults import DISK_FULL, is_disk_full, is_unwritable
from ..models import RunRecord, RunSpec
from ..sdk import prepare_run
from ..store import RunStore
from .queue import RunQueue
from .uploads import UploadStore
from .workspace import Workspace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class RunManager:
    """The run store with the server's uploads, workspace, queue and run defaults."""

    def __init__(
        self,
        store: RunStore,
        executor: Executor,
        *,
        contents_root: Path,
        max_concurrent: int,
        max_upload_size: int,
        default_timeout: float | None = None,
        default_memory_mb: int | None = None,
        env_deny: list[str] | None = None,
        upload_ttl: float = 24 * 3600,
    ) -> None:
        self.store = store
        self.uploads = UploadStore(store.home / "uploads", max_size=max_upload_size, ttl=upload_ttl)
        self.workspace = Workspace(contents_root)
        self.queue = RunQueue(store, executor, max_concurrent)
        # the defaults a run request leaves out
        self.default_timeout = default_timeout
        self.default_memory_mb = default_memory_mb
        self.env_deny = list(env_deny or [])
        # intake (extracting a big zip) gets threads of its own, so that it never holds up
        # the threads that serve logs and streams
        self.intake_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pyrunner-intake")

    def submit(self, spec: RunSpec) -> RunRecord:
        """Intake now (errors raise, nothing is left), then queue the run."""
        with disk_full_as_error("the run could not be prepared"):
            record = prepare_run(self.store, spec)
        self.queue.submit(record.id)
        return self.store.get(record.id)

    def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run (``RunStore.request_cancel``); the run as it stands."""
        with disk_full_as_error("the cancel could not be recorded"):
            return self.store.request_cancel(run_id)

    def delete(self, run_id: str) -> None:
        """Remove an ended run and its files (``RunStore.delete``), on a full disk too."""
        with disk_full_as_error("the run could not be deleted"):
            self.store.delete(run_id)

    def copy_outputs(self, run_id: str, relpath: str) -> dict[str, Any]:
        """Copy an ended run's outputs into a new contents folder (see ``Workspace.copy_outputs``)."""
        record = self.store.get(run_id)
        if not record.status.is_terminal:
            raise RunStateError(
                f"run {run_id} is still {record.status.value}: copy it once it has ended"
            )
        from ..workfiles import ProjectFiles

        with disk_full_as_error("the outputs could not be copied"):
            return self.workspace.copy_outputs(
                self.store.outputs_dir(run_id), relpath, ProjectFiles.of_run(self.store, run_id)
            )

    def close(self) -> None:
        """Stop taking intake work (the server is stopping); runs already started go on."""
        self.intake_pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def disk_full_as_error(what: str) -> Iterator[None]:
    """A full (or read-only) disk met inside becomes ``DiskFullError``: "the disk is full:
    <what>" (the system's own words, never a path, follow)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        cause = _unwritable_cause(exc)
        if cause is None:
            raise
        why = getattr(cause, "strerror", None) or str(cause)
        lead = DISK_FULL if is_disk_full(cause) else "the disk is read-only"
        raise DiskFullError(f"{lead}: {what} ({why})") from exc


def _unwritable_cause(exc: BaseException) -> BaseException | None:
    """``exc``, or the error it was raised from (intake words an ``OSError`` as a project
    error), when it says the disk is full or read-only."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if is_unwritable(seen):
            return seen
        seen = seen.__cause__
    return None
