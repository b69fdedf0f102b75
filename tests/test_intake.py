"""Intake of what users bring: a single script brings its folder, zips with names as Info-ZIP
and macOS write them, inputs that cannot be placed leave no half-made run, and pipes, sockets
and link loops in a scratch folder neither stop a run nor go unmentioned."""

from __future__ import annotations

import os
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner import ProjectError, RunStatus, RunStore, run_project
from jupyter_pyrunner.placement import SCRIPT_FOLDER_MAX_FILES

from .conftest import program_output, run_cli, write_project
from .test_archive_names import Raw, raw_zip

ANALYSIS = {
    "analysis/script.py": """
        import csv
        from helpers import total
        with open("data.csv") as f:
            print("total", total(int(row["n"]) for row in csv.DictReader(f)))
    """,
    "analysis/helpers.py": "def total(values):\n    return sum(values)\n",
    "analysis/data.csv": "n\n1\n2\n3\n",
    "analysis/requirements.txt": "",
    "analysis/.git/config": "[core]\n",
    "analysis/__pycache__/helpers.cpython-311.pyc": "",
    "analysis/other.py": "print('not me')\n",
}


def test_a_single_script_brings_the_files_beside_it(home: Path, tmp_path: Path) -> None:
    root = write_project(tmp_path / "work", ANALYSIS)
    handle = run_project(root / "analysis" / "script.py")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "total 6\n"
    record = handle.record
    assert (record.entry, record.requirements_source) == ("script.py", "requirements.txt")
    assert record.warnings == []
    copied = sorted(p.name for p in handle.project_dir.iterdir())
    assert copied == ["data.csv", "helpers.py", "other.py", "requirements.txt", "script.py"]
    note = f"pyrunner: project: the folder of script.py, {root / 'analysis'} (5 files)\n"
    assert note in handle.log_text()


