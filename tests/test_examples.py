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

from .conftest import EXAMPLES, run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_json(*args: str) -> tuple[dict[str, Any], str]:
    """``pyrunner run ARGS --json``: the final record, and what the command wrote on stderr."""
    source, *rest = args
    result = run_cli("run", source, "--json", *rest, timeout=280)
    assert result.stdout, result.stderr
    return json.loads(result.stdout), result.stderr


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, from its header: the file must really be a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def readme(name: str) -> str:
    return (EXAMPLES / name / "README.md").read_text()


def outputs(record: dict[str, Any]) -> Path:
    return Path(record["locations"]["outputs_dir"])


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
def test_the_csv_analysis_reads_a_csv_given_with_input_instead_of_its_sample(
    home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "ponds.csv"
    data.write_text(
        "site,depth_m,temperature_c\n"
        "Pond-A,0.5,10.0\nPond-A,1.5,12.0\nPond-A,2.5,14.5\n"
        "Pond-B,0.5,20.0\nPond-B,1.0,21.0\n"
    )
    record, stderr = run_json(str(EXAMPLES / "csv-analysis"), "--input", str(data))
    assert record["status"] == "succeeded", stderr
    assert "bundled sample" not in stderr and "Read ponds.csv: 5 rows" in stderr
    summary = {row["site"]: row for row in read_csv(outputs(record) / "summary.csv")}
    assert sorted(summary) == ["Pond-A", "Pond-B"]  # nothing of the sample's sites
    assert summary["Pond-A"]["n_samples"] == "3"
    assert float(summary["Pond-A"]["temperature_c_mean"]) == pytest.approx(12.1667, abs=1e-3)
    assert float(summary["Pond-B"]["depth_m_max"]) == 1.0
    assert "ph_mean" not in summary["Pond-A"]  # the columns are the user's, not the sample's
    png_size(outputs(record) / "site_means.png")


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
            if rate == "2.8":  # a fixed point: 1 - 1/r
                assert summary["attractor"] == [round(1 - 1 / 2.8, 6)]
            orbit = read_csv(out / "orbit.csv")
            assert len(orbit) == summary["steps"] + 1 == 2001
            png_size(out / "orbit.png")
            log = store.run_dir(run["id"]) / "log.txt"
            assert log.read_text(errors="replace").count("[PROGRESS]") == 10
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
