"""Files a program writes beside its code: what it created or changed in its project folder.

Most scripts write their results into the folder they run in (``plt.savefig("test.png")``,
``df.to_csv("output.csv")``), not into ``OUTPUT_FOLDER``. Right before the program starts,
``take_snapshot`` records every file of the project folder with its size and modification time;
afterwards ``changed_files`` lists the files created or changed since. They are a run's second
section of outputs, shown, downloaded and copied beside ``OUTPUT_FOLDER``'s files, which stay
exactly as oSparc has them.

The snapshot is a file of the run folder (never of the project or output folder, so it is not
an output itself). It stays cheap for big projects: one ``lstat`` per file, zlib-compressed
records of about 10 bytes each, at most :data:`MAX_SNAPSHOT_FILES` of them. Past that number
the rest is not recorded, and a file the snapshot does not know counts as changed only if its
status changed after the snapshot began (its ``ctime``, which no copy tool can set back).

Folders that are never part of a project (``projectfiles.ignored_dir_name``: ``__pycache__``,
hidden folders...) and ``*.pyc`` files are left out on both sides; links are never followed and
never listed, and a project folder replaced by a link lists nothing. A file is read through one
descriptor opened without following any link (``beneath.open_fd_beneath``), and judged changed
on that descriptor. Hard links are refused, as among the outputs (their other name may be a
file from outside).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .beneath import open_fd_beneath, walk_files
from .errors import OutputNotFoundError
from .projectfiles import IGNORED_DIRS, ignored_dir_name, is_ignored

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from .outputs import OutputFile
    from .store import RunStore

__all__ = [
    "MAX_SNAPSHOT_FILES",
    "SECTION_LABEL",
    "SNAPSHOT_NAME",
    "ProjectFiles",
    "changed_files",
    "open_changed_file",
    "resolve_changed_file",
    "scan_changed_files",
    "take_snapshot",
]

#: the snapshot's file in the run folder
SNAPSHOT_NAME = "project-snapshot.z"
#: how many files a snapshot records at most (the rest is judged by its ctime)
MAX_SNAPSHOT_FILES = 200_000
#: how every face names the section
SECTION_LABEL = "written beside the code (in the project folder)"
#: the most a snapshot may hold once decompressed: the program can write over it (its run
#: folder is its own), and a reader must not be made to inflate a bomb
MAX_SNAPSHOT_BYTES = 64 << 20
_MAGIC = "pyrunner-project-snapshot 1"


class _Entry:
    """A file of the project folder as the walk sees it."""

    __slots__ = ("ctime_ns", "mtime_ns", "nlink", "path", "size")

    def __init__(self, path: str, st: os.stat_result) -> None:
        self.path = path  # POSIX, relative to the project folder
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self.ctime_ns = st.st_ctime_ns
        self.nlink = st.st_nlink


class _Snapshot:
    """What ``take_snapshot`` recorded."""

    __slots__ = ("complete", "files", "start_ns")

    def __init__(self, start_ns: int, complete: bool, files: dict[str, tuple[int, int]]) -> None:
        self.start_ns = start_ns  # a file whose ctime is at least this changed afterwards
        self.complete = complete  # every file was recorded
        self.files = files  # path -> (size, mtime_ns)


def _ignored_file(name: str) -> bool:
    """``projectfiles.is_ignored`` for a file whose folders were already pruned (cheaper)."""
    return name in IGNORED_DIRS or name.startswith("._") or name.endswith((".pyc", ".pyo"))


def _walk(root: Path) -> Iterator[_Entry]:
    """Every regular file under ``root``, links not followed (a folder swapped for one while it
    walks included: ``beneath.walk_files``), ignored folders pruned."""
    for rel, st in walk_files(root, prune=ignored_dir_name):
        if not _ignored_file(rel.rpartition("/")[2]):
            yield _Entry(rel, st)


def _trusted_project(project: Path, run_dir: Path) -> Path | None:
    """The project folder itself, unless it (or a folder between it and the run folder) was
    replaced by a link: then nothing of it is listed, served or copied."""
    if os.path.islink(project) or not os.path.isdir(project):
        return None
    real = Path(os.path.realpath(project))
    try:
        expected = Path(os.path.realpath(run_dir)) / project.relative_to(run_dir)
    except ValueError:  # a project kept outside its run folder: its own name must not be a link
        expected = Path(os.path.realpath(project.parent)) / project.name
    return real if real == expected else None


def take_snapshot(project: Path, run_dir: Path) -> None:
    """Record every file of ``project`` (size, modification time) in ``run_dir``.

    Called right before the program starts, so that the files it creates or changes can be
    told apart from the project's own. Written atomically: a reader sees no half snapshot.
    """
    target = run_dir / SNAPSHOT_NAME
    partial = run_dir / (SNAPSHOT_NAME + ".part")
    root = _trusted_project(project, run_dir)
    with open(partial, "wb") as raw:
        # the file's own time, from the clock that stamps the project's files: whatever is
        # changed from now on has a ctime at least this
        start_ns = os.fstat(raw.fileno()).st_mtime_ns
        records: list[bytes] = []
        complete = True
        for entry in _walk(root) if root is not None else ():
            if len(records) >= MAX_SNAPSHOT_FILES:
                complete = False
                break
            name = os.fsencode(entry.path)
            records.append(b"%d %d %s" % (entry.size, entry.mtime_ns, name))
        header = {"start_ns": start_ns, "complete": complete, "files": len(records)}
        text = f"{_MAGIC}\n{json.dumps(header)}\n".encode() + b"\0".join(records)
        raw.write(zlib.compress(text, 1))
    os.replace(partial, target)


def _read_snapshot(run_dir: Path) -> _Snapshot | None:
    """The snapshot of a run, or None: a run made before snapshots, or one the program broke."""
    try:
        inflate = zlib.decompressobj()
        with open(run_dir / SNAPSHOT_NAME, "rb") as f:
            data = inflate.decompress(f.read(MAX_SNAPSHOT_BYTES), MAX_SNAPSHOT_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            return None  # too big, or cut short: not one pyrunner wrote
        magic, header_line, body = data.split(b"\n", 2)
        if magic.decode() != _MAGIC:
            return None
        header = json.loads(header_line)
        count = body.count(b"\0") + 1 if body else 0
        if count > MAX_SNAPSHOT_FILES or count != header["files"]:
            return None  # more than pyrunner records: not one it wrote
        files: dict[str, tuple[int, int]] = {}
        for record in body.split(b"\0") if body else ():
            size, mtime_ns, name = record.split(b" ", 2)
            files[os.fsdecode(name)] = (int(size), int(mtime_ns))
        return _Snapshot(int(header["start_ns"]), bool(header["complete"]), files)
    except (OSError, EOFError, ValueError, KeyError, TypeError, UnicodeDecodeError, zlib.error):
        return None


def _changed(entry: _Entry, snapshot: _Snapshot) -> bool:
    known = snapshot.files.get(entry.path)
    if known is not None:
        return known != (entry.size, entry.mtime_ns)
    return snapshot.complete or entry.ctime_ns >= snapshot.start_ns


def _as_output(entry: _Entry) -> OutputFile:
    from .outputs import OutputFile, mime_type

    return OutputFile(entry.path, entry.size, entry.mtime_ns / 1e9, mime_type(entry.path))


def scan_changed_files(
    project: Path, run_dir: Path
) -> tuple[list[OutputFile], list[tuple[str, str]]]:
    """The files of ``project`` created or changed since the snapshot, sorted by path, and
    those of them refused (hard links: ``outputs.HARD_LINK_REASON``), as (path, why).

    Paths are relative to the project folder. A run without a snapshot (made before pyrunner
    recorded one, or whose program has not started yet) has none.
    """
    from .outputs import HARD_LINK_REASON

    snapshot = _read_snapshot(run_dir)
    root = _trusted_project(project, run_dir)
    if snapshot is None or root is None:
        return [], []
    found: list[OutputFile] = []
    refused: list[tuple[str, str]] = []
    for entry in _walk(root):
        if _changed(entry, snapshot):
            if entry.nlink > 1:
                refused.append((entry.path, HARD_LINK_REASON))
            else:
                found.append(_as_output(entry))
    return sorted(found, key=lambda f: f.path), sorted(refused)


def changed_files(project: Path, run_dir: Path) -> list[OutputFile]:
    """The files ``scan_changed_files`` lists (hard links left out)."""
    return scan_changed_files(project, run_dir)[0]


def _no_file(relpath: str) -> OutputNotFoundError:
    """The error for a path that names no such file: the path shown escaped and cut short."""
    from .outputs import shown_name

    shown = shown_name(relpath)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return OutputNotFoundError(f"no file '{shown}' written beside the code")


def resolve_changed_file(project: Path, run_dir: Path, relpath: str) -> Path:
    """The path of one file the program wrote beside its code, as it is now.

    Refused (``OutputNotFoundError``) for ``..``, absolute paths, NUL, links, hard links,
    special files and files the program did not create or change: the project's own code is
    not an output. A path is no promise (the program may swap the file for a link right
    after): to read the file, use ``open_changed_file``.
    """
    open_changed_file(project, run_dir, relpath).close()
    root = _trusted_project(project, run_dir)
    return (root or project).joinpath(*PurePosixPath(relpath).parts)


def open_changed_file(project: Path, run_dir: Path, relpath: str) -> BinaryIO:
    """One file the program wrote beside its code, open for reading (what
    ``resolve_changed_file`` allows). It is opened once, never through a link
    (``beneath.open_fd_beneath``), and judged changed on the descriptor opened itself."""
    parts = PurePosixPath(relpath).parts
    if not parts or relpath.startswith("/") or "\0" in relpath or ".." in parts:
        raise _no_file(relpath)
    rel = "/".join(parts)
    snapshot = _read_snapshot(run_dir)
    root = _trusted_project(project, run_dir)
    if snapshot is None or root is None or is_ignored(PurePosixPath(rel)):
        raise _no_file(relpath)
    try:
        fd, st = open_fd_beneath(root, rel)
    except OSError:
        raise _no_file(relpath) from None
    if not _changed(_Entry(rel, st), snapshot):
        os.close(fd)
        raise _no_file(relpath)
    return os.fdopen(fd, "rb")


class ProjectFiles:
    """One run's files written beside the code: its project folder and its run folder (which
    holds the snapshot). What the faces, the copies and the zip take."""

    __slots__ = ("project", "run_dir")

    def __init__(self, project: Path, run_dir: Path) -> None:
        self.project = project
        self.run_dir = run_dir

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectFiles):
            return NotImplemented
        return (self.project, self.run_dir) == (other.project, other.run_dir)

    def __hash__(self) -> int:
        return hash((self.project, self.run_dir))

    def __repr__(self) -> str:
        return f"ProjectFiles({self.project!r}, {self.run_dir!r})"

    @classmethod
    def of_run(cls, store: RunStore, run_id: str) -> ProjectFiles:
        return cls(store.project_dir(run_id), store.run_dir(run_id))

    @property
    def recorded(self) -> bool:
        """Whether the run has a snapshot (runs made before this feature have none)."""
        return (self.run_dir / SNAPSHOT_NAME).is_file()

    def files(self) -> list[OutputFile]:
        """See ``changed_files``."""
        return changed_files(self.project, self.run_dir)

    def resolve(self, relpath: str) -> Path:
        """See ``resolve_changed_file``."""
        return resolve_changed_file(self.project, self.run_dir, relpath)

    def open(self, relpath: str) -> BinaryIO:
        """See ``open_changed_file``."""
        return open_changed_file(self.project, self.run_dir, relpath)

    def scan(self) -> tuple[list[OutputFile], list[tuple[str, str]]]:
        """See ``scan_changed_files``: the files, and the hard links refused."""
        return scan_changed_files(self.project, self.run_dir)

    def listing(self) -> tuple[Path | None, list[OutputFile], list[tuple[str, str]]]:
        """The project folder (None if it was replaced by a link), the files changed in it and
        those refused, for a copy or a zip, which open each with ``beneath.open_fd_beneath``: a
        file that became a link, or whose folder did, since it was listed is then refused."""
        root = _trusted_project(self.project, self.run_dir)
        if root is None:
            return None, [], []
        return (root, *self.scan())
