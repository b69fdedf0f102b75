"""Putting a run's project and inputs in its input folder, in either layout.

- A project folder is copied without the folders intake ignores; a project zip is extracted
  (safely, see ``archive``); a single ``.py`` file brings the folder holding it, unless that
  folder is too big or is the home folder (:func:`script_folder`).
- An input is copied as it is; an input zip is also extracted beside itself, as oSparc's
  Python Runner unzips every zip it finds in its input folder and keeps the zip.
- In the flat layout everything ends in one folder: each input is put in a staging folder
  first and moved in only if none of its paths is already there (:func:`merge`), so a name
  the project and an input share is refused, never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import ProjectError

__all__ = [
    "SCRIPT_FOLDER_MAX_BYTES",
    "SCRIPT_FOLDER_MAX_FILES",
    "PlacedProject",
    "clear",
    "merge",
    "place_input",
    "place_project",
    "script_folder",
]

#: a single script brings its folder only up to this many files and bytes (ignored ones left out)
SCRIPT_FOLDER_MAX_FILES = 1000
SCRIPT_FOLDER_MAX_BYTES = 256 * 1024 * 1024


class PlacedProject(Record):
    """What placing a project did, for the record and the log."""

    _fields = ("sha256", "entry", "note", "warning")
    __slots__ = _fields

    sha256: str | None
    """The project archive's sha256 (None for a folder or a script)."""
    entry: str | None
    """The entry point a single script implies (None otherwise)."""
    note: str | None
    """What was included, said in the run's log."""
    warning: str | None
    """What was left out that the user may have expected, kept in the record."""

    def __init__(
        self,
        sha256: str | None = None,
        entry: str | None = None,
        note: str | None = None,
        warning: str | None = None,
    ) -> None:
        self.sha256 = sha256
        self.entry = entry
        self.note = note
        self.warning = warning


def place_project(source: Path, dest: Path, *, skip: Path | None) -> PlacedProject:
    """Put the project ``source`` (a zip, a folder or a file) into the folder ``dest``.
    ``skip`` is the store, left out should it live inside the project's folder."""
    if source.is_dir():
        _copy_folder(source, dest, project=True, skip=skip)
        return PlacedProject()
    if not source.is_file():
        raise ProjectError(f"project '{source}' does not exist")
    from .archive import extract_zip, is_zip

    if source.suffix.lower() == ".zip" or is_zip(source):
        extract_zip(source, dest)
        return PlacedProject(sha256=_sha256(source))
    if source.suffix.lower() != ".py":
        shutil.copy2(source, dest / source.name)
        return PlacedProject()
    folder, files, why_not = script_folder(source, skip=skip)
    if folder is None:
        shutil.copy2(source, dest / source.name)
        warning = f"only {source.name} was copied: {why_not}; pass the folder to include it all"
        return PlacedProject(entry=source.name, note=f"project: {warning}", warning=warning)
    _copy_folder(folder, dest, project=True, skip=skip)
    return PlacedProject(
        entry=source.name,
        note=f"project: the folder of {source.name}, {folder} ({_count(files)})",
    )


def place_input(source: Path, dest: Path, what: str, *, skip: Path | None) -> None:
    """Put an input into the folder ``dest``: a folder's contents, or the file itself; a
    ``.zip`` is also extracted beside itself (safely; its members may not replace a file
    there). Files that are zips under another name (``.xlsx``, ``.docx``) are left whole."""
    if source.is_dir():
        _copy_folder(source, dest, project=False, skip=skip)
        return
    if not source.is_file():
        raise ProjectError(f"{what} '{source}' does not exist")
    copy = dest / source.name
    shutil.copy2(source, copy)
    if source.suffix.lower() == ".zip":  # by name, as oSparc: an .xlsx or .docx is a zip too
        from .archive import extract_zip

        extract_zip(copy, dest)


