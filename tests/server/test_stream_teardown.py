"""Stopping the server ends the live streams it serves, and waits until they have ended."""

from __future__ import annotations

import asyncio
import json
from typing import Any

#: the coroutines behind the streams: a task of these left pending when the server's loop
#: closes is destroyed unfinished ("Task was destroyed but it is pending!")
STREAM_COROUTINES = ("StreamHandler._follow", "RunWatcher._poll")

SLOW = {
    "main.py": "import time\nprint('started', flush=True)\ntime.sleep(3)\n",
    "requirements.txt": "",
}


def stream_tasks() -> list[asyncio.Task[Any]]:
    """The tasks of the running loop that follow a run and are not finished."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__ in STREAM_COROUTINES  # type: ignore[union-attr]
    ]


async def read_until_log(ws: Any) -> None:
    """Wait until the stream has sent the program's first output: it is live then."""
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=60)
        assert raw is not None, "the stream closed before the program wrote"
        message = json.loads(raw)
        if message["type"] == "log" and "started" in message["text"]:
            return


async def test_stopping_the_extension_ends_and_awaits_every_stream(
    api, contents, jp_ws_fetch, jp_serverapp
) -> None:
    contents("slow", SLOW)
    run = await api.json("POST", "runs", body={"path": "slow"})
    sockets = [await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream") for _ in range(2)]
    for ws in sockets:
        await read_until_log(ws)
    assert len(stream_tasks()) == 3  # two followers and the watcher's polling
    (extension,) = jp_serverapp.extension_manager.extension_apps["jupyter_pyrunner"]
    await extension.stop_extension()
    # nothing left to run once the loop has stopped: not even a task only cancelled
    assert stream_tasks() == []
    for ws in sockets:
        ws.close()
    await api.wait(run["id"])
