"""Putting a run's project and inputs in its input folder, in either layout.

- A project folder is copied without the folders intake ignores; a project zip is extracted
  (safely, see ``archive``); a single ``.py`` file brings the folder holding it, unless that
  folder is too big or is the home folder (:func:`script_folder`).
- An input is copied as it is; an input zip is also extracted beside itself, as oSparc's
  Python Runner unzips every zip it finds in its input folder and keeps the zip.
- Folders are copied with their links kept as links (never followed; a link loop is copied as
  it is); what is neither a file, a folder nor a link (a named pipe, a socket, a device) is
  left out, and the note for the run's log says so. So are the kernel's own file systems
  (``/proc``, ``/sys``, ``/dev``... mounted inside a folder); naming one as a project or an
  input is refused.
- A folder is measured before it is copied, and counted again while it is copied: past
  :data:`FOLDER_MAX_ENTRIES` entries or :data:`FOLDER_MAX_BYTES` bytes (the caps of a zip)
  it is refused, as is a single file past :data:`FOLDER_MAX_BYTES`. Sizes are apparent
  sizes: a sparse file counts as what its copy would take.
- In the flat layout everything ends in one folder: each input is put in a staging folder
  first and moved in only if none of its paths is already there (:func:`merge`), so a name
  the project and an input share is refused, never overwritten.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import ProjectError

__all__ = [
    "FOLDER_MAX_BYTES",
    "FOLDER_MAX_ENTRIES",
    "NAMED_SKIPPED",
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
#: a folder given as a project or an input brings at most this many files, folders and links,
#: and this many bytes (as a zip may: ``archive.ExtractLimits``); a file at most these bytes
FOLDER_MAX_ENTRIES = 100_000
FOLDER_MAX_BYTES = 2 * 1024**3
#: file systems the kernel makes up (reading them copies the machine's state, or never ends)
_SYSTEM_FILESYSTEMS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
        "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
        "rpc_pipefs", "securityfs", "selinuxfs", "sysfs", "tracefs",
    }
)  # fmt: skip


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
    system = _SystemFiles()
    system.refuse(source, "the project")
    if source.is_dir():
        skipped = _copy_folder(source, dest, project=True, skip=skip, what="the project")
        if not skipped:
            return PlacedProject()
        warning = _skipped_note(skipped)
        return PlacedProject(note=f"project: {warning}", warning=warning)
    if not source.is_file():
        raise ProjectError(f"project '{source}' does not exist")
    from .archive import extract_zip, is_zip

    if source.suffix.lower() == ".zip" or is_zip(source):
        extract_zip(source, dest)
        return PlacedProject(sha256=_sha256(source))
    _check_file_size(source, "the project")
    if source.suffix.lower() != ".py":
        shutil.copy2(source, dest / source.name)
        return PlacedProject()
    folder, files, why_not = script_folder(source, skip=skip)
    if folder is None:
        shutil.copy2(source, dest / source.name)
        warning = f"only {source.name} was copied: {why_not}; pass the folder to include it all"
        return PlacedProject(entry=source.name, note=f"project: {warning}", warning=warning)
    skipped = _copy_folder(folder, dest, project=True, skip=skip, what="the project")
    note = f"project: the folder of {source.name}, {folder} ({_count(files)})"
    if not skipped:
        return PlacedProject(entry=source.name, note=note)
    warning = _skipped_note(skipped)
    return PlacedProject(entry=source.name, note=f"{note}; {warning}", warning=warning)


def place_input(source: Path, dest: Path, what: str, *, skip: Path | None) -> str | None:
    """Put an input into the folder ``dest``: a folder's contents, or the file itself; a
    ``.zip`` is also extracted beside itself (safely; its members may not replace a file
    there). Files that are zips under another name (``.xlsx``, ``.docx``) are left whole.
    Returns a note for the run's log when special files of a folder were left out."""
    _SystemFiles().refuse(source, what)
    if source.is_dir():
        skipped = _copy_folder(source, dest, project=False, skip=skip, what=what)
        return f"{what}: {_skipped_note(skipped)}" if skipped else None
    if not source.is_file():
        raise ProjectError(f"{what} '{source}' does not exist")
    _check_file_size(source, what)
    copy = dest / source.name
    shutil.copy2(source, copy)
    if source.suffix.lower() == ".zip":  # by name, as oSparc: an .xlsx or .docx is a zip too
        from .archive import extract_zip

        extract_zip(copy, dest)
    return None


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
        what = f"{SCRIPT_FOLDER_MAX_FILES:,} files and folders"
        return None, 0, f"its folder holds more than {what}"
    if size > SCRIPT_FOLDER_MAX_BYTES:
        limit = SCRIPT_FOLDER_MAX_BYTES // (1024 * 1024)
        return None, 0, f"its folder holds more than {limit} MiB"
    return folder, files, ""


