"""The server's run manager: what the handlers ask of the engine, in one object. No Tornado.

The engine does the work; this composes what a multi-user web service adds on top of it:
uploads kept until used (``uploads.py``), paths confined to the contents root and outputs
copied into it (``workspace.py``), and a queue that starts at most ``max_concurrent`` runs at a
time, in order (``queue.py``). The handlers reach it as ``settings["pyrunner_manager"]``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import RunStateError
from ..executors import Executor
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
        record = prepare_run(self.store, spec)
        self.queue.submit(record.id)
        return self.store.get(record.id)

    def copy_outputs(self, run_id: str, relpath: str) -> dict[str, Any]:
        """Copy an ended run's outputs into a new contents folder (see ``Workspace.copy_outputs``)."""
        record = self.store.get(run_id)
        if not record.status.is_terminal:
            raise RunStateError(
                f"run {run_id} is still {record.status.value}: copy it once it has ended"
            )
        from ..workfiles import ProjectFiles

        return self.workspace.copy_outputs(
            self.store.outputs_dir(run_id), relpath, ProjectFiles.of_run(self.store, run_id)
        )

    def close(self) -> None:
        """Stop taking intake work (the server is stopping); runs already started go on."""
        self.intake_pool.shutdown(wait=False, cancel_futures=True)
