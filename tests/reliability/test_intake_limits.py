"""Intake holds its caps against what a hostile or careless user brings: zips whose members
share bytes, members nested past any real project, folders far bigger than a project (the
whole disk, a sparse file, the kernel's own file systems), and option values no run can take.

Every refusal is one readable ``PyRunnerError`` and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner import ProjectError, RunStatus, RunStore, run_project
from jupyter_pyrunner.archive import MAX_DEPTH, extract_zip
from jupyter_pyrunner.errors import ArchiveError, InvalidRunSpecError
from jupyter_pyrunner.models import RunSpec
from jupyter_pyrunner.placement import FOLDER_MAX_BYTES, place_input

from ..conftest import program_output, write_project
from . import intake_zips as z

MIB = 1024 * 1024


def everything(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "box" / "dest"
    folder.mkdir(parents=True)
    return folder


# -- overlapping members ---------------------------------------------------------------------
def test_a_zip_bomb_without_recursion_is_refused_before_anything_is_written(
    tmp_path: Path, dest: Path
) -> None:
    """50 members quoting each other's headers over one 2 MB kernel: 13 KB that expand to
    104 MB, while every declared size and ratio looks modest."""
    kernel = (b"\x5a" * 8 + bytes(200)) * 10_000
    archive = tmp_path / "quoted.zip"
    archive.write_bytes(z.quoted_overlap_bomb(50, kernel))
    assert archive.stat().st_size < 20_000
    with pytest.raises(ArchiveError) as caught:
        extract_zip(archive, dest)
    assert str(caught.value).startswith("quoted.zip looks like a zip bomb: it expands")
    assert everything(tmp_path / "box") == ["dest"]


def test_members_that_share_bytes_are_refused_even_when_small(tmp_path: Path, dest: Path) -> None:
    """Member b's header and data sit inside member a's data: both read fine on their own."""
    inner = z.stored("b.txt", b"hello")
    outer = z.stored("a.txt", z.local_header(inner) + inner.packed)
    body = z.local_header(outer) + outer.packed
    central = z.central_header(outer, 0) + z.central_header(inner, len(z.local_header(outer)))
    archive = tmp_path / "shared.zip"
    archive.write_bytes(body + central + z.end_record(2, central, len(body)))
    with pytest.raises(ArchiveError) as caught:
        extract_zip(archive, dest)
    assert str(caught.value) == (
        "shared.zip looks like a zip bomb: members 'a.txt' and 'b.txt' overlap "
        "(they share compressed bytes), which is refused"
    )
    assert everything(dest) == []


def test_a_member_running_past_the_end_of_the_archive_is_refused(
    tmp_path: Path, dest: Path
) -> None:
    member = z.stored("a.txt", b"x" * 100)
    body = z.local_header(member) + member.packed[:40]  # the data cut short
    central = z.central_header(member, 0)
    archive = tmp_path / "cut.zip"
    archive.write_bytes(body + central + z.end_record(1, central, len(body)))
    with pytest.raises(ArchiveError, match="corrupt"):
        extract_zip(archive, dest)
    assert everything(dest) == []


# -- names ------------------------------------------------------------------------------------
def test_a_member_nested_past_the_limit_is_refused_with_a_message(
    tmp_path: Path, dest: Path
) -> None:
    archive = tmp_path / "deep.zip"
    archive.write_bytes(z.assemble([z.stored("d/" * 1100 + "x.txt", b"deep")]))
    with pytest.raises(ArchiveError) as caught:
        extract_zip(archive, dest)
    message = str(caught.value)
    assert f"nested 1101 levels deep; the limit is {MAX_DEPTH}" in message
    assert len(message) < 400  # the name is shortened, the message stays one readable line
    assert everything(dest) == []


def test_a_member_nested_as_deep_as_the_limit_is_extracted(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "deep.zip"
    archive.write_bytes(z.assemble([z.stored("d/" * (MAX_DEPTH - 1) + "x.txt", b"deep")]))
    assert extract_zip(archive, dest).files == 1
    assert (dest / ("d/" * (MAX_DEPTH - 1) + "x.txt")).read_bytes() == b"deep"


def test_a_dot_slash_entry_stands_for_the_destination(tmp_path: Path, dest: Path) -> None:
    """``zip -r p.zip ./`` and some archivers write ``./`` and ``./name``."""
    members = [z.stored("./", b""), z.stored("./main.py", b"print(1)"), z.stored("./lib/", b"")]
    archive = tmp_path / "dot.zip"
    archive.write_bytes(z.assemble(members))
    report = extract_zip(archive, dest)
    assert (report.files, report.skipped) == (1, ())
    assert everything(dest) == ["lib", "main.py"]


def test_a_project_zip_with_a_dot_slash_entry_runs(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "dot.zip"
    members = [z.stored("./", b""), z.stored("./main.py", b"print('ran')\n")]
    archive.write_bytes(z.assemble(members))
    handle = run_project(archive, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "ran\n"


def test_a_name_repeated_in_the_archive_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "twice.zip"
    members = [z.stored("a.txt", b"first"), z.stored("b.txt", b""), z.stored("a.txt", b"last")]
    archive.write_bytes(z.assemble(members))
    with pytest.raises(ArchiveError) as caught:
        extract_zip(archive, dest)
    assert str(caught.value) == "twice.zip: member 'a.txt' appears twice; only one may be extracted"
    assert everything(dest) == []


def test_a_name_that_is_a_file_and_a_folder_is_refused_before_writing(
    tmp_path: Path, dest: Path
) -> None:
    archive = tmp_path / "both.zip"
    archive.write_bytes(z.assemble([z.stored("a", b"file"), z.stored("a/b.txt", b"")]))
    with pytest.raises(ArchiveError, match=r"'a' is a file, but 'a/b\.txt' needs a folder"):
        extract_zip(archive, dest)
    assert everything(dest) == []


# -- folders ----------------------------------------------------------------------------------
def test_a_folder_bigger_than_the_cap_is_refused_before_copying(home: Path, tmp_path: Path) -> None:
    """A sparse 3 GiB file takes no disk, but its copy would take 3 GiB."""
    root = write_project(tmp_path / "proj", {"main.py": "print('never')\n"})
    with open(root / "data.bin", "wb") as f:
        f.truncate(3 * 1024**3)
    with pytest.raises(ProjectError) as caught:
        run_project(root, infer_requirements=False)
    assert str(caught.value) == (
        "the folder 'proj' holds more than 2.0 GiB, the most a folder given as the project may "
        "bring: give a folder holding only what the program needs, or a zip of it"
    )
    assert RunStore(home).count() == 0


def test_an_input_folder_with_too_many_entries_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jupyter_pyrunner.placement.FOLDER_MAX_ENTRIES", 50)
    project = write_project(tmp_path / "proj", {"main.py": "print('never')\n"})
    many = tmp_path / "many"
    many.mkdir()
    for n in range(51):
        (many / f"f{n}").write_bytes(b"")
    with pytest.raises(ProjectError, match="holds more than 50 files, folders and links"):
        run_project(project, inputs=[many], infer_requirements=False)
    assert RunStore(home).count() == 0


def test_a_single_input_file_bigger_than_the_cap_is_refused(home: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", {"main.py": "print('never')\n"})
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(FOLDER_MAX_BYTES + 1)
    with pytest.raises(ProjectError, match=r"'big\.bin' given as input 1 is 2\.0 GiB"):
        run_project(project, inputs=[big], infer_requirements=False)
    assert RunStore(home).count() == 0


@pytest.mark.parametrize("source", ["/proc", "/proc/self", "/sys/kernel", "/proc/self/environ"])
def test_the_kernels_file_systems_are_refused_as_an_input(tmp_path: Path, source: str) -> None:
    with pytest.raises(ProjectError, match="is on a file system the kernel makes up"):
        place_input(Path(source), tmp_path, "input 1", skip=None)
    assert everything(tmp_path) == []


@pytest.fixture
def proc_inside(tmp_path: Path) -> Iterator[Path]:
    """A project folder with the kernel's ``/proc`` mounted inside it, as ``/`` has."""
    root = write_project(tmp_path / "proj", {"main.py": "print('ran')\n"})
    (root / "proc").mkdir()
    mounted = subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount proc here")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)


