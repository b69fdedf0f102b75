"""A real ``jupyter lab`` and Debian's Chromium driven by Playwright.

Chromium comes from the system (``/usr/bin/chromium``, installed by ``make test``); nothing is
downloaded. Without it these tests are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PYRUNNER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "browser-test-token"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lab(args=[...], settings={plugin id: {...}}): extra `jupyter lab` arguments and user "
        "settings for the `lab` fixture",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A ``jupyter lab`` for one test. ``kill()`` stops it like a crash (SIGKILL) and ``start()``
    starts it again on the same port, with the same root, token, settings and PYRUNNER_HOME."""

    def __init__(self, root: Path, port: int, command: list[str], env: dict[str, str],
                 log: Path) -> None:  # fmt: skip
        self.root, self.port = root, port
        self._command, self._env, self._log = command, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={TOKEN}"

    def start(self, timeout: float = 90) -> None:
        """Start the server (again) and wait until it answers."""
        assert self.proc is None or self.proc.poll() is not None, "the server is running"
        with open(self._log, "ab") as log:  # the server writes to its own copy of the descriptor
            self.proc = subprocess.Popen(
                self._command, stdout=log, stderr=subprocess.STDOUT, env=self._env
            )
        deadline = time.time() + timeout
        while True:
            try:
                status = f"http://127.0.0.1:{self.port}/api/status?token={TOKEN}"
                urllib.request.urlopen(status, timeout=5).close()
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(self._log.read_text()[-3000:]) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, like a crash: the server cleans nothing up (runs go on, supervised apart)."""
        assert self.proc is not None and self.proc.poll() is None, "the server is not running"
        pid = self.proc.pid
        self.proc.kill()
        self.proc.wait(20)
        # what a server removes itself when it stops: jpserver-<pid>.json and …-open.html
        from jupyter_core.paths import jupyter_runtime_dir

        for stale in Path(jupyter_runtime_dir()).glob(f"jpserver-{pid}[.-]*"):
            stale.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(20)


@pytest.fixture
def lab(tmp_path: Path, home: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """JupyterLab on a workspace of the test's own, with its own settings and layout.

    ``@pytest.mark.lab(args=[...], settings={...})`` adds command-line arguments (e.g.
    ``--PyRunnerApp.max_upload_size=1000``) and user settings, by plugin id
    (``{"jupyter-pyrunner:plugin": {"area": "right"}}``).
    """
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    marker = request.node.get_closest_marker("lab")
    extra_args: list[str] = list(marker.kwargs.get("args", [])) if marker else []
    user_settings: dict[str, dict[str, object]] = {
        "@jupyterlab/apputils-extension:notification": {
            "fetchNews": "false", "checkForUpdates": False,
        },
        **(marker.kwargs.get("settings", {}) if marker else {}),
    }  # fmt: skip
    root = tmp_path / "workspace"
    root.mkdir()
    settings = tmp_path / "lab-settings"
    for plugin_id, values in user_settings.items():
        package, plugin = plugin_id.split(":")
        path = settings / package / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
        f"--LabApp.user_settings_dir={settings}", *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "PYRUNNER_HOME": str(home)}
    server = Lab(root, port, command, env, tmp_path / "lab.log")
    server.start()
    yield server
    server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Remember each phase's outcome on the test, for fixtures to act on a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(lab: Lab, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """A Chromium page; ``page.errors`` and ``page.console_errors`` collect what went wrong.

    When the test fails, a screenshot of the whole page is saved as ``failure.png`` in the
    test's tmp folder (its path is printed).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.errors = errors  # type: ignore[attr-defined]
        console_errors: list[str] = []

        def on_console(message: object) -> None:
            if message.type == "error":  # type: ignore[attr-defined]
                location = message.location  # type: ignore[attr-defined]
                where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})"
                console_errors.append(message.text + where)  # type: ignore[attr-defined]

        pg.on("console", on_console)
        pg.console_errors = console_errors  # type: ignore[attr-defined]
        yield pg
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            try:
                pg.screenshot(path=str(shot))
                print(f"screenshot of the page at the failure: {shot}")
            except Exception as exc:  # a failed screenshot must not hide the test's failure
                print(f"no screenshot at the failure: {exc}")
        context.close()
        browser.close()


RUNNER_PANEL = "#jp-pyrunner-panel"


def show_side_panel(page: object, widget_id: str, timeout: float = 60_000) -> object:
    """Show the side bar widget ``widget_id`` by clicking its tab, unless it is shown already.

    Lumino tabs react to pointer events, so the click is Playwright's (real mouse events). A
    click on the tab of the widget on show collapses the side bar, and JupyterLab may still be
    restoring its layout when the splash screen has gone: so the tab is clicked only while the
    widget is hidden, and again if a restoration hid it meanwhile.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=timeout)  # type: ignore[attr-defined]
    widget = page.locator(f"#{widget_id}")  # type: ignore[attr-defined]
    tab = page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{widget_id}"]')  # type: ignore[attr-defined]
    tab.wait_for(timeout=timeout)
    for _attempt in range(5):
        if widget.is_visible():
            return widget
        tab.click()
        try:
            widget.wait_for(state="visible", timeout=2_000)
        except PlaywrightTimeout:  # hidden again meanwhile: look again, and click again
            continue
    widget.wait_for(state="visible", timeout=2_000)
    return widget


def open_runner_panel(page: object, timeout: float = 60_000) -> object:
    """The Python Runner panel, shown by clicking its side bar tab (unless already shown)."""
    return show_side_panel(page, "jp-pyrunner-panel", timeout)
