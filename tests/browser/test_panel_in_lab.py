"""The RunnerPanel widget in a notebook in JupyterLab, in a real browser."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ..conftest import write_project
from ..notebook.conftest import DEMO

#: where screenshots go (docs/screenshots when refreshing the documentation's pictures)
SCREENSHOTS = os.environ.get("PYRUNNER_SCREENSHOTS")


def test_the_panel_runs_a_project_with_a_live_log_and_an_image_preview(
    lab, page, tmp_path: Path
) -> None:
    write_project(
        lab.root / "demo",
        {**DEMO, "main.py": DEMO["main.py"].replace("time.sleep(0.05)", "time.sleep(0.4)")},
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from jupyter_pyrunner import RunnerPanel\nRunnerPanel()")
    ]
    nbformat.write(nb, lab.root / "panel.ipynb")

    page.goto(lab.url("lab/tree/panel.ipynb"))
    cell = page.locator(".jp-Notebook .jp-Cell").first
    cell.wait_for(timeout=60_000)
    dialog = page.locator(".jp-Dialog")
    with contextlib.suppress(PlaywrightTimeout):  # Lab may ask which kernel to start
        dialog.get_by_role("button", name="Select").click(timeout=5_000)  # the default: Python 3
    # a cell run before the kernel is connected would be dropped: wait until it is idle
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=60_000)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")

    panel = page.locator(".jp-OutputArea-output .widget-vbox").first
    try:
        panel.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        page.screenshot(path=str(tmp_path / "no-panel.png"))
        raise
    panel.locator("select").first.select_option("demo/")
    panel.locator("input[placeholder='passed to the program']").fill("6")
    panel.get_by_role("button", name="Run").click()

    log = panel.locator(".widget-output")
    log.get_by_text("step 2 of 6").wait_for(timeout=60_000)
    live = log.inner_text()
    assert "step 6 of 6" not in live  # seen while the program still runs
    image = panel.locator("img[alt='gradient.png'][src^='data:image/png;base64,']")
    image.wait_for(timeout=60_000)
    assert "step 6 of 6" in log.inner_text()
    assert panel.get_by_text("succeeded").first.is_visible()
    assert panel.locator("table th", has_text="x").count() >= 1  # the CSV as a table
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(shots / "runner-panel.png"))
    assert page.errors == [], json.dumps(page.errors)
