"""The workspace on its own (no HTTP): paths confined to the contents root, new folders, copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_pyrunner.errors import OutputsReplacedError, PathOutsideRootError, ProjectError
from jupyter_pyrunner.server import workspace as workspace_module
from jupyter_pyrunner.server.workspace import Workspace

from ..conftest import write_project


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "contents"
    folder.mkdir()
    return folder


@pytest.fixture
def workspace(root: Path) -> Workspace:
    return Workspace(root)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """An output folder as a run leaves it: files, a port folder with a file, an empty port."""
    folder = write_project(tmp_path / "outputs", {"table.csv": "a,b\n1,2\n",
                                                  "output_1/note.txt": "port one"})  # fmt: skip
    (folder / "output_2").mkdir()
    return folder


def test_paths_inside_the_root_resolve_and_a_leading_slash_means_the_root(
    workspace: Workspace, root: Path
) -> None:
    assert workspace.contents_path("a/b.zip") == root / "a" / "b.zip"
    assert workspace.contents_path("/a/b.zip") == root / "a" / "b.zip"
    assert workspace.contents_path("/etc/passwd") == root / "etc" / "passwd"
    assert workspace.contents_path("a/../c") == root / "c"
    assert workspace.contents_path("") == root


@pytest.mark.parametrize("path", ["..", "../x", "a/../../x", "/../x", "//../x", "a/b/../../../x"])
def test_paths_leading_outside_the_root_are_refused(workspace: Workspace, path: str) -> None:
    with pytest.raises(PathOutsideRootError, match="outside the server's root folder"):
        workspace.contents_path(path)


def test_a_link_leading_out_of_the_root_is_refused_and_one_inside_is_followed(
    workspace: Workspace, root: Path, tmp_path: Path
) -> None:
    outside = write_project(tmp_path / "outside", {"secret.txt": "not yours"})
    (root / "escape").symlink_to(outside)
    (root / "data").mkdir()
    (root / "shortcut").symlink_to(root / "data")
    for path in ("escape", "escape/secret.txt", "shortcut/../escape/secret.txt"):
        with pytest.raises(PathOutsideRootError):
            workspace.contents_path(path)
    assert workspace.contents_path("shortcut/in.zip") == root / "data" / "in.zip"


def test_a_root_given_through_a_link_still_confines_paths(tmp_path: Path) -> None:
    real = tmp_path / "real-root"
    real.mkdir()
    (tmp_path / "linked-root").symlink_to(real)
    workspace = Workspace(tmp_path / "linked-root")
    assert workspace.contents_path("a") == real / "a"
    with pytest.raises(PathOutsideRootError):
        workspace.contents_path("../real-root-sibling")


@pytest.mark.parametrize("path", ["a\0b", "\0", "ok/../\0../../etc"])
def test_a_nul_character_is_refused(workspace: Workspace, path: str) -> None:
    with pytest.raises(ProjectError, match="NUL"):
        workspace.contents_path(path)
    with pytest.raises(ProjectError, match="NUL"):
        workspace.new_folder(path)


def test_new_folders_are_numbered_beside_taken_ones_and_empty_ones_are_reused(
    workspace: Workspace, root: Path
) -> None:
    first, created = workspace.new_folder("results/plot")
    assert (first, created) == (root / "results" / "plot", True) and first.is_dir()
    (first / "mine.txt").write_text("the user's")
    second, created = workspace.new_folder("/results/plot/")
    assert (second, created) == (root / "results" / "plot (2)", True)
    again, created = workspace.new_folder("results/plot")  # (2) is still empty: used as it is
    assert (again, created) == (second, False)
    (second / "x").write_text("")
    assert workspace.new_folder("results/plot") == (root / "results" / "plot (3)", True)
    (root / "report").write_text("a file, not a folder")
    assert workspace.new_folder("report") == (root / "report (2)", True)
    assert (root / "report").read_text() == "a file, not a folder"
    assert (first / "mine.txt").read_text() == "the user's"


def test_the_root_itself_and_a_file_in_the_way_are_refused(
    workspace: Workspace, root: Path
) -> None:
    for path in ("", "/", "a/.."):
        with pytest.raises(ProjectError, match="not the root itself"):
            workspace.new_folder(path)
    (root / "notes.txt").write_text("a file")
    with pytest.raises(ProjectError, match="a file is in the way"):
        workspace.new_folder("notes.txt/results")
    assert (root / "notes.txt").read_text() == "a file"


def test_numbering_gives_up_once_every_numbered_folder_is_taken(
    workspace: Workspace, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_module, "MAX_FOLDER_SUFFIX", 3)
    for name in ("out", "out (2)", "out (3)"):
        write_project(root / name, {"taken.txt": "yes"})
    with pytest.raises(ProjectError, match="2 numbered folders beside it are all taken"):
        workspace.new_folder("out")
    assert sorted(p.name for p in root.iterdir()) == ["out", "out (2)", "out (3)"]


def test_a_link_beside_the_wanted_folder_is_never_written_through(
    workspace: Workspace, root: Path, tmp_path: Path
) -> None:
    write_project(root / "out", {"taken.txt": "yes"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "out (2)").symlink_to(elsewhere)  # empty, but a link: not a folder of the root
    assert workspace.new_folder("out") == (root / "out (3)", True)
    assert list(elsewhere.iterdir()) == []


def test_outputs_are_copied_into_a_new_folder_never_into_one_with_files(
    workspace: Workspace, root: Path, outputs: Path
) -> None:
    write_project(root / "results", {"table.csv": "edited by the user"})
    copied = workspace.copy_outputs(outputs, "results")
    assert copied == {"path": "results (2)", "files": 2, "size": 16, "skipped": [], "problem": None}
    assert (root / "results" / "table.csv").read_text() == "edited by the user"
    assert [p.name for p in (root / "results").iterdir()] == ["table.csv"]
    target = root / "results (2)"
    copied_paths = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    assert copied_paths == ["output_1", "output_1/note.txt", "table.csv"]  # no empty port
    nested = workspace.copy_outputs(outputs, "/runs/today/")
    assert nested["path"] == "runs/today" and (root / "runs/today/table.csv").is_file()


def test_a_refused_copy_leaves_no_folder_it_made_and_keeps_one_it_found(
    workspace: Workspace, root: Path, outputs: Path, tmp_path: Path
) -> None:
    replaced = tmp_path / "replaced-outputs"
    replaced.symlink_to(outputs)  # a program swapped its output folder for a link
    with pytest.raises(OutputsReplacedError):
        workspace.copy_outputs(replaced, "got")
    assert not (root / "got").exists()
    (root / "kept").mkdir()
    with pytest.raises(OutputsReplacedError):
        workspace.copy_outputs(replaced, "kept")
    assert (root / "kept").is_dir() and list((root / "kept").iterdir()) == []
