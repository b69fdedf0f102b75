"""Live log streaming over a WebSocket: replay from an offset, then push what is written.

One ``RunWatcher`` per server polls the log size and the record of each run that has
followers (two ``stat`` calls every 25 ms, however many followers) and wakes them; each
follower then reads from its own offset. Messages are awaited before the next read, so a slow
client slows its own follower only, and memory stays bounded by one read.

Messages (JSON text frames):

- ``{"type": "log", "stream": "stdout"|"stderr"|"system", "text", "offset", "next_offset"}``;
  reconnect with ``?offset=<next_offset of the last message>`` to miss nothing and see nothing
  twice.
- ``{"type": "status", "status", "progress", "message", "exit_code"}`` on every change.
- ``{"type": "end", "status", "exit_code", "message", "next_offset"}``, then the socket closes.

An offset past the end of the log is answered as any other: nothing until the log reaches it,
and the end once the run has ended. Should the log not be readable, the socket is closed with
code 1011 and a reason, never left open and silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web, websocket

from ..errors import RunNotFoundError
from ..faults import END_NAME
from ..logfile import LOG_NAME, read_chunks, tail_offset
from ..store import RunStore
from .base import AUTH_RESOURCE, http_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

POLL_INTERVAL = 0.025
READ_SIZE = 256 * 1024
#: the largest byte offset a file can have
MAX_OFFSET = (1 << 63) - 1


class RunWatcher:
    """Wakes the followers of a run when its log or its record changes, and owns the tasks
    that follow (so the server can stop and await them all when it shuts down)."""

    def __init__(self, store: RunStore, interval: float = POLL_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self._followers: dict[str, set[asyncio.Event]] = {}
        self._seen: dict[str, tuple[int, int, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._streams: set[asyncio.Task[None]] = set()

    def start_stream(self, follow: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run one WebSocket's follower as a task kept until it ends: the event loop holds
        tasks weakly, and one left pending when the server stops is destroyed unfinished."""
        task = asyncio.get_running_loop().create_task(follow)
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        return task

    @contextmanager
    def follow(self, run_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._followers.setdefault(run_id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield event
        finally:
            followers = self._followers.get(run_id)
            if followers is not None:
                followers.discard(event)
                if not followers:
                    del self._followers[run_id]
                    self._seen.pop(run_id, None)

    def _signature(self, run_id: str) -> tuple[int, int, int]:
        """What changes when a follower has something new: the log's size, the record's time
        and the end reserve's (a run that ended on a full disk wrote its ending there)."""
        run_dir = self.store.runs_dir / run_id
        return (
            _stat_or(run_dir / LOG_NAME, size=True),
            _stat_or(run_dir / "run.json"),
            _stat_or(run_dir / END_NAME),
        )

    async def _poll(self) -> None:
        while self._followers:
            for run_id, events in list(self._followers.items()):
                signature = self._signature(run_id)
                if self._seen.get(run_id) != signature:
                    self._seen[run_id] = signature
                    for event in list(events):
                        event.set()
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        """Cancel every stream and the polling, and wait until they have ended: a task only
        cancelled is still pending until the loop runs it once more, and the server's loop
        may close before that."""
        tasks = [*self._streams, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class StreamHandler(JupyterHandler, websocket.WebSocketHandler):
    """``WS /pyrunner/api/runs/{id}/stream?offset=N`` (or ``?tail=BYTES``: about the last
    BYTES of the log, from the start of a line, then live)."""

    auth_resource = AUTH_RESOURCE
    _pump: asyncio.Task[None] | None = None

    @property
    def store(self) -> RunStore:
        return self.settings["pyrunner_manager"].store  # type: ignore[no-any-return]

    @property
    def watcher(self) -> RunWatcher:
        return self.settings["pyrunner_watcher"]  # type: ignore[no-any-return]

    async def pre_get(self, run_id: str) -> None:
        user = self.current_user
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        try:
            self.store.get(run_id)
        except RunNotFoundError as exc:
            raise http_error(exc) from exc
        raw = self.get_argument("offset", "0")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_OFFSET:
            raise web.HTTPError(
                400, log_message=f"'offset' must be a whole number from 0 to {MAX_OFFSET}"
            )
        self.start_offset = int(raw)
        tail = self.get_argument("tail", None)
        if tail is not None:
            if "offset" in self.request.arguments:
                raise web.HTTPError(400, log_message="give 'offset' or 'tail', not both")
            if not (tail.isascii() and tail.isdigit()) or len(tail) > 19 or int(tail) == 0:
                raise web.HTTPError(
                    400, log_message="'tail' must be a whole number of bytes, 1 or more"
                )
            run_dir = self.store.run_dir(run_id)
            self.start_offset = await asyncio.to_thread(tail_offset, run_dir, int(tail))

    @ws_authenticated
    async def get(self, run_id: str) -> None:
        await self.pre_get(run_id)
        result = super().get(run_id)
        if result is not None:
            await result

    def open(self, run_id: str) -> None:
        self._pump = self.watcher.start_stream(self._follow(run_id, self.start_offset))

    def on_close(self) -> None:
        """Stop following; the watcher keeps the task until it has ended, and the server
        awaits it on shutdown should the loop not run it again before then."""
        if self._pump is not None:
            self._pump.cancel()

    def on_message(self, message: str | bytes) -> None:
        pass  # the stream is one-way; clients reconnect with an offset instead of talking

    async def _send(self, data: dict[str, Any]) -> None:
        await self.write_message(json.dumps(data))

    async def _follow(self, run_id: str, offset: int) -> None:
        store = self.store
        run_dir = store.run_dir(run_id)
        last_state: tuple[Any, ...] | None = None
        try:
            with self.watcher.follow(run_id) as changed:
                while True:
                    changed.clear()
                    record = await asyncio.to_thread(store.get, run_id)
                    done = record.status.is_terminal
                    state = (record.status.value, record.progress, record.message, record.exit_code)
                    if state != last_state:
                        last_state = state
                        await self._send({"type": "status", **_status(record)})
                    offset = await self._send_log(run_dir, offset, done)
                    if done:
                        if not (run_dir / "run.json").exists():
                            raise RunNotFoundError(run_id)  # deleted meanwhile: not a clean end
                        await self._send({"type": "end", "next_offset": offset, **_status(record)})
                        self.close()
                        return
                    # woken by the watcher; the timeout is a safety net should a change of the
                    # record go unseen (two writes within one tick of a coarse file clock)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), 1.0)
        except (websocket.WebSocketClosedError, asyncio.CancelledError):
            return
        except RunNotFoundError:
            self.close(code=1011, reason="the run was deleted")
        except Exception:  # an unreadable log or record: say so and close, never hang
            self.log.exception("the stream of run %s broke off", run_id)
            self.close(code=1011, reason="the log could not be read")

    async def _send_log(self, run_dir: Path, offset: int, final: bool) -> int:
        """Everything written from ``offset`` on, a bounded read at a time; the offset reached."""
        while True:
            chunks, end = await asyncio.to_thread(read_chunks, run_dir, offset, READ_SIZE, final)
            for chunk in chunks:
                await self._send(
                    {"type": "log", "stream": chunk.stream, "text": chunk.text,
                     "offset": chunk.offset, "next_offset": chunk.end}
                )  # fmt: skip
            offset = end
            if not chunks:
                return offset


def _status(record: Any) -> dict[str, Any]:
    return {
        "status": record.status.value,
        "progress": record.progress,
        "message": record.message,
        "exit_code": record.exit_code,
        "run_id": record.id,
    }


def _stat_or(path: Path, *, size: bool = False) -> int:
    """The file's size or modification time (ns); -1 when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return -1
    return st.st_size if size else st.st_mtime_ns
