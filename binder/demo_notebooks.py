"""Write the demo notebooks of ``examples/notebooks`` (the ones a Binder link opens).

This file is their source: ``python binder/demo_notebooks.py`` rewrites them, without outputs,
and ``python binder/demo_notebooks.py --check`` exits 1 naming every committed notebook that
differs from what it would write. ``--dir FOLDER`` writes (or checks) another folder.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat import v4

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "examples" / "notebooks"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "name": "python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def md(text: str) -> tuple[str, str]:
    return ("markdown", text)


def code(text: str) -> tuple[str, str]:
    return ("code", text)


TOUR = [
    md("""
        # A tour of the Python Runner

        The Python Runner takes a Python project (a folder, a `.zip` or a single `.py` file),
        builds an environment with the packages it needs, runs it, and keeps everything it
        wrote. Environments are built once and reused; every run is kept, with its log and its
        outputs, also when it fails.

        Run the cells one after the other (**Shift+Enter**). The example projects are in the
        folder above this notebook (`../plot-sine`, `../word-count`, ...): open them in the
        file browser to see their code.
        """),
    code("%load_ext jupyter_pyrunner"),
    md("""
        ## Run a project

        `plot-sine` is a small project with a sub-package, a data file and a `requirements.txt`
        (numpy and matplotlib). The first run builds its environment, which takes a minute; any
        later run of a project with the same requirements starts at once.

        Watch the cell: the progress bar, then the program's own output as it is printed, then
        a summary and the **outputs browser** (the CSV file as a table, the plot as an image,
        each file with a download link).
        """),
    code("r = %pyrunner run ../plot-sine"),
    md("""
        `r` is the run. Its status, exit code and output files are there for the next cells,
        and `r.open(...)` reads one of its outputs:
        """),
    code("""
        print(r.status.value, "exit code", r.exit_code)
        for f in r.outputs:
            print(f"{f.path:12} {f.size:>8} bytes  {f.mime_type}")
        print(r.open("signals.csv").read()[:200])
        """),
    md("""
        ## A single script

        `single-script` holds one file, not named `main.py`, in a sub-folder: it is the entry
        point all the same. It imports nothing outside the standard library, so nothing is
        installed.
        """),
    code("%pyrunner run ../single-script"),
    md("""
        ## Inputs

        `--input PATH` hands a file or a folder to the program (up to four of them: they
        arrive in `INPUT_FOLDER`, as `input_2` to `input_5`). `word-count` counts the words
        of the texts it is given:
        """),
    code("%pyrunner run ../word-count --input ../word-count/sample-input"),
    md("""
        ## Arguments and progress

        Everything after `--` goes to the program's command line. `progress` takes the number
        of steps and prints `[PROGRESS] i/N` lines, which drive the progress bar.
        """),
    code("%pyrunner run ../progress -- 30"),
    md("""
        ## A run that fails

        `failing` writes a partial result, then raises an exception. The cell itself does not
        fail: the summary says what went wrong, and what the program wrote before it failed is
        kept.
        """),
    code("f = %pyrunner run ../failing"),
    code("""
        print(f.status.value, "exit code", f.exit_code)
        print(f.open("partial.txt").read())
        """),
    md("""
        ## Run in the background, and cancel

        `--background` returns at once; the display below the cell keeps updating itself while
        you go on. Here `progress` is given 300 steps (30 seconds), and we stop it after a
        few seconds with `%pyrunner cancel`: the program and everything it started are
        stopped.
        """),
    code("bg = %pyrunner run ../progress --background -- 300"),
    code("""
        import time

        time.sleep(3)  # let it run for a moment
        print(bg.status.value, f"{bg.record.progress or 0:.0%} done")
        """),
    code("%pyrunner cancel {bg.id}"),
    md("""
        ## The outputs browser

        `%pyrunner outputs ID` shows the outputs of any run (`last`, or the first letters of
        an id, work too). Add `--copy-to FOLDER` to copy them into your workspace, or use
        `r.copy_to("FOLDER")`.
        """),
    code("%pyrunner outputs {r.id}"),
    md("""
        ## A parameter sweep

        `%pyrunner sweep` runs a project once for each value of a parameter (or each
        combination, with several `--param`); `{rate}` in the arguments becomes the run's
        value. `parameter-study` iterates the logistic map `x[n+1] = r * x[n] * (1 - x[n])`,
        a textbook model of population growth, at the rate `r` it is given, and writes the
        orbit, a plot and a summary. The table below the cell follows the four runs.
        """),
    code("s = %pyrunner sweep ../parameter-study --param rate=2.8,3.2,3.5,3.9 -- --rate {rate}"),
    md("""
        Each run of the sweep is a run like any other, with its own outputs. Their summaries
        show the period-doubling route to chaos: a cycle of period 1, 2, 4, then none.
        """),
    code("""
        import json

        for row, run in zip(s.rows(), s.runs, strict=True):
            summary = json.loads((run.outputs_dir / "summary.json").read_text())
            print(
                f"rate {row['rate']}: {row['status']}, period {summary['period']}, "
                f"Lyapunov exponent {summary['lyapunov']:+.3f}"
            )
        """),
    md("""
        The outputs of the last run, the chaotic one:
        """),
    code("%pyrunner outputs {s.runs[-1].id}"),
    md("""
        ## Every run is kept

        `%pyrunner runs` lists the runs, newest first. The same runs are listed by the
        **Python Runner** panel of JupyterLab (in the left side bar), by `pyrunner runs` in a
        terminal, and by the REST API.

        Next: [widget.ipynb](widget.ipynb) (a panel with buttons), [dask.ipynb](dask.ipynb)
        (runs on a Dask cluster) and [rest-api.ipynb](rest-api.ipynb) (the HTTP API).
        """),
    code("%pyrunner runs"),
]

WIDGET = [
    md("""
        # The Runner panel

        `RunnerPanel` is a small application inside the notebook: choose a project, give it
        inputs, arguments and a time limit, press **Run**, and watch its log, progress and
        outputs. **Recent** re-opens any earlier run.

        This one lists the example projects of the folder above this notebook.
        """),
    code("""
        from jupyter_pyrunner import RunnerPanel

        panel = RunnerPanel(folder="..")
        panel
        """),
    md("""
        ## Driving it from code

        Everything the buttons do is also a method, so a notebook can prepare a run for its
        reader, or run one by itself. The next cell chooses `progress`, asks for 20 steps and
        presses **Run**: look at the panel above while it runs.
        """),
    code("""
        panel.source.value = "progress/"
        panel.args.value = "20"
        run = panel.run()
        panel.wait()  # until the run has ended and the panel shows its outputs
        print(run.status.value, "exit code", run.exit_code)
        """),
    md("""
        The panel's run is an ordinary run: its outputs are there for code too.
        """),
    code("""
        print(run.open("result.txt").read())
        """),
    md("""
        ## `%pyrunner panel`

        The magic shows a panel for this notebook's own folder. Upload a zipped project with
        **Upload zip** (small ones: the file travels through the notebook's connection), or
        pick a run under **Recent**.
        """),
    code("""
        %load_ext jupyter_pyrunner
        %pyrunner panel
        """),
]

DASK = [
    md("""
        # Runs on a Dask cluster

        When one machine is not enough, the Python Runner hands runs to a
        [Dask](https://distributed.dask.org) cluster: the program runs on a worker, while its
        log streams into the cell and its outputs come back, as for a run on this machine.

        Here the cluster is a `LocalCluster` on this machine (two worker processes, one thread
        each); a real one is given the same way, by its scheduler's address. The `dashboard`
        link opens the cluster's Dask dashboard (on Binder, through the server's proxy).
        """),
    code("""
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        cluster.wait_for_workers(2)  # both registered with the scheduler
        print("scheduler:", cluster.scheduler_address)
        print("workers:  ", *cluster.scheduler_info["workers"])
        print("dashboard:", cluster.dashboard_link)
        """),
    md("""
        ## One run on the cluster

        `--dask ADDRESS` sends the run to the cluster. (`--dask local` starts a cluster like
        this one for you.)
        """),
    code("""
        %load_ext jupyter_pyrunner
        r = %pyrunner run ../plot-sine --dask {cluster.scheduler_address}
        """),
    md("""
        `%pyrunner show` tells where it ran: the `worker` line.
        """),
    code("%pyrunner show {r.id}"),
    code("""
        print("ran on", r.record.worker)
        """),
    md("""
        ## A sweep on the cluster

        Setting `PYRUNNER_DASK_SCHEDULER` sends every later run of this notebook to the
        cluster, without `--dask`. The sweep's four runs are spread over the two workers. The
        first run builds the project's environment and the others reuse it (workers that do
        not share this machine's files build their own, once each).

        A run can also say what it needs: with `--cpus 2` it goes only to a worker with at
        least two threads, with `--resource GPU=1` only to a worker that declares a GPU.
        """),
    code("%env PYRUNNER_DASK_SCHEDULER={cluster.scheduler_address}"),
    code("s = %pyrunner sweep ../parameter-study --param rate=2.8,3.2,3.5,3.9 -- --rate {rate}"),
    code("""
        for row, run in zip(s.rows(), s.runs, strict=True):
            print(f"rate {row['rate']}: {row['status']} on {run.record.worker}")
        """),
    md("""
        ## Closing the cluster

        Runs end with the cluster that runs them: close it when they are done, and let later
        runs go to this machine again.
        """),
    code("""
        %env PYRUNNER_DASK_SCHEDULER=
        cluster.close()
        """),
]

REST = [
    md("""
        # The REST API

        The Jupyter server this notebook runs in has the Python Runner's HTTP API: upload a
        zipped project, start a run, follow its log over a WebSocket, fetch its outputs. Any
        program can use it (a script, another service, `curl`); here it is plain Python, with
        only the standard library and tornado, which comes with Jupyter.

        The routes are described in `jupyter_pyrunner/api/openapi.yaml`.

        ## Find the server

        Every Jupyter server writes its address and token to a runtime file. The next cell
        tries the servers listed there, the one this kernel runs in first, and keeps the first
        that answers an authenticated `GET pyrunner/api/runs` within two seconds. On
        JupyterHub (and Binder) the token in the file is empty and the hub's token
        (`JUPYTERHUB_API_TOKEN`) authenticates instead. It passes over a file left by a server
        that is gone (even when another process has its process id now), a server that does
        not answer, and a server it has no token for (one open to all, or with a password
        only), which would refuse an upload. When none is left (in a plain `jupyter console`,
        a script, or beside such servers), the cell starts a server of its own, which the last
        cell stops.
        """),
    code("""
        import os
        import secrets
        import subprocess
        import sys
        import tempfile
        import time
        import urllib.request

        from jupyter_server.serverapp import list_running_servers


        # the server's address and token if it answers an authenticated request, else None
        def usable(server):
            base = server["url"].rstrip("/")  # with its base_url (/user/NAME/ on JupyterHub)
            token = server["token"] or os.environ.get("JUPYTERHUB_API_TOKEN", "")
            if not token:
                print(f"passed over {base}: no token for it")
                return None
            headers = {"Authorization": f"token {token}"}
            request = urllib.request.Request(base + "/pyrunner/api/runs", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    answer = response.status
            except Exception as error:  # refused, too slow, not a server, no Python Runner...
                answer = error
            if answer == 200:
                return base, token
            print(f"passed over {base}: {answer}")
            return None


        found = started = None
        for server in sorted(list_running_servers(), key=lambda s: s["pid"] != os.getppid()):
            if found := usable(server):
                break
        if not found:  # start one, on a free port, with a token of its own
            command = [sys.executable, "-m", "jupyter_server", "--no-browser", "--port=0"]
            command.append(f"--IdentityProvider.token={secrets.token_hex(24)}")
            if os.geteuid() == 0:  # a container running as root
                command.append("--allow-root")
            with tempfile.TemporaryFile() as server_log:  # what it says, should it fail
                started = subprocess.Popen(command, stdout=server_log, stderr=server_log)
                deadline = time.monotonic() + 60
                while not found and started.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                    for server in list_running_servers():
                        if server["pid"] == started.pid:
                            found = usable(server)
                if not found:
                    started.kill()
                    server_log.seek(0)
                    raise RuntimeError("no server started:\\n" + server_log.read().decode())
        base, token = found
        print("server:", base, "(started here)" if started else "")
        """),
    md("""
        One function for every request: authenticated, JSON in and out.
        """),
    code("""
        import json


        def api(method, path, body=None):
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            request = urllib.request.Request(
                base + path,
                data=data,
                method=method,
                headers={"Authorization": f"token {token}"},
            )
            with urllib.request.urlopen(request) as response:
                payload = response.read()
                if response.headers.get_content_type() == "application/json":
                    return json.loads(payload)
                return payload
        """),
    md("""
        ## Upload a project

        The `progress` example, zipped in memory, is sent as the body of a `PUT`.
        """),
    code("""
        import io
        import zipfile
        from pathlib import Path

        project = Path("../progress")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(project.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(project).as_posix())

        upload = api("PUT", "/pyrunner/api/uploads/progress.zip", buffer.getvalue())
        upload
        """),
    md("""
        ## Start a run

        The body names the upload and the program's arguments (`timeout`, `inputs`,
        `requirements`... are optional too). The answer is the run's record.
        """),
    code("""
        run = api("POST", "/pyrunner/api/runs", {"upload_id": upload["upload_id"], "args": ["10"]})
        print(run["id"], run["status"])
        """),
    md("""
        ## Follow the log live

        The WebSocket `/pyrunner/api/runs/ID/stream` replays the log from the start, then
        sends what the program prints as it prints it: `log` messages with the text, `status`
        messages when the status or the progress changes (printed here when the status does),
        and one `end` message once the run has ended.
        """),
    code("""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        ws_url = base.replace("http", "ws", 1) + f"/pyrunner/api/runs/{run['id']}/stream"
        ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
        status = None
        while (message := await ws.read_message()) is not None:
            event = json.loads(message)
            if event["type"] == "log":
                print(event["text"], end="")
            elif event["type"] == "status" and event["status"] != status:
                status = event["status"]
                print(f"--- {status}")
            elif event["type"] == "end":
                print("end:", event["status"], "exit code", event["exit_code"])
        ws.close()
        """),
    md("""
        ## The run's record and its outputs
        """),
    code("""
        record = api("GET", f"/pyrunner/api/runs/{run['id']}")
        print(record["status"], "exit code", record["exit_code"])

        outputs = api("GET", f"/pyrunner/api/runs/{run['id']}/outputs")
        for f in outputs["files"]:
            print(f["path"], f["size"], "bytes", f["mime_type"])
        """),
    md("""
        Download one file, then all of them as a zip:
        """),
    code("""
        first = outputs["files"][0]["path"]
        content = api("GET", f"/pyrunner/api/runs/{run['id']}/outputs/{first}")
        print(content.decode())

        archive = api("GET", f"/pyrunner/api/runs/{run['id']}/outputs.zip")
        print(zipfile.ZipFile(io.BytesIO(archive)).namelist())
        """),
    md("""
        ## Done

        The run is in the same history as every other: `%pyrunner runs`, `pyrunner runs` and
        the JupyterLab panel list it. If this notebook started a server, it stops it now.
        """),
    code("""
        if started is not None:
            started.terminate()
            started.wait(30)
            print("stopped the server started above")
        """),
]

NOTEBOOKS_SPEC = {
    "tour.ipynb": TOUR,
    "widget.ipynb": WIDGET,
    "dask.ipynb": DASK,
    "rest-api.ipynb": REST,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook: its cells (sources dedented), ids that do not change between runs."""
    nb = v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    stem = Path(name).stem
    for index, (kind, text) in enumerate(cells):
        source = textwrap.dedent(text).strip("\n")
        make = v4.new_markdown_cell if kind == "markdown" else v4.new_code_cell
        nb.cells.append(make(source, id=f"{stem}-{index:02d}"))
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The text of one notebook's file."""
    text = nbformat.writes(build(name, NOTEBOOKS_SPEC[name]))
    return text if text.endswith("\n") else text + "\n"


def stale(folder: Path) -> list[str]:
    """The notebooks of ``folder`` that differ from what :func:`render` gives, or are missing."""
    found = []
    for name in NOTEBOOKS_SPEC:
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            found.append(name)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a notebook differs from its source",
    )
    parser.add_argument("--dir", type=Path, default=NOTEBOOKS, help="the notebooks' folder")
    ns = parser.parse_args(argv)  # fmt: skip
    if ns.check:
        differ = stale(ns.dir)
        for name in differ:
            print(f"{ns.dir / name}: differs from binder/demo_notebooks.py; run it to rewrite")
        return 1 if differ else 0
    ns.dir.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS_SPEC:
        (ns.dir / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {ns.dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