def _measure(
    folder: Path,
    skip: Path | None,
    most_files: int = SCRIPT_FOLDER_MAX_FILES,
    most_bytes: int = SCRIPT_FOLDER_MAX_BYTES,
    *,
    project: bool = True,
) -> tuple[int, int]:
    """Entries (files, folders, links) and bytes a copy of ``folder`` would take, counted
    until past a cap: 30,000 empty folders cost a copy as much as 30,000 files. What the
    copy leaves out (see :func:`_copy_folder`) is not counted, nor walked into."""
    from .projectfiles import ignored_dir_name

    skip_real = str(skip.resolve()) if skip is not None else None
    system = _SystemFiles()
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        kept = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if project and ignored_dir_name(d):
                continue
            if _same_path(full, skip_real) or system.kind(full) is not None:
                continue
            kept.append(d)
        dirnames[:] = kept
        files += len(kept)
        if files > most_files:
            return files, size
        for name in filenames:
            if project and name.endswith(".pyc"):
                continue
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:  # gone meanwhile
                continue
            if _kind(st.st_mode) is not None:
                continue  # a special file: left out of the copy
            files += 1
            size += st.st_size
            if files > most_files or size > most_bytes:
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
#: how many left-out special files a note names (the rest are counted)
NAMED_SKIPPED = 5


def _kind(mode: int) -> str | None:
    """What a special file is, for the note; None for what is copied (a file, a folder, a link)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _same_path(path: str, real: str | None) -> bool:
    """Whether ``path`` leads to ``real`` (a link loop or an unreadable link leads nowhere)."""
    if real is None:
        return False
    try:
        return os.path.realpath(path) == real
    except (OSError, RuntimeError, ValueError):
        return False


def _left_out(full: str, mode: int, project: bool, skip_real: str | None) -> bool:
    """Whether a file, folder or link of a folder being copied is left out: for a project,
    ``.pyc`` files and the folders intake ignores; in any folder, the store itself."""
    from .projectfiles import ignored_dir_name

    name = os.path.basename(full)
    if project and name.endswith(".pyc"):
        return True
    if stat.S_ISREG(mode):
        return False
    if project and ignored_dir_name(name) and os.path.isdir(full):
        return True
    return _same_path(full, skip_real)


def _copy_folder(
    src: Path, dest: Path, *, project: bool, skip: Path | None, what: str
) -> list[str]:
    """Copy a folder; returns what was left out because it is neither a file, a folder nor a
    link (a named pipe, a socket, a device: reading one could wait for ever, and nothing a
    program needs is in it) or is a kernel file system, each as ``"path (a socket)"``.

    Links are copied as links, never followed (a link loop is copied as it is). For a
    project, the folders intake ignores (``projectfiles``) and ``.pyc`` files are left out;
    hidden files such as ``.env`` are kept. ``skip`` is the store itself, should it live
    inside the folder. A folder past the caps (:data:`FOLDER_MAX_ENTRIES`,
    :data:`FOLDER_MAX_BYTES`) is refused before anything is copied, and counted again as it
    is copied (it may grow meanwhile); what was copied then is the caller's to remove."""
    entries, size = _measure(src, skip, FOLDER_MAX_ENTRIES, FOLDER_MAX_BYTES, project=project)
    budget = _Budget(src, what)
    budget.check(entries, size)
    skip_real = str(skip.resolve()) if skip is not None else None
    skipped: list[str] = []
    system = _SystemFiles()

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = set()
        for name in names:
            full = os.path.join(folder, name)
            try:
                mode = os.lstat(full).st_mode
            except OSError:  # gone meanwhile: nothing to copy
                left_out.add(name)
                continue
            kind = _kind(mode) or system.kind(full)
            if kind is not None:
                skipped.append(f"{_shown(os.path.relpath(full, src))} ({kind})")
                left_out.add(name)
            elif _left_out(full, mode, project, skip_real):
                left_out.add(name)
        budget.add(len(names) - len(left_out), 0)
        return left_out

    def copy(source: str, target: str) -> object:
        budget.add(0, os.lstat(source).st_size)
        return shutil.copy2(source, target)

    try:
        shutil.copytree(
            src, dest, symlinks=True, ignore=ignore, copy_function=copy, dirs_exist_ok=True
        )
    except shutil.Error as exc:  # each file that could not be copied, with its reason
        raise ProjectError(_copy_failures(src, exc.args[0])) from None
    return sorted(skipped)


