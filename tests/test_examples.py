"""The gallery in ``examples/`` runs as its READMEs say: each project is run through the
``pyrunner`` command against a fresh store, and what a user would look at is checked (the
status, the requirements the run used, the numbers in the result files). The older examples
(single-script, progress, failing, word-count, plot-sine) are run in test_cli.py.
"""

from __future__ import annotations

import csv
import json
import re
import struct
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
import yaml

from jupyter_pyrunner import RunStore

from .conftest import EXAMPLES, run_cli, run_json

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, from its header: the file must really be a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def readme(name: str) -> str:
    return (EXAMPLES / name / "README.md").read_text()


def outputs(record: dict[str, Any]) -> Path:
    return Path(record["locations"]["outputs_dir"])


def log_of(record: dict[str, Any]) -> str:
    """What the program printed, as the run's log holds it."""
    return Path(record["locations"]["run_dir"], "log.txt").read_text(errors="replace")


def errors_in(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("main.py: error: ")]


# --- csv-analysis ---------------------------------------------------------------------------


@pytest.mark.network
def test_the_csv_analysis_summarises_its_bundled_sample_per_site(home: Path) -> None:
    assert "pyrunner run examples/csv-analysis " in readme("csv-analysis")
    record, stderr = run_json(str(EXAMPLES / "csv-analysis"))
    assert record["status"] == "succeeded", stderr
    assert record["requirements"] == ["pandas", "matplotlib"]
    assert "analysing the bundled sample" in stderr

    # the expected summary, computed here from the sample without pandas
    sample = read_csv(EXAMPLES / "csv-analysis" / "sample-data" / "river-survey-2024.csv")
    by_site: dict[str, list[dict[str, str]]] = {}
    for row in sample:
        by_site.setdefault(row["site"], []).append(row)
    summary = {row["site"]: row for row in read_csv(outputs(record) / "summary.csv")}
    assert sorted(summary) == sorted(by_site) == ["Outfall", "Upstream", "Weir"]
    for site, rows in by_site.items():
        got = summary[site]
        assert int(got["n_samples"]) == len(rows) == 8
        for column in ("temperature_c", "dissolved_oxygen_mg_l", "conductivity_us_cm"):
            values = [float(r[column]) for r in rows]
            assert float(got[f"{column}_mean"]) == pytest.approx(mean(values), abs=1e-3)
            assert float(got[f"{column}_min"]) == min(values)
            assert float(got[f"{column}_max"]) == max(values)
    width, height = png_size(outputs(record) / "site_means.png")
    assert width > 600 and height > 300


@pytest.mark.network
def test_the_csv_analysis_reads_a_csv_given_with_input_grouped_by_a_column_of_numbers(
    home: Path, tmp_path: Path
) -> None:
    assert "--input plots.csv -- --group plot" in readme("csv-analysis")
    data = tmp_path / "plots.csv"
    data.write_text(
        "plot,depth_m,temperature_c\n"
        "10,0.5,10.0\n10,1.5,12.0\n10,2.5,14.5\n"
        "2,0.5,20.0\n2,1.0,21.0\n1,3.0,5.0\n"
    )
    record, stderr = run_json(
        str(EXAMPLES / "csv-analysis"), "--input", str(data), "--", "--group", "plot"
    )
    assert record["status"] == "succeeded", stderr
    assert "bundled sample" not in stderr and "Read plots.csv: 6 rows" in stderr
    rows = read_csv(outputs(record) / "summary.csv")
    assert [row["plot"] for row in rows] == ["1", "2", "10"]  # in the order of numbers
    summary = {row["plot"]: row for row in rows}
    assert summary["10"]["n_samples"] == "3"
    assert float(summary["10"]["temperature_c_mean"]) == pytest.approx(12.1667, abs=1e-3)
    assert float(summary["2"]["depth_m_max"]) == 1.0
    assert "plot_mean" not in summary["10"]  # the groups' own numbers are not summarised
    assert "ph_mean" not in summary["10"]  # the columns are the user's, not the sample's
    png_size(outputs(record) / "site_means.png")


