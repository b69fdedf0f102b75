"""``%pyrunner`` in real kernels, and in a terminal IPython."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from jupyter_pyrunner import RunStatus, RunStore

from ..conftest import marker_processes, write_project
from .conftest import FOREVER, execute, texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_run_streams_into_the_cell_and_ends_with_the_outputs(home: Path, demo: Path) -> None:
    nb = execute(
        [
            "%load_ext jupyter_pyrunner",
            "r = %pyrunner run demo -- 3",
            "print(r.status.value, r.exit_code, sorted(f.path for f in r.outputs))\nr.open('table.csv').read()",
        ],
        demo,
    )
    outputs = texts(nb.cells[1])
    stdout = "".join(text for kind, text in outputs if kind == "stdout")
    assert stdout == "".join(f"step {i} of 3\n[PROGRESS] {i}/3\n" for i in range(1, 4))
    assert ("stderr", "a warning\n") in outputs
    final = outputs[-1]
    assert final[0] == "text/html"
    assert "succeeded" in final[1] and "exit code 0" in final[1]
    assert "<img src='data:image/png;base64," in final[1]  # the image, previewed
    assert "<td>3</td><td>4</td>" in final[1]  # the CSV, as a table
    assert "&quot;ok&quot;: true" in final[1] or '"ok": true' in final[1]
    assert "outputs.zip" in final[1]
    progress = outputs[0]
    assert progress[0] == "text/html" and "<progress" in progress[1]
    after = texts(nb.cells[2])
    # (a busy kernel may send one print as several stream messages)
    printed = "".join(text for kind, text in after if kind == "stdout")
    assert printed == "succeeded 0 ['dot.png', 'gradient.png', 'notes.json', 'table.csv']\n"
    assert "x,y" in after[-1][1]


def test_interrupting_the_kernel_cancels_the_run_and_its_processes(
    home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    write_project(workspace / "forever", FOREVER)
    t0 = time.monotonic()
    nb = execute(["%load_ext jupyter_pyrunner", "%pyrunner run forever"], workspace,
                 timeout=15, interrupt_on_timeout=True, allow_errors=True)  # fmt: skip
    assert time.monotonic() - t0 < 60
    outputs = texts(nb.cells[1])
    assert ("stdout", "running\n") in outputs
    assert any("cancelled" in text for kind, text in outputs if kind == "text/html")
    (record,) = RunStore(home).list_runs()
    assert record.status is RunStatus.CANCELLED
    assert marker_processes(record.id) == []


def test_project_errors_are_one_message(home: Path, demo: Path) -> None:
    write_project(demo / "two", {"a.py": "", "b.py": ""})
    nb = execute(["%load_ext jupyter_pyrunner", "%pyrunner run nowhere.zip", "%pyrunner run two",
                  "%pyrunner run demo --timeout soon"], demo)  # fmt: skip
    missing = texts(nb.cells[1])
    assert len(missing) == 1 and "does not exist" in missing[0][1]
    ambiguous = texts(nb.cells[2])
    assert len(ambiguous) == 1 and "--entry" in ambiguous[0][1]
    usage = texts(nb.cells[3])
    assert usage[0][0] == "stderr" and "'soon' is not a number" in usage[0][1]
    for cell in nb.cells[1:]:
        assert all(kind != "error" and "Traceback" not in text for kind, text in texts(cell))
    assert RunStore(home).count() == 0  # nothing ran: the history stays as it was


def test_invalid_limits_are_refused_by_the_engine_with_its_message_and_start_nothing(
    home: Path, demo: Path
) -> None:
    nb = execute(["%load_ext jupyter_pyrunner",
                  "%pyrunner run demo --timeout=-5 --memory=-1",
                  "%pyrunner run demo --memory=0",
                  "%pyrunner run demo --timeout=1e400"], demo)  # fmt: skip
    messages = [texts(cell) for cell in nb.cells[1:]]
    for outputs, expected in zip(
        messages,
        ["the time limit (timeout) must be more than 0 seconds, not -5",
         "the memory limit (memory_mb) must be more than 0 MB, not 0",
         "the time limit (timeout) must be a number of seconds, not inf"],
        strict=True,
    ):  # fmt: skip
        assert len(outputs) == 1, outputs
        kind, text = outputs[0]
        assert kind == "text/html" and expected in text and "Traceback" not in text
    assert RunStore(home).count() == 0


def test_the_cell_magic_runs_the_cell_as_a_project(home: Path, tmp_path: Path) -> None:
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "%%pyrunner --requirements six -- hello\nimport sys, six\nprint('cell says', sys.argv[1], six.__name__)"],
        tmp_path,
    )  # fmt: skip
    outputs = texts(nb.cells[1])
    assert ("stdout", "cell says hello six\n") in outputs
    (record,) = RunStore(home).list_runs()
    assert record.requirements == ["six"] and record.spec.args == ["hello"]


def test_background_runs_return_at_once_and_update_their_display(home: Path, demo: Path) -> None:
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "import time\nt0 = time.monotonic()\nr = %pyrunner run demo --background -- 20\nprint(time.monotonic() - t0 < 2, r.done)",
         "r.wait(60)\nprint(r.status.value)"],
        demo,
    )  # fmt: skip
    started = texts(nb.cells[1])
    # (the display thread's update may flush the print in two stream messages)
    assert "".join(text for kind, text in started if kind == "stdout") == "True False\n"
    assert any(kind == "text/html" and "<progress" in text for kind, text in started)
    assert ("stdout", "succeeded\n") in texts(nb.cells[2])


def test_history_commands_show_runs_logs_and_outputs(home: Path, demo: Path) -> None:
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "r = %pyrunner run demo -- 2",
         "%pyrunner runs",
         "%pyrunner logs last",
         "%pyrunner outputs last --copy-to copied",
         "%pyrunner cancel last",
         "%pyrunner env list",
         "%pyrunner"],
        demo,
    )  # fmt: skip
    runs = texts(nb.cells[2])
    assert runs[0][0] == "text/html" and "succeeded" in runs[0][1] and "demo" in runs[0][1]
    logs = texts(nb.cells[3])
    assert ("stdout", "step 1 of 2\n") in logs or any(
        "step 1 of 2" in t for k, t in logs if k == "stdout"
    )
    outputs = texts(nb.cells[4])
    assert outputs[0][0] == "stdout" and "outputs copied to" in outputs[0][1]
    assert (demo / "copied" / "table.csv").read_text().startswith("x,y")
    assert "already ended" in texts(nb.cells[5])[0][1]
    assert "(bare)" in texts(nb.cells[6])[0][1]
    assert "%pyrunner run SOURCE" in texts(nb.cells[7])[0][1]


def test_a_terminal_ipython_gets_plain_text(home: Path, demo: Path) -> None:
    script = demo / "session.ipy"
    script.write_text("%load_ext jupyter_pyrunner\nr = %pyrunner run demo -- 2\n%pyrunner runs\n")
    result = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", str(script)],
                            cwd=demo, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "step 2 of 2" in result.stdout
    assert "succeeded, exit code 0" in result.stdout
    assert "table.csv" in result.stdout and "<" not in result.stdout


def test_a_bare_run_is_shown_once(home: Path, demo: Path) -> None:
    nb = execute(["%load_ext jupyter_pyrunner", "%pyrunner run demo -- 1"], demo)
    kinds = [out["output_type"] for out in nb.cells[1]["outputs"]]
    assert "execute_result" not in kinds
    assert (
        sum("exit code 0" in text for kind, text in texts(nb.cells[1]) if kind == "text/html") == 1
    )


def test_a_run_from_a_kernel_gets_a_terminals_environment_and_matplotlib_works(
    home: Path, tmp_path: Path
) -> None:
    """ipykernel sets its inline backend and colour settings in its own environment: the
    README's matplotlib example must still run, and no colour is forced into the log."""
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "plot-sine", workspace / "plot-sine")
    write_project(
        workspace / "probe",
        {
            "main.py": """
                import os
                for name in ("MPLBACKEND", "FORCE_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "PAGER", "TERM"):
                    print(name, os.environ.get(name))
            """,
            "requirements.txt": "",
        },
    )
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "import os; print(os.environ['MPLBACKEND'], os.environ['FORCE_COLOR'])",
         "r = %pyrunner run probe\nprint(r.status.value)",
         "r = %pyrunner run plot-sine\nprint(r.status.value, sorted(f.path for f in r.outputs))"],
        workspace,
        timeout=300,
    )  # fmt: skip
    # the kernel really has the settings that used to leak
    assert texts(nb.cells[1]) == [("stdout", "module://matplotlib_inline.backend_inline 1\n")]
    probe = "".join(text for kind, text in texts(nb.cells[2]) if kind == "stdout")
    for name in ("MPLBACKEND", "FORCE_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "PAGER", "TERM"):
        assert f"{name} None\n" in probe
    plot = "".join(text for kind, text in texts(nb.cells[3]) if kind == "stdout")
    assert "succeeded ['signals.csv', 'sine.png']" in plot, plot


def test_a_gallery_script_zipped_by_finder_runs_in_a_kernel_and_its_figure_is_shown(
    home: Path, tmp_path: Path
) -> None:
    """What a Mac user brings: a Finder zip (UTF-8 names without the flag, decomposed accents,
    ``__MACOSX`` metadata) of a matplotlib gallery script that saves beside itself."""
    import unicodedata

    from ..test_archive_names import Raw, raw_zip
    from ..test_realworld import PROJECTS

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    script = (PROJECTS / "line-plot" / "line_plot.py").read_bytes()
    folder = unicodedata.normalize("NFD", "tracé")  # Finder writes decomposed names
    raw_zip(
        workspace / "gallery.zip",
        [
            Raw(f"{folder}/".encode()),
            Raw(f"{folder}/line_plot.py".encode(), script),
            Raw(b"__MACOSX/"),
            Raw(f"__MACOSX/{folder}/._line_plot.py".encode(), b"\x00\x05\x16\x07"),
        ],
    )
    nb = execute(
        ["%load_ext jupyter_pyrunner",
         "r = %pyrunner run gallery.zip\n"
         "print(r.status.value, [f.path for f in r.project_files], r.project_dir.name)"],
        workspace,
        timeout=300,
    )  # fmt: skip
    outputs = texts(nb.cells[1])
    said = "".join(text for kind, text in outputs if kind == "stdout")
    assert "succeeded ['tracé/test.png'] input_1" in said, outputs  # beside the script
    (record,) = RunStore(home).list_runs()
    assert record.entry == "tracé/line_plot.py"  # NFC, as typed on any keyboard
    (shown,) = [t for kind, t in outputs if kind == "text/html" and "beside the code" in t]
    assert "<img src='data:image/png;base64," in shown  # the figure, where a user looks
