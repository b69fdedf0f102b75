"""A sweep in the Lab panel's history: its runs gathered under one row that sums them up, and
cancelled as a whole from that row.

The sweep is started with the real ``pyrunner sweep`` command against the store the test
server uses, as a user at a terminal would, and the panel finds it through the runs list.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from ..conftest import marker_processes, run_cli, write_project
from .test_lab_extension import SCREENSHOTS, assert_clean, open_lab

COMBINATIONS = ["a=1, b=x", "a=1, b=y", "a=2, b=x", "a=2, b=y"]


def test_a_cli_sweep_shows_as_one_row_that_expands_to_its_runs(
    lab, page: Page, home: Path, tmp_path: Path
) -> None:
    folder = write_project(
        tmp_path / "sweepproj",
        {"main.py": "import sys\nprint('args', ' '.join(sys.argv[1:]))\n"},
    )
    lone = write_project(tmp_path / "loneproj", {"main.py": "print('alone')\n"})
    panel = open_lab(page, lab)
    history = panel.locator(".jp-PyRunner-history")
    expect(history).to_contain_text("No runs yet")

    single = run_cli("run", str(lone), "--json")
    assert single.returncode == 0, single.stderr
    result = run_cli(
        "sweep", str(folder), "--param", "a=1,2", "--param", "b=x,y", "--json", "--", "{a}", "{b}"
    )
    assert result.returncode == 0, result.stderr
    sweep = json.loads(result.stdout)
    run_ids = [run["id"] for run in sweep["runs"]]
    assert len(run_ids) == 4

    group = history.locator(f'li[data-sweep-id="{sweep["id"]}"]')
    group.wait_for(timeout=15_000)  # the list refreshes itself every 5 s
    # one row for the sweep, one for the lone run: the sweep's runs are not listed apart
    top_rows = history.locator(".jp-PyRunner-runList").first.locator(":scope > li")
    expect(top_rows).to_have_count(2)
    expect(history.locator(f'li[data-run-id="{json.loads(single.stdout)["id"]}"]')).to_be_visible()
    for run_id in run_ids:
        expect(history.locator(f'li[data-run-id="{run_id}"]')).to_have_count(0)

    header = group.locator(".jp-PyRunner-sweepItem")
    expect(header).to_contain_text("sweepproj")
    expect(header).to_contain_text("4 runs: 4 succeeded")
    expect(header).to_contain_text("100%")
    expect(header.locator(".jp-PyRunner-badge")).to_have_class(
        re.compile(r"\bjp-PyRunner-status-succeeded\b")
    )
    expect(header).to_have_attribute("aria-expanded", "false")

    header.click()
    expect(header).to_have_attribute("aria-expanded", "true")
    rows = group.locator(".jp-PyRunner-sweepRuns > li")
    expect(rows).to_have_count(4)
    expect(rows.locator(".jp-PyRunner-runItemName")).to_have_text(COMBINATIONS)
    assert [rows.nth(i).get_attribute("data-run-id") for i in range(4)] == run_ids

    rows.nth(2).locator(".jp-PyRunner-runItem").click()  # a=2, b=x
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view).to_have_attribute("data-run-id", run_ids[2])
    expect(run_view.locator(".jp-PyRunner-sweepFact")).to_have_text(f"{sweep['id']} · a=2, b=x")
    expect(run_view.locator(".jp-PyRunner-log")).to_contain_text("args 2 x")
    expect(rows.nth(2)).to_have_class(re.compile(r"\bjp-mod-selected\b"))
    if SCREENSHOTS:
        panel.screenshot(path=str(Path(SCREENSHOTS) / "lab-panel-sweep.png"))

    header.click()
    expect(rows).to_have_count(0)
    expect(group).to_have_class(re.compile(r"\bjp-mod-selected\b"))  # holds the run on show
    assert_clean(page)


def test_a_run_on_a_dask_worker_says_which_worker_ran_it(
    lab, page: Page, home: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    folder = write_project(tmp_path / "daskproj", {"main.py": "print('on a worker')\n"})
    panel = open_lab(page, lab)
    result = run_cli("run", "--dask", "local", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["worker"], record

    item = panel.locator(f'.jp-PyRunner-runList li[data-run-id="{record["id"]}"]')
    item.wait_for(timeout=15_000)  # the list refreshes itself every 5 s
    item.locator(".jp-PyRunner-runItem").click()
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view.locator(".jp-PyRunner-worker")).to_have_text(record["worker"])
    expect(run_view.locator(".jp-PyRunner-log")).to_contain_text("on a worker")
    dashboard = run_view.locator("a.jp-PyRunner-dashboard")
    if record.get("dashboard"):
        expect(dashboard).to_have_attribute("href", record["dashboard"])
        expect(dashboard).to_have_attribute("target", "_blank")
    else:  # a cluster without a dashboard: no dead link
        expect(dashboard).to_have_count(0)
    assert_clean(page)


def _sweep_of(cli: subprocess.Popen[str], home: Path, timeout: float = 60) -> str:
    """The id of the sweep the background ``pyrunner sweep`` submitted (read from the store,
    as the command prints it only at the end)."""
    from jupyter_pyrunner.store import RunStore
    from jupyter_pyrunner.sweeps import list_sweeps

    deadline = time.monotonic() + timeout
    while not (found := list_sweeps(RunStore(home))):
        assert cli.poll() is None, cli.communicate()
        assert time.monotonic() < deadline, "the sweep was never submitted"
        time.sleep(0.1)
    return found[0]


def _stop(cli: subprocess.Popen[str]) -> None:
    """Stop the background command if it still runs: SIGTERM makes it cancel its runs and
    wait for them, as Ctrl-C at a terminal does; a command that will not go is killed."""
    if cli.poll() is None:
        cli.send_signal(signal.SIGTERM)
        try:
            cli.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            cli.kill()
            cli.communicate()


def test_a_running_sweep_is_cancelled_from_its_row(
    lab, page: Page, home: Path, tmp_path: Path
) -> None:
    folder = write_project(
        tmp_path / "sleepyproj",
        {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(600)\n"},
    )
    panel = open_lab(page, lab)
    history = panel.locator(".jp-PyRunner-history")
    command = [sys.executable, "-m", "jupyter_pyrunner.cli", "sweep", str(folder),
               "--param", "n=1,2,3", "--parallel", "1", "--json"]  # fmt: skip
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sweep_id = _sweep_of(cli, home)
        group = history.locator(f'li[data-sweep-id="{sweep_id}"]')
        group.wait_for(timeout=15_000)  # the list refreshes itself every 5 s
        header = group.locator(".jp-PyRunner-sweepItem")
        expect(header).to_contain_text("3 runs:")
        cancel = group.get_by_role("button", name=f"Cancel sweep {sweep_id}")
        expect(cancel).to_be_visible()
        expect(header.locator("button")).to_have_count(0)  # a sibling, not inside the toggle
        expect(group.locator(":scope > button")).to_have_count(2)

        # the cancel request is held until the button has been seen disabled while it is out
        # (its URL carries a cache-busting query, hence a pattern rather than a glob)
        held: list[Route] = []
        endpoint = re.compile(rf".*/pyrunner/api/sweeps/{re.escape(sweep_id)}/cancel(\?.*)?$")
        page.route(endpoint, lambda route: held.append(route))
        cancel.click()
        for _ in range(200):  # (the route's handler runs while Playwright waits)
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1 and held[0].request.method == "POST"
        expect(cancel).to_be_disabled()
        held[0].continue_()
        page.unroute(endpoint)

        # the panel counts every run that ended otherwise than succeeded as failed
        expect(header).to_contain_text("3 runs: 3 cancelled", timeout=30_000)
        expect(header.locator(".jp-PyRunner-badge")).to_have_class(
            re.compile(r"\bjp-PyRunner-status-cancelled\b")
        )
        expect(cancel).to_have_count(0)
        expect(panel.locator(".jp-PyRunner-error")).to_have_count(0)

        out, err = cli.communicate(timeout=60)  # the command sees its sweep end, and exits
        assert cli.returncode == 1, err  # not every run succeeded
        final = json.loads(out)
        assert final["status"] == "cancelled" and final["counts"] == {"cancelled": 3}, final
        messages = [run["message"] for run in final["runs"]]
        assert messages[1:] == ["cancelled before it started"] * 2, messages
        for run in final["runs"]:
            assert marker_processes(run["id"]) == [], run
    finally:
        _stop(cli)
    assert_clean(page)
