"""A Binder start, reproduced as closely as a machine without Docker allows.

repo2docker reads ``binder/`` from a clean clone of the repository and prints the Dockerfile it
would build (``--no-build``). Its install steps are then replayed in a fresh virtual environment,
from the clone's root as repo2docker runs them: ``pip install -r binder/requirements.txt`` (which
builds the Lab extension from its TypeScript sources) and ``binder/postBuild``. In that
environment both extensions must list as enabled and OK, every demo notebook must run top to
bottom in the environment's own kernel, and JupyterLab, opened on the tour as the Binder badge
opens it, must show the Python Runner panel in Chromium; a Dask dashboard must open through
the server's proxy, as the visitor's browser reaches it.

The clone is of the repository's last commit: what is not committed is not tested here.
It takes a few minutes (a fresh environment, a Node build, the examples' environments). It is
marked ``binder``: ``make test`` runs it with the rest, ``make binder-check`` alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..browser.conftest import CHROMIUM, CHROMIUM_ARGS, TOKEN, Lab, _free_port, show_side_panel

pytestmark = [pytest.mark.binder, pytest.mark.network, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "examples" / "notebooks").glob("*.ipynb"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class BinderEnv:
    """The replayed image: the clone, its environment, and what the replay printed."""

    clone: Path
    prefix: Path
    env: dict[str, str]
    dockerfile: str
    logs: Path

    def start(self, *command: str) -> list[str]:
        """``command`` as Binder starts it in the container: through ``binder/start``."""
        return [str(self.clone / "binder" / "start"), *command]

    def run(
        self, *args: str, timeout: float = 600, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.clone, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False, **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip


def _check(result: subprocess.CompletedProcess[str], what: str) -> str:
    output = _ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{output[-6000:]}"
    return output


def _assemble_steps(dockerfile: str, prefix: Path) -> list[str]:
    """The commands repo2docker runs from the repository's root to assemble the image, in order,
    with its Python prefix replaced by the replay's environment."""
    steps = []
    for line in dockerfile.splitlines():
        command = line.removeprefix("RUN ").strip()
        if line.startswith("RUN ") and (
            "binder/requirements.txt" in command or "postBuild" in command
        ):
            if command.startswith("chmod "):
                continue
            steps.append(
                command.replace("${KERNEL_PYTHON_PREFIX}", str(prefix)).replace(
                    "${NB_PYTHON_PREFIX}", str(prefix)
                )
            )
    return steps


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Iterator[BinderEnv]:
    work = tmp_path_factory.mktemp("binder")
    logs = work / "logs"
    logs.mkdir()
    clone = work / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)

    r2d = shutil.which("jupyter-repo2docker", path=str(Path(sys.executable).parent))
    assert r2d, "jupyter-repo2docker is not installed (the `binder` extra)"
    read = subprocess.run(
        [r2d, "--no-build", "--debug", str(clone)], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    (logs / "repo2docker.txt").write_text(read.stdout + read.stderr)
    assert read.returncode == 0, read.stderr[-4000:]
    dockerfile = read.stdout + read.stderr

    prefix = work / "env"
    base_python = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    subprocess.run([str(base_python), "-m", "venv", str(prefix)], check=True, timeout=120)
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYRUNNER_", "JUPYTER", "JPY_", "VIRTUAL_ENV", "PYTHONPATH"))
    }  # fmt: skip
    env.update(
        PATH=f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(prefix),
        PYRUNNER_HOME=str(work / "store"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        UV_CACHE_DIR=str(uv_cache),
    )
    image = BinderEnv(clone, prefix, env, dockerfile, logs)
    for number, step in enumerate(_assemble_steps(dockerfile, prefix), 1):
        started = time.monotonic()
        result = image.run("bash", "-c", step, timeout=1800)
        (logs / f"step-{number}.txt").write_text(f"$ {step}\n{result.stdout}{result.stderr}")
        _check(result, step)
        print(f"binder step {number} took {time.monotonic() - started:.0f} s: {step}")
    # the running container: Binder serves each session under a prefix of its hub, which it
    # puts in every process' environment; here the server's base URL is the root
    env["JUPYTERHUB_SERVICE_PREFIX"] = "/"
    yield image


def test_repo2docker_installs_the_requirements_then_runs_post_build(binder: BinderEnv) -> None:
    steps = _assemble_steps(binder.dockerfile, binder.prefix)
    assert len(steps) == 2, steps
    assert steps[0].endswith('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert steps[1] == "./binder/postBuild"
    # the Python that the demos were written and tested with
    assert "python=3.11" in binder.dockerfile


def test_both_extensions_are_enabled_and_ok(binder: BinderEnv) -> None:
    server = _check(binder.run("jupyter", "server", "extension", "list"), "server extension list")
    assert re.search(r"^\s*jupyter_pyrunner enabled\s*$", server, re.M), server
    assert re.search(r"^\s*jupyter_pyrunner \S+ OK\s*$", server, re.M), server
    lab = _check(binder.run("jupyter", "labextension", "list"), "labextension list")
    assert re.search(r"^\s*jupyter-pyrunner v\S+ enabled OK\b", lab, re.M), lab
    # the extension came from the clone's own build, not from this checkout's development link
    installed = binder.prefix / "share" / "jupyter" / "labextensions" / "jupyter-pyrunner"
    assert (installed / "package.json").is_file() and not installed.is_symlink()


def test_post_build_silences_the_news_and_prepares_the_examples(binder: BinderEnv) -> None:
    overrides = binder.prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    notification = json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    listed = _check(binder.run("pyrunner", "env", "list", "--json"), "pyrunner env list")
    requirements = " ".join(json.dumps(e) for e in json.loads(listed))
    for package in ("numpy", "matplotlib", "pandas", "scikit-learn"):
        assert package in requirements, f"{package} was not prepared: {listed}"
    runs = _check(binder.run("pyrunner", "runs", "--json"), "pyrunner runs")
    assert json.loads(runs) == []  # the preparation leaves no history behind


@pytest.fixture(scope="module")
def binder_lab(binder: BinderEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``jupyter lab`` from the replayed environment, at the clone's root as on Binder."""
    work = tmp_path_factory.mktemp("binder-lab")
    port = _free_port()
    command = binder.start(
        str(binder.prefix / "bin" / "jupyter"), "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={binder.clone}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
        f"--LabApp.user_settings_dir={work / 'settings'}",
    )  # fmt: skip
    lab = Lab(binder.clone, port, command, binder.env, binder.logs / "lab.txt")
    lab.start()
    yield lab
    lab.stop()


_EXECUTE = """
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

source, target = Path(sys.argv[1]), Path(sys.argv[2])
notebook = nbformat.read(source, as_version=4)
# one more cell tells which Python the kernel is
notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
client = NotebookClient(
    notebook, timeout=900, kernel_name="python3",
    resources={"metadata": {"path": str(source.parent)}},
)
try:
    client.execute()
finally:
    nbformat.write(notebook, target)
"""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_demo_notebook_runs_top_to_bottom_in_the_environments_own_kernel(
    binder: BinderEnv, binder_lab: Lab, name: str
) -> None:
    """With the Lab server running, as on Binder: a notebook that talks to its server finds it."""
    source = binder.clone / "examples" / "notebooks" / name
    executed = binder.logs / f"executed-{name}"
    started = time.monotonic()
    python = str(binder.prefix / "bin" / "python")
    result = binder.run(*binder.start(python, "-c", _EXECUTE, str(source), str(executed)),
                        timeout=1800)  # fmt: skip
    print(f"{name} ran in {time.monotonic() - started:.0f} s")
    _check(result, f"executing {name}")
    notebook = json.loads(executed.read_text())
    errors = [
        output for cell in notebook["cells"] for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]  # fmt: skip
    assert errors == []
    # the kernel was the replayed environment's own Python
    kernel_prefix = "".join(notebook["cells"][-1]["outputs"][0]["text"]).strip()
    assert Path(kernel_prefix) == binder.prefix


def test_a_dask_dashboard_opens_through_the_servers_proxy(
    binder: BinderEnv, binder_lab: Lab
) -> None:
    """On Binder the dashboard's port is not reachable from the visitor's browser: its link
    goes through the notebook server, and the page is there."""
    cluster = subprocess.Popen(
        binder.start(
            str(binder.prefix / "bin" / "python"), "-c",
            "from distributed import LocalCluster\n"
            "cluster = LocalCluster(processes=False, n_workers=1, dashboard_address=':0')\n"
            "print(cluster.dashboard_link, flush=True)\n"
            "import sys; sys.stdin.read()",
        ),
        cwd=binder.clone, env=binder.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert cluster.stdout is not None
        link = cluster.stdout.readline().strip()
        assert re.fullmatch(r"/proxy/\d+/status", link), link
        with urllib.request.urlopen(binder_lab.url(link.lstrip("/")), timeout=30) as page:
            assert page.status == 200 and b"Dask" in page.read()
    finally:
        assert cluster.stdin is not None
        cluster.stdin.close()
        cluster.wait(60)
    # the demo's run on its cluster recorded that dashboard, and the run's facts link it
    shown = (binder.logs / "executed-dask.ipynb").read_text()
    assert re.search(r"href='/proxy/\d+/status'", shown), "no proxied dashboard in the run"


def test_the_badge_opens_the_tour_with_the_python_runner_panel(
    binder: BinderEnv, binder_lab: Lab, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    badge = (ROOT / "README.md").read_text()
    urlpath = re.search(r"mybinder\.org/v2/gh/[^)\s]*\?urlpath=([^)\s&]+)", badge)
    assert urlpath, "the README has no Binder badge"
    path = urllib.parse.unquote(urlpath.group(1))
    assert (binder.clone / path.removeprefix("lab/tree/")).is_file(), path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(binder_lab.url(path))
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
            panel = show_side_panel(page, "jp-pyrunner-panel")
            panel.locator(".jp-PyRunner-dropzone").wait_for(timeout=30_000)
            # no news or update pop-up over the demo (Lab asks within a second of starting)
            page.wait_for_timeout(3_000)
            assert page.locator(".Toastify__toast", has_text="news").count() == 0
            page.screenshot(path=str(binder.logs / "binder-lab.png"))
        finally:
            browser.close()
    assert errors == []
