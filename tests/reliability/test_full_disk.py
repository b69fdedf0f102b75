"""A full disk under a real server: the API keeps answering, and no ending is lost.

The run store lives on a small tmpfs mounted by the test. A program fills it (the disk is full
when its supervisor writes its final record), or a log fills it. Then every kind of request is
sent and counted: none may answer 500, reads must answer as usual, writes 507 with the
server's JSON error, and ``DELETE`` must work and give the space back. A run that ended while
the disk was full reads with its program's exit code and "the disk is full", before and after
space comes back (then from its record, written by the server's housekeeping).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..conftest import marker_processes
from ..server import conftest as _server
from .diskfill import free_bytes, small_disk

# the server fixtures (a real Jupyter server with the extension, on a store of the test's own)
api = _server.api
contents = _server.contents
jp_server_config = _server.jp_server_config
pyrunner_config = _server.pyrunner_config

DISK_MB = 48

FILLER = {
    "main.py": """
        import os, sys
        path = os.path.join(os.environ["OUTPUT_FOLDER"], "ballast.bin")
        with open(path, "ab", buffering=0) as f:
            for block in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        f.write(b"\\0" * block)
                except OSError:
                    pass
        sys.exit(3)
    """,
    "requirements.txt": "",
}

WAITER = {
    "main.py": """
        import os, sys, time
        print("waiting", flush=True)
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.05)
        sys.exit(5)
    """,
    "requirements.txt": "",
}

FLOOD = {
    "main.py": """
        import sys
        out = sys.stdout
        n = 0
        while True:
            out.write("".join(f"{i:09d} {'x' * 90}\\n" for i in range(n, n + 1000)))
            n += 1000
    """,
    "requirements.txt": "",
}

HELLO = {"main.py": "print('hello again')\n", "requirements.txt": ""}


@pytest.fixture
def home(tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The run store (and its environments) on a small disk of its own."""
    path = tmp_path / "pyrunner-home"
    with small_disk(path, DISK_MB):
        monkeypatch.setenv("PYRUNNER_HOME", str(path))
        monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
        yield path
        from jupyter_pyrunner.process_tree import kill_run

        runs = path / "runs"
        for run_dir in runs.iterdir() if runs.is_dir() else []:
            kill_run(run_dir.name, grace=0.2)


class Tally:
    """Every request sent, by kind, and what answered it."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.codes: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )

    async def send(self, kind: str, method: str, *parts: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            response = await self.api.call(method, *parts, **kwargs)
            code, raw = response.code, response.body
        except HTTPClientError as exc:
            assert exc.response is not None, exc
            code, raw = exc.code, exc.response.body
        self.codes[kind][code] += 1
        try:
            return code, json.loads(raw) if raw else None
        except ValueError:
            return code, raw

    def summary(self) -> dict[str, dict[int, int]]:
        return {kind: dict(counter) for kind, counter in sorted(self.codes.items())}

    def assert_no_500(self) -> None:
        bad = {k: c for k, c in self.summary().items() if any(code >= 500 and code != 507
                                                             for code in c)}  # fmt: skip
        assert not bad, self.summary()


async def follow_to_end(ws_fetch: Any, run_id: str) -> list[dict[str, Any]]:
    """Every message of the run's stream, to its ``end``."""
    ws = await ws_fetch("pyrunner", "api", "runs", run_id, "stream", params={"offset": "0"})
    messages = []
    while True:
        raw = await asyncio.wait_for(ws.read_message(), 30)
        if raw is None:
            break
        messages.append(json.loads(raw))
        if messages[-1]["type"] == "end":
            break
    ws.close()
    return messages


