"""Files written beside the code: the snapshot of the project folder, what changed since, and
those files shown, served, zipped and copied as outputs by real runs."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStore, run_project, workfiles
from jupyter_pyrunner.errors import OutputNotFoundError
from jupyter_pyrunner.outputs import copy_outputs, iter_zip, list_outputs
from jupyter_pyrunner.workfiles import (
    SNAPSHOT_NAME,
    ProjectFiles,
    changed_files,
    resolve_changed_file,
    take_snapshot,
)

from .conftest import run_cli, write_project

#: a script as most are written: results go where it runs, one also into OUTPUT_FOLDER
SCRIPT = {
    "main.py": """
        import os, pathlib
        pathlib.Path("test.png").write_bytes(b"\\x89PNG fake")
        os.makedirs("figures", exist_ok=True)
        for name in ("a", "b"):
            pathlib.Path("figures", name + ".pdf").write_text("%PDF " + name)
        with open("data/output.csv", "w") as f:
            f.write("x,y\\n1,2\\n")
        with open("data/input.csv", "a") as f:
            f.write("3\\n")  # an input the program updates in place
        os.makedirs("__pycache__", exist_ok=True)
        pathlib.Path("__pycache__", "helper.cpython-311.pyc").write_bytes(b"cache")
        pathlib.Path(os.environ["OUTPUT_FOLDER"], "output_1", "port.txt").write_text("port")
        print("done")
    """,
    "data/input.csv": "v\n1\n2\n",
    "data/readme.txt": "kept as it is\n",
    "requirements.txt": "",
}


def _paths(files: list) -> list[str]:
    return [f.path for f in files]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run folder with a project in ``inputs/input_1``, as the store lays it out."""
    folder = tmp_path / "run"
    write_project(
        folder / "inputs" / "input_1",
        {"main.py": "print()\n", "data/old.csv": "a\n", "sub/deep/keep.txt": "k\n"},
    )
    (folder / "outputs").mkdir()
    return folder


def project_of(run_dir: Path) -> Path:
    return run_dir / "inputs" / "input_1"


# -- the snapshot and what changed since ---------------------------------------------------------
def test_only_files_created_or_changed_after_the_snapshot_are_listed(run_dir: Path) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    (project / "result.txt").write_text("new")
    (project / "plots").mkdir()
    (project / "plots" / "p.png").write_bytes(b"png")
    with open(project / "data" / "old.csv", "a") as f:
        f.write("b\n")  # changed in place
    (project / "sub" / "deep" / "keep.txt").touch()  # same size, new time: rewritten
    (project / "main.py").unlink()  # deleted: nothing to show

    assert _paths(changed_files(project, run_dir)) == [
        "data/old.csv",
        "plots/p.png",
        "result.txt",
        "sub/deep/keep.txt",
    ]
    listed = {f.path: f for f in changed_files(project, run_dir)}
    assert listed["plots/p.png"].size == 3 and listed["plots/p.png"].mime_type == "image/png"


def test_the_snapshot_lives_in_the_run_folder_never_among_project_or_outputs(
    run_dir: Path,
) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    assert (run_dir / SNAPSHOT_NAME).is_file()
    assert list_outputs(run_dir / "outputs") == []
    assert changed_files(project, run_dir) == []
    assert sorted(p.name for p in project.iterdir()) == ["data", "main.py", "sub"]


