"""Projects as users bring them, run through the ``pyrunner`` command: gallery scripts that
save beside themselves, a PEP 723 script, a uv project with a src layout, an argparse script
taking its paths as arguments, a tqdm loop, scikit-image and scikit-learn gallery scripts.

They install real packages (the session's uv cache makes the second use cheap), so each one
asserts what a user looks at: the status, the message, where the results are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli, run_json

PROJECTS = Path(__file__).resolve().parent / "realworld"


def test_a_gallery_script_that_saves_beside_itself_shows_its_figure(home: Path) -> None:
    record, stderr = run_json(str(PROJECTS / "line-plot"))
    assert record["status"] == "succeeded", stderr
    assert "matplotlib" in " ".join(record["requirements"])
    assert record["locations"]["project_files"] == ["test.png"]
    assert record["locations"]["output_files"] == []
    listed = run_cli("outputs", record["id"])
    assert "test.png" in listed.stdout and "beside the code" in listed.stdout


def test_mpl_toolkits_is_found_inside_matplotlib(home: Path) -> None:
    record, stderr = run_json(str(PROJECTS / "surface-3d"))
    assert record["status"] == "succeeded", stderr
    assert not any("mpl_toolkits" in r or "mpl-toolkits" in r for r in record["requirements"])


def test_a_pep723_script_gets_a_python_it_accepts(home: Path) -> None:
    record, stderr = run_json(str(PROJECTS / "pep723-report" / "report.py"))
    assert record["status"] == "succeeded", stderr
    assert record["requires_python"] == ">=3.12"
    assert "tabulate" in " ".join(record["requirements"])


def test_a_uv_project_with_its_script_in_a_subfolder_is_installed(home: Path) -> None:
    record, stderr = run_json(str(PROJECTS / "uv-src-project"))
    assert record["status"] == "succeeded", stderr
    assert record["install_project"] == "."
    assert "tabulate" in " ".join(record["requirements"])
    words = Path(record["locations"]["outputs_dir"], "words.txt").read_text()
    assert "the" in words and "3" in words


def test_arguments_name_the_runs_folders_as_a_shell_would(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "measurements.csv"
    data.write_text("value\n1\n2\n3\n6\n")
    record, stderr = run_json(
        str(PROJECTS / "argparse-csv"),
        "--input",
        str(data),
        "--",
        "--data",
        "$INPUT_2/measurements.csv",
        "--out",
        "${OUTPUT_FOLDER}/summary.csv",
    )
    assert record["status"] == "succeeded", stderr
    assert record["spec"]["args"][1] == "$INPUT_2/measurements.csv"  # kept as written
    summary = Path(record["locations"]["outputs_dir"], "summary.csv").read_text()
    assert summary.startswith("count,mean,stdev\n4,3")


def test_a_tqdm_bar_drives_progress_and_engine_lines_start_their_own(home: Path) -> None:
    record, stderr = run_json(str(PROJECTS / "tqdm-loop"))
    assert record["status"] == "succeeded", stderr
    assert record["progress"] == 1.0
    log = run_cli("logs", record["id"]).stdout
    assert "done without a newline" in log
    assert "pyrunner:" not in log.split("done without a newline")[1].split("\n")[0]


@pytest.mark.parametrize(
    ("project", "made"), [("image-edges", "edges.png"), ("kmeans-clusters", "centres.csv")]
)
def test_scikit_gallery_scripts_run_from_their_imports_alone(
    home: Path, project: str, made: str
) -> None:
    record, stderr = run_json(str(PROJECTS / project), "--memory", "1500")
    assert record["status"] == "succeeded", stderr
    assert record["requirements_source"] == "inferred"
    assert made in record["locations"]["project_files"]


def test_a_memory_limit_stops_a_threaded_program_and_says_so(home: Path) -> None:
    record, stderr = run_json(
        str(PROJECTS / "kmeans-clusters"), "--memory", "40", "--timeout", "120"
    )
    assert record["status"] == "failed", stderr
    assert "limit of 40 MB" in record["message"]
    assert record["timings"]["total"] < 100, "the run hung until its time limit"


def test_a_script_in_a_folder_of_other_projects_takes_only_its_neighbours(
    home: Path, tmp_path: Path
) -> None:
    """``pyrunner run Downloads/tool.py``: the other projects in the folder are not its own."""
    downloads = tmp_path / "Downloads"
    for name in ("one", "two"):
        (downloads / name).mkdir(parents=True)
        (downloads / name / "requirements.txt").write_text("pandas\n")
        (downloads / name / "main.py").write_text("import pandas\n")
    (downloads / "helpers.py").write_text("import six\n")
    (downloads / "tool.py").write_text("import helpers\nprint('tool ran')\n")
    record, stderr = run_json(str(downloads / "tool.py"))
    assert record["status"] == "succeeded", stderr
    assert record["requirements"] == ["six"] and record["requirements_source"] == "inferred"