async def every_kind_of_request(tally: Tally, run_id: str, ws_fetch: Any, rounds: int) -> None:
    """Reads of every kind, ``rounds`` times, on the run; a WebSocket per round."""
    for _ in range(rounds):
        code, body = await tally.send("GET /runs", "GET", "runs")
        assert code == 200 and any(r["id"] == run_id for r in body["runs"])
        code, body = await tally.send("GET /runs/{id}", "GET", "runs", run_id)
        assert code == 200
        code, body = await tally.send("GET log", "GET", "runs", run_id, "log")
        assert code == 200
        code, _ = await tally.send("GET log.txt", "GET", "runs", run_id, "log.txt")
        assert code == 200
        code, body = await tally.send("GET outputs", "GET", "runs", run_id, "outputs")
        assert code == 200
        code, _ = await tally.send("GET outputs.zip", "GET", "runs", run_id, "outputs.zip")
        assert code == 200
        messages = await follow_to_end(ws_fetch, run_id)
        tally.codes["WS stream"][101 if messages[-1]["type"] == "end" else 0] += 1


async def wait_ended(api: Any, run_id: str, timeout: float = 90) -> dict[str, Any]:
    return await api.wait(run_id, timeout=timeout)  # type: ignore[no-any-return]


async def test_a_program_that_fills_the_disk_leaves_the_api_answering_and_its_ending_kept(
    api, contents, home: Path, tmp_path: Path, jp_ws_fetch: Any
) -> None:
    tally = Tally(api)
    contents("waiter", WAITER)
    contents("filler", FILLER)
    contents("hello", HELLO)
    trigger = tmp_path / "go"  # (not on the small disk)

    waiter = await api.json("POST", "runs", body={"path": "waiter", "args": [str(trigger)]})
    deadline = asyncio.get_running_loop().time() + 90
    while "waiting" not in (await api.json("GET", "runs", waiter["id"], "log"))["text"]:
        assert asyncio.get_running_loop().time() < deadline, "the waiter never started"
        await asyncio.sleep(0.1)

    filler = await api.json("POST", "runs", body={"path": "filler"})
    ended = await wait_ended(api, filler["id"])
    assert free_bytes(home) == 0
    # its final record could not be written: the ending was kept over the end reserve
    assert (ended["status"], ended["exit_code"]) == ("failed", 3), ended
    assert ended["message"].startswith("the disk is full"), ended
    assert "stopped unexpectedly" not in ended["message"]

    trigger.touch()  # the waiter ends now, on the full disk
    waited = await wait_ended(api, waiter["id"])
    assert (waited["status"], waited["exit_code"]) == ("failed", 5), waited
    assert "the disk is full" in waited["message"]
    stored = json.loads((home / "runs" / waiter["id"] / "run.json").read_text())
    assert stored["status"] == "running"  # (on disk, its record could not say so yet)

    # every kind of request, on the full disk
    await every_kind_of_request(tally, filler["id"], jp_ws_fetch, rounds=5)
    await every_kind_of_request(tally, waiter["id"], jp_ws_fetch, rounds=5)
    for _ in range(5):
        code, body = await tally.send("POST cancel (ended)", "POST", "runs", filler["id"],
                                      "cancel")  # fmt: skip
        assert code == 409 and "already ended" in body["message"]
        code, body = await tally.send("PUT upload", "PUT", "uploads", "p.zip",
                                      body=b"PK" + b"\0" * 300_000)  # fmt: skip
        assert code == 507 and body["message"].startswith("the disk is full"), body
        assert str(home) not in body["message"]
        code, body = await tally.send("POST /runs", "POST", "runs", body={"path": "hello"})
        assert code == 507 and body["message"].startswith("the disk is full"), body
    assert [p for p in (home / "uploads").iterdir()] == []  # no partial upload left
    tally.assert_no_500()

    # DELETE works on the full disk, and gives the space back
    code, _ = await tally.send("DELETE", "DELETE", "runs", filler["id"])
    assert code == 204
    assert free_bytes(home) > 40 * 1024 * 1024
    code, _ = await tally.send("GET deleted", "GET", "runs", filler["id"])
    assert code == 404

    # the waiter's ending is written into its record by the housekeeping, once there is room
    record = home / "runs" / waiter["id"] / "run.json"
    deadline = asyncio.get_running_loop().time() + 20
    while json.loads(record.read_text())["status"] != "failed":
        assert asyncio.get_running_loop().time() < deadline, "never written down"
        await asyncio.sleep(0.2)
    stored = json.loads(record.read_text())
    assert stored["exit_code"] == 5 and stored["message"].startswith("the disk is full")
    after = await api.json("GET", "runs", waiter["id"])
    assert (after["status"], after["exit_code"]) == ("failed", 5)
    listed = await api.json("GET", "runs", params={"status": "failed"})
    assert waiter["id"] in [r["id"] for r in listed["runs"]]  # the index caught up too

    # and the API works again
    code, body = await tally.send("PUT upload (after)", "PUT", "uploads", "p.zip", body=b"PK")
    assert code == 201
    hello = await api.json("POST", "runs", body={"path": "hello"})
    assert (await wait_ended(api, hello["id"]))["status"] == "succeeded"
    tally.assert_no_500()
    print("requests on a full disk:", json.dumps(tally.summary()))


