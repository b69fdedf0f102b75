"""Displays and argument parsing of the notebook face, without a kernel."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jupyter_pyrunner.models import RunRecord, RunSpec, RunStatus
from jupyter_pyrunner.notebook import views
from jupyter_pyrunner.notebook.magics import _run_parser, _UsageError
from jupyter_pyrunner.outputs import list_outputs

from .conftest import PNG_HEX


def record(**changes: object) -> RunRecord:
    base = RunRecord(id="20261125-000000-abcdef", name="demo", status=RunStatus.RUNNING,
                     created=time.time() - 5, spec=RunSpec(source="demo"), started=time.time() - 4)  # fmt: skip
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_run_arguments_parse_like_the_command_line() -> None:
    ns = _run_parser().parse_args(["p.zip", "--input", "a.csv", "--input", "b", "--timeout", "5",
                                   "--memory", "100", "--no-infer", "--background"])  # fmt: skip
    assert (ns.source, ns.inputs, ns.timeout, ns.memory, ns.no_infer, ns.background) == (
        "p.zip",
        ["a.csv", "b"],
        5.0,
        100,
        True,
        True,
    )
    cell = _run_parser(cell=True).parse_args(["--requirements", "numpy pandas"])
    assert cell.requirements == ["numpy pandas"]  # split into words by spec_from_options
    with pytest.raises(_UsageError, match="is not a number"):
        _run_parser().parse_args(["p.zip", "--timeout", "soon"])
    with pytest.raises(_UsageError, match="%pyrunner run SOURCE"):
        _run_parser().parse_args([])


def test_progress_is_indeterminate_until_the_program_reports_some() -> None:
    assert "<progress  " in views.progress_html(
        record(status=RunStatus.PREPARING, message="building the environment")
    )
    assert "building the environment" in views.progress_html(
        record(status=RunStatus.PREPARING, message="building the environment")
    )
    shown = views.progress_html(record(progress=0.25))
    assert 'value="0.250"' in shown and "25%" in shown
    assert (
        views.progress_text(record(progress=0.5)) == "[running] [" + "#" * 15 + "." * 15 + "] 50%"
    )


def test_summaries_say_status_exit_code_and_why() -> None:
    failed = record(
        status=RunStatus.FAILED, exit_code=3, message="exited with code 3", finished=time.time()
    )
    assert "exit code 3" in views.summary_html(
        failed
    ) and "exited with code 3" in views.summary_text(failed)
    error = record(
        status=RunStatus.ERROR, message="could not build", error_details="uv: <no such package>"
    )
    assert "&lt;no such package&gt;" in views.summary_html(error)  # escaped, shown in full


def test_the_outputs_browser_previews_images_tables_and_text(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.png").write_bytes(bytes.fromhex(PNG_HEX))
    (tmp_path / "data.csv").write_text("h1,h2\n" + "".join(f"{i},{i * i}\n" for i in range(50)))
    (tmp_path / "info.json").write_text('{"b": [1, 2]}')
    (tmp_path / "blob.bin").write_bytes(b"\0" * 2048)
    (tmp_path / "evil.txt").write_text("<script>alert(1)</script>")
    files = list_outputs(tmp_path)
    page = views.outputs_html(tmp_path, files, "/pyrunner/api/runs/x/outputs.zip")
    assert "data:image/png;base64," in page
    assert "<th>h1</th>" in page and "<td>9</td><td>81</td>" in page and "<td>40</td>" not in page
    assert "&quot;b&quot;: [" in page
    assert "blob.bin" in page and "2.0 KB" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "download all as zip" in page
    assert "href='/pyrunner/api/runs/x/outputs/plots/a.png?download=1'" in page
    text = views.outputs_text(tmp_path, files)
    assert "plots/a.png" in text and "<" not in text


def test_runs_table_in_both_forms() -> None:
    rows = [record(status=RunStatus.SUCCEEDED, exit_code=0, progress=1.0, finished=time.time())]
    assert "succeeded" in views.runs_html(rows) and "100%" in views.runs_text(rows)
    assert views.runs_text([]) == "No runs yet."


def test_environment_tables_escape_what_projects_wrote() -> None:
    from jupyter_pyrunner.environments import EnvInfo

    info = EnvInfo(key="abc", path=Path("/x"), size=10, created=0.0, last_used=0.0,
                   requirements=['six; "<img src=x onerror=alert(1)>" == os_name'], python="py", in_use=False)  # fmt: skip
    page = views.envs_html([info])
    assert "<img" not in page and "&lt;img" in page


def test_huge_or_malformed_tables_are_previewed_within_bounds(tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("a," * 5000 + "\n" + ("x" * 300 + ",") * 5000 + "\n")
    (tmp_path / "broken.csv").write_text('h\n"' + "y" * 200_000 + '"\n')
    (tmp_path / "long.csv").write_text("".join(f"{i}\n" for i in range(2_000_000)))
    page = views.outputs_html(tmp_path, list_outputs(tmp_path))
    assert len(page) < 200_000
    assert "x" * 201 not in page  # cells are cut
    assert "<td>1999999</td>" not in page


SCRIPT_BESIDE = {
    "main.py": f"""
        import os, pathlib
        pathlib.Path("plot.png").write_bytes(bytes.fromhex("{PNG_HEX}"))
        pathlib.Path("results").mkdir()
        pathlib.Path("results", "table.csv").write_text("k,v\\n1,2\\n")
    """,
    "requirements.txt": "",
}


def test_a_runs_views_show_the_files_written_beside_the_code_in_their_own_section(
    home: Path, project, tmp_path: Path
) -> None:
    from jupyter_pyrunner import run_project
    from jupyter_pyrunner.notebook.result import RunResult, download_url

    result = RunResult(run_project(project(SCRIPT_BESIDE), home=home))
    assert result.status.value == "succeeded", result.log
    page = views.run_outputs_html(result, download_url(result.id))
    assert "No files in OUTPUT_FOLDER" in page and "download all as zip" in page
    head, _, section = page.partition("Files written beside the code (in the project folder)")
    assert "plot.png" not in head
    assert "data:image/png;base64," in section and "<td>1</td><td>2</td>" in section
    assert "outputs/results/table.csv?section=project&amp;download=1" in section
    assert "main.py" not in section  # the code itself is not an output
    assert "plot.png" in result._repr_html_()
    text = views.run_outputs_text(result)
    assert "(no output files)" in text and "results/table.csv" in text and "main.py" not in text

    with result.open("results/table.csv", project=True) as f:
        assert f.read() == "k,v\n1,2\n"
    copied = result.copy_to(tmp_path / "copy")
    assert (copied / "project" / "plot.png").read_bytes() == bytes.fromhex(PNG_HEX)
    assert not (copied / "project" / "main.py").exists()


def test_a_run_that_wrote_nothing_beside_its_code_shows_outputs_as_before(
    home: Path, project
) -> None:
    from jupyter_pyrunner import run_project

    handle = run_project(project({"main.py": "print(1)\n", "requirements.txt": ""}), home=home)
    assert views.run_outputs_html(handle) == "<p>No output files.</p>"
    assert views.run_outputs_text(handle) == f"{handle.outputs_dir}\n(no output files)"


def test_the_panel_shows_and_copies_the_files_written_beside_the_code(
    home: Path, project, tmp_path: Path
) -> None:
    from jupyter_pyrunner import run_project
    from jupyter_pyrunner.notebook.panel import RunnerPanel

    handle = run_project(project(SCRIPT_BESIDE), home=home)
    panel = RunnerPanel(folder=str(tmp_path), home=str(home))
    panel.open_run(handle.id)
    panel.wait(30)
    assert "written beside the code" in panel.outputs.value
    assert "results/table.csv" in panel.outputs.value
    panel.copy_target.value = "copied"
    panel.copy_button.click()
    assert (tmp_path / "copied" / "project" / "results" / "table.csv").is_file()
