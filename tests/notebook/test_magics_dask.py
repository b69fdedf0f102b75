"""``%pyrunner run --dask`` in a real kernel, on a real cluster: ``dask scheduler`` and a
``dask worker`` process that cannot see the client's run store (its own mount namespace)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, RunStore
from jupyter_pyrunner.models import RunRecord, RunSpec
from jupyter_pyrunner.notebook import views

from ..conftest import marker_processes, write_project
from ..daskcluster import Cluster
from .conftest import execute, texts

pytest.importorskip("distributed")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare --mount")

#: prints, then waits for a flag the test creates only once the first line reached the store
WAITER = {
    "main.py": """
        import os, pathlib, sys, time
        print("up on the worker", flush=True)
        flag = pathlib.Path(sys.argv[1])
        while not flag.exists():
            time.sleep(0.02)
        pathlib.Path(os.environ["OUTPUT_FOLDER"], "result.csv").write_text("x,y\\n1,2\\n")
        print("done", flush=True)
    """,
    "requirements.txt": "",
}


def _release_when_live(home: Path, flag: Path, seen: list[RunRecord]) -> threading.Thread:
    """Create ``flag`` once the program's first line is in the local store while the run
    is still running: the log is relayed live, not copied at the end."""

    def watch() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            for log in (home / "runs").glob("*/log.txt") if (home / "runs").is_dir() else []:
                if b"up on the worker" in log.read_bytes():
                    seen.append(RunStore(home).get(log.parent.name))
                    flag.touch()
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@needs_root
def test_a_dask_run_streams_into_the_cell_and_names_its_worker(
    cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    workspace = tmp_path / "workspace"
    write_project(workspace / "waiter", WAITER)
    write_project(workspace / "quick", {"main.py": "print('quick')", "requirements.txt": ""})
    flag = tmp_path / "go"
    seen: list[RunRecord] = []
    watcher = _release_when_live(home, flag, seen)
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         f"r = %pyrunner run waiter --dask {cluster.address} -- {flag}\n"
         "print(r.status.value, r.record.executor, r.record.worker is not None)",
         "%pyrunner show last",
         f"%env PYRUNNER_DASK_SCHEDULER={cluster.address}",
         "q = %pyrunner run quick\nprint(q.status.value, q.record.executor)"],
        workspace,
        timeout=300,
    )  # fmt: skip
    watcher.join(1)
    (live,) = seen
    assert live.status is RunStatus.RUNNING  # the first line arrived while the program ran
    record = RunStore(home).get(live.id)
    assert record.status is RunStatus.SUCCEEDED and record.executor == "dask"
    assert record.worker is not None and record.worker.startswith("tcp://127.0.0.1:")
    outputs = texts(nb.cells[1])
    stdout = "".join(text for kind, text in outputs if kind == "stdout")
    assert stdout == "up on the worker\ndone\nsucceeded dask True\n"
    final = [text for kind, text in outputs if kind == "text/html" and "exit code 0" in text]
    assert len(final) == 1
    assert f"worker <code>{record.worker}</code>" in final[0]  # the summary names the worker
    assert "<td>1</td><td>2</td>" in final[0]  # the outputs came back and are shown
    shown = texts(nb.cells[2])
    assert shown[0][0] == "text/html" and record.worker in shown[0][1]
    assert "<th style='text-align:left'>executor</th><td>dask</td>" in shown[0][1]
    assert marker_processes(record.id) == []
    # the scheduler named by the environment, without --dask
    said = "".join(text for kind, text in texts(nb.cells[4]) if kind == "stdout")
    assert said == "quick\nsucceeded dask\n"


@needs_root
def test_a_sweep_on_dask_runs_every_combination_on_the_cluster(
    cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    workspace = tmp_path / "workspace"
    write_project(workspace / "echo", {"main.py": "import sys\nprint(sys.argv[1:])",
                                       "requirements.txt": ""})  # fmt: skip
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         f"%pyrunner sweep echo --param a=1,2 --dask {cluster.address} -- {{a}}"],
        workspace,
        timeout=300,
    )  # fmt: skip
    (table,) = [text for kind, text in texts(nb.cells[1]) if kind == "text/html"]
    assert table.count(">succeeded</span>") == 2 and "2 runs: 2 succeeded" in table
    records = RunStore(home).list_runs()
    assert len(records) == 2
    assert {(r.status, r.executor) for r in records} == {(RunStatus.SUCCEEDED, "dask")}
    assert all(r.worker and r.worker.startswith("tcp://127.0.0.1:") for r in records)


def test_dask_local_in_a_kernel_is_one_cluster_for_all_its_runs_gone_with_the_kernel(
    home: Path, tmp_path: Path
) -> None:
    import json

    from ..test_cli_sweep import _spawned_workers

    workspace = tmp_path / "workspace"
    write_project(workspace / "echo", {"main.py": "import sys\nprint('echo', sys.argv[1:])",
                                       "requirements.txt": ""})  # fmt: skip
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "%pyrunner sweep echo --param a=1,2 --dask local -- {a}",
         "%pyrunner run echo --dask local -- 3"],
        workspace,
        timeout=300,
    )  # fmt: skip
    (table,) = [text for kind, text in texts(nb.cells[1]) if kind == "text/html"]
    assert "2 runs: 2 succeeded" in table
    assert "echo ['3']" in "".join(text for _kind, text in texts(nb.cells[2]))
    records = RunStore(home).list_runs()
    assert {(r.status, r.executor) for r in records} == {(RunStatus.SUCCEEDED, "dask")}
    notes = [json.loads((home / "runs" / r.id / "dask.json").read_text()) for r in records]
    assert len({note["scheduler"] for note in notes}) == 1  # one cluster, the kernel's
    assert _spawned_workers(home) == []  # stopped with the kernel


def _record(**changes: object) -> RunRecord:
    base = RunRecord(id="20261125-000000-abcdef", name="demo", status=RunStatus.SUCCEEDED,
                     created=time.time() - 5, spec=RunSpec(source="demo"), started=time.time() - 4,
                     finished=time.time())  # fmt: skip
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_the_views_name_the_worker_and_link_only_a_web_dashboard(tmp_path: Path) -> None:
    on_dask = _record(worker="tcp://10.0.0.7:4242", dashboard="http://sched:8787/status")
    summary = views.summary_html(on_dask)
    assert "worker <code>tcp://10.0.0.7:4242</code>" in summary
    assert "<a href='http://sched:8787/status' target='_blank'" in summary
    assert "worker tcp://10.0.0.7:4242" in views.summary_text(on_dask)
    details = views.details_html(on_dask, tmp_path)
    assert ">http://sched:8787/status</a>" in details
    # a dashboard behind the Jupyter server's proxy (JupyterHub, Binder) is a path on it
    proxied = _record(worker="tcp://x:1", dashboard="/user/ada/proxy/8787/status")
    assert "<a href='/user/ada/proxy/8787/status'" in views.summary_html(proxied)
    # a dashboard that is no web address is shown as text, never as a link
    for address in ("//evil/x", "data:text/html,x"):
        assert "href" not in views.summary_html(_record(worker="tcp://x:1", dashboard=address))
    hostile = _record(worker="tcp://x:1", dashboard="javascript:alert(1)")
    assert "href" not in views.summary_html(hostile)
    assert "href" not in views.details_html(hostile, tmp_path)
    assert "javascript:alert(1)" in views.details_html(hostile, tmp_path)
    # a local run: nothing about workers
    local = _record()
    assert "worker" not in views.summary_html(local) and "dashboard" not in views.summary_text(
        local
    )


@needs_root
def test_a_matplotlib_gallery_script_runs_on_an_isolated_worker_and_its_figure_comes_back(
    cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    """A gallery script as people bring it (no requirements file; it saves its figure beside
    itself) through the magic, on a worker that cannot see the kernel's files: the worker
    infers and installs matplotlib, and the figure comes back and is shown in the cell."""
    import shutil

    from ..test_realworld import PROJECTS

    cluster.add_worker("isolated", tmp_path / "worker-home", hide=home)
    workspace = tmp_path / "workspace"
    shutil.copytree(PROJECTS / "line-plot", workspace / "line-plot")
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         f"r = %pyrunner run line-plot --dask {cluster.address}\nprint(r.status.value)"],
        workspace,
        timeout=600,
    )  # fmt: skip
    (record,) = RunStore(home).list_runs()
    assert record.status is RunStatus.SUCCEEDED, record.message
    assert record.executor == "dask" and "matplotlib" in " ".join(record.requirements)
    figure = RunStore(home).project_dir(record.id) / "test.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    outputs = texts(nb.cells[1])
    assert outputs[-1] == ("stdout", "succeeded\n")
    shown = "".join(text for kind, text in outputs if kind == "text/html")
    assert "test.png" in shown and "data:image/png;base64," in shown
