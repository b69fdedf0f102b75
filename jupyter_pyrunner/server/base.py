"""What every pyrunner handler shares: the auth resource, the one error-to-status table, the
JSON error and response format, and the parsing of request bodies and query arguments.

The REST handlers (``handlers.py``) and the WebSocket (``stream.py``) both build on this module
and on nothing of each other.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import (
    DaskUnavailableError,
    DiskFullError,
    OutputNotFoundError,
    OutputsReplacedError,
    PathOutsideRootError,
    ProjectError,
    RunNotFoundError,
    RunStateError,
    UploadNotFoundError,
    UploadTooLargeError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..models import RunRecord
    from .manager import RunManager

#: the resource every pyrunner route is authorized on (``read`` for GET, ``write`` otherwise)
AUTH_RESOURCE = "pyrunner"

#: domain error → HTTP status; an error of a subclass gets the status of its nearest class here
STATUS_FOR: dict[type[Exception], int] = {
    ProjectError: 400,
    PathOutsideRootError: 403,
    RunNotFoundError: 404,
    UploadNotFoundError: 404,
    OutputNotFoundError: 404,
    RunStateError: 409,
    OutputsReplacedError: 409,
    UploadTooLargeError: 413,
    DiskFullError: 507,
    DaskUnavailableError: 501,
}

_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            413: "Payload Too Large", 501: "Not Implemented",
            507: "Insufficient Storage"}  # fmt: skip


def status_for(exc: BaseException) -> int | None:
    """The HTTP status of a domain error; None for any other exception (a server bug: 500)."""
    for kind in type(exc).__mro__:
        if kind in STATUS_FOR:
            return STATUS_FOR[kind]
    return None


def http_error(exc: BaseException) -> web.HTTPError:
    """The HTTP error for a domain error, carrying the engine's message for the user."""
    status = status_for(exc) or 500
    return web.HTTPError(status, reason=_REASONS.get(status, "Error"), log_message=str(exc))


def without_server_paths(message: str, folders: list[tuple[str, str]]) -> str:
    """``message`` with each of the server's ``folders`` (path, shown as) replaced, longest
    first, wherever it stands as a whole path or the start of one: an answer to a client never
    tells where the server keeps its files (``no run 'x' in <run store>``)."""
    import re

    for path, shown in sorted(folders, key=lambda item: -len(item[0])):  # (stable: ties keep
        # their order, so the contents root that is also the home folder reads <contents>)
        pattern = re.compile(re.escape(path) + r"(?![\w-]|\.[\w-])")  # (not a longer name)
        message = pattern.sub(shown.replace("\\", "\\\\"), message)
    return message


def domain_errors(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn the engine's errors into HTTP errors carrying the engine's message."""

    @functools.wraps(method)
    async def wrapper(self: PyRunnerHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except Exception as exc:
            if status_for(exc) is None:
                raise
            raise http_error(exc) from exc

    return wrapper


class PyRunnerHandler(APIHandler):
    """Base of the REST handlers: JSON in, JSON out, errors as ``{"message", "reason"}``."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> RunManager:
        return self.settings["pyrunner_manager"]  # type: ignore[no-any-return]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON errors whose ``message`` is the engine's sentence for the user."""
        exc_info = kwargs.get("exc_info")
        message = self._reason
        if exc_info:
            exc = exc_info[1]
            if isinstance(exc, web.HTTPError) and exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        message = without_server_paths(message, self._server_folders())
        self.finish(json.dumps({"message": message, "reason": self._reason}))

    def _server_folders(self) -> list[tuple[str, str]]:
        """The server's own folders a message must not show a client, each with what it
        is shown as: the run store, the contents root, the home folder."""
        import os

        named: list[tuple[object, str]] = [
            (getattr(self.settings.get("pyrunner_manager"), "store", None), "<run store>"),
            (self.settings.get("server_root_dir"), "<contents>"),
            (os.path.expanduser("~"), "~"),
        ]
        found: list[tuple[str, str]] = []
        for where, shown in named:
            where = getattr(where, "home", where)  # (the store: its folder)
            if isinstance(where, (str, os.PathLike)) and os.fspath(where) not in ("", "/"):
                path = os.path.abspath(os.fspath(where))
                found += [(path, shown), (os.path.realpath(path), shown)]
        return found

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def json_body(self) -> Any:
        """The request body as JSON (an empty body is ``{}``)."""
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError:
            raise ProjectError("the request body is not valid JSON") from None

    def int_argument(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """A whole-number query argument within ``[low, high]`` (``high`` None: no upper bound)."""
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ProjectError(f"'{name}' must be a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ProjectError(f"'{name}' must be {bound}")
        return value

    async def run_record(self, run_id: str) -> RunRecord:
        """The record, read off the event loop (noticing a dead supervisor may take a moment)."""
        return await asyncio.to_thread(self.manager.store.get, run_id)
