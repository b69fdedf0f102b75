"""The demo notebooks of ``examples/notebooks`` (what a Binder link opens).

They are written by ``binder/demo_notebooks.py``: the committed files must be exactly what it
writes. Each one runs top to bottom in a fresh kernel of this environment (nbclient, the
``python3`` kernel, started in ``examples/notebooks`` as JupyterLab starts it), against a fresh
run store, and what it did is then read from the store: the runs, their statuses, where they
ran. A cell that raises fails the test.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_server.auth import passwd
from jupyter_server.serverapp import list_running_servers
from nbclient import NotebookClient

from jupyter_pyrunner import RunStore
from jupyter_pyrunner.models import RunRecord

from .conftest import ROOT, processes_with_env
from .daskcluster import free_port

NOTEBOOKS = ROOT / "examples" / "notebooks"
GENERATOR = ROOT / "binder" / "demo_notebooks.py"
NAMES = ["tour.ipynb", "widget.ipynb", "dask.ipynb", "rest-api.ipynb"]


def generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=120
    )


def execute(name: str, check: Callable[[], None] | None = None, timeout: int = 300) -> Any:
    """Run one committed notebook top to bottom in a fresh kernel started in its folder, then
    ``check()`` while the kernel is still alive (its shutdown stops its children: what the
    notebook left running must be seen before). Any cell's error raises. Returns the executed
    notebook; nothing may have been written into the notebooks' folder."""
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    with client.setup_kernel():
        for index, code in enumerate(nb.cells):
            client.execute_cell(code, index)
        if check is not None:
            check()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before
    return nb