@pytest.mark.network
def test_the_csv_analysis_reads_every_table_given_whatever_its_suffix_separator_or_encoding(
    home: Path, tmp_path: Path
) -> None:
    upper = tmp_path / "RIVER.CSV"
    upper.write_text("site,temperature_c,ph\nWeir,14.0,7.5\nWeir,16.0,7.7\n")
    tabs = tmp_path / "lake.tsv"  # its sites are numbers, the others' names
    tabs.write_text("site\ttemperature_c\tph\n101\t20.0\t8.0\n101\t22.0\t8.2\n")
    folder = tmp_path / "exported"
    folder.mkdir()
    # a spreadsheet's export: semicolons, decimal commas, Latin-1, and a date that is none
    (folder / "m\u00fchle.csv").write_bytes(
        "date;site;temperature_c;ph\n2024-05-06;M\u00fchle;11,5;7,1\n"
        "2024-05-13;M\u00fchle;12,5;7,3\nnot noted;M\u00fchle;13,5;7,5\n".encode("latin-1")
    )
    (folder / "notes.txt").write_text("measured by the field team\n")
    record, stderr = run_json(
        str(EXAMPLES / "csv-analysis"),
        *("--input", str(upper), "--input", str(tabs), "--input", str(folder)),
        *("--input", str(upper)),  # the same file twice: its rows count once
    )
    assert record["status"] == "succeeded", stderr
    log = log_of(record)
    assert "bundled sample" not in log and "Traceback" not in log
    assert "Read RIVER.CSV: 2 rows" in log and "Read lake.tsv: 2 rows" in log
    assert "Skipped RIVER.CSV: given twice; read once" in log
    assert "Note: m\u00fchle.csv is not UTF-8 text; read it as Latin-1" in log
    assert "1 value(s) of 'date' are no date, such as 'not noted' on line 4" in log
    assert "Not read (only .csv and .tsv files are): notes.txt" in log
    assert "Dates from 2024-05-06 to 2024-05-13" in log

    summary = {row["site"]: row for row in read_csv(outputs(record) / "summary.csv")}
    assert sorted(summary) == ["101", "M\u00fchle", "Weir"]
    assert [summary[site]["n_samples"] for site in ("101", "M\u00fchle", "Weir")] == ["2", "3", "2"]
    assert float(summary["Weir"]["temperature_c_mean"]) == 15.0
    assert float(summary["101"]["ph_max"]) == 8.2
    assert float(summary["M\u00fchle"]["temperature_c_mean"]) == 12.5  # 11,5 read as 11.5
    assert float(summary["M\u00fchle"]["ph_min"]) == 7.1


