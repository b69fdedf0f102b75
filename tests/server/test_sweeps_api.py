"""Sweeps over REST: ``POST``/``GET /pyrunner/api/sweeps``, ``GET .../sweeps/{id}`` and
``POST .../sweeps/{id}/cancel``, on a real server, with real runs, checked against the OpenAPI
description."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..conftest import marker_processes
from .test_handlers import _browser_cookies, expect_error
from .test_openapi import _call

PROGRAM = {
    "main.py": """
        import json, os, sys
        params = json.loads(os.environ["PYRUNNER_PARAMS"])
        out = os.environ["OUTPUT_FOLDER"]
        open(os.path.join(out, "r.txt"), "w").write(" ".join(sys.argv[1:]) + "|" + json.dumps(params))
        """,
    "requirements.txt": "",
}
SWEEPS = "/pyrunner/api/sweeps"
SWEEP = "/pyrunner/api/sweeps/{sweep_id}"
SWEEP_CANCEL = "/pyrunner/api/sweeps/{sweep_id}/cancel"
#: a program that says it is up, then sleeps far longer than any test waits
SLEEPER = {
    "main.py": "import time\nprint('up', flush=True)\ntime.sleep(600)\n",
    "requirements.txt": "",
}


async def _wait_sweep(api: Any, sweep_id: str, timeout: float = 120) -> dict[str, Any]:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        sweep = await api.json("GET", "sweeps", sweep_id)
        if sweep["status"] != "running":
            return sweep  # type: ignore[no-any-return]
        assert asyncio.get_running_loop().time() < deadline, sweep
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_a_two_by_two_sweep_ends_with_four_runs_carrying_their_params(
    api, contents, jp_serverapp
) -> None:
    contents("sw", PROGRAM)
    body = {"path": "sw", "params": {"a": ["1", "2"], "b": ["x", "y"]}, "args": ["{a}-{b}"]}
    sweep = await _call(api, "POST", SWEEPS, 201, ("sweeps",), body=body)
    assert [r["params"] for r in sweep["runs"]] == [
        {"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "2", "b": "x"}, {"a": "2", "b": "y"}
    ]  # fmt: skip
    # the server's queue holds them: at most max_concurrent_runs (1) at once
    manager = jp_serverapp.web_app.settings["pyrunner_manager"]
    assert len(manager.queue.active) <= 1
    done = await _wait_sweep(api, sweep["id"])
    assert done["status"] == "succeeded" and done["counts"] == {"succeeded": 4}
    await _call(api, "GET", SWEEP, 200, ("sweeps", sweep["id"]))
    listed = await _call(api, "GET", SWEEPS, 200, ("sweeps",))
    assert [s["id"] for s in listed["sweeps"]] == [sweep["id"]]
    page = await api.json("GET", "runs")
    runs = {r["id"]: r for r in page["runs"]}
    for row in done["runs"]:
        run = runs[row["id"]]
        assert run["sweep"] == sweep["id"] and run["params"] == row["params"]
        text = await api.call("GET", "runs", row["id"], "outputs", "r.txt")
        combo = row["params"]
        assert text.body.decode() == f"{combo['a']}-{combo['b']}|{json.dumps(combo)}"
    # never more than one at a time: each run started after the one before it ended
    ordered = sorted((runs[r["id"]] for r in done["runs"]), key=lambda r: r["started"])
    for before, after in itertools.pairwise(ordered):
        assert after["started"] >= before["finished"] - 0.05


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"path": "sw"}, "params"),
        ({"path": "sw", "params": {}}, "at least one parameter"),
        ({"path": "sw", "params": {"a": []}}, "a"),
        ({"path": "sw", "params": {"a": ["1"]}, "args": ["{b}"]}, "b"),
        ({"path": "sw", "params": {"1a": ["1"]}}, "1a"),
        ({"path": "sw", "params": {"a": ["1"]}, "parallel": 0}, "parallel"),
        ({"path": "sw", "params": {"a": ["1"]}, "bogus": 1}, "bogus"),
        ({"params": {"a": ["1"]}}, "path"),
        ({"path": "sw", "params": ["a"]}, "params"),
        ({"path": "nowhere", "params": {"a": ["1"]}}, "does not exist"),
    ],
)
async def test_a_bad_request_is_one_400_message_and_creates_nothing(
    api, contents, home: Path, body: dict[str, Any], words: str
) -> None:
    contents("sw", PROGRAM)
    error = await _call(api, "POST", SWEEPS, 400, ("sweeps",), body=body)
    assert words in error["message"] and "Traceback" not in error["message"]
    assert str(home) not in error["message"]
    assert (await api.json("GET", "runs"))["total"] == 0
    assert (await api.json("GET", "sweeps"))["sweeps"] == []


async def test_an_unknown_sweep_is_404(api) -> None:
    await _call(api, "GET", SWEEP, 404, ("sweeps", "20260101-000000-abcdef"))
    error = await expect_error(api.json("GET", "sweeps", "..%2F..%2Fetc"), 404)
    assert "etc" not in error["message"] or "not a sweep id" in error["message"]


async def _wait_running(api: Any, run_id: str, timeout: float = 120) -> None:
    """Wait until the run's program is up (its first line is in the log)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while "up" not in (await api.json("GET", "runs", run_id, "log"))["text"]:
        assert asyncio.get_running_loop().time() < deadline, "the first run never started"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_cancelling_a_sweep_stops_its_running_run_and_its_queued_ones(
    api, contents, home: Path
) -> None:
    contents("sleepy", SLEEPER)
    body = {"path": "sleepy", "params": {"n": ["1", "2", "3"]}, "parallel": 1}
    sweep = await _call(api, "POST", SWEEPS, 201, ("sweeps",), body=body)
    first, *waiting = [run["id"] for run in sweep["runs"]]
    await _wait_running(api, first)
    queued = await api.json("GET", "sweeps", sweep["id"])
    assert [r["status"] for r in queued["runs"]] == ["running", "queued", "queued"]
    # without a token: refused, and nothing stops
    refused = await api.fetch("pyrunner", "api", "sweeps", sweep["id"], "cancel", method="POST",
                              body=b"", headers={"Authorization": ""}, raise_error=False)  # fmt: skip
    assert refused.code == 403
    still = await api.json("GET", "sweeps", sweep["id"])
    assert [r["status"] for r in still["runs"]] == ["running", "queued", "queued"]

    answer = await _call(api, "POST", SWEEP_CANCEL, 202, ("sweeps", sweep["id"], "cancel"))
    assert answer["id"] == sweep["id"] and len(answer["runs"]) == 3
    # the queued ones are cancelled at once, in the answer itself
    assert [r["status"] for r in answer["runs"][1:]] == ["cancelled", "cancelled"]

    done = await _wait_sweep(api, sweep["id"], timeout=60)
    assert done["status"] == "cancelled" and done["counts"] == {"cancelled": 3}
    for run_id in waiting:
        record = await api.json("GET", "runs", run_id)
        assert record["message"] == "cancelled before it started" and record["started"] is None
    for run_id in (first, *waiting):
        assert marker_processes(run_id) == [], run_id  # the whole process tree is gone

    again = await _call(api, "POST", SWEEP_CANCEL, 409, ("sweeps", sweep["id"], "cancel"))
    assert again["message"] == f"sweep {sweep['id']} has already ended"