def cell(nb: Any, start: str) -> Any:
    """The code cell whose source starts with ``start``."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert len(found) == 1, f"{len(found)} cells start with {start!r}"
    return found[0]


def stdout(cell: Any) -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")


def shown(cell: Any) -> str:
    """Everything a cell displayed (text and HTML), and printed."""
    parts = []
    for out in cell.outputs:
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("display_data", "execute_result"):
            parts.extend(str(v) for v in out["data"].values())
    return "\n".join(parts)


def runs(home: Path) -> list[RunRecord]:
    return RunStore(home).list_runs(limit=1000)


def by_name(records: list[RunRecord], name: str) -> list[RunRecord]:
    return sorted((r for r in records if r.name == name), key=lambda r: r.created)


#: the kernel, and the process its multiprocessing keeps beside it until it exits
KERNEL_OWN = re.compile(r"ipykernel_launcher|multiprocessing\.resource_tracker")


def processes_with(variable: str, value: str, but: frozenset[int] = frozenset()) -> list[str]:
    """Live processes whose environment has ``variable=value``, but for this one, the
    notebook's kernel (and its multiprocessing tracker) and the pids ``but``: what the kernel
    left running."""
    found = []
    for pid in processes_with_env(variable, value):
        if pid == os.getpid() or pid in but:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if not KERNEL_OWN.search(command):
            found.append(f"{pid}: {command}")
    return found


def nothing_left(
    variable: str, value: str, grace: float = 15, but: frozenset[int] = frozenset()
) -> Callable[[], None]:
    """A check that, within ``grace`` seconds, no process but the kernel (and the pids ``but``)
    has ``variable=value``."""

    def check() -> None:
        deadline = time.monotonic() + grace
        while (left := processes_with(variable, value, but)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"left running: {left}"

    return check


# -- the files ---------------------------------------------------------------------------------


def test_the_committed_notebooks_are_what_the_generator_writes_and_are_valid() -> None:
    result = generator("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert nb.metadata.language_info.name == "python"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.outputs == [] and c.execution_count is None for c in code)
        assert any(c.cell_type == "markdown" for c in nb.cells)


def test_the_check_names_a_stale_or_missing_notebook_and_fails(tmp_path: Path) -> None:
    copy = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, copy)
    assert generator("--check", "--dir", str(copy)).returncode == 0

    edited = nbformat.read(copy / "widget.ipynb", as_version=4)
    edited.cells[1].source += "\nprint('edited by hand')"
    nbformat.write(edited, copy / "widget.ipynb")
    (copy / "dask.ipynb").unlink()
    result = generator("--check", "--dir", str(copy))
    assert result.returncode == 1
    named = set(re.findall(r"([\w-]+\.ipynb)", result.stdout))
    assert named == {"widget.ipynb", "dask.ipynb"}, result.stdout

    assert generator("--dir", str(copy)).returncode == 0  # rewriting mends them
    assert generator("--check", "--dir", str(copy)).returncode == 0
    for name in NAMES:
        assert (copy / name).read_bytes() == (NOTEBOOKS / name).read_bytes()


# -- running them ------------------------------------------------------------------------------


@pytest.mark.network
@pytest.mark.timeout(900)
def test_the_tour_runs_every_example_and_leaves_their_runs_in_the_store(home: Path) -> None:
    nb = execute("tour.ipynb", nothing_left("PYRUNNER_HOME", str(home)), timeout=600)
    records = runs(home)

    (plot,) = by_name(records, "plot-sine")
    assert plot.status.value == "succeeded" and plot.requirements
    for name in ("single-script", "word-count"):
        assert [r.status.value for r in by_name(records, name)] == ["succeeded"], name
    (words,) = by_name(records, "word-count")
    assert len(words.spec.inputs) == 1
    assert json.loads((RunStore(home).run_dir(words.id) / "outputs" / "counts.json").read_text())[
        "total_words"
    ]

    progress = by_name(records, "progress")
    assert [(r.spec.args, r.status.value) for r in progress] == [
        (["30"], "succeeded"),
        (["300"], "cancelled"),
    ]
    assert progress[1].exit_code == 130
    assert "cancelled" in stdout(cell(nb, "%pyrunner cancel"))

    (failing,) = by_name(records, "failing")
    assert failing.status.value == "failed" and failing.exit_code == 1
    assert "step 1 finished" in stdout(cell(nb, 'print(f.status.value, "exit code"'))
    assert "failed" in shown(cell(nb, "f = %pyrunner run ../failing"))

    sweep = by_name(records, "parameter-study")
    assert sorted((r.params or {}).get("rate") for r in sweep) == ["2.8", "3.2", "3.5", "3.9"]
    assert {r.status.value for r in sweep} == {"succeeded"}
    assert len({r.sweep for r in sweep}) == 1 and sweep[0].sweep
    assert all(r.spec.args == ["--rate", r.params["rate"]] for r in sweep if r.params)
    periods = stdout(cell(nb, "import json"))
    for rate, period in (("2.8", "1"), ("3.2", "2"), ("3.5", "4"), ("3.9", "None")):
        assert f"rate {rate}: succeeded, period {period}," in periods

    assert "sine.png" in shown(cell(nb, "%pyrunner outputs {r.id}"))
    assert "orbit.png" in shown(cell(nb, "%pyrunner outputs {s.runs[-1].id}"))
    assert all(r.id in shown(cell(nb, "%pyrunner runs")) for r in records)
    assert len(records) == 10


def test_the_widget_notebook_runs_a_project_through_the_panel(home: Path) -> None:
    nb = execute("widget.ipynb", nothing_left("PYRUNNER_HOME", str(home)))
    (run,) = runs(home)
    assert (run.name, run.spec.args, run.status.value) == ("progress", ["20"], "succeeded")
    assert "succeeded exit code 0" in stdout(cell(nb, "panel.source.value"))
    assert "steps: 20" in stdout(cell(nb, "print(run.open"))
    views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    widgets = [o for o in views if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert len(widgets) == 2  # the panel of the first cell, and the one of ``%pyrunner panel``


@pytest.mark.network
@pytest.mark.timeout(900)
def test_the_dask_notebook_runs_on_the_workers_of_its_cluster_then_closes_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    # the dashboard's link as Binder's Dask configuration makes it: through the server's proxy
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/visitor/")
    monkeypatch.setenv(
        "DASK_DISTRIBUTED__DASHBOARD__LINK", "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status"
    )
    # the cluster's scheduler and workers, and the runs' relays, are gone with the cluster
    nb = execute("dask.ipynb", nothing_left("PYRUNNER_HOME", str(home)), timeout=600)
    started = stdout(cell(nb, "from distributed import LocalCluster"))
    workers = set(re.search(r"workers:\s+(.*)", started).group(1).split())  # type: ignore[union-attr]
    assert len(workers) == 2
    assert re.search(r"^dashboard: /user/visitor/proxy/\d+/status$", started, re.M), started

    records = runs(home)
    (plot,) = by_name(records, "plot-sine")
    assert plot.status.value == "succeeded" and plot.executor == "dask"
    assert plot.worker in workers
    assert plot.id in shown(cell(nb, "%pyrunner show {r.id}"))
    assert plot.worker in shown(cell(nb, "%pyrunner show {r.id}"))

    sweep = by_name(records, "parameter-study")
    assert len(sweep) == 4 and {r.status.value for r in sweep} == {"succeeded"}
    assert {r.executor for r in sweep} == {"dask"}
    assert {r.worker for r in sweep} <= workers
    assert len(records) == 5


# -- the REST API, in a server's kernel and in a plain one -------------------------------------


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where Jupyter servers write their connection files, for this test alone."""
    path = tmp_path / "runtime"
    path.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
    return path