@pytest.mark.network
def test_the_csv_analysis_stops_with_one_line_when_no_input_is_a_table(
    home: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "survey.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + bytes(60))
    notes = tmp_path / "notes.txt"
    notes.write_text("site,temperature_c\nWeir,14.0\n")  # a table, but not named as one
    result = run_cli(
        "run", str(EXAMPLES / "csv-analysis"), "--json", "--input", str(sheet), "--input",
        str(notes), timeout=280,
    )  # fmt: skip
    record = json.loads(result.stdout)
    assert result.returncode == record["exit_code"] == 2 and record["status"] == "failed"
    log = log_of(record)
    assert errors_in(log) == [
        "main.py: error: none of the inputs is a .csv or .tsv file: survey.xlsx, notes.txt"
    ]
    assert "Traceback" not in log and "bundled sample" not in log
    assert record["locations"]["output_files"] == []


@pytest.mark.network
def test_the_csv_analysis_names_each_table_it_cannot_analyse_in_one_line(
    home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "tables"
    folder.mkdir()
    tables = {
        "good.csv": "site,temperature_c\nWeir,14.0\n",
        "empty.csv": "",
        "header-only.csv": "site,temperature_c\n",
        "malformed.csv": "site,temperature_c\nWeir,14.0\nWeir,15.0,16.0,17.0\n",
        "no-numbers.csv": "site,observer\nWeir,Ann\n",
        "no-site.csv": "station,temperature_c\nS1,14.0\n",
    }
    for name, text in tables.items():
        (folder / name).write_text(text)
    (folder / "renamed-sheet.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(40))
    result = run_cli(
        "run", str(EXAMPLES / "csv-analysis"), "--json", "--input", str(folder), timeout=280
    )
    record = json.loads(result.stdout)
    assert result.returncode == record["exit_code"] == 1 and record["status"] == "failed"
    log = log_of(record)
    assert "Traceback" not in log
    assert errors_in(log) == [
        "main.py: error: empty.csv is empty",
        "main.py: error: header-only.csv has column names but no rows",
        "main.py: error: malformed.csv is not a regular table: Expected 2 fields in line 3, saw 4",
        "main.py: error: no-numbers.csv has no numeric column to summarise "
        "(columns: site, observer)",
        "main.py: error: no-site.csv has no column 'site' to group by "
        "(columns: station, temperature_c); name another with --group COLUMN",
        "main.py: error: renamed-sheet.csv is a binary file, not text "
        "(a spreadsheet? save it as CSV)",
    ]
    assert record["locations"]["output_files"] == []  # no summary of the good table alone


# --- pep723-script ----------------------------------------------------------------------------


@pytest.mark.network
def test_the_pep723_script_runs_with_the_dependencies_of_its_header(home: Path) -> None:
    assert "pyrunner run examples/pep723-script/half_life.py\n" in readme("pep723-script")
    assert not (EXAMPLES / "pep723-script" / "requirements.txt").exists()
    record, stderr = run_json(str(EXAMPLES / "pep723-script" / "half_life.py"))
    assert record["status"] == "succeeded", stderr
    assert record["requirements"] == ["numpy>=1.24", "scipy>=1.10"]
    assert record["requirements_source"] == "script metadata"
    assert record["requires_python"] == ">=3.10"

    # the environment held what the header asked for, and the program used it
    provenance = json.loads(Path(record["locations"]["run_dir"], "provenance.json").read_text())
    frozen = dict(line.split("==") for line in provenance["freeze"])
    assert set(frozen) == {"numpy", "scipy"}
    fit = json.loads((outputs(record) / "fit.json").read_text())
    assert fit["numpy"] == frozen["numpy"]
    assert tuple(int(p) for p in frozen["numpy"].split(".")[:2]) >= (1, 24)
    assert tuple(int(p) for p in fit["python"].split(".")[:2]) >= (3, 10)
    assert fit["python"] == provenance["python_version"]

    # the fit finds the half-life it was simulated with, within its uncertainty
    assert abs(fit["half_life_h"] - 6.01) < 3 * fit["half_life_err_h"]
    assert fit["dof"] == 69
    rows = read_csv(outputs(record) / "counts.csv")
    assert len(rows) == 72 and list(rows[0]) == ["t_hours", "counts", "model", "residual_sigma"]


# --- import-names -----------------------------------------------------------------------------


@pytest.mark.network
def test_the_import_names_example_installs_the_packages_behind_its_imports(home: Path) -> None:
    project = EXAMPLES / "import-names"
    assert not [p.name for p in project.iterdir() if p.name.startswith("requirements")]
    record, stderr = run_json(str(project))
    assert record["status"] == "succeeded", stderr
    assert record["requirements_source"] == "inferred"
    assert {r.lower() for r in record["requirements"]} == {
        "numpy",
        "scikit-learn",
        "pyyaml",
        "pillow",
    }
    printed = re.search(r"pyrunner: no requirements given; inferred from the imports: .*", stderr)
    assert printed, stderr
    assert printed[0] in readme("import-names")  # the README shows the line the run prints

    metrics = yaml.safe_load((outputs(record) / "metrics.yaml").read_text())
    assert metrics["test_images"] == 450  # a quarter of the 1797 digits, as config.yaml says
    assert metrics["accuracy"] > 0.95
    matrix = metrics["confusion_matrix"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 450
    assert 450 - sum(matrix[d][d] for d in range(10)) == metrics["misclassified"]
    assert metrics["settings"]["model"] == {"C": 10.0, "gamma": 0.001}
    tile = 8 * 6 + 6  # config.yaml: scale 6, framed by 3 pixels a side; 12 columns, 60 digits
    assert png_size(outputs(record) / "predictions.png") == (12 * tile, 5 * tile)


START_ELSEWHERE = """
import runpy
import subprocess
import sys

# copies of main.py whose settings are missing or incomplete: each says so in one line
for copy in ("bare", "lacking"):
    ended = subprocess.run([sys.executable, f"{copy}/main.py"], capture_output=True, text=True)
    print(f"{copy}: exit {ended.returncode}: {ended.stderr.strip()}")
# the example itself, started from the folder above its own
runpy.run_path("digits/main.py", run_name="__main__")
"""


@pytest.mark.network
def test_the_import_names_example_reads_the_config_beside_it_wherever_it_is_started(
    home: Path, tmp_path: Path
) -> None:
    """A program started from another folder (here the project's top, where a different
    config.yaml lies) still reads the settings beside its own file."""
    project = tmp_path / "project"
    example = EXAMPLES / "import-names"
    for copy in ("digits", "bare", "lacking"):
        (project / copy).mkdir(parents=True)
        (project / copy / "main.py").write_text((example / "main.py").read_text())
    config = (example / "config.yaml").read_text()
    (project / "digits" / "config.yaml").write_text(config)
    assert "  gamma: 0.001\n" in config
    (project / "lacking" / "config.yaml").write_text(config.replace("  gamma: 0.001\n", ""))
    (project / "config.yaml").write_text("data:\n  test_fraction: 0.5\n  random_state: 1\n")
    (project / "start.py").write_text(START_ELSEWHERE)

    record, stderr = run_json(str(project), "--entry", "start.py")
    assert record["status"] == "succeeded", stderr
    assert record["requirements_source"] == "inferred"
    log = log_of(record)
    assert "bare: exit 1: main.py: error: no settings file config.yaml beside main.py (" in log
    assert "lacking: exit 1: main.py: error: config.yaml lacks the setting(s) model.gamma\n" in log
    assert "Traceback" not in log
    metrics = yaml.safe_load((outputs(record) / "metrics.yaml").read_text())
    assert metrics["test_images"] == 450  # not the 899 of the config.yaml where it started
    assert metrics["settings"] == yaml.safe_load(config)


# --- parameter-study ----------------------------------------------------------------------------

DOCUMENTED_SWEEP = (
    "pyrunner sweep examples/parameter-study --param rate=2.8,3.2,3.5,3.9 -- --rate {rate}"
)
#: where the logistic map settles at each rate: the period-doubling route to chaos
EXPECTED_PERIODS = {"2.8": 1, "3.2": 2, "3.5": 4, "3.9": None}


@pytest.mark.network
def test_the_parameter_study_sweep_gives_each_run_its_own_rate(home: Path) -> None:
    assert DOCUMENTED_SWEEP in readme("parameter-study")
    command = DOCUMENTED_SWEEP.split()[1:]  # as documented, with --json before the `--`
    split = command.index("--")
    result = run_cli(*command[:split], "--json", *command[split:], timeout=280)
    assert result.returncode == 0, result.stderr
    sweep = json.loads(result.stdout)
    assert sweep["status"] == "succeeded" and sweep["counts"] == {"succeeded": 4}
    assert [run["params"] for run in sweep["runs"]] == [{"rate": r} for r in EXPECTED_PERIODS]

    store = RunStore(home)
    try:
        for run in sweep["runs"]:
            rate = run["params"]["rate"]
            assert run["status"] == "succeeded" and run["progress"] == 1.0, run
            assert store.get(run["id"]).spec.args == ["--rate", rate]
            out = store.outputs_dir(run["id"])
            summary = json.loads((out / "summary.json").read_text())
            assert summary["rate"] == float(rate)
            assert summary["sweep_params"] == {"rate": rate}  # PYRUNNER_PARAMS, as documented
            assert summary["period"] == EXPECTED_PERIODS[rate], rate
            assert (summary["lyapunov"] > 0) == (EXPECTED_PERIODS[rate] is None)
            assert summary["behaviour"] == ("chaos" if rate == "3.9" else "cycle")
            if rate == "2.8":  # a fixed point: 1 - 1/r
                assert summary["attractor"] == [round(1 - 1 / 2.8, 6)]
            orbit = read_csv(out / "orbit.csv")
            assert len(orbit) == summary["steps"] + 1 == 2001
            png_size(out / "orbit.png")
            log = store.run_dir(run["id"]) / "log.txt"
            assert log.read_text(errors="replace").count("[PROGRESS]") == 10
    finally:
        store.close()


@pytest.mark.network
def test_the_parameter_study_calls_slow_convergence_at_bifurcation_points_no_chaos(
    home: Path,
) -> None:
    """At r = 1, 3 and 3.449 the orbit creeps towards its limit (the fixed point 0, the fixed
    point 2/3, the 2-cycle turning into a 4-cycle): after 2000 steps it is neither on a cycle
    nor chaotic, and its Lyapunov exponent is barely below zero. At 3.83, inside the chaotic
    band, there is a stable cycle of period 3."""
    result = run_cli(
        "sweep", str(EXAMPLES / "parameter-study"), "--param", "rate=1.0,3.0,3.449,3.83",
        "--json", "--", "--rate", "{rate}", timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sweep = json.loads(result.stdout)
    store = RunStore(home)
    try:
        for run in sweep["runs"]:
            rate = run["params"]["rate"]
            summary = json.loads((store.outputs_dir(run["id"]) / "summary.json").read_text())
            log = (store.run_dir(run["id"]) / "log.txt").read_text(errors="replace")
            assert "chaotic" not in log and summary["behaviour"] != "chaos", rate
            if rate == "3.83":
                assert summary["period"] == 3 and summary["behaviour"] == "cycle"
                assert len(summary["attractor"]) == 3 and summary["lyapunov"] < -0.1
                continue
            assert summary["period"] is None and summary["attractor"] is None, rate
            assert summary["behaviour"] == "unsettled", rate
            assert "no cycle within tolerance after 2000 steps (slow convergence" in log, rate
            assert -0.01 < summary["lyapunov"] < 0, rate
            assert log.count("[PROGRESS]") == 10
    finally:
        store.close()


# --- the gallery itself -------------------------------------------------------------------------


def test_every_example_folder_has_a_readme_and_a_line_in_the_gallery_table() -> None:
    table = (EXAMPLES / "README.md").read_text()
    folders = [
        p for p in sorted(EXAMPLES.iterdir()) if p.is_dir() and not p.name.startswith((".", "_"))
    ]
    assert len(folders) >= 9
    for folder in folders:
        assert (folder / "README.md").is_file(), f"examples/{folder.name} has no README.md"
        assert f"| [{folder.name}]({folder.name}/) |" in table, (
            f"examples/{folder.name} has no line in examples/README.md"
        )


def test_every_example_project_has_a_line_in_the_main_readme() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    projects = [
        p.name for p in sorted(EXAMPLES.iterdir())
        if p.is_dir() and any(p.rglob("*.py")) and not p.name.startswith((".", "_"))
    ]  # fmt: skip
    assert len(projects) >= 9
    missing = [name for name in projects if f"examples/{name}" not in readme]
    assert missing == [], f"README.md names no command for: {missing}"