async def test_a_log_that_fills_the_disk_ends_the_run_truthfully_and_keeps_every_line(
    api, contents, home: Path, jp_ws_fetch: Any
) -> None:
    tally = Tally(api)
    contents("flood", FLOOD)
    contents("hello", HELLO)
    run = await api.json("POST", "runs", body={"path": "flood"})
    ended = await wait_ended(api, run["id"])
    assert ended["status"] == "failed", ended
    assert ended["message"].startswith("the disk is full"), ended
    assert "stopped unexpectedly" not in ended["message"]
    assert marker_processes(run["id"]) == []  # the program was stopped

    # every line logged is there, in order, none missing: only the last may be cut short
    text = (home / "runs" / run["id"] / "log.txt").read_bytes().decode(errors="replace")
    lines = [line for line in text.split("\n") if re.fullmatch(r"\d{9} x{90}", line)]
    assert len(lines) > 100_000
    assert [int(line[:9]) for line in lines] == list(range(len(lines)))

    await every_kind_of_request(tally, run["id"], jp_ws_fetch, rounds=3)
    code, body = await tally.send("PUT upload", "PUT", "uploads", "p.zip", body=b"PK" * 50_000)
    assert code == 507 and body["message"].startswith("the disk is full")
    code, _ = await tally.send("DELETE", "DELETE", "runs", run["id"])
    assert code == 204
    hello = await api.json("POST", "runs", body={"path": "hello"})
    assert (await wait_ended(api, hello["id"]))["status"] == "succeeded"
    tally.assert_no_500()
    print(f"log filled the disk after {len(lines)} lines; requests:", json.dumps(tally.summary()))


def test_a_sweep_whose_copies_of_the_project_would_not_fit_is_refused_whole(
    tmp_path: Path, project
) -> None:
    """Each run of a sweep holds its own copy of the project: 20 copies of 4 MB on a 32 MB
    disk are refused before the disk fills, with one message, and nothing is left."""
    from jupyter_pyrunner import run_sweep
    from jupyter_pyrunner.errors import DiskFullError

    source = project({"main.py": "print('x')\n"})
    (source / "data.bin").write_bytes(os.urandom(4 << 20))
    with small_disk(tmp_path / "disk", 32) as disk:
        home = disk / "home"
        with pytest.raises(DiskFullError) as refused:
            run_sweep(source, {"a": [str(i) for i in range(20)]}, home=home,
                      infer_requirements=False)  # fmt: skip
        assert re.fullmatch(
            r"the sweep's 20 runs each need their own copy of the project and inputs "
            r"\(4\.0 MB\): 76\.\d MB more, and the disk has 2\d\.\d MB free",
            str(refused.value),
        ), str(refused.value)
        assert list((home / "runs").iterdir()) == []
        assert not (home / "sweeps").exists() or list((home / "sweeps").iterdir()) == []