class _Budget:
    """What a folder copy has brought so far, refused past the caps."""

    def __init__(self, folder: Path, what: str) -> None:
        self.shown = _folder_name(folder)
        self.what = what
        self.entries = 0
        self.bytes = 0

    def add(self, entries: int, size: int) -> None:
        self.entries += entries
        self.bytes += size
        self.check(self.entries, self.bytes)

    def check(self, entries: int, size: int) -> None:
        if entries > FOLDER_MAX_ENTRIES:
            held = f"more than {FOLDER_MAX_ENTRIES:,} files, folders and links"
        elif size > FOLDER_MAX_BYTES:
            held = f"more than {_gib(FOLDER_MAX_BYTES)}"
        else:
            return
        raise ProjectError(
            f"the folder {self.shown} holds {held}, the most a folder given as {self.what} "
            "may bring: give a folder holding only what the program needs, or a zip of it"
        )


def _check_file_size(source: Path, what: str) -> None:
    """A single file past :data:`FOLDER_MAX_BYTES` is refused, as a folder would be."""
    size = source.stat().st_size
    if size > FOLDER_MAX_BYTES:
        raise ProjectError(
            f"the file '{_shown(source.name)}' given as {what} is {_gib(size)}; "
            f"the most a file given as {what} may be is {_gib(FOLDER_MAX_BYTES)}"
        )


def _gib(size: int) -> str:
    return f"{size / 1024**3:,.1f} GiB"


def _folder_name(folder: Path) -> str:
    """A folder as a message shows it: its name only (a server's messages never show its
    absolute paths); the root as ``'/'``."""
    return f"'{_shown(folder.name)}'" if folder.name else "'/'"


class _SystemFiles:
    """Tells which paths are on a file system the kernel makes up (``/proc``, ``/sys``,
    ``/dev``...), by their device number, as ``/proc/self/mountinfo`` lists them (read once,
    when a path is first found on another device than the last one seen)."""

    def __init__(self) -> None:
        self._types: dict[int, str] | None = None
        self._known: dict[int, str | None] = {}

    def kind(self, path: str) -> str | None:
        """``"the kernel's proc file system"`` for such a path, else None."""
        found = self.filesystem(path)
        return None if found is None else f"the kernel's {found} file system"

    def filesystem(self, path: str) -> str | None:
        """The type of the kernel file system ``path`` is on (``proc``...), else None."""
        try:
            device = os.lstat(path).st_dev
        except OSError:
            return None
        if device not in self._known:
            fs = self._filesystems().get(device)
            self._known[device] = fs if fs in _SYSTEM_FILESYSTEMS else None
        return self._known[device]

    def refuse(self, source: Path, what: str) -> None:
        """Refuse a project or an input on such a file system."""
        found = self.filesystem(str(source))
        if found is not None:
            raise ProjectError(
                f"{_folder_name(source)}, given as {what}, is on a file system the kernel "
                f"makes up ({found}): it cannot be copied"
            )

    def _filesystems(self) -> dict[int, str]:
        if self._types is None:
            self._types = {}
            try:
                with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:  # not Linux, or no /proc: nothing is known to be a system one
                lines = []
            for line in lines:
                fields = line.split()
                if " - " not in line or len(fields) < 3:
                    continue
                major, _, minor = fields[2].partition(":")
                fstype = line.split(" - ", 1)[1].split()[0]
                self._types[os.makedev(int(major), int(minor))] = fstype
        return self._types


def _shown(name: str) -> str:
    """A name as the log and the record may hold it (escaped, see ``outputs.shown_name``)."""
    from .outputs import shown_name

    return shown_name(name)


def _copy_failures(src: Path, failures: list[tuple[str, str, str]]) -> str:
    """One sentence for the files ``copytree`` could not copy (it gives a list of tuples)."""
    first_source, _dest, why = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    where = _shown(os.path.relpath(first_source, src))
    return f"cannot copy '{where}' from {src}: {_shown(str(why))}{more}"


def _skipped_note(skipped: list[str]) -> str:
    """``left out 2 special files: a (a socket), b (a named pipe)``."""
    named = ", ".join(skipped[:NAMED_SKIPPED])
    more = f" and {len(skipped) - NAMED_SKIPPED} more" if len(skipped) > NAMED_SKIPPED else ""
    what = "1 special file" if len(skipped) == 1 else f"{len(skipped)} special files"
    return f"left out {what}, neither file, folder nor link: {named}{more}"


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
