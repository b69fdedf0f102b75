"""A real Jupyter server with the extension, on a store of the test's own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from ..conftest import write_project, zip_folder


@pytest.fixture
def pyrunner_config() -> dict[str, Any]:
    """Extra ``PyRunnerApp`` settings a test may change before the server starts."""
    return {}


@pytest.fixture
def jp_server_config(home: Path, pyrunner_config: dict[str, Any]) -> Config:
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_pyrunner": True, "jupyter_server_terminals": False}
            },
            "PyRunnerApp": {"store_root": str(home), **pyrunner_config},
        }
    )


class Api:
    """JSON calls to the extension through pytest-jupyter's authenticated client."""

    def __init__(self, fetch: Callable[..., Awaitable[Any]]) -> None:
        self.fetch = fetch

    async def call(self, method: str, *parts: str, body: Any = None, **kwargs: Any) -> Any:
        """Send ``body`` as JSON, or as raw bytes when it is bytes, labelled as the API
        documents it (the conformance test checks the requests too)."""
        content_type = "application/octet-stream"
        if body is not None and not isinstance(body, bytes):
            body, content_type = json.dumps(body), "application/json"
        if body is None and method in ("POST", "PUT"):
            body = b""
        if body is not None:
            kwargs["headers"] = {"Content-Type": content_type, **kwargs.get("headers", {})}
        response = await self.fetch("pyrunner", "api", *parts, method=method, body=body, **kwargs)
        return response

    async def json(self, method: str, *parts: str, **kwargs: Any) -> Any:
        response = await self.call(method, *parts, **kwargs)
        return json.loads(response.body) if response.body else None

    async def upload(self, path: Path) -> dict[str, Any]:
        response = await self.call("PUT", "uploads", path.name, body=path.read_bytes())
        assert response.code == 201
        return json.loads(response.body)  # type: ignore[no-any-return]

    async def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            record = await self.json("GET", "runs", run_id)
            if record["status"] in ("succeeded", "failed", "cancelled", "timed_out", "error"):
                return record  # type: ignore[no-any-return]
            assert asyncio.get_running_loop().time() < deadline, record
            await asyncio.sleep(0.05)


@pytest.fixture
def api(jp_fetch: Callable[..., Awaitable[Any]]) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def contents(jp_root_dir: Path) -> Callable[[str, dict[str, str]], Path]:
    """Write a project folder into the server's contents root."""

    def make(name: str, files: dict[str, str]) -> Path:
        return write_project(jp_root_dir / name, files)

    return make


@pytest.fixture
def zipped(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A zip of a project, wrapped in a top folder as zips usually are."""

    def make(files: dict[str, str], name: str = "project") -> Path:
        folder = write_project(tmp_path / f"src-{name}", files)
        return zip_folder(folder, tmp_path / f"{name}.zip", prefix=f"{name}/")

    return make