def script_folder(script: Path, *, skip: Path | None = None) -> tuple[Path | None, int, str]:
    """The folder to run a single script in, and the number of files it brings: the folder
    holding the script; or None, with the reason, when that folder is the home folder (or
    above it) or holds more than the caps."""
    folder = script.parent
    real = folder.resolve()
    home = Path.home().resolve()
    if real == home:
        return None, 0, f"its folder, {folder}, is your home folder"
    if home.is_relative_to(real):
        return None, 0, f"its folder, {folder}, holds your home folder"
    files, size = _measure(folder, skip)
    if files > SCRIPT_FOLDER_MAX_FILES:
        return None, 0, f"its folder holds more than {SCRIPT_FOLDER_MAX_FILES:,} files"
    if size > SCRIPT_FOLDER_MAX_BYTES:
        limit = SCRIPT_FOLDER_MAX_BYTES // (1024 * 1024)
        return None, 0, f"its folder holds more than {limit} MiB"
    return folder, files, ""


def _measure(folder: Path, skip: Path | None) -> tuple[int, int]:
    """Files and bytes a project copy of ``folder`` would take, counted until past a cap."""
    from .projectfiles import ignored_dir_name

    skip_real = str(skip.resolve()) if skip is not None else None
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [
            d
            for d in dirnames
            if not ignored_dir_name(d) and os.path.realpath(os.path.join(dirpath, d)) != skip_real
        ]
        for name in filenames:
            if name.endswith(".pyc"):
                continue
            files += 1
            with contextlib.suppress(OSError):  # gone meanwhile
                size += os.lstat(os.path.join(dirpath, name)).st_size
            if files > SCRIPT_FOLDER_MAX_FILES or size > SCRIPT_FOLDER_MAX_BYTES:
                return files, size
    return files, size


def _count(files: int) -> str:
    return "1 file" if files == 1 else f"{files:,} files"


# -- the flat layout ---------------------------------------------------------------------------
def merge(staged: Path, dest: Path, what: str, owners: dict[PurePosixPath, str]) -> None:
    """Move what is in ``staged`` into ``dest``, merging folders. A path both hold is refused
    before anything moves, naming it and who put it there (``owners``: the paths moved in by
    earlier merges; anything else came with the project)."""
    clash = _first_clash(staged, dest, PurePosixPath())
    if clash is not None:
        owner = next((owners[p] for p in (clash, *clash.parents) if p in owners), "the project")
        raise ProjectError(
            f"{what} and {owner} both have '{clash}', and the flat layout puts them in one "
            "folder (INPUT_FOLDER): rename one of them, or use the port layout"
        )
    _move(staged, dest, PurePosixPath(), what, owners)


def _first_clash(src: Path, dst: Path, rel: PurePosixPath) -> PurePosixPath | None:
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        target = dst / entry.name
        if not os.path.lexists(target):
            continue
        if entry.is_dir(follow_symlinks=False) and target.is_dir() and not target.is_symlink():
            found = _first_clash(Path(entry.path), target, rel / entry.name)
            if found is not None:
                return found
            continue
        return rel / entry.name
    return None


def _move(
    src: Path, dst: Path, rel: PurePosixPath, what: str, owners: dict[PurePosixPath, str]
) -> None:
    with os.scandir(src) as it:
        entries = list(it)
    for entry in entries:
        target = dst / entry.name
        if os.path.lexists(target):  # a folder both have (clashes were refused before)
            _move(Path(entry.path), target, rel / entry.name, what, owners)
        else:
            os.rename(entry.path, target)
            owners[rel / entry.name] = what


# -- copying -----------------------------------------------------------------------------------
def _copy_folder(src: Path, dest: Path, *, project: bool, skip: Path | None) -> None:
    """Copy a folder. For a project, the folders intake ignores (``projectfiles``) and
    ``.pyc`` files are left out; hidden files such as ``.env`` are kept. ``skip`` is the
    store itself, should it live inside the folder."""
    from .projectfiles import ignored_dir_name

    skip_real = skip.resolve() if skip is not None else None

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = set()
        for name in names:
            full = Path(folder) / name
            if (
                (skip_real is not None and full.resolve() == skip_real)
                or (project and full.is_dir() and ignored_dir_name(name))
                or (project and name.endswith(".pyc"))
            ):
                left_out.add(name)
        return left_out

    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def clear(folder: Path) -> None:
    """Remove what ``folder`` holds (best effort), keeping the folder."""
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    import hashlib  # here only: loading OpenSSL costs milliseconds at every start

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
