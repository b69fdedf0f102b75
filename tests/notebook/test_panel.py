"""``RunnerPanel`` driven in a real kernel, as its buttons would drive it."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import write_project
from .conftest import execute, texts


def test_the_panel_runs_a_chosen_project_and_shows_log_progress_and_outputs(
    home: Path, demo: Path
) -> None:
    nb = execute(
        [
            "from jupyter_pyrunner import RunnerPanel\np = RunnerPanel()\np",
            "import json\nprint(json.dumps(list(p.source.options)))",
            "p.source.value = 'demo/'\np.args.value = '4'\np.run_button.click()\np.wait(60)\n"
            "log = ''.join(o.get('text', '') for o in p.log_view.outputs)\n"
            "print(json.dumps({'log': log, 'status': p.status.value, 'progress': p.progress.value,\n"
            "  'outputs': p.outputs.value, 'run': p.run_button.disabled, 'cancel': p.cancel_button.disabled,\n"
            "  'history': [label for label, _ in p.history.options]}))",
            "p.copy_target.value = 'results/demo'\np.copy_button.click()\n"
            "import os\nprint(sorted(os.listdir('results/demo')), 'copied to' in p.status.value)",
            "q = RunnerPanel()\nq.open_run(q.history.options[0][1])\nq.wait(30)\n"
            "print(''.join(o.get('text', '') for o in q.log_view.outputs).count('step'), 'table.csv' in q.outputs.value)",
        ],
        demo,
    )
    assert any(
        (kind == "text/plain" and "RunnerPanel" in text) or "VBox" in text
        for kind, text in texts(nb.cells[0])
    )
    options = json.loads(texts(nb.cells[1])[0][1])
    assert "demo/" in options
    state = json.loads(texts(nb.cells[2])[-1][1])
    assert "step 4 of 4" in state["log"] and "a warning" in state["log"]
    assert "succeeded" in state["status"] and state["progress"] == 1.0
    assert (
        "<img src='data:image/png;base64," in state["outputs"] and "table.csv" in state["outputs"]
    )
    assert state["run"] is False and state["cancel"] is True
    assert state["history"] and "succeeded" in state["history"][0]
    assert (
        texts(nb.cells[3])[-1][1] == "['dot.png', 'gradient.png', 'notes.json', 'table.csv'] True\n"
    )
    assert texts(nb.cells[4])[-1][1] == "4 True\n"  # a recent run, re-opened in a new panel


def test_a_flood_of_output_keeps_only_the_last_lines_in_the_browser(
    home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    write_project(workspace / "flood", {"main.py": "for i in range(20000):\n    print('line', i)\n",
                                         "requirements.txt": ""})  # fmt: skip
    nb = execute(
        [
            "from jupyter_pyrunner import RunnerPanel\nimport json\np = RunnerPanel()",
            "p.source.value = 'flood/'\np.run()\np.wait(60)\n"
            "text = ''.join(o.get('text', '') for o in p.log_view.outputs)\n"
            "print(json.dumps({'lines': text.count('\\n'), 'last': text.splitlines()[-1], 'first': text.splitlines()[0]}))",
            "p.show_full_log()\nprint(sum(o.get('text', '').count('\\n') for o in p.log_view.outputs))",
        ],
        workspace,
    )
    state = json.loads(texts(nb.cells[1])[-1][1])
    assert state["lines"] <= 501 and state["last"] == "line 19999"
    assert "Show full log" in state["first"]
    assert int(texts(nb.cells[2])[-1][1]) >= 20000


def test_errors_show_in_the_panel_not_as_tracebacks(home: Path, demo: Path) -> None:
    write_project(demo / "two", {"a.py": "", "b.py": ""})
    nb = execute(
        [
            "from jupyter_pyrunner import RunnerPanel\np = RunnerPanel()",
            "p.run()\nprint(p.status.value)",
            "p.source.value = 'two/'\np.run()\nprint(p.status.value)",
        ],
        demo,
    )
    assert "Choose or upload a project" in texts(nb.cells[1])[0][1]
    assert "--entry" in texts(nb.cells[2])[0][1]
