"""Runs on a dask-gateway cluster: a real ``dask-gateway-server`` on loopback (its local
backend starts the cluster's scheduler and worker as processes of this machine), reached
with ``--dask gateway://HOST:PORT/NAME`` through the gateway's proxy and its TLS credentials.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_pyrunner.daskexec import DaskExecutor
from jupyter_pyrunner.models import RunStatus
from jupyter_pyrunner.sdk import start_run

from .conftest import marker_processes, run_cli
from .daskcluster import free_port

pytest.importorskip("dask_gateway_server")
pytest.importorskip("dask_gateway")
# dask-gateway's client objects close themselves again when collected, after their loop has
# stopped, and say so; that is the library's, not ours
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CONFIG = """
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.DaskGateway.address = "127.0.0.1:{api}"
c.Proxy.address = "127.0.0.1:{proxy}"
c.LocalClusterConfig.scheduler_cmd = [{python!r}, "-m", "distributed.cli.dask_scheduler"]
c.LocalClusterConfig.worker_cmd = [{python!r}, "-m", "distributed.cli.dask_worker"]
c.LocalClusterConfig.cluster_start_timeout = 60
"""


@pytest.fixture
def gateway_cluster(tmp_path: Path) -> Iterator[str]:
    """A gateway server and one cluster of it with one worker; its ``gateway://`` address."""
    from dask_gateway import Gateway

    api, proxy = free_port(), free_port()
    config = tmp_path / "gateway_config.py"
    config.write_text(CONFIG.format(api=api, proxy=proxy, python=sys.executable))
    log = open(tmp_path / "gateway.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "dask_gateway_server", "-f", str(config)],
        stdout=log, stderr=log, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    log.close()
    cluster: Any = None
    gateway: Any = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{proxy}/api/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gateway.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        gateway = Gateway(f"http://127.0.0.1:{proxy}", auth="basic")
        cluster = gateway.new_cluster(shutdown_on_close=False)
        cluster.scale(1)
        with cluster.get_client(set_as_default=False) as client:
            client.wait_for_workers(1, timeout=90)
        yield f"gateway://127.0.0.1:{proxy}/{cluster.name}"
    finally:
        if cluster is not None:
            cluster.shutdown()
        if gateway is not None:
            gateway.close()
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_run_goes_to_a_gateway_cluster_by_its_address(
    gateway_cluster: str, home: Path, project
) -> None:
    source = project({"main.py": "import sys\nprint('through the gateway', sys.argv[1:])\n"})
    done = run_cli("run", "--dask", gateway_cluster, "--no-infer", str(source), "--", "x",
                   timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "through the gateway ['x']\n"
    shown = run_cli("show", "last").stdout
    assert "worker:       tls://127.0.0.1:" in shown
    assert "/clusters/" in shown  # the dashboard, through the gateway's proxy
    detached = start_run(source, home=home, executor=DaskExecutor(gateway_cluster),
                         requirements=[], args=["y"])  # fmt: skip
    record = detached.wait(timeout=120)
    assert record.status is RunStatus.SUCCEEDED, record.message
    assert detached.log_text().endswith("through the gateway ['y']\n")
    assert marker_processes(record.id) == []


def test_a_gateway_address_without_a_cluster_name_is_refused_with_one_line(
    home: Path, project
) -> None:
    source = project({"main.py": "print('never')\n"})
    done = run_cli("run", "--dask", "gateway://127.0.0.1:1/", "--no-infer", str(source))
    assert done.returncode != 0
    assert "names no cluster: give gateway://HOST:PORT/NAME" in done.stderr
    assert "Traceback" not in done.stderr