@pytest.fixture
def start_server(
    tmp_path: Path, home: Path, runtime_dir: Path
) -> Iterator[Callable[..., dict[str, Any]]]:
    """``start_server(*options)``: a real ``jupyter server`` on a store of its own, as the one a
    Binder notebook runs in; its runtime file's fields, and ``home``, its store. All the servers
    started are stopped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> dict[str, Any]:
        name = f"server-{len(procs)}"
        store, log_path = tmp_path / f"{name}-home", tmp_path / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                 "--ip=127.0.0.1", f"--port={free_port()}", "--ServerApp.port_retries=0",
                 f"--ServerApp.root_dir={tmp_path}", *options],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYRUNNER_HOME": str(store)},
            )  # fmt: skip
        procs.append(proc)
        deadline = time.monotonic() + 60
        while not (found := [s for s in list_running_servers(runtime_dir) if s["pid"] == proc.pid]):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        return {**found[0], "home": store}

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def jupyter_server(start_server: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A real server with a token."""
    return start_server(f"--IdentityProvider.token={secrets.token_hex(16)}")


def anonymous(method: str, url: str, body: bytes | None = None) -> int:
    """The status a request without credentials gets."""
    try:
        request = urllib.request.Request(url, body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def check_rest_run(nb: Any, store: Path) -> RunRecord:
    """The notebook's run is in ``store``, succeeded; its log and its output came through."""
    (run,) = runs(store)
    assert (run.name, run.spec.args, run.status.value) == ("progress", ["10"], "succeeded")
    assert run.id in stdout(cell(nb, "run = api("))
    streamed = stdout(cell(nb, "from tornado.httpclient"))
    assert "[PROGRESS] 10/10" in streamed and "end: succeeded exit code 0" in streamed
    downloaded = stdout(cell(nb, "first = outputs"))
    assert "steps: 10\nsum of squares: 385" in downloaded and "['result.txt']" in downloaded
    return run


def test_the_rest_notebook_uses_the_server_it_finds(
    home: Path, runtime_dir: Path, jupyter_server: dict[str, Any]
) -> None:
    nb = execute("rest-api.ipynb")
    found = stdout(cell(nb, "import os"))
    assert f"server: {jupyter_server['url'].rstrip('/')}" in found
    assert "started here" not in found
    check_rest_run(nb, jupyter_server["home"])
    assert runs(home) == []  # the kernel's own store was not used: the run went through the server
    assert "stopped" not in stdout(nb.cells[-1])
    assert [s["pid"] for s in list_running_servers(runtime_dir)] == [jupyter_server["pid"]]


def test_the_rest_notebook_without_a_server_starts_one_and_stops_it(
    home: Path, runtime_dir: Path
) -> None:
    # the server it started is stopped by its last cell, not by the kernel's shutdown
    nb = execute("rest-api.ipynb", nothing_left("JUPYTER_RUNTIME_DIR", str(runtime_dir)))
    assert "(started here)" in stdout(cell(nb, "import os"))
    check_rest_run(nb, home)
    assert "stopped the server started above" in stdout(nb.cells[-1])
    assert list(runtime_dir.glob("jpserver-*")) == []


def test_the_rest_notebook_passes_over_runtime_files_of_live_processes_that_are_no_server(
    home: Path, runtime_dir: Path, start_server: Callable[..., dict[str, Any]]
) -> None:
    # the real server under a base_url, as on JupyterHub; the stale files name live processes
    # that are no server, at ports where nothing listens: this test's own process (the
    # kernel's parent, which the notebook tries first, as the server it would run in) and a
    # ``sleep``
    server = start_server(
        f"--IdentityProvider.token={secrets.token_hex(16)}", "--ServerApp.base_url=/user/visitor/"
    )
    assert server["url"].endswith("/user/visitor/")
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        stale = {os.getpid(): free_port(), sleeper.pid: free_port()}
        for pid, port in stale.items():
            info = {**server, "pid": pid, "port": port, "url": f"http://127.0.0.1:{port}/"}
            info.update(token=secrets.token_hex(16), base_url="/", home=None)
            (runtime_dir / f"jpserver-{pid}.json").write_text(json.dumps(info))
        listed = {s["pid"] for s in list_running_servers(runtime_dir)}
        assert listed == {server["pid"], *stale}
        nb = execute("rest-api.ipynb")
    finally:
        sleeper.kill()
        sleeper.wait()

    found = stdout(cell(nb, "import os"))
    # the kernel's parent is tried first; the ``sleep`` before the server or not, as listed
    refused = "<urlopen error [Errno 111] Connection refused>"
    assert found.startswith(f"passed over http://127.0.0.1:{stale[os.getpid()]}: {refused}\n")
    passed_over = re.findall(r"^passed over http://127\.0\.0\.1:(\d+): (.*)$", found, re.M)
    assert {int(port) for port, _ in passed_over} <= set(stale.values()), found
    assert {why for _, why in passed_over} == {refused}, found
    assert f"server: {server['url'].rstrip('/')}" in found
    assert "started here" not in found
    check_rest_run(nb, server["home"])
    assert runs(home) == []


@pytest.mark.parametrize("access", ["open to all", "a password only"])
def test_the_rest_notebook_passes_over_a_server_it_has_no_token_for_and_starts_its_own(
    access: str,
    home: Path,
    runtime_dir: Path,
    start_server: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # its API would answer a GET, but refuse the upload for want of an XSRF cookie
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    options = ["--IdentityProvider.token="]
    if access == "a password only":
        options.append(f"--PasswordIdentityProvider.hashed_password={passwd('a secret')}")
    tokenless = start_server(*options)
    assert tokenless["token"] == ""
    runs_url = tokenless["url"] + "pyrunner/api/runs"
    if access == "open to all":
        assert anonymous("GET", runs_url) == 200
        assert anonymous("PUT", tokenless["url"] + "pyrunner/api/uploads/p.zip", b"PK") == 403
    else:
        assert anonymous("GET", runs_url) == 403

    # the server it started is stopped by its last cell; the tokenless one is left alone
    left = nothing_left("JUPYTER_RUNTIME_DIR", str(runtime_dir), but=frozenset({tokenless["pid"]}))
    nb = execute("rest-api.ipynb", left)
    found = stdout(cell(nb, "import os"))
    assert f"passed over {tokenless['url'].rstrip('/')}: no token for it" in found
    assert "(started here)" in found
    check_rest_run(nb, home)
    assert runs(tokenless["home"]) == []
    assert "stopped the server started above" in stdout(nb.cells[-1])
    assert [s["pid"] for s in list_running_servers(runtime_dir)] == [tokenless["pid"]]