async def test_cancelling_an_unknown_or_malformed_sweep_is_one_404(api, home: Path) -> None:
    unknown = await _call(
        api, "POST", SWEEP_CANCEL, 404, ("sweeps", "20260101-000000-abcdef", "cancel")
    )
    assert "20260101-000000-abcdef" in unknown["message"]
    assert str(home) not in unknown["message"] and "Traceback" not in unknown["message"]
    bad = await expect_error(api.json("POST", "sweeps", "..%2F..%2Fetc", "cancel", body={}), 404)
    assert "not a sweep id" in bad["message"]


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("GET", ("sweeps",)),
        ("POST", ("sweeps",)),
        ("GET", ("sweeps", "20260101-000000-abcdef")),
        ("POST", ("sweeps", "20260101-000000-abcdef", "cancel")),
    ],
)
async def test_unauthenticated_is_refused(
    api, contents, method: str, parts: tuple[str, ...]
) -> None:
    contents("sw", PROGRAM)
    body = json.dumps({"path": "sw", "params": {"a": ["1"]}}) if method == "POST" else None
    with pytest.raises(HTTPClientError) as info:
        await api.fetch("pyrunner", "api", *parts, method=method, body=body,
                        headers={"Authorization": ""})  # fmt: skip
    assert info.value.code == 403
    assert (await api.json("GET", "runs"))["total"] == 0


async def test_a_browser_sweep_needs_the_xsrf_token(api, contents, jp_serverapp) -> None:
    contents("sw", PROGRAM)
    cookies = await _browser_cookies(api, jp_serverapp.identity_provider.token)
    browser = {"Authorization": "", "Cookie": cookies}
    body = json.dumps({"path": "sw", "params": {"a": ["1"]}})
    refused = await api.fetch("pyrunner", "api", "sweeps", method="POST", raise_error=False,
                              body=body, headers=browser)  # fmt: skip
    assert refused.code == 403
    xsrf = next(part.split("=", 1)[1] for part in cookies.split("; ") if part.startswith("_xsrf="))
    accepted = await api.fetch("pyrunner", "api", "sweeps", method="POST", raise_error=False,
                               body=body, headers={**browser, "X-XSRFToken": xsrf})  # fmt: skip
    assert accepted.code == 201
    sweep = json.loads(accepted.body)
    await _wait_sweep(api, sweep["id"])