def test_a_kernel_file_system_inside_a_folder_is_left_out_and_said(
    home: Path, proc_inside: Path
) -> None:
    handle = run_project(proc_inside, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert sorted(p.name for p in handle.project_dir.iterdir()) == ["main.py"]
    assert "proc (the kernel's proc file system)" in handle.log_text()


# -- options at submission --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"args": ["a\0b"]}, "cannot contain a NUL character"),
        ({"memory_mb": 10**30}, "the memory limit (memory_mb) must be at most"),
        ({"args": ["x" * 100_000] * 42}, "the program's arguments take"),  # 4 MB
        ({"timeout": 10**400}, "the time limit (timeout) must be at most"),
        ({"timeout": 1e308 * 10}, "must be a number of seconds, not inf"),
        ({"entry": "e" * 5000}, "the entry point (entry) is 5,000 bytes long; the limit is"),
        ({"entry": "a/" + "n" * 300}, "holds a name longer than 255 bytes"),
        ({"python": "/usr/bin/" + "p" * 256}, "holds a name longer than 255 bytes"),
    ],
)
def test_absurd_options_are_refused_before_a_run_exists(
    home: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    project = write_project(tmp_path / "proj", {"main.py": "print('never')\n"})
    with pytest.raises(InvalidRunSpecError) as caught:
        run_project(project, **changes)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert RunStore(home).count() == 0


def test_arguments_are_capped_by_what_the_machine_lets_a_command_line_hold() -> None:
    """Beside a large environment, a command line of 1 MiB no longer fits ARG_MAX: refused at
    submission instead of failing when the program starts."""
    arg_max = os.sysconf("SC_ARG_MAX")
    code = (
        "import os\n"
        "from jupyter_pyrunner.models import RunSpec\n"
        "from jupyter_pyrunner.errors import InvalidRunSpecError\n"
        "try:\n"
        "    RunSpec('p.zip', args=['x' * 100_000] * 9).validate()\n"
        "except InvalidRunSpecError as exc:\n"
        "    print(exc)\n"
    )
    # each variable under the kernel's 128 KiB per string, together leaving < 900 KB free
    big = {f"BIG_{n}": "y" * 100_000 for n in range((arg_max - 800_000) // 100_020)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **big},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("the program's arguments take 900081 bytes; the limit is ")
    assert RunSpec("p.zip", args=["x" * 100_000] * 9).validate()  # fits without it


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--memory", str(10**30)], "the memory limit (memory_mb) must be at most"),
        (["--entry", "e" * 5000], "the entry point (entry) is 5,000 bytes long"),
        (["--", *["a" * 100_000] * 12], "the program's arguments take 1200108 bytes"),
    ],
)
def test_the_cli_refuses_absurd_options_with_its_invalid_exit_code(
    home: Path, tmp_path: Path, words: list[str], message: str
) -> None:
    from jupyter_pyrunner.cli.exits import EXIT_INVALID

    from ..conftest import run_cli

    project = write_project(tmp_path / "proj", {"main.py": "print('never')\n"})
    result = run_cli("run", str(project), *words)
    assert result.returncode == EXIT_INVALID, result.stderr
    assert result.stderr.startswith("pyrunner: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert RunStore(home).count() == 0


def test_the_cli_refuses_a_kernel_file_system_as_the_project(home: Path) -> None:
    from jupyter_pyrunner.cli.exits import EXIT_INVALID

    from ..conftest import run_cli

    result = run_cli("run", "/proc")
    assert result.returncode == EXIT_INVALID, result.stderr
    assert result.stderr.strip() == (
        "pyrunner: error: 'proc', given as the project, is on a file system the kernel makes up "
        "(proc): it cannot be copied"
    )
    assert RunStore(home).count() == 0


def test_the_magic_refuses_absurd_options_with_the_engines_message(
    home: Path, tmp_path: Path
) -> None:
    from ..notebook.conftest import execute, texts

    write_project(tmp_path / "demo", {"main.py": "print('never')\n"})
    nb = execute(["%load_ext jupyter_pyrunner", f"%pyrunner run demo --memory={10**30}"], tmp_path)
    (outputs,) = [texts(cell) for cell in nb.cells[1:]]
    assert len(outputs) == 1, outputs
    _kind, text = outputs[0]
    assert "the memory limit (memory_mb) must be at most" in text and "Traceback" not in text
    assert RunStore(home).count() == 0
