"""Project intake: find the entry point and the requirements of a project folder.

The entry point rules follow oSparc's Python Runner (a single script runs whatever its
name; otherwise ``main.py``), with clear errors where that service would guess.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import ProjectError
from .projectfiles import IGNORED_DIRS, ignored_dir_name, is_ignored, iter_project_files
from .pyproject import PyProject, read_pyproject
from .requirements import (
    Requirements,
    absolute_local_paths,
    local_path_of,
    read_requirements_file,
    read_script_block,
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


class _Found(Record):
    """What intake learns about installing: requirements, accepted Pythons, project folder."""

    _fields = ("requirements", "requires_python", "install")
    __slots__ = _fields

    def __init__(
        self, requirements: Requirements, requires_python: str | None, install: str | None
    ) -> None:
        self.requirements = requirements
        self.requires_python = requires_python
        self.install = install


def _folders_up(workdir: PurePosixPath) -> list[PurePosixPath]:
    """``workdir`` and each folder above it, up to the project root."""
    return [workdir, *workdir.parents]


def _nearest_project(root: Path, workdir: PurePosixPath) -> tuple[PurePosixPath, PyProject] | None:
    """The nearest ``pyproject.toml`` at or above the entry's folder that describes a project
    (``[project]``, Poetry or a build system), as ``uv run`` finds its project; read."""
    for folder in _folders_up(workdir):
        path = root / folder / "pyproject.toml"
        if path.is_file():
            pyproject = read_pyproject(path)
            if pyproject.table is not None or pyproject.installable:
                return folder, pyproject
    return None


def _declared(
    root: Path, workdir: PurePosixPath, project: tuple[PurePosixPath, PyProject] | None
) -> Requirements | None:
    """Requirements declared at the entry's folder or above: in each folder, from the nearest
    up, a requirements.txt, then the project's pyproject.toml when it lists dependencies."""
    for folder in _folders_up(workdir):
        txt = folder / "requirements.txt"
        if (root / txt).is_file():
            lines = read_requirements_file(root / txt, root)
            return Requirements(tuple(lines), "requirements.txt", txt.as_posix())
        if project is not None and project[0] == folder and project[1].dependencies is not None:
            path = (folder / "pyproject.toml").as_posix()
            lines = absolute_local_paths(project[1].dependencies, root / folder, root, path)
            return Requirements(tuple(lines), "pyproject.toml", path)
    return None


def _elsewhere(
    root: Path,
    entry: PurePosixPath,
    files: list[PurePosixPath],
    infer: bool,
    cache_dir: Path | None,
    loose: bool = False,
) -> Requirements:
    """The project's only requirements.txt, else the imports (``infer``) or nothing. A
    ``loose`` project (the folder a script was run from) is only the script's neighbours:
    nothing in its subfolders counts."""
    workdir = entry.parent
    found = [p for p in files if p.name == "requirements.txt" and not loose]
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
        from .inference import infer_requirements  # only for a project without requirements

        inferred = infer_requirements(root, cache_dir=cache_dir, shallow=loose)
        return Requirements(tuple(inferred), "inferred")
    return Requirements((), "none")


def _project_itself(
    root: Path, entry: PurePosixPath, reqs: Requirements
) -> tuple[Requirements, str | None]:
    """Take the project itself out of its requirements (``-e .``, ``.``, ``-e ..``: a local
    folder holding the entry point), as the folder to install into each run; other local
    paths lose ``-e``: they are installed into the shared environment, which must not point
    into one run's folder (its key follows their content, see ``environments``)."""
    real_root = root.resolve()
    entry_path = (root / entry).resolve()
    install = None
    kept = []
    for line in reqs.lines:
        local = local_path_of(line)
        target = local.resolve() if local is not None else None
        if target is None:
            kept.append(line)
        elif (
            target.is_dir()
            and entry_path.is_relative_to(target)
            and target.is_relative_to(real_root)
        ):
            install = target.relative_to(real_root).as_posix()
        else:
            kept.append(_not_editable(line))
    if tuple(kept) == reqs.lines:
        return reqs, install
    return Requirements(tuple(kept), reqs.source, reqs.path), install


def _not_editable(line: str) -> str:
    """``-e PATH`` / ``--editable=PATH`` → ``PATH``; other lines unchanged."""
    for option in ("--editable", "-e"):
        if line.startswith(option):
            return line[len(option) :].lstrip(" =")
    return line


def _requirements(
    root: Path,
    entry: PurePosixPath,
    files: list[PurePosixPath],
    infer: bool,
    cache_dir: Path | None,
    loose: bool = False,
) -> _Found:
    block = read_script_block(root / entry, root)
    if block is not None:  # a script that says what it needs stands alone, as with uv
        reqs = Requirements(tuple(block.dependencies), "script metadata", entry.as_posix())
        return _Found(reqs, block.requires_python, None)
    project = _nearest_project(root, entry.parent)
    reqs = _declared(root, entry.parent, project) or _elsewhere(
        root, entry, files, infer, cache_dir, loose
    )
    reqs, install = _project_itself(root, entry, reqs)
    if install is None and project is not None and project[1].installable:
        install = project[0].as_posix()
    requires_python = project[1].requires_python if project is not None else None
    return _Found(reqs, requires_python, install)


def resolve_project(
    root: Path,
    *,
    entry: str | None = None,
    infer: bool = True,
    cache_dir: Path | None = None,
    requirements: list[str] | None = None,
    loose: bool = False,
) -> Project:
    """Find the entry point and the requirements of the project in ``root``.

    ``requirements``, when given with the run, replace the project's own (nothing is guessed);
    its ``requires-python`` and whether it is installed still come from the project.
    ``loose``: ``root`` is the folder a script was run from, not a project of its own, so only
    the files beside the script count (a requirements.txt in a subfolder belongs to another
    project, and only the scripts beside it are read for imports).

    Requirements come from, in order: the entry's PEP 723 script metadata, a
    requirements.txt beside the entry, a pyproject.toml beside it, the project's only
    requirements.txt, else the imports (when ``infer``) or nothing.
    """
    root = Path(root)
    _check_root(root)
    files = list(iter_project_files(root))
    py_files = _python_files(root, files)
    rel = _find_entry(root, entry, py_files)
    found = _requirements(root, rel, files, infer and requirements is None, cache_dir, loose)
    if requirements is not None:
        given = Requirements(tuple(requirements), "given")
        found = _Found(given, found.requires_python, found.install)
    return Project(
        root=root,
        entry=rel,
        workdir=rel.parent,
        requirements=found.requirements,
        python_files=len(py_files),
        requires_python=found.requires_python,
        install=found.install,
    )
