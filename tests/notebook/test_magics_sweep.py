"""``%pyrunner sweep`` in real kernels: real runs, a table redrawn in place, an interrupt that
cancels every run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_pyrunner import RunStatus, RunStore
from jupyter_pyrunner.liveness import identity_alive

from ..conftest import marker_processes, write_project
from .conftest import FOREVER, execute, texts

#: records what it got: its arguments and PYRUNNER_PARAMS
RECORDER = """
    import json, os, sys, time
    time.sleep(float(os.environ.get("SLEEP", "0.3")))
    print("got", " ".join(sys.argv[1:]), os.environ["PYRUNNER_PARAMS"], flush=True)
"""


def _html(cell: object) -> list[str]:
    """The HTML outputs a cell ends with (an updated display holds its last state)."""
    return [text for kind, text in texts(cell) if kind == "text/html"]


class _Recording(NotebookClient):
    """nbclient, keeping the HTML of every display that carries a display id and of every
    update of it, in order: what a user saw change in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown: list[str] = []

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        self.shown.append(msg["content"].get("data", {}).get("text/html", ""))
        super()._update_display_id(display_id, msg)


def _execute_recording(cells: list[str], cwd: Path, timeout: int) -> tuple[Any, list[str]]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = _Recording(nb, timeout=timeout, kernel_name="python3",
                        resources={"metadata": {"path": str(cwd)}})  # fmt: skip
    client.execute()
    return nb, client.shown


def test_a_sweep_shows_its_table_in_place_and_ends_with_every_row_succeeded(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLEEP", "1")  # each run lasts long enough to be seen running
    workspace = tmp_path / "ws"
    write_project(workspace / "recorder", {"main.py": RECORDER, "requirements.txt": ""})
    nb, seen = _execute_recording(
        ["%load_ext jupyter_pyrunner",
         "s = %pyrunner sweep recorder --param a=1,2 --param b=x,y --parallel 2 -- {a}-{b}",
         "print(s.status, len(s.rows()), [r['status'] for r in s.rows()])\n"
         "print(type(s.table()).__name__)",
         "%pyrunner runs"],
        workspace,
        timeout=240,
    )  # fmt: skip
    # one display, updated in place: the cell holds a single table, its last state
    shown = _html(nb.cells[1])
    assert len(shown) == 1, shown
    table = shown[0]
    # ... which was redrawn while the runs went on: runs seen running, then all succeeded
    assert len(seen) > 2 and seen[-1] == table
    assert any(">running</span>" in html for html in seen[:-1])
    assert table.count("<tr>") == 5  # a header and one row per combination
    assert table.count(">succeeded</span>") == 4
    assert "4 runs: 4 succeeded" in table
    for a in ("1", "2"):
        for b in ("x", "y"):
            assert f"<td>{a}</td><td>{b}</td>" in table
    said = "".join(text for kind, text in texts(nb.cells[2]) if kind == "stdout")
    assert said.startswith("succeeded 4 ['succeeded', 'succeeded', 'succeeded', 'succeeded']\n")
    records = RunStore(home).list_runs()
    assert len(records) == 4 and {r.status for r in records} == {RunStatus.SUCCEEDED}
    (sweep_id,) = {r.sweep for r in records}
    assert sweep_id is not None
    # the arguments and the environment carry each run's combination
    logs = {RunStore(home).run_dir(r.id).joinpath("log.txt").read_text() for r in records}
    assert any('got 2-y {"a": "2", "b": "y"}' in log for log in logs)
    # the history's HTML table names the sweep of each run
    history = _html(nb.cells[3])[0]
    assert "<th style='text-align:left'>sweep</th>" in history
    assert history.count(f">{sweep_id}</code>") == 4


def test_a_notebook_variable_never_takes_the_place_of_a_swept_parameter(
    home: Path, tmp_path: Path
) -> None:
    """IPython fills ``{name}`` with the notebook's variables in a magic's line: the notebook's
    ``a`` must not replace each run's value, while its other variables are still filled in, in
    the line and in a function's locals."""
    workspace = tmp_path / "ws"
    write_project(workspace / "recorder", {"main.py": RECORDER, "requirements.txt": ""})
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "a, tag, parallel = 'notebook', 'T', 2",
         "s = %pyrunner sweep recorder --param a=1,2 --parallel {parallel} -- {a} {tag} {{a}} $tag",
         "def inside():\n"
         "    tag = 'local'\n"
         "    swept = %pyrunner sweep recorder --param=a=3 -- {a} {tag}\n"
         "    return swept\n"
         "t = inside()",
         "print(sorted(' '.join(r.record.spec.args) for r in s.runs + t.runs))"],
        workspace,
        timeout=240,
    )  # fmt: skip
    said = "".join(text for kind, text in texts(nb.cells[4]) if kind == "stdout")
    assert said.strip() == "['1 T 1 T', '2 T 2 T', '3 local']"
    records = RunStore(home).list_runs()
    assert len(records) == 3 and {r.status for r in records} == {RunStatus.SUCCEEDED}


def test_a_bad_sweep_is_one_message_and_creates_nothing(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write_project(workspace / "recorder", {"main.py": RECORDER, "requirements.txt": ""})
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "%pyrunner sweep recorder --param a=1 -- {b}",
         "%pyrunner sweep recorder"],
        workspace,
    )  # fmt: skip
    for cell, expected in zip(
        nb.cells[1:], ["{b}, which is not a parameter", "at least one parameter"], strict=True
    ):
        (only,) = texts(cell)
        assert only[0] == "text/html" and expected in only[1] and "Traceback" not in only[1]
    assert RunStore(home).count() == 0


def test_interrupting_the_kernel_cancels_every_run_of_the_sweep(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write_project(workspace / "forever", FOREVER)
    t0 = time.monotonic()
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "%pyrunner sweep forever --param a=1,2 --param b=x,y --parallel 2"],
        workspace,
        timeout=12,
        interrupt_on_timeout=True,
        allow_errors=True,
    )  # fmt: skip
    assert time.monotonic() - t0 < 90
    outputs = texts(nb.cells[1])
    assert any("cancelling every run of the sweep" in t for kind, t in outputs if kind == "stderr")
    (table,) = [t for kind, t in outputs if kind == "text/html"]
    assert table.count(">cancelled</span>") == 4 and "4 runs: 4 cancelled" in table
    records = RunStore(home).list_runs()
    assert len(records) == 4 and {r.status for r in records} == {RunStatus.CANCELLED}
    assert all(marker_processes(r.id) == [] for r in records)
    (folder,) = (home / "sweeps").iterdir()
    scheduler = json.loads((folder / "sweep.json").read_text())["scheduler"]
    deadline = time.monotonic() + 10
    while identity_alive(scheduler):
        assert time.monotonic() < deadline, "the sweep's scheduler is still running"
        time.sleep(0.1)
