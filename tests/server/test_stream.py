"""Live log streaming over the WebSocket: replay, tail, reconnect, many followers."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

from jupyter_pyrunner import start_run

TICKS = {
    "main.py": """
        import sys, time
        for i in range(40):
            print(f"tick {i}", flush=True)
            if i % 10 == 0:
                print(f"[PROGRESS] {i}/40", flush=True)
            time.sleep(0.02)
        print("done", file=sys.stderr)
    """,
    "requirements.txt": "",
}


async def collect(ws: Any) -> list[dict[str, Any]]:
    """Every message until the server closes the socket."""
    messages = []
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=60)
        if raw is None:
            return messages
        messages.append(json.loads(raw))


def stdout_text(messages: list[dict[str, Any]]) -> str:
    return "".join(m["text"] for m in messages if m["type"] == "log" and m["stream"] == "stdout")


EXPECTED = "".join(
    f"tick {i}\n" + (f"[PROGRESS] {i}/40\n" if i % 10 == 0 else "") for i in range(40)
)


async def test_a_follower_gets_the_whole_log_live_then_the_end(api, contents, jp_ws_fetch) -> None:
    contents("ticks", TICKS)
    run = await api.json("POST", "runs", body={"path": "ticks"})
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    messages = await collect(ws)
    assert stdout_text(messages) == EXPECTED
    assert any(
        m["type"] == "log" and m["stream"] == "stderr" and "done" in m["text"] for m in messages
    )
    statuses = [m["status"] for m in messages if m["type"] == "status"]
    assert statuses[-1] == "succeeded" and "running" in statuses
    progress = [
        m["progress"] for m in messages if m["type"] == "status" and m["progress"] is not None
    ]
    assert progress and progress[-1] == 1.0
    end = messages[-1]
    assert end["type"] == "end" and end["status"] == "succeeded" and end["exit_code"] == 0
    offsets = [(m["offset"], m["next_offset"]) for m in messages if m["type"] == "log"]
    assert all(a < b for a, b in offsets)
    assert all(prev[1] == cur[0] for prev, cur in itertools.pairwise(offsets))
    assert end["next_offset"] == offsets[-1][1]


async def test_reconnecting_with_the_last_offset_misses_nothing_and_repeats_nothing(
    api, contents, jp_ws_fetch
) -> None:
    contents("ticks", TICKS)
    run = await api.json("POST", "runs", body={"path": "ticks"})
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    first: list[dict[str, Any]] = []
    while sum(1 for m in first if m["type"] == "log") < 5:
        first.append(json.loads(await asyncio.wait_for(ws.read_message(), timeout=30)))
    ws.close()  # a network blip
    resume = [m for m in first if m["type"] == "log"][-1]["next_offset"]
    await asyncio.sleep(0.2)
    again = await jp_ws_fetch(
        "pyrunner", "api", "runs", run["id"], "stream", params={"offset": resume}
    )
    rest = await collect(again)
    assert stdout_text(first) + stdout_text(rest) == EXPECTED


async def test_a_tail_starts_at_a_line_start_near_the_end_and_then_goes_on_live(
    api, contents, jp_ws_fetch
) -> None:
    contents("ticks", TICKS)
    run = await api.json("POST", "runs", body={"path": "ticks"})
    await api.wait(run["id"])
    whole = stdout_text(
        await collect(await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream"))
    )
    assert whole == EXPECTED
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream", params={"tail": "50"})
    messages = await collect(ws)
    logs = [m for m in messages if m["type"] == "log"]
    text = "".join(m["text"] for m in logs)
    assert logs[0]["offset"] > 0 and text.startswith("tick ")  # a whole line, not a piece
    assert len(text.encode()) <= 50 + len("done\n") and text.endswith("done\n")
    assert EXPECTED.endswith(stdout_text(messages))
    assert messages[-1]["type"] == "end" and messages[-1]["next_offset"] == logs[-1]["next_offset"]
    # a tail longer than the log is the whole log
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream", params={"tail": "99999"})
    assert stdout_text(await collect(ws)) == EXPECTED


async def test_runs_started_outside_the_server_stream_the_same_way(
    api, jp_ws_fetch, home: Path, project
) -> None:
    src = project(TICKS)
    handle = start_run(src, home=home)  # as the CLI or a notebook kernel would
    ws = await jp_ws_fetch("pyrunner", "api", "runs", handle.id, "stream")
    messages = await collect(ws)
    assert stdout_text(messages) == EXPECTED
    listed = await api.json("GET", "runs")
    assert handle.id in [r["id"] for r in listed["runs"]]


async def test_fifty_idle_followers_all_see_the_end(
    api, contents, jp_ws_fetch, jp_serverapp
) -> None:
    contents(
        "idle",
        {
            "main.py": "import time\nprint('waiting', flush=True)\ntime.sleep(60)",
            "requirements.txt": "",
        },
    )
    run = await api.json("POST", "runs", body={"path": "idle"})
    sockets = [await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream") for _ in range(50)]
    watcher = jp_serverapp.web_app.settings["pyrunner_watcher"]
    await asyncio.sleep(0.5)
    assert len(watcher._followers[run["id"]]) == 50  # one shared poll for all of them
    await api.call("POST", "runs", run["id"], "cancel")
    results = await asyncio.gather(*(collect(ws) for ws in sockets))
    ended = await api.json("GET", "runs", run["id"])
    assert ended["status"] == "cancelled", ended
    for messages in results:
        assert "waiting" in stdout_text(messages)
        assert messages[-1]["type"] == "end" and messages[-1]["status"] == "cancelled"
    await asyncio.sleep(0.1)
    assert run["id"] not in watcher._followers


async def test_a_client_leaving_mid_stream_costs_nothing(
    api, contents, jp_ws_fetch, jp_serverapp
) -> None:
    contents("ticks", TICKS)
    run = await api.json("POST", "runs", body={"path": "ticks"})
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    await ws.read_message()
    ws.close()
    await api.wait(run["id"])
    await asyncio.sleep(0.2)
    assert jp_serverapp.web_app.settings["pyrunner_watcher"]._followers == {}
    later = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    assert stdout_text(await collect(later)) == EXPECTED


async def test_a_missing_run_or_a_bad_offset_is_refused(jp_ws_fetch, api, contents) -> None:
    from tornado.httpclient import HTTPClientError

    contents("ticks", TICKS)
    run = await api.json("POST", "runs", body={"path": "ticks"})
    for parts, params, code in (
        (("runs", "20200101-000000-abcdef", "stream"), {}, 404),
        (("runs", run["id"], "stream"), {"offset": "-5"}, 400),
        (("runs", run["id"], "stream"), {"tail": "0"}, 400),
        (("runs", run["id"], "stream"), {"tail": "100", "offset": "0"}, 400),
    ):
        try:
            await jp_ws_fetch("pyrunner", "api", *parts, params=params)
        except HTTPClientError as exc:
            assert exc.code == code
        else:
            raise AssertionError(f"{parts} {params} was accepted")
    await api.wait(run["id"])


async def test_deleting_a_run_while_it_is_followed_is_not_a_clean_end(
    api, contents, jp_ws_fetch, home
) -> None:
    from jupyter_pyrunner import RunStore

    contents(
        "big", {"main.py": "import sys\nsys.stdout.write('x' * 2_000_000)", "requirements.txt": ""}
    )
    run = await api.json("POST", "runs", body={"path": "big"})
    await api.wait(run["id"])
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    await ws.read_message()  # the stream has begun
    RunStore(home).delete(run["id"])
    messages = await collect(ws)
    received = sum(len(m["text"]) for m in messages if m["type"] == "log")
    assert received < 30_000_000
    assert all(m["type"] != "end" for m in messages)  # never told it has it all
    assert ws.close_code == 1011
