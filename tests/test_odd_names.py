"""File names a program may write that no terminal, browser or zip takes as they are: bytes
that are not UTF-8, newlines and escape sequences. Every face shows them readably, and the zip
holds them under names that never clash."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.handle import RunHandle
from jupyter_pyrunner.notebook.views import (
    project_files_text,
    run_outputs_html,
    run_outputs_text,
    zip_bytes,
)
from jupyter_pyrunner.outputs import shown_name, stored_paths
from jupyter_pyrunner.workfiles import ProjectFiles

#: a program that writes odd names beside its code and in OUTPUT_FOLDER
WRITER = """
import os
def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data)
    os.close(fd)
write(b"bad\\xffname.txt", b"beside")
write(b"line\\nbreak\\x1b[31m.txt", b"esc")
write(os.path.join(os.environb[b"OUTPUT_FOLDER"], b"o\\xffut.txt"), b"out")
"""


def _odd_run(tmp_path: Path) -> RunHandle:
    src = tmp_path / "odd"
    src.mkdir()
    (src / "main.py").write_text(WRITER)
    handle = run_project(src, infer_requirements=False)
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    return handle


def test_shown_names_escape_control_characters_and_undecodable_bytes() -> None:
    odd = os.fsdecode(b"bad\xffname\n\x1b[31m\x9b\xe2\x80\xae.txt")  # ESC, CSI, RTL override
    assert shown_name(odd) == "bad\\xffname\\n\\x1b[31m\\x9b\\u202e.txt"
    assert shown_name("données (2) 🐍.txt") == "données (2) 🐍.txt"  # printable: unchanged


def test_stored_names_replace_undecodable_bytes_and_are_unique_per_folder() -> None:
    paths = [os.fsdecode(p) for p in (b"a\xff/x", b"a\xfe/x", b"a\xff/y\xff", b"b\xff.csv")]
    paths += ["a\ufffd", "b\ufffd (2).csv", ".e" + os.fsdecode(b"\xff")]
    assert stored_paths(paths) == {
        paths[0]: "a\ufffd (3)/x",  # "a\ufffd" is taken by a file, "(2)" by a\xfe
        paths[1]: "a\ufffd (2)/x",
        paths[2]: "a\ufffd (3)/y\ufffd",  # a folder keeps one name for all its files
        paths[3]: "b\ufffd.csv",
        paths[4]: "a\ufffd",
        paths[5]: "b\ufffd (2).csv",
        paths[6]: ".e\ufffd",
    }


def test_notebook_views_show_odd_names_readably_and_zip_them(home: Path, tmp_path: Path) -> None:
    handle = _odd_run(tmp_path)
    text = run_outputs_text(handle)
    assert "  o\\xffut.txt" in text
    assert "  bad\\xffname.txt" in text
    assert "  line\\nbreak\\x1b[31m.txt" in text
    assert "\x1b" not in text and len(text.splitlines()) == 5  # folder, 1 file, label, 2 files
    assert project_files_text(handle.project_dir, handle.project_files).count("\n") == 2

    page = run_outputs_html(handle, "/pyrunner/api/runs/x/outputs.zip")
    page.encode("utf-8")  # no lone surrogate: the page can be sent to a browser
    assert "<code>bad\\xffname.txt</code>" in page
    assert "<code>line\\nbreak\\x1b[31m.txt</code>" in page
    assert page.count("in the zip only (its name is not UTF-8)") == 2  # no URL names them
    assert "outputs/line%0Abreak%1B%5B31m.txt?section=project" in page  # a valid name has one

    beside = ProjectFiles.of_run(handle.store, handle.id)
    with zipfile.ZipFile(io.BytesIO(zip_bytes(handle.outputs_dir, beside))) as zf:
        assert sorted(zf.namelist()) == [
            "o\ufffdut.txt",
            "project/bad\ufffdname.txt",
            "project/line\nbreak\x1b[31m.txt",
        ]


# -- names that grow past what a file system takes -----------------------------------------------
def test_stored_names_of_long_names_that_are_not_utf8_keep_within_255_bytes() -> None:
    long = [os.fsdecode(b"\xff" * 255), os.fsdecode(b"\xfe" * 255)]
    with_suffix = [os.fsdecode(b"\xff" * 200 + b".csv"), os.fsdecode(b"\xfe" * 200 + b".csv")]
    deep = os.fsdecode(b"\xff" * 255 + b"/" + b"\xfd" * 255)
    stored = stored_paths([*long, *with_suffix, deep])

    for name in stored.values():
        assert all(len(part.encode()) <= 255 for part in name.split("/")), name
    assert len(set(stored.values())) == 5
    assert stored[long[1]] == "\ufffd" * 85  # b"\xfe" sorts first: it keeps the plain name
    assert stored[long[0]] == "\ufffd" * 83 + " (2)"
    assert stored[with_suffix[0]].endswith(" (2).csv")
    assert stored[deep].split("/")[0] == stored[long[0]]  # the folder keeps its one name


def test_long_names_that_are_not_utf8_are_copied_and_zipped_whole(tmp_path: Path) -> None:
    import subprocess
    import sys

    from jupyter_pyrunner.outputs import copy_outputs, iter_zip
    from jupyter_pyrunner.workfiles import take_snapshot

    run_dir = tmp_path / "run"
    project = run_dir / "inputs" / "input_1"
    project.mkdir(parents=True)
    (project / "main.py").write_text("print()\n")
    (run_dir / "outputs").mkdir()
    take_snapshot(project, run_dir)
    for name in (b"\xff" * 255, b"\xfe" * 251 + b".txt", b"ok.txt"):
        (project / os.fsdecode(name)).write_bytes(name[:3])
    beside = ProjectFiles(project, run_dir)

    copied = copy_outputs(run_dir / "outputs", tmp_path / "copy", beside)

    assert copied == (3, 9) and copied.skipped == ()
    assert len(list((tmp_path / "copy" / "project").iterdir())) == 3

    (tmp_path / "outputs.zip").write_bytes(
        b"".join(iter_zip(run_dir / "outputs", project_files=beside))
    )
    subprocess.run(
        [sys.executable, "-m", "zipfile", "-e", str(tmp_path / "outputs.zip"), str(tmp_path / "x")],
        check=True,
    )
    extracted = sorted(p.name for p in (tmp_path / "x" / "project").iterdir())
    assert extracted == sorted(p.name for p in (tmp_path / "copy" / "project").iterdir())
