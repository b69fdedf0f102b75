"""The server on a real Dask cluster (``dask scheduler`` and ``dask worker`` processes), chosen
by configuration alone: ``c.PyRunnerApp.executor_class`` and ``c.DaskExecutor.*``.

The worker cannot see the server's run store (an empty tmpfs over it, in its own mount
namespace): the project travels to it, and the log and the outputs come back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_pyrunner.daskexec import relay_alive

from ..daskcluster import Cluster

pytest.importorskip("distributed")
if os.geteuid() != 0:  # a worker that cannot see our files needs a mount namespace
    pytestmark = pytest.mark.skip(reason="needs root for unshare --mount")

DASK = "jupyter_pyrunner.server.daskconfig.DaskExecutor"
PROGRAM = {
    "main.py": """
        import os, pathlib, sys, time
        print("up", flush=True)
        flag = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None
        while flag is not None and not flag.exists():
            time.sleep(0.02)
        pathlib.Path(os.environ["OUTPUT_FOLDER"], "result.txt").write_text("42")
        print("done", flush=True)
        """,
    "requirements.txt": "",
}


@pytest.fixture
def cluster(tmp_path: Path, home: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path / "cluster")
    try:
        started.add_worker("isolated", tmp_path / "worker-home", hide=home)
        yield started
    finally:
        started.stop()


@pytest.fixture
def jp_server_config(home: Path, cluster: Cluster) -> Config:
    """The server of the other tests, on the cluster: the two settings a user writes."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_pyrunner": True, "jupyter_server_terminals": False}
            },
            "PyRunnerApp": {"store_root": str(home), "executor_class": DASK},
            "DaskExecutor": {"scheduler_address": cluster.address},
        }
    )


async def _stream(jp_ws_fetch: Any, run_id: str) -> tuple[str, list[dict[str, Any]]]:
    """The log text and the messages of the run's WebSocket, to its end."""
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run_id, "stream")
    text, messages = "", []
    while (raw := await ws.read_message()) is not None:
        message = json.loads(raw)
        messages.append(message)
        if message["type"] == "log":
            text += message.get("text", message.get("data", ""))
    return text, messages


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"{what} never came"
        await asyncio.sleep(0.1)


async def test_a_run_posted_over_rest_runs_on_the_worker(
    api, contents, jp_ws_fetch, jp_serverapp, home: Path
) -> None:
    manager = jp_serverapp.web_app.settings["pyrunner_manager"]
    assert manager.queue.executor.name == "dask"
    contents("p", PROGRAM)
    run = await api.json("POST", "runs", body={"path": "p"})
    text, messages = await asyncio.wait_for(_stream(jp_ws_fetch, run["id"]), 120)
    assert "up\n" in text and "done\n" in text, messages
    assert messages[-1]["type"] == "end"
    record = await api.wait(run["id"], timeout=60)
    assert record["status"] == "succeeded", record
    assert record["executor"] == "dask"
    assert record["dask_key"] == f"pyrunner-{run['id']}"
    assert record["worker"].startswith("tcp://127.0.0.1:")
    result = await api.call("GET", "runs", run["id"], "outputs", "result.txt")
    assert result.body == b"42"
    # it ran on the worker, in the worker's own environment, not under the server's
    assert list((home.parent / "worker-home" / "envs").glob(f"{record['env_key']}*"))


async def test_the_housekeeping_reattaches_a_run_whose_relay_died(
    api, contents, jp_serverapp, tmp_path: Path
) -> None:
    manager = jp_serverapp.web_app.settings["pyrunner_manager"]
    contents("p", PROGRAM)
    flag = tmp_path / "go"  # (outside the store: the worker sees it)
    run = await api.json("POST", "runs", body={"path": "p", "args": [str(flag)]})

    async def running() -> bool:
        log = await api.json("GET", "runs", run["id"], "log")
        return "up" in log["text"]

    await _until(running, 120, "the program's first line")
    relay = (await api.json("GET", "runs", run["id"]))["supervisor"]
    os.kill(int(relay["pid"]), signal.SIGKILL)

    async def reattached() -> bool:
        # (a reader sees it failed until then, but that is never written)
        record = await asyncio.to_thread(manager.store.read, run["id"])
        assert record.status.value == "running", record.message
        return record.supervisor != relay and relay_alive(manager.store, run["id"])

    await _until(reattached, 30, "a new relay")  # (the housekeeping looks every 5 s)
    flag.touch()
    record = await api.wait(run["id"], timeout=60)
    assert record["status"] == "succeeded", record
    log = await api.json("GET", "runs", run["id"], "log")
    assert log["text"].count("up\n") == 1 and "done\n" in log["text"]
    result = await api.call("GET", "runs", run["id"], "outputs", "result.txt")
    assert result.body == b"42"


@pytest.mark.parametrize("address", [""])
def test_without_a_scheduler_address_the_server_says_what_to_set(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_pyrunner.errors import DaskUnavailableError
    from jupyter_pyrunner.server.daskconfig import DaskExecutor

    monkeypatch.delenv("PYRUNNER_DASK_SCHEDULER", raising=False)
    config = Config({"DaskExecutor": {"scheduler_address": address}})
    with pytest.raises(DaskUnavailableError, match=r"c\.DaskExecutor\.scheduler_address"):
        DaskExecutor(config=config)
    config = Config({"DaskExecutor": {"scheduler_address": "tcp://h:1", "resources": {"GPU": 1}}})
    built = DaskExecutor(config=config)
    assert built.address == "tcp://h:1" and built.core.options["resources"] == {"GPU": 1.0}


def test_after_a_restart_of_the_whole_machine_the_new_server_follows_the_run_again(
    cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    """A server process on the cluster, killed together with the run's relay (a container
    restarted: every process of the machine gone, the cluster untouched); the new server
    re-attaches, and the log goes on from where a client stopped reading, every line once."""
    from .test_e2e import Server, follow, stdout_of, write_long

    root = tmp_path / "root"
    lines = 80
    write_long(root, lines)
    settings = (f"--PyRunnerApp.executor_class={DASK}",
                f"--DaskExecutor.scheduler_address={cluster.address}")  # fmt: skip
    server = Server(root, home, tmp_path / "server.log", settings)
    server.start()
    try:
        code, run = server.request("POST", "/pyrunner/api/runs", b'{"path": "long"}')
        assert code == 201, run
        before, offset = asyncio.run(follow(server, run["id"], 0, stop_after=5))
        relay = json.loads((home / "runs" / run["id"] / "relay.json").read_text())
        server.kill()
        os.kill(int(relay["pid"]), signal.SIGKILL)
        server.start()
        after, _ = asyncio.run(follow(server, run["id"], offset))
        text = stdout_of(before) + stdout_of(after)
        assert text == "".join(f"line {i}\n" for i in range(lines))
        assert after[-1]["type"] == "end" and after[-1]["status"] == "succeeded", after[-1]
        code, record = server.request("GET", f"/pyrunner/api/runs/{run['id']}")
        assert record["worker"] and record["executor"] == "dask"
    finally:
        server.stop()