def test_caches_links_and_hidden_folders_are_not_outputs(run_dir: Path, tmp_path: Path) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    (project / "stray.pyc").write_bytes(b"x")
    (project / ".cache").mkdir()
    (project / ".cache" / "fontlist.json").write_text("{}")
    (project / "link.txt").symlink_to(outside)
    (project / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    (project / ".env.out").write_text("a hidden file the program wrote is kept")

    assert _paths(changed_files(project, run_dir)) == [".env.out"]


def test_a_run_without_a_snapshot_has_no_files_beside_the_code(run_dir: Path) -> None:
    project = project_of(run_dir)
    (project / "result.txt").write_text("written by a run made before snapshots")
    assert changed_files(project, run_dir) == []
    assert ProjectFiles(project, run_dir).recorded is False
    with pytest.raises(OutputNotFoundError):
        resolve_changed_file(project, run_dir, "result.txt")


def test_a_damaged_snapshot_shows_nothing_rather_than_every_project_file(run_dir: Path) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    (run_dir / SNAPSHOT_NAME).write_bytes(b"not a snapshot")  # the program wrote over it
    assert changed_files(project, run_dir) == []


def test_a_project_folder_replaced_by_a_link_lists_and_serves_nothing(
    run_dir: Path, tmp_path: Path
) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    elsewhere = tmp_path / "elsewhere"
    write_project(elsewhere, {"passwd": "root:x:0:0\n"})
    project.rename(run_dir / "inputs" / "moved")
    project.symlink_to(elsewhere, target_is_directory=True)
    assert changed_files(project, run_dir) == []
    with pytest.raises(OutputNotFoundError):
        resolve_changed_file(project, run_dir, "passwd")


def test_one_file_is_served_only_if_the_program_wrote_it(run_dir: Path, tmp_path: Path) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    (project / "result.txt").write_text("new")
    (tmp_path / "secret.txt").write_text("private")
    (project / "to-secret.txt").symlink_to(tmp_path / "secret.txt")
    (project / "to-result.txt").symlink_to(project / "result.txt")

    assert resolve_changed_file(project, run_dir, "result.txt") == (project / "result.txt")
    for refused in (
        "main.py",  # the project's own code, unchanged: not an output
        "data/old.csv",
        "../../run/inputs/input_1/result.txt",
        "/etc/passwd",
        "to-secret.txt",
        "to-result.txt",  # even a link to a file that is one
        "missing.txt",
        "data",
    ):
        with pytest.raises(OutputNotFoundError):
            resolve_changed_file(project, run_dir, refused)


def test_past_its_cap_a_snapshot_judges_unknown_files_by_their_change_time(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_of(run_dir)
    for i in range(30):
        (project / "data" / f"f{i:02d}.txt").write_text("x")
    monkeypatch.setattr(workfiles, "MAX_SNAPSHOT_FILES", 10)
    time.sleep(0.02)  # past the file clock's tick
    take_snapshot(project, run_dir)
    (project / "result.txt").write_text("new")

    assert _paths(changed_files(project, run_dir)) == ["result.txt"]


def test_a_snapshot_stays_small_and_quick_for_a_big_project(run_dir: Path) -> None:
    project = project_of(run_dir)
    for d in range(100):
        folder = project / "many" / f"folder_{d:03d}"
        folder.mkdir(parents=True)
        for f in range(200):
            (folder / f"data_file_{f:03d}.txt").write_bytes(b"")
    started = time.perf_counter()
    take_snapshot(project, run_dir)
    took = time.perf_counter() - started
    size = (run_dir / SNAPSHOT_NAME).stat().st_size
    assert size < 20 * 20_000, size  # about 10 bytes a file (measured), with a wide margin
    assert took < 10, took  # about 80 ms here (measured): the margin is for busy machines
    (project / "many" / "folder_050" / "new.csv").write_text("1")
    assert _paths(changed_files(project, run_dir)) == ["many/folder_050/new.csv"]


# -- copies and zips carry both sections --------------------------------------------------------
def test_copies_and_zips_put_the_files_beside_the_code_in_a_project_folder(
    run_dir: Path, tmp_path: Path
) -> None:
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    (run_dir / "outputs" / "output_1").mkdir()
    (run_dir / "outputs" / "output_1" / "port.txt").write_text("port")
    (project / "figures").mkdir()
    (project / "figures" / "a.pdf").write_text("%PDF")
    beside = ProjectFiles(project, run_dir)

    assert copy_outputs(run_dir / "outputs", tmp_path / "copy", beside) == (2, 8)
    assert (tmp_path / "copy" / "output_1" / "port.txt").read_text() == "port"
    assert (tmp_path / "copy" / "project" / "figures" / "a.pdf").read_text() == "%PDF"
    assert not (tmp_path / "copy" / "project" / "main.py").exists()

    data = b"".join(iter_zip(run_dir / "outputs", project_files=beside))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["output_1/port.txt", "project/figures/a.pdf"]

    (run_dir / "outputs" / "project").mkdir()  # OUTPUT_FOLDER has a "project" of its own
    (run_dir / "outputs" / "project" / "mine.txt").write_text("oSparc's")
    data = b"".join(iter_zip(run_dir / "outputs", project_files=beside))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == [
            "output_1/port.txt",
            "project (2)/figures/a.pdf",
            "project/mine.txt",
        ]


# -- real runs ---------------------------------------------------------------------------------
def test_a_real_run_shows_what_its_script_wrote_beside_the_code(home: Path, project) -> None:
    handle = run_project(project(SCRIPT), home=home)
    assert handle.status.value == "succeeded", handle.log

    assert _paths(handle.project_files) == [
        "data/input.csv",
        "data/output.csv",
        "figures/a.pdf",
        "figures/b.pdf",
        "test.png",
    ]
    assert _paths(handle.outputs) == ["output_1/port.txt"]  # OUTPUT_FOLDER as it always was
    assert handle.project_file("test.png").read_bytes() == b"\x89PNG fake"
    with pytest.raises(OutputNotFoundError):
        handle.project_file("main.py")


def test_output_dir_copies_the_files_written_beside_the_code(
    home: Path, project, tmp_path: Path
) -> None:
    target = tmp_path / "copied"
    handle = run_project(project(SCRIPT), home=home, output_dir=str(target))
    assert handle.status.value == "succeeded", handle.log
    assert (target / "output_1" / "port.txt").read_text() == "port"
    assert (target / "project" / "test.png").read_bytes() == b"\x89PNG fake"
    assert (target / "project" / "figures" / "b.pdf").read_text() == "%PDF b"
    assert not (target / "project" / "main.py").exists()


def test_pyrunner_outputs_lists_both_sections(home: Path, project) -> None:
    ran = run_cli("run", str(project(SCRIPT)))
    assert ran.returncode == 0, ran.stderr
    run_id = RunStore(home).list_runs(limit=1)[0].id

    shown = run_cli("outputs", run_id)
    assert shown.returncode == 0, shown.stderr
    before, _, beside = shown.stdout.partition("written beside the code (in the project folder)")
    assert "output_1/port.txt" in before and "test.png" not in before
    assert "inputs/input_1" in beside.splitlines()[0]
    assert "figures/a.pdf" in beside and "test.png" in beside and "main.py" not in beside

    listed = json.loads(run_cli("outputs", run_id, "--json").stdout)
    assert [f["path"] for f in listed["files"]] == ["output_1/port.txt"]
    assert "test.png" in [f["path"] for f in listed["project_files"]]
    assert listed["project_folder"].endswith(os.path.join("inputs", "input_1"))


def test_runs_with_nothing_beside_the_code_show_no_section(home: Path, project) -> None:
    quiet = {"main.py": "print('only a log')\n", "requirements.txt": ""}
    ran = run_cli("run", str(project(quiet)))
    assert ran.returncode == 0, ran.stderr
    run_id = RunStore(home).list_runs(limit=1)[0].id
    shown = run_cli("outputs", run_id).stdout
    assert "(no output files)" in shown and "beside the code" not in shown


def test_a_snapshot_the_program_turned_into_a_bomb_is_ignored_not_inflated(tmp_path: Path) -> None:
    """The run folder is the program's too: a reader never inflates more than a cap."""
    import zlib

    project, run_dir = tmp_path / "p", tmp_path / "run"
    project.mkdir()
    run_dir.mkdir()
    (project / "main.py").write_text("")
    take_snapshot(project, run_dir)
    bomb = zlib.compressobj(9)
    with open(run_dir / SNAPSHOT_NAME, "wb") as f:
        for _ in range(80):  # 80 MiB of zeros once inflated
            f.write(bomb.compress(bytes(1 << 20)))
        f.write(bomb.flush())
    assert changed_files(project, run_dir) == []


def test_a_snapshot_with_more_records_than_pyrunner_writes_is_ignored(tmp_path: Path) -> None:
    """Small once compressed, but millions of records: refused before any is parsed."""
    import json
    import zlib

    project, run_dir = tmp_path / "p", tmp_path / "run"
    project.mkdir()
    run_dir.mkdir()
    (project / "main.py").write_text("")
    records = b"\0".join(b"0 0 f%d" % i for i in range(workfiles.MAX_SNAPSHOT_FILES + 1))
    for declared in (workfiles.MAX_SNAPSHOT_FILES + 1, 1):
        header = json.dumps({"start_ns": 0, "complete": True, "files": declared}).encode()
        text = b"pyrunner-project-snapshot 1\n" + header + b"\n" + records
        (run_dir / SNAPSHOT_NAME).write_bytes(zlib.compress(text))
        assert changed_files(project, run_dir) == []


# -- files beside the code that change between the listing and the reading ---------------------
def _swap_for_link(folder: Path, to: Path) -> None:
    folder.rename(folder.with_name(folder.name + ".old"))
    folder.symlink_to(to, target_is_directory=True)


@pytest.fixture
def swapped(run_dir: Path, tmp_path: Path) -> tuple[ProjectFiles, Path]:
    """A run that wrote ``a.txt`` and ``res/hostname`` beside its code, and a folder outside
    with a ``hostname`` of its own (as /etc)."""
    project = project_of(run_dir)
    take_snapshot(project, run_dir)
    (project / "a.txt").write_text("first")
    (project / "res").mkdir()
    (project / "res" / "hostname").write_text("mine")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "hostname").write_text("private")
    return ProjectFiles(project, run_dir), etc


def test_a_zip_never_follows_a_project_folder_swapped_for_a_link_after_the_listing(
    swapped: tuple[ProjectFiles, Path], run_dir: Path
) -> None:
    beside, etc = swapped
    pieces = iter_zip(run_dir / "outputs", project_files=beside)
    first = next(pieces)  # listed, project/a.txt begun
    _swap_for_link(beside.project / "res", etc)

    with zipfile.ZipFile(io.BytesIO(first + b"".join(pieces))) as zf:
        assert sorted(zf.namelist()) == ["MISSING.txt", "project/a.txt"]
        assert b"project/res/hostname: replaced by a link" in zf.read("MISSING.txt")


def test_a_copy_never_follows_a_project_folder_swapped_for_a_link_after_the_listing(
    swapped: tuple[ProjectFiles, Path], run_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    beside, etc = swapped
    listing = ProjectFiles.scan

    def list_then_swap(self: ProjectFiles) -> tuple:
        listed = listing(self)
        _swap_for_link(beside.project / "res", etc)
        return listed

    monkeypatch.setattr(ProjectFiles, "scan", list_then_swap)
    copied = copy_outputs(run_dir / "outputs", tmp_path / "copy", beside)

    assert copied == (1, 5)
    assert copied.skipped == (("project/res/hostname", "replaced by a link since it was listed"),)
    assert not (tmp_path / "copy" / "project" / "res").exists()


def test_one_file_beside_the_code_is_opened_never_through_a_swapped_link(
    swapped: tuple[ProjectFiles, Path],
) -> None:
    beside, etc = swapped
    with beside.open("res/hostname") as f:
        assert f.read() == b"mine"
    with pytest.raises(OutputNotFoundError):
        beside.open("main.py")  # the project's own code
    _swap_for_link(beside.project / "res", etc)
    with pytest.raises(OutputNotFoundError):
        beside.open("res/hostname")


def test_a_hard_link_beside_the_code_is_neither_listed_served_zipped_nor_copied(
    swapped: tuple[ProjectFiles, Path], run_dir: Path, tmp_path: Path
) -> None:
    from jupyter_pyrunner.outputs import HARD_LINK_REASON

    beside, _etc = swapped
    token = tmp_path / "token"
    token.write_bytes(b"SECRET-MARKER")
    os.link(token, beside.project / "token.json")

    assert _paths(beside.files()) == ["a.txt", "res/hostname"]
    assert beside.scan()[1] == [("token.json", HARD_LINK_REASON)]
    with pytest.raises(OutputNotFoundError):
        beside.open("token.json")
    with zipfile.ZipFile(
        io.BytesIO(b"".join(iter_zip(run_dir / "outputs", project_files=beside)))
    ) as zf:
        assert "project/token.json" not in zf.namelist()
        assert b"project/token.json: a hard link" in zf.read("MISSING.txt")
    copied = copy_outputs(run_dir / "outputs", tmp_path / "copy", beside)
    assert ("project/token.json", HARD_LINK_REASON) in copied.skipped
    assert not (tmp_path / "copy" / "project" / "token.json").exists()


@pytest.mark.parametrize("path", ["a.txt\0.png", "a" * 5000, "res/" + "b" * 300])
def test_a_path_with_nul_or_thousands_of_characters_is_no_file_beside_the_code(
    swapped: tuple[ProjectFiles, Path], path: str
) -> None:
    beside, _etc = swapped
    for call in (beside.open, beside.resolve):
        with pytest.raises(OutputNotFoundError) as caught:
            call(path)
        assert len(str(caught.value)) < 300
