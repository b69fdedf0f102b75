"""REST handlers: one small class per endpoint, thin adapters from HTTP to the run manager.

Every handler is authenticated (``@web.authenticated``) and authorized on the ``pyrunner``
resource (``@authorized``); domain errors become JSON error responses in ``base.py``. The
routes are listed in ``app.py``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import BinaryIO

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import DiskFullError, ProjectError, UploadTooLargeError
from ..logfile import LOG_NAME, log_size, read_chunks
from ..models import RunRecord
from ..outputs import (
    files_json,
    iter_zip,
    mime_type,
    open_output,
    project_folder_name,
    scan_outputs,
    skipped_json,
)
from ..workfiles import ProjectFiles
from .base import AUTH_RESOURCE, PyRunnerHandler, domain_errors, http_error
from .requests import copy_path_from_request, spec_from_request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .manager import RunManager
    from .uploads import UploadWriter

LOG_PAGE = 1 << 20
#: the most of the log one ``GET .../log`` sends (a larger ``max_bytes`` is cut to it)
MAX_LOG_PAGE = 4 << 20
#: the largest byte offset a file can have (a larger one is refused, not sent to the OS)
MAX_OFFSET = (1 << 63) - 1
#: after an upload went over the limit, how much more of its body is read (and dropped) so that
#: the client can be told why with a 413, before the connection is closed
DRAIN_LIMIT = 64 * 1024 * 1024


def record_json(record: RunRecord, manager: RunManager) -> dict[str, Any]:
    data = record.to_dict()
    data["queue_position"] = (
        manager.queue.queue_position(record.id) if record.status.value == "queued" else None
    )
    data["duration"] = record.duration
    return data


@web.stream_request_body
class UploadHandler(PyRunnerHandler):
    """``PUT /pyrunner/api/uploads/{filename}``: the body is streamed to disk as it arrives."""

    _writer: UploadWriter | None = None
    _error: BaseException | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()  # authentication, XSRF, origin
        if self.request.method != "PUT":
            return
        user = self.current_user
        allowed = user and await ensure_async(
            self.authorizer.is_authorized(self, user, "write", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, log_message="not authorized to upload")
        limit = self.manager.uploads.max_size
        declared = self.request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            too_large = f"the upload ({declared} bytes) is larger than the limit of {limit} bytes"
            raise http_error(UploadTooLargeError(too_large))
        # the limit is enforced here, byte by byte, so that the client gets a 413 with a JSON
        # message; Tornado's own cap (a bare 400) must not come first
        self.request.connection.set_max_body_size(1 << 62)  # type: ignore[union-attr]
        filename = self.path_kwargs.get("filename", "")
        try:
            self._writer = self.manager.uploads.new_upload(filename)
        except (ProjectError, DiskFullError) as exc:  # a name refused, a full disk: 4xx, 507
            raise http_error(exc) from exc

    _dropped = 0

    def data_received(self, chunk: bytes) -> None:
        if self._error is not None:
            self._dropped += len(chunk)
            if self._dropped > DRAIN_LIMIT:  # a client that will not stop: hang up on it
                self.request.connection.close()  # type: ignore[union-attr]
            return
        if self._writer is None:
            return
        try:
            self._writer.write(chunk)
        except (UploadTooLargeError, DiskFullError) as exc:
            # the partial file is gone; the rest of the body is read and dropped, then the
            # client gets its 413 or 507 (a body with a declared length over the limit was
            # refused in prepare)
            self._error = exc
            self._writer = None

    def on_connection_close(self) -> None:
        if self._writer is not None:  # the client went away mid-upload
            self._writer.abort()
            self._writer = None

    @web.authenticated
    @authorized
    async def put(self, filename: str) -> None:
        if self._error is not None:
            raise http_error(self._error)
        assert self._writer is not None
        writer, self._writer = self._writer, None
        try:
            info = await asyncio.to_thread(writer.finish)
        except DiskFullError as exc:  # (the upload is removed)
            raise http_error(exc) from exc
        self.write_json({k: info[k] for k in ("upload_id", "filename", "size", "sha256")}, 201)


class RunsHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs`` (newest first, paginated) and ``POST`` (start a run)."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self) -> None:
        limit = self.int_argument("limit", 50, 1, 500)
        offset = self.int_argument("offset", 0, 0, MAX_OFFSET)  # (SQLite takes 64 bits)
        status = self.get_argument("status", None)
        store = self.manager.store
        records = await asyncio.to_thread(store.list_runs, limit, offset, status)
        total = await asyncio.to_thread(store.count, status)
        self.write_json(
            {
                "runs": [record_json(r, self.manager) for r in records],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    @web.authenticated
    @authorized
    @domain_errors
    async def post(self) -> None:
        spec = spec_from_request(self.manager, self.json_body())
        loop = asyncio.get_running_loop()
        record = await loop.run_in_executor(self.manager.intake_pool, self.manager.submit, spec)
        self.set_header("Location", self.base_url.rstrip("/") + f"/pyrunner/api/runs/{record.id}")
        self.write_json(record_json(record, self.manager), 201)


class RunHandler(PyRunnerHandler):
    """``GET`` and ``DELETE /pyrunner/api/runs/{id}``."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str) -> None:
        self.write_json(record_json(await self.run_record(run_id), self.manager))

    @web.authenticated
    @authorized
    @domain_errors
    async def delete(self, run_id: str) -> None:
        await asyncio.to_thread(self.manager.delete, run_id)  # (on a full disk too)
        self.set_status(204)
        self.finish()


