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
never listed, and a project folder replaced by a link lists nothing.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

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

    __slots__ = ("ctime_ns", "mtime_ns", "path", "size")

    def __init__(self, path: str, size: int, mtime_ns: int, ctime_ns: int) -> None:
        self.path = path  # POSIX, relative to the project folder
        self.size = size
        self.mtime_ns = mtime_ns
        self.ctime_ns = ctime_ns


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
    """Every regular file under ``root``, links not followed, ignored folders pruned."""
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:  # gone, or not readable: nothing to record
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not ignored_dir_name(entry.name):
                        stack.append((prefix + entry.name + "/", entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # a link or a special file
                if _ignored_file(entry.name):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield _Entry(prefix + entry.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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


def changed_files(project: Path, run_dir: Path) -> list[OutputFile]:
    """The files of ``project`` created or changed since the snapshot, sorted by path.

    Paths are relative to the project folder. A run without a snapshot (made before pyrunner
    recorded one, or whose program has not started yet) has none.
    """
    snapshot = _read_snapshot(run_dir)
    root = _trusted_project(project, run_dir)
    if snapshot is None or root is None:
        return []
    found = [_as_output(e) for e in _walk(root) if _changed(e, snapshot)]
    return sorted(found, key=lambda f: f.path)


def _resolve(root: Path, relpath: str) -> Path:
    """The file at ``relpath`` inside ``root`` (links resolved and kept inside), or refused."""
    parts = PurePosixPath(relpath).parts
    if not parts or relpath.startswith("/") or "\0" in relpath or ".." in parts:
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    real = root.joinpath(*parts).resolve()
    # a link anywhere on the way (even one to a file inside) makes the real path differ
    if root not in real.parents or real.relative_to(root).parts != parts or not real.is_file():
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    return real


def resolve_changed_file(project: Path, run_dir: Path, relpath: str) -> Path:
    """The real path of one file the program wrote beside its code.

    Refused (``OutputNotFoundError``) for ``..``, absolute paths, links, and files the program
    did not create or change: the project's own code is not an output.
    """
    snapshot = _read_snapshot(run_dir)
    root = _trusted_project(project, run_dir)
    if snapshot is None or root is None:
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    real = _resolve(root, relpath)
    rel = real.relative_to(root).as_posix()
    if is_ignored(PurePosixPath(rel)):
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    st = os.lstat(real)
    if not _changed(_Entry(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns), snapshot):
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    return real


def open_changed_file(project: Path, run_dir: Path, relpath: str) -> BinaryIO:
    """One file the program wrote beside its code, open for reading: what
    ``resolve_changed_file`` allows, opened with ``outputs.open_beneath`` (no link followed,
    even one swapped in after the check) and judged changed on the file opened itself."""
    from .outputs import open_beneath

    real = resolve_changed_file(project, run_dir, relpath)
    root = _trusted_project(project, run_dir)
    snapshot = _read_snapshot(run_dir)
    if root is None or snapshot is None:
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    rel = real.relative_to(root).as_posix()
    try:
        f = open_beneath(root, rel)
    except OSError:
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code") from None
    st = os.fstat(f.fileno())
    if not _changed(_Entry(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns), snapshot):
        f.close()
        raise OutputNotFoundError(f"no file '{relpath}' written beside the code")
    return f


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

    def listing(self) -> tuple[Path | None, list[OutputFile]]:
        """The project folder (None if it was replaced by a link) and the files changed in it,
        for a copy or a zip, which open each with ``outputs.open_beneath``: a file that became
        a link, or whose folder did, since it was listed is then refused, not followed."""
        root = _trusted_project(self.project, self.run_dir)
        return root, (self.files() if root is not None else [])
