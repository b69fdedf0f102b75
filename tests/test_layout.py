"""The flat input layout: the project and the inputs directly in INPUT_FOLDER, as oSparc services
of integration version 1.0.0 saw them; the port layout stays the default."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from jupyter_pyrunner import ProjectError, RunStatus, RunStore, run_project
from jupyter_pyrunner.hostenv import program_environment
from jupyter_pyrunner.models import RunSpec
from jupyter_pyrunner.store import project_folder

from .conftest import program_output, run_cli, write_project

#: written the way the older oSparc validation project checks its inputs
FLAT_PROJECT = {
    "input_script_1.py": """
        import json, os
        from pathlib import Path

        folder = Path(os.environ["INPUT_FOLDER"])
        assert (folder / "input_script_1.py").exists()
        assert (folder / "requirements.txt").exists()
        assert not (folder / "input_1").exists()
        assert {os.environ[f"INPUT_{n}"] for n in range(1, 6)} == {str(folder)}
        settings = json.loads((folder / "input.json").read_text())
        print("settings", settings["steps"])
        print("data", (folder / "inner" / "y.txt").read_text(), (folder / "data.zip").exists())
        (Path(os.environ["OUTPUT_FOLDER"]) / "output_1" / "done.txt").write_text("ok")
    """,
    "requirements.txt": "",
}


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    """An ``input.json`` and a ``data.zip``, as a user would pass them."""
    settings = tmp_path / "input.json"
    settings.write_text(json.dumps({"steps": 3}))
    data = tmp_path / "data.zip"
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("inner/y.txt", "why")
    return [settings, data]


def test_a_flat_project_finds_itself_and_its_inputs_in_input_folder(
    home: Path, project, inputs: list[Path]
) -> None:
    handle = run_project(project(FLAT_PROJECT), inputs=inputs, layout="flat")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "settings 3\ndata why True\n"
    assert handle.record.entry == "input_script_1.py"
    assert handle.record.spec.layout == "flat"
    assert (handle.outputs_dir / "output_1" / "done.txt").read_text() == "ok"
    assert RunStore(home).project_dir(handle.id) == handle.run_dir / "inputs"


def test_the_port_layout_stays_the_default(home: Path, project, inputs: list[Path]) -> None:
    src = project(
        {
            "main.py": """
            import os
            print(sorted(os.listdir(os.environ["INPUT_FOLDER"])))
            print(sorted(os.listdir(os.environ["INPUT_3"])))
        """,
            "requirements.txt": "",
        }
    )
    handle = run_project(src, inputs=inputs)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    ports = [f"input_{n}" for n in range(1, 6)]
    assert program_output(handle).splitlines() == [str(ports), "['data.zip', 'inner']"]
    assert RunStore(home).project_dir(handle.id) == handle.run_dir / "inputs" / "input_1"


def test_the_cli_takes_the_flat_layout(home: Path, project, inputs: list[Path]) -> None:
    src = project(FLAT_PROJECT)
    result = run_cli("run", str(src), "--layout", "flat", *(f"--input={p}" for p in inputs))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "settings 3\ndata why True\n"


def test_the_cli_shows_the_engines_message_for_an_unknown_layout(home: Path, project) -> None:
    result = run_cli("run", str(project(FLAT_PROJECT)), "--layout", "flattened")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "pyrunner: error: the input layout (layout) must be 'ports' or 'flat', not 'flattened'"
    )
    assert RunStore(home).count() == 0


def test_a_name_the_project_and_an_input_share_is_refused_and_nothing_stays(
    home: Path, project, tmp_path: Path
) -> None:
    src = project({"main.py": "print('never')", "data/table.csv": "mine"})
    clash = write_project(tmp_path / "more", {"data/table.csv": "theirs", "data/new.csv": "x"})
    with pytest.raises(ProjectError) as caught:
        run_project(src, inputs=[clash], layout="flat")
    message = str(caught.value)
    assert message.startswith("input 1 (more) and the project both have 'data/table.csv'")
    assert "use the port layout" in message
    assert RunStore(home).list_runs() == [] and list((home / "runs").iterdir()) == []


def test_two_inputs_with_one_name_name_the_input_that_came_first(
    home: Path, project, tmp_path: Path
) -> None:
    first = write_project(tmp_path / "a", {"input.json": "{}"})
    second = write_project(tmp_path / "b", {"input.json": "{}"})
    with pytest.raises(ProjectError, match=r"^input 2 \(input.json\) and input 1 \(a\) both have"):
        run_project(project(FLAT_PROJECT), inputs=[first, second / "input.json"], layout="flat")


def test_an_input_zip_unpacks_into_folders_the_project_has(
    home: Path, project, tmp_path: Path
) -> None:
    src = project(
        {
            "main.py": """
            import os
            print(sorted(os.listdir(os.path.join(os.environ["INPUT_FOLDER"], "data"))))
        """,
            "data/own.csv": "1",
            "requirements.txt": "",
        }
    )
    archive = tmp_path / "more.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/extra.csv", "2")
    handle = run_project(src, inputs=[archive], layout="flat")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['extra.csv', 'own.csv']\n"


def test_the_entry_and_requirements_come_from_the_project_alone(
    home: Path, project, tmp_path: Path
) -> None:
    """oSparc 1.0.0 searched the whole input folder: an input .py made the entry ambiguous."""
    helper = tmp_path / "settings.py"
    helper.write_text("import numpy\n")
    tool = "import os\nprint(sorted(os.listdir(os.environ['INPUT_FOLDER'])))\n"
    handle = run_project(project({"tool.py": tool}), inputs=[helper], layout="flat")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['settings.py', 'tool.py']\n"
    assert handle.record.entry == "tool.py"
    assert handle.record.requirements == []  # numpy, imported by the input, is not inferred


def test_the_program_environment_of_each_layout(home: Path, tmp_path: Path) -> None:
    store = RunStore(home)
    for layout, input_2 in (("ports", "inputs/input_2"), ("flat", "inputs")):
        record = store.create(RunSpec(source="p", layout=layout), name=layout)
        run_dir = store.run_dir(record.id)
        env = program_environment({"PATH": "/bin"}, run_dir, record, tmp_path / "env")
        assert env["INPUT_FOLDER"] == str(run_dir / "inputs")
        assert env["INPUT_2"] == str(run_dir / input_2)
        assert project_folder(run_dir, layout) == store.project_dir(record.id)
        ports = sorted(p.name for p in (run_dir / "inputs").iterdir())
        assert ports == ([] if layout == "flat" else [f"input_{n}" for n in range(1, 6)])