class CancelHandler(PyRunnerHandler):
    """``POST /pyrunner/api/runs/{id}/cancel``."""

    @web.authenticated
    @authorized
    @domain_errors
    async def post(self, run_id: str) -> None:
        record = await asyncio.to_thread(self.manager.cancel, run_id)
        self.write_json(record_json(record, self.manager), 202)


class LogHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs/{id}/log?offset=N``: log text from a byte offset.

    The text is sent once, in ``text``; each chunk says which stream wrote which part of it
    (``start``/``end``, indices into ``text``) and where it lies in the log's bytes. A page
    holds at most ``MAX_LOG_PAGE`` bytes of the log, whatever ``max_bytes`` asks: the client
    continues from ``next_offset``, and the server's memory stays bounded."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str) -> None:
        offset = self.int_argument("offset", 0, 0, MAX_OFFSET)
        max_bytes = min(self.int_argument("max_bytes", LOG_PAGE, 1), MAX_LOG_PAGE)
        record = await self.run_record(run_id)
        run_dir = self.manager.store.run_dir(run_id)
        done = record.status.is_terminal
        chunks, next_offset = await asyncio.to_thread(read_chunks, run_dir, offset, max_bytes, done)
        # an ended run's log grows no more: complete once this answer reaches its end
        complete = done and next_offset >= await asyncio.to_thread(log_size, run_dir)
        texts = [c.text for c in chunks]
        spans, start = [], 0
        for chunk, text in zip(chunks, texts, strict=True):
            spans.append({"stream": chunk.stream, "offset": chunk.offset,
                          "next_offset": chunk.end, "timestamp": chunk.timestamp,
                          "start": start, "end": start + len(text)})  # fmt: skip
            start += len(text)
        del chunks  # (the bytes read: only the text is needed from here)
        self.write_json(
            {"offset": offset, "next_offset": next_offset, "text": "".join(texts),
             "chunks": spans, "status": record.status.value, "complete": complete}
        )  # fmt: skip


class LogFileHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs/{id}/log.txt``: the whole log as a text file to download."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str) -> None:
        record = await self.run_record(run_id)
        run_dir = self.manager.store.run_dir(run_id)
        # the log as it is now: a live run's later output is not sent
        size = await asyncio.to_thread(log_size, run_dir)
        name = f"{record.name or run_id}-log.txt"
        self.set_header("Content-Disposition", _disposition("attachment", name))
        await _send_file(self, run_dir / LOG_NAME, "text/plain; charset=utf-8", size)


class CopyHandler(PyRunnerHandler):
    """``POST /pyrunner/api/runs/{id}/copy``: the outputs copied into a new contents folder."""

    @web.authenticated
    @authorized
    @domain_errors
    async def post(self, run_id: str) -> None:
        relpath = copy_path_from_request(self.json_body())
        copied = await asyncio.to_thread(self.manager.copy_outputs, run_id, relpath)
        self.write_json(copied, 201)


class OutputsHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs/{id}/outputs``: the output tree, in two sections:
    ``files`` (``OUTPUT_FOLDER``) and ``project_files`` (written beside the code). Paths are
    those of the zip: a name that is not UTF-8 is given readably (``outputs.stored_paths``).
    Files found but never served (hard links) are in ``skipped`` and ``project_skipped``."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str) -> None:
        await self.run_record(run_id)
        store = self.manager.store
        files, skipped = await asyncio.to_thread(scan_outputs, store.outputs_dir(run_id))
        beside = await asyncio.to_thread(ProjectFiles.of_run, store, run_id)
        project_files, project_skipped = await asyncio.to_thread(beside.scan)
        self.write_json(
            {"run_id": run_id, "files": files_json(files),
             "total_size": sum(f.size for f in files),
             "skipped": skipped_json(skipped),
             "project_files": files_json(project_files),
             "project_total_size": sum(f.size for f in project_files),
             "project_skipped": skipped_json(project_skipped),
             "project_zip_folder": project_folder_name(store.outputs_dir(run_id))}
        )  # fmt: skip


class OutputFileHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs/{id}/outputs/{path}``: one file, streamed; with
    ``?section=project``, one of the files written beside the code. A file whose name is not
    UTF-8 cannot be asked for (404): it is in the zip, under a readable name."""

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """A path that is not UTF-8 names no output: 404, as for any other missing file
        (Tornado would answer 400)."""
        if name == "path":
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                shown = value.decode("utf-8", "backslashreplace")
                raise web.HTTPError(404, "no output '%s'", shown) from None
        return super().decode_argument(value, name)

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str, path: str) -> None:
        await self.run_record(run_id)
        store = self.manager.store
        section = self.get_argument("section", "outputs")
        # the file is opened once, never through a link (one swapped in after the listing
        # included), and what was opened is what is sent
        if section == "project":
            beside = await asyncio.to_thread(ProjectFiles.of_run, store, run_id)
            opened = await asyncio.to_thread(beside.open, path)
        elif section == "outputs":
            opened = await asyncio.to_thread(open_output, store.outputs_dir(run_id), path)
        else:
            raise web.HTTPError(400, log_message="'section' is 'outputs' or 'project'")
        name = path.rstrip("/").rsplit("/", 1)[-1]
        disposition = (
            "attachment" if self.get_argument("download", "0") in ("1", "true") else "inline"
        )
        with opened:
            self.set_header("Content-Disposition", _disposition(disposition, name))
            size = os.fstat(opened.fileno()).st_size
            await _send_open_file(self, opened, mime_type(name), size)


class OutputsZipHandler(PyRunnerHandler):
    """``GET /pyrunner/api/runs/{id}/outputs.zip``: every output, zipped as it is sent; the
    files written beside the code are in its ``project/`` folder."""

    @web.authenticated
    @authorized
    @domain_errors
    async def get(self, run_id: str) -> None:
        await self.run_record(run_id)
        store = self.manager.store
        root = store.outputs_dir(run_id)
        beside = await asyncio.to_thread(ProjectFiles.of_run, store, run_id)
        pieces = iter_zip(root, project_files=beside)
        # the first piece is made before anything is sent: a zip that cannot even begin is
        # an error answer, not a 200 with a broken body
        piece = await asyncio.to_thread(next, pieces, None)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", _disposition("attachment", f"{run_id}-outputs.zip"))
        try:
            while piece is not None:
                self.write(piece)
                await self.flush()
                piece = await asyncio.to_thread(next, pieces, None)
        except Exception:
            # the status is sent: the one honest answer left is a body that is not whole. The
            # connection is closed before the last (empty) chunk, so no client takes a cut zip
            # for a whole one (Tornado would end the body cleanly after an error)
            self.log.exception("the zip of run %s broke off", run_id)
            pieces.close()
            self.request.connection.close()  # type: ignore[union-attr]
            self._finished = True  # (nothing more may be written on this request)
            return
        self.finish()


async def _send_file(handler: PyRunnerHandler, path: Path, content_type: str, size: int) -> None:
    """The first ``size`` bytes of the file, sent in blocks of 1 MiB (``size`` 0: no file needed)."""
    if not size:
        await _send_open_file(handler, None, content_type, 0)
        return
    with open(path, "rb") as f:
        await _send_open_file(handler, f, content_type, size)


async def _send_open_file(
    handler: PyRunnerHandler, f: BinaryIO | None, content_type: str, size: int
) -> None:
    """The first ``size`` bytes of the open file ``f``, sent in blocks of 1 MiB."""
    handler.set_header("Content-Type", content_type)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Content-Length", str(size))
    left = size if f is not None else 0
    while f is not None and left > 0:
        block = await asyncio.to_thread(f.read, min(left, 1 << 20))
        if not block:
            break
        left -= len(block)
        handler.write(block)
        await handler.flush()
    handler.finish(set_content_type=content_type)  # (an API handler would say JSON otherwise)


def _disposition(kind: str, name: str) -> str:
    """A ``Content-Disposition`` header for a file ``name``: an ASCII fallback (quotes, control
    characters such as CR and LF, and anything else not printable ASCII as ``_``), and the name
    itself percent-encoded (a byte that is not UTF-8 as U+FFFD), so no name breaks the header."""
    from urllib.parse import quote

    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    utf8 = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(utf8, safe='')}"