def test_the_cli_runs_a_script_with_its_folder_and_says_so(home: Path, tmp_path: Path) -> None:
    root = write_project(tmp_path / "work", ANALYSIS)
    result = run_cli("run", "analysis/script.py", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "total 6\n"
    logs = run_cli("logs", "last")
    note = f"pyrunner: project: the folder of script.py, {root / 'analysis'} (5 files)"
    assert note in logs.stderr  # engine messages go to stderr


def test_a_script_in_a_crowded_folder_is_copied_alone_with_a_warning(
    home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    for n in range(SCRIPT_FOLDER_MAX_FILES + 1):
        (folder / f"file{n}.txt").touch()
    (folder / "hello.py").write_text("print('alone')\n")
    handle = run_project(folder / "hello.py")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert [p.name for p in handle.project_dir.iterdir()] == ["hello.py"]
    (warning,) = handle.record.warnings
    assert warning == (
        f"only hello.py was copied: its folder holds more than {SCRIPT_FOLDER_MAX_FILES:,} "
        "files and folders; pass the folder to include it all"
    )
    assert f"pyrunner: project: {warning}\n" in handle.log_text()


def test_a_script_beside_many_empty_folders_is_copied_alone(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "crowded"
    for n in range(SCRIPT_FOLDER_MAX_FILES + 1):
        (folder / f"d{n}").mkdir(parents=True)
    (folder / "hello.py").write_text("print('alone')\n")
    handle = run_project(folder / "hello.py")
    assert [p.name for p in handle.project_dir.iterdir()] == ["hello.py"]
    assert "files and folders" in handle.record.warnings[0]


def test_a_script_in_the_home_folder_is_copied_alone(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_home = write_project(tmp_path / "user", {"notes.txt": "private", "hello.py": "print(1)"})
    monkeypatch.setenv("HOME", str(user_home))
    handle = run_project(user_home / "hello.py")
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert [p.name for p in handle.project_dir.iterdir()] == ["hello.py"]
    assert "is your home folder" in handle.record.warnings[0]


def test_the_cli_warns_when_a_script_is_copied_alone(home: Path, tmp_path: Path) -> None:
    user_home = write_project(tmp_path / "user", {"data.csv": "1", "hello.py": "print(1)"})
    result = run_cli("run", str(user_home / "hello.py"), env=_env_with(HOME=str(user_home)))
    assert result.returncode == 0, result.stderr
    assert "pyrunner: warning: only hello.py was copied: its folder" in result.stderr


def _env_with(**changes: str) -> dict[str, str]:
    import os

    return {**os.environ, **changes}


def test_names_from_zip_tools_without_the_utf8_flag_work_with_entry(
    home: Path, tmp_path: Path
) -> None:
    script = "print(open('données.csv', encoding='utf-8').read())\n".encode()
    archive = raw_zip(
        tmp_path / "projet.zip",
        [
            Raw(b"projet/"),
            Raw("projet/analyse_données.py".encode(), script),
            Raw(unicodedata.normalize("NFD", "projet/données.csv").encode(), b"sum 6"),
            Raw(b"projet/lisez-moi.py", b""),
        ],
    )
    handle = run_project(archive, entry="analyse_données.py", infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert handle.record.entry == "projet/analyse_données.py"
    assert program_output(handle) == "sum 6\n"


def test_a_hostile_input_zip_in_the_flat_layout_leaves_no_half_made_run(
    home: Path, project, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr("../../escape.txt", "no")
    src = project({"main.py": "print('never')"})
    with pytest.raises(ProjectError, match="unsafe member"):
        run_project(src, inputs=[evil], layout="flat")
    assert RunStore(home).list_runs() == [] and list((home / "runs").iterdir()) == []
    assert not list(tmp_path.rglob("escape.txt"))


def test_an_input_zip_is_kept_and_unpacked_beside_itself(
    home: Path, project, tmp_path: Path
) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("table.csv", "a\n")
    src = project(
        {
            "main.py": """
            import os
            print(sorted(os.listdir(os.environ["INPUT_2"])))
        """
        }
    )
    handle = run_project(src, inputs=[archive], infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['data.zip', 'table.csv']\n"


def test_an_input_that_is_a_zip_under_another_name_stays_whole(
    home: Path, project, tmp_path: Path
) -> None:
    sheet = tmp_path / "results.xlsx"
    with zipfile.ZipFile(sheet, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    src = project({"main.py": "import os\nprint(sorted(os.listdir(os.environ['INPUT_2'])))\n"})
    handle = run_project(src, inputs=[sheet], infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['results.xlsx']\n"


@pytest.fixture
def special_files() -> Iterator[Callable[..., Path]]:
    """``special_files(folder, kinds)``: a script beside a named pipe (``pipe``), a listening
    unix socket (``sock``) and a link loop (``loop``), as a scratch folder such as /tmp may
    hold, and a link to a file (always). The socket is closed afterwards."""
    import socket

    sockets: list[socket.socket] = []

    def make(folder: Path, kinds: tuple[str, ...] = ("pipe", "sock", "loop")) -> Path:
        write_project(folder, {"x.py": "import os\nprint(sorted(os.listdir('.')))\n"})
        (folder / "data.csv").symlink_to("real.csv")  # links are kept as links
        (folder / "real.csv").write_text("n\n1\n")
        if "pipe" in kinds:
            os.mkfifo(folder / "pipe")
        if "loop" in kinds:
            (folder / "loop").symlink_to("loop")
        if "sock" in kinds:
            server = socket.socket(socket.AF_UNIX)
            sockets.append(server)
            server.bind(str(folder / "sock"))
            server.listen()
        return folder

    yield make
    for server in sockets:
        server.close()


SKIPPED = (
    "left out 2 special files, neither file, folder nor link: pipe (a named pipe), sock (a socket)"
)


@pytest.mark.parametrize("given", ["x.py", "."])
def test_pipes_sockets_and_link_loops_beside_the_code_do_not_stop_a_run(
    home: Path, tmp_path: Path, given: str, special_files: Callable[..., Path]
) -> None:
    folder = special_files(tmp_path / "s1")
    handle = run_project(folder / given, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "['data.csv', 'loop', 'real.csv', 'x.py']\n"
    assert os.readlink(handle.project_dir / "loop") == "loop"  # copied as it is, not followed
    assert os.readlink(handle.project_dir / "data.csv") == "real.csv"
    assert handle.record.warnings == [SKIPPED]
    said = f"{SKIPPED}\n" if given == "." else f"s1 (4 files); {SKIPPED}\n"
    assert said in handle.log_text()


@pytest.mark.parametrize("kind", ["pipe", "sock", "loop"])
def test_each_kind_of_special_file_alone_does_not_stop_a_run(
    home: Path, tmp_path: Path, kind: str, special_files: Callable[..., Path]
) -> None:
    folder = special_files(tmp_path / "s1", (kind,))
    handle = run_project(folder / "x.py", infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    kept = ["data.csv", "real.csv", "x.py"] + (["loop"] if kind == "loop" else [])
    assert program_output(handle) == f"{sorted(kept)}\n"
    left_out = {"pipe": "pipe (a named pipe)", "sock": "sock (a socket)"}.get(kind)
    expected = f"left out 1 special file, neither file, folder nor link: {left_out}"
    assert handle.record.warnings == ([expected] if left_out else [])


def test_the_cli_runs_beside_special_files_and_says_what_it_left_out(
    home: Path, tmp_path: Path, special_files: Callable[..., Path]
) -> None:
    folder = special_files(tmp_path / "s1")
    for given in ("s1/x.py", "s1"):
        result = run_cli("run", given, "--no-infer", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "['data.csv', 'loop', 'real.csv', 'x.py']\n"
        assert f"pyrunner: warning: {SKIPPED}\n" in result.stderr
    logs = run_cli("logs", "last")
    assert f"pyrunner: project: {SKIPPED}" in logs.stderr
    assert folder.is_dir()


def test_an_input_folder_with_special_files_is_copied_without_them(
    home: Path, project, tmp_path: Path, special_files: Callable[..., Path]
) -> None:
    from jupyter_pyrunner.placement import place_input

    inputs = special_files(tmp_path / "data")
    src = project({"main.py": "import os\nprint(sorted(os.listdir(os.environ['INPUT_2'])))\n"})
    for layout in ("ports", "flat"):
        handle = run_project(src, inputs=[inputs], infer_requirements=False, layout=layout)
        assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
        assert f"pyrunner: input 1: {SKIPPED}\n" in handle.log_text()  # the run says so
    dest = tmp_path / "placed"
    dest.mkdir()
    assert place_input(inputs, dest, "input 1", skip=home) == f"input 1: {SKIPPED}"
    assert sorted(p.name for p in dest.iterdir()) == ["data.csv", "loop", "real.csv", "x.py"]


def test_a_left_out_special_file_with_an_odd_name_is_named_readably(
    home: Path, tmp_path: Path
) -> None:
    from jupyter_pyrunner.placement import place_input

    source = tmp_path / "odd"
    source.mkdir()
    os.mkfifo(bytes(source) + b"/pi\xffpe\n")
    dest = tmp_path / "placed"
    dest.mkdir()
    note = place_input(source, dest, "input 1", skip=home)
    assert (
        note
        == "input 1: left out 1 special file, neither file, folder nor link: pi\\xffpe\\n (a named pipe)"
    )
    assert list(dest.iterdir()) == []
