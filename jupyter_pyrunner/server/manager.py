"""The server's run manager: uploads, contents paths, the run queue. No Tornado in here.

The engine does the work; this adds what a multi-user web service needs on top of it: uploaded
archives kept until used, paths confined to the server's contents root, and a queue that starts
at most ``max_concurrent`` runs at a time, in the order they were submitted.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ProjectError, PyRunnerError, RunStateError
from ..executors import Executor
from ..models import RunRecord, RunSpec, RunStatus
from ..outputs import copy_outputs
from ..sdk import prepare_run
from ..store import RunStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
#: how many ``name (n)`` folders are tried before a copy gives up
MAX_FOLDER_SUFFIX = 1000


class PathOutsideRootError(PyRunnerError):
    """A path that leads outside the server's contents root."""


class UploadTooLargeError(PyRunnerError):
    """An upload over the configured size limit."""


class UploadNotFoundError(PyRunnerError):
    """No upload with this id."""


@dataclass
class UploadWriter:
    """Receives an upload's bytes as they arrive, hashing and counting; never holds them."""

    upload_id: str
    folder: Path
    filename: str
    limit: int
    size: int = 0
    _digest: Any = field(default_factory=hashlib.sha256)
    _file: Any = None

    def __post_init__(self) -> None:
        (self.folder / "data").mkdir(parents=True)
        self._file = open(self.folder / ".partial", "wb")  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.abort()
            raise UploadTooLargeError(f"the upload is larger than the limit of {self.limit} bytes")
        self._digest.update(data)
        self._file.write(data)

    def finish(self) -> dict[str, Any]:
        self._file.close()
        os.replace(self.folder / ".partial", self.folder / "data" / self.filename)
        info = {
            "upload_id": self.upload_id,
            "filename": self.filename,
            "size": self.size,
            "sha256": self._digest.hexdigest(),
            "created": time.time(),
        }
        (self.folder / "upload.json").write_text(json.dumps(info))
        return info

    def abort(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class RunManager:
    """Everything the REST and WebSocket handlers ask of the engine."""

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
        self.executor = executor
        self.contents_root = contents_root.resolve()
        self.max_concurrent = max(1, max_concurrent)
        self.max_upload_size = max_upload_size
        self.default_timeout = default_timeout
        self.default_memory_mb = default_memory_mb
        self.env_deny = list(env_deny or [])
        self.upload_ttl = upload_ttl
        self.uploads_dir = store.home / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        # intake (extracting a big zip) gets threads of its own, so that it never holds up
        # the threads that serve logs and streams
        self.intake_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pyrunner-intake")
        self._queue: collections.deque[str] = collections.deque()
        self._active: set[str] = set()
        # submit() runs in worker threads, start_queued() also on the event loop: one at a time
        self._lock = threading.Lock()
        # runs still going from before a restart count against the limit
        for status in ("preparing", "running"):
            self._active.update(r.id for r in store.list_runs(limit=10_000, status=status))

    # -- uploads -----------------------------------------------------------------------------
    def new_upload(self, filename: str) -> UploadWriter:
        name = _SAFE_NAME.sub("_", os.path.basename(filename.replace("\\", "/"))).strip(" .")
        if not name:
            raise ProjectError(f"'{filename}' is not a usable file name")
        upload_id = secrets.token_hex(16)
        return UploadWriter(upload_id, self.uploads_dir / upload_id, name, self.max_upload_size)

    def upload_path(self, upload_id: str) -> Path:
        if not UPLOAD_ID.match(upload_id):
            raise UploadNotFoundError(f"no upload '{upload_id}'")
        try:
            info = json.loads((self.uploads_dir / upload_id / "upload.json").read_text())
        except (OSError, ValueError):
            raise UploadNotFoundError(f"no upload '{upload_id}'") from None
        return self.uploads_dir / upload_id / "data" / str(info["filename"])

    def prune_uploads(self) -> int:
        """Remove uploads older than ``upload_ttl`` (and partial ones left by a crash)."""
        removed = 0
        cutoff = time.time() - self.upload_ttl
        for folder in self.uploads_dir.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except OSError:
                continue
        return removed

    # -- paths -------------------------------------------------------------------------------
    def contents_path(self, relpath: str) -> Path:
        """A path of the server's contents, refused if it leads outside the contents root."""
        if "\0" in relpath:
            raise ProjectError("a path cannot contain a NUL character")
        candidate = (self.contents_root / relpath.lstrip("/")).resolve()
        if candidate != self.contents_root and self.contents_root not in candidate.parents:
            raise PathOutsideRootError(f"'{relpath}' is outside the server's root folder")
        return candidate

    def new_folder(self, relpath: str) -> tuple[Path, bool]:
        """A folder of the contents to put new files in, and whether it was created now.

        The folder at ``relpath`` if it does not exist yet or is empty, else the first free one
        of ``relpath (2)``, ``relpath (3)``, …: files of the user's are never written over or
        mixed with new ones. Parent folders are created.
        """
        wanted = self.contents_path(relpath)
        if wanted == self.contents_root:
            raise ProjectError("give a folder inside the server's root folder, not the root itself")
        try:
            wanted.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ProjectError(f"'{relpath}' cannot be a folder: a file is in the way") from None
        for n in range(1, MAX_FOLDER_SUFFIX + 1):
            candidate = wanted if n == 1 else wanted.with_name(f"{wanted.name} ({n})")
            try:
                candidate.mkdir()  # claims the name, even against a copy running at once
                return candidate, True
            except FileExistsError:
                if _empty_folder(candidate):
                    return candidate, False
        raise ProjectError(
            f"'{relpath}' and {MAX_FOLDER_SUFFIX - 1} numbered folders beside it are all taken"
        )

    def _source(self, item: str) -> Path:
        """An input given as an upload id or a contents path."""
        if UPLOAD_ID.match(item):
            return self.upload_path(item)
        return self.contents_path(item)

    # -- runs --------------------------------------------------------------------------------
    def copy_outputs(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Copy an ended run's outputs into a new folder of the contents (see ``new_folder``).

        ``{"path": ...}`` in, ``{"path", "files", "size"}`` out: the contents path used, with
        ``/`` separators, and the number and total size of the files copied. Links the program
        left among its outputs are not copied (see ``outputs.copy_outputs``).
        """
        if not isinstance(body, dict):
            raise ProjectError("the request body must be a JSON object")
        unknown = set(body) - {"path"}
        if unknown:
            raise ProjectError(f"unknown field(s): {', '.join(sorted(unknown))}")
        relpath = _string(body, "path")
        record = self.store.get(run_id)
        if not record.status.is_terminal:
            raise RunStateError(
                f"run {run_id} is still {record.status.value}: copy it once it has ended"
            )
        target, created = self.new_folder(relpath)
        try:
            files, size = copy_outputs(self.store.outputs_dir(run_id), target)
        except Exception:
            if created:  # a refused copy leaves no empty folder behind (rmdir takes only that)
                with contextlib.suppress(OSError):
                    target.rmdir()
            raise
        return {
            "path": target.relative_to(self.contents_root).as_posix(),
            "files": files,
            "size": size,
        }

    def spec_from_request(self, body: dict[str, Any]) -> RunSpec:
        if not isinstance(body, dict):
            raise ProjectError("the request body must be a JSON object")
        unknown = set(body) - {
            "upload_id", "path", "entry", "args", "inputs", "timeout", "memory_mb",
            "infer_requirements", "output_path", "system_site_packages",
        }  # fmt: skip
        if unknown:
            raise ProjectError(f"unknown field(s): {', '.join(sorted(unknown))}")
        if ("upload_id" in body) == ("path" in body):
            raise ProjectError("give exactly one of 'upload_id' or 'path'")
        source = (
            self.upload_path(_string(body, "upload_id"))
            if "upload_id" in body
            else self.contents_path(_string(body, "path"))
        )
        inputs = body.get("inputs", [])
        args = body.get("args", [])
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise ProjectError("'inputs' must be a list of paths or upload ids")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ProjectError("'args' must be a list of strings")
        timeout = _number(body, "timeout", self.default_timeout)
        memory = _number(body, "memory_mb", self.default_memory_mb)
        if memory is not None and memory != int(memory):
            raise ProjectError("'memory_mb' must be a whole number of megabytes")
        output_path = body.get("output_path")
        output_dir = None
        if output_path is not None:
            output_dir = str(self.contents_path(_string(body, "output_path")))
        entry = body.get("entry")
        if entry is not None and not isinstance(entry, str):
            raise ProjectError("'entry' must be a string")
        infer = body.get("infer_requirements", True)
        ssp = body.get("system_site_packages", False)
        if not isinstance(infer, bool) or not isinstance(ssp, bool):
            raise ProjectError("'infer_requirements' and 'system_site_packages' are true or false")
        return RunSpec(
            source=str(source),
            entry=entry,
            inputs=[str(self._source(i)) for i in inputs],
            args=list(args),
            timeout=float(timeout) if timeout else None,
            memory_mb=int(memory) if memory else None,
            infer_requirements=infer,
            system_site_packages=ssp,
            output_dir=output_dir,
            env_deny=list(self.env_deny),
        )

    def submit(self, spec: RunSpec) -> RunRecord:
        """Intake now (errors raise, nothing is left), then queue the run."""
        record = prepare_run(self.store, spec, keep_failed=False)
        with self._lock:
            self._queue.append(record.id)
        self.start_queued()
        return self.store.get(record.id)

    def start_queued(self) -> list[str]:
        """Hand queued runs to the executor while there is room; returns the ids started."""
        with self._lock:
            return self._start_queued()

    def _start_queued(self) -> list[str]:
        for run_id in list(self._active):
            try:
                if self.store.get(run_id).status.is_terminal:
                    self._active.discard(run_id)
            except PyRunnerError:
                self._active.discard(run_id)
        started = []
        while self._queue and len(self._active) < self.max_concurrent:
            run_id = self._queue.popleft()
            try:
                record = self.store.get(run_id)
            except PyRunnerError:
                continue  # deleted while queued
            if record.status.is_terminal:
                continue  # cancelled while queued
            try:
                self.executor.submit(self.store, run_id)
            except Exception as exc:  # the run must not stay queued for ever
                self.store.update(run_id, status=RunStatus.ERROR, finished=time.time(),
                                  message=f"could not be started: {exc}")  # fmt: skip
                continue
            self._active.add(run_id)
            started.append(run_id)
        return started

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when the run is not waiting."""
        with self._lock:
            waiting = list(self._queue)
        if run_id not in waiting:
            return None
        position = 0
        for other in waiting:
            try:
                if self.store.read(other).status is RunStatus.QUEUED:
                    position += 1
            except PyRunnerError:
                continue
            if other == run_id:
                return position
        return None

    @property
    def queued(self) -> list[str]:
        return list(self._queue)


def _empty_folder(path: Path) -> bool:
    """A real folder (not a link to one) with nothing in it."""
    if path.is_symlink() or not path.is_dir():
        return False
    with os.scandir(path) as entries:
        return next(entries, None) is None


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ProjectError(f"'{key}' must be a non-empty string")
    return value


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ProjectError(f"'{key}' must be a positive number")
    return float(value)
