"""Project intake: find the entry point and the requirements of a project folder.

The entry point rules follow oSparc's Python Runner (a single script runs whatever its
name; otherwise ``main.py``), with clear errors where that service would guess.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import ProjectError
from .inference import infer_requirements
from .projectfiles import IGNORED_DIRS, ignored_dir_name, is_ignored, iter_project_files
from .requirements import (
    Requirements,
    read_pyproject_dependencies,
    read_requirements_file,
    read_script_metadata,
)

__all__ = [
    "IGNORED_DIRS",
    "Project",
    "find_entry_point",
    "is_ignored",
    "iter_project_files",
    "resolve_project",
]  # the file rules are re-exported from projectfiles, where they live

_MAX_LISTED = 10


class Project(Record):
    """A project ready to run: its entry point, working folder and requirements."""

    _fields = (
        "root",
        "entry",
        "workdir",
        "requirements",
        "python_files",
        "requires_python",
        "install",
    )
    __slots__ = _fields

    root: Path
    entry: PurePosixPath
    workdir: PurePosixPath
    requirements: Requirements
    python_files: int
    #: the Python versions the project accepts (PEP 440 specifier), when it says
    requires_python: str | None
    #: the folder (relative to the root) of a ``pyproject.toml`` to install into the run
    install: str | None

    def __init__(
        self,
        root: Path,
        entry: PurePosixPath,
        workdir: PurePosixPath,
        requirements: Requirements,
        python_files: int,
        requires_python: str | None = None,
        install: str | None = None,
    ) -> None:
        self.root = root
        self.entry = entry
        self.workdir = workdir
        self.requirements = requirements
        self.python_files = python_files
        self.requires_python = requires_python
        self.install = install


def _inside(path: Path, real_root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):
        return False


def _python_files(root: Path, files: list[PurePosixPath]) -> list[PurePosixPath]:
    """The ``.py`` files among ``files`` that really are files inside ``root``."""
    real_root = root.resolve()
    return [
        rel
        for rel in files
        if rel.suffix == ".py" and _inside(root / rel, real_root) and (root / rel).is_file()
    ]


def _listing(paths: list[PurePosixPath]) -> str:
    shown = ", ".join(p.as_posix() for p in paths[:_MAX_LISTED])
    more = len(paths) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise ProjectError(f"project folder '{root}' not found; give an existing folder or zip.")


def _single_top_folder(root: Path) -> str | None:
    """Name of the only top-level folder of ``root`` (zips often wrap one), else None."""
    try:
        with os.scandir(root) as it:
            entries = [e for e in it if not ignored_dir_name(e.name) and e.name[-4:] != ".pyc"]
    except OSError:
        return None
    if len(entries) == 1 and entries[0].is_dir(follow_symlinks=False):
        return entries[0].name
    return None


def _explicit_entry(root: Path, entry: str, py_files: list[PurePosixPath]) -> PurePosixPath:
    text = entry.strip()
    for sep in {os.sep, os.altsep} - {None, "/"}:
        text = text.replace(str(sep), "/")
    rel = PurePosixPath(text)
    drive = len(text) > 2 and text[1] == ":" and text[2] == "/"
    if not rel.parts or rel.is_absolute() or ".." in rel.parts or drive:
        raise ProjectError(
            f"entry point '{entry}' must be a path relative to the project folder, "
            "such as 'main.py' or 'src/app.py'."
        )
    candidates = [rel]
    top = _single_top_folder(root)
    if top is not None and rel.parts[0] != top:
        candidates.append(PurePosixPath(top) / rel)
    real_root = root.resolve()
    for cand in candidates:
        path = root / cand
        if not (path.exists() or path.is_symlink()):
            continue
        if not _inside(path, real_root):
            raise ProjectError(
                f"entry point '{entry}' points outside the project folder; "
                "choose a file inside the project."
            )
        if not path.is_file():
            continue
        if cand.suffix != ".py":
            raise ProjectError(
                f"entry point '{entry}' is not a Python (.py) file; "
                "pass a .py file with --entry PATH."
            )
        return cand
    listing = _listing(py_files) if py_files else "none"
    raise ProjectError(
        f"entry point '{entry}' not found in the project; Python files: {listing}.\n"
        "Pass one of them with --entry PATH (relative to the project folder)."
    )


def _find_entry(root: Path, entry: str | None, py_files: list[PurePosixPath]) -> PurePosixPath:
    if entry is not None:
        return _explicit_entry(root, entry, py_files)
    if not py_files:
        raise ProjectError(
            "no Python file found in the project; add your program as main.py "
            "(hidden folders, venv and __MACOSX are ignored)."
        )
    if len(py_files) == 1:
        return py_files[0]
    mains = [p for p in py_files if p.name == "main.py"]
    if not mains:
        raise ProjectError(
            f"cannot tell which of the {len(py_files)} Python files to run: "
            f"{_listing(py_files)}.\n"
            "Name the entry point main.py or pass --entry PATH."
        )
    depth = min(len(p.parts) for p in mains)
    shallowest = [p for p in mains if len(p.parts) == depth]
    if len(shallowest) == 1:
        return shallowest[0]
    raise ProjectError(
        f"several main.py files at the same level: {_listing(shallowest)}.\n"
        "Choose one with --entry PATH."
    )


def find_entry_point(root: Path, entry: str | None = None) -> PurePosixPath:
    """The entry point of the project in ``root``, relative to it (see the module rules)."""
    root = Path(root)
    _check_root(root)
    return _find_entry(root, entry, _python_files(root, list(iter_project_files(root))))


def _requirements(
    root: Path,
    entry: PurePosixPath,
    files: list[PurePosixPath],
    infer: bool,
    cache_dir: Path | None,
) -> Requirements:
    workdir = entry.parent
    deps = read_script_metadata(root / entry)
    if deps is not None:
        return Requirements(tuple(deps), "script metadata", entry.as_posix())
    local_txt = workdir / "requirements.txt"
    if (root / local_txt).is_file():
        lines = read_requirements_file(root / local_txt, root)
        return Requirements(tuple(lines), "requirements.txt", local_txt.as_posix())
    pyproject = workdir / "pyproject.toml"
    if (root / pyproject).is_file():
        deps = read_pyproject_dependencies(root / pyproject)
        if deps is not None:
            return Requirements(tuple(deps), "pyproject.toml", pyproject.as_posix())
    found = [p for p in files if p.name == "requirements.txt"]
    if len(found) == 1:
        lines = read_requirements_file(root / found[0], root)
        return Requirements(tuple(lines), "requirements.txt", found[0].as_posix())
    if len(found) > 1:
        where = "the project folder" if workdir == PurePosixPath(".") else f"'{workdir}'"
        raise ProjectError(
            f"several requirements.txt files and none beside the entry point: "
            f"{_listing(found)}.\n"
            f"Put the one to use in {where}, next to {entry.name}."
        )
    if infer:
        return Requirements(tuple(infer_requirements(root, cache_dir=cache_dir)), "inferred")
    return Requirements((), "none")


def resolve_project(
    root: Path,
    *,
    entry: str | None = None,
    infer: bool = True,
    cache_dir: Path | None = None,
) -> Project:
    """Find the entry point and the requirements of the project in ``root``.

    Requirements come from, in order: the entry's PEP 723 script metadata, a
    requirements.txt beside the entry, a pyproject.toml beside it, the project's only
    requirements.txt, else the imports (when ``infer``) or nothing.
    """
    root = Path(root)
    _check_root(root)
    files = list(iter_project_files(root))
    py_files = _python_files(root, files)
    rel = _find_entry(root, entry, py_files)
    return Project(
        root=root,
        entry=rel,
        workdir=rel.parent,
        requirements=_requirements(root, rel, files, infer, cache_dir),
        python_files=len(py_files),
    )
