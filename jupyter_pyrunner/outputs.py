"""A run's outputs: listing them, reaching one file safely, copying them elsewhere, zipping them.

A run has two sections of outputs: ``OUTPUT_FOLDER``'s files (listed here, kept exactly as
oSparc has them) and the files its program wrote beside its code, in its project folder
(``workfiles.py``). Copies and zips hold the first at their own paths and the second in a
folder ``project/`` (``project (2)/`` ... should ``OUTPUT_FOLDER`` hold a ``project`` of its own).
"""

from __future__ import annotations

import errno
import mimetypes
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import OutputNotFoundError, OutputsReplacedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .workfiles import ProjectFiles

__all__ = [
    "OutputFile",
    "OutputNotFoundError",
    "OutputsReplacedError",
    "copy_outputs",
    "iter_zip",
    "list_outputs",
    "mime_type",
    "project_folder_name",
    "resolve_output",
]


class OutputFile(Record):
    _fields = ("path", "size", "mtime", "mime_type")
    __slots__ = _fields

    path: str  # POSIX path relative to the output folder
    size: int
    mtime: float
    mime_type: str

    def __init__(self, path: str, size: int, mtime: float, mime_type: str) -> None:
        self.path = path
        self.size = size
        self.mtime = mtime
        self.mime_type = mime_type

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "mtime": self.mtime,
            "mime_type": self.mime_type,
        }


def mime_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _trusted_root(root: Path) -> Path | None:
    """``root`` itself, unless the program replaced it by a link (then nothing is served)."""
    if os.path.islink(root):
        return None
    real = Path(os.path.realpath(root))
    if real != Path(os.path.realpath(root.parent)) / root.name:
        return None  # a link further up: the folder is not where the run put it
    return real


def list_outputs(root: Path) -> list[OutputFile]:
    """Every regular file under ``root`` (symbolic links are not followed), sorted by path.

    A program may replace its output folder by a link to elsewhere: then nothing is listed.
    """
    files: list[OutputFile] = []
    if _trusted_root(root) is None:
        return files
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            rel = PurePosixPath(Path(full).relative_to(root).as_posix())
            files.append(OutputFile(str(rel), st.st_size, st.st_mtime, mime_type(name)))
    return files


def resolve_output(root: Path, relpath: str) -> Path:
    """The file at ``relpath`` inside ``root``; refuses ``..``, absolute paths and escaping links."""
    parts = PurePosixPath(relpath.replace("\\", "/")).parts
    if not parts or relpath.startswith("/") or any(p in ("..", "") for p in parts):
        raise OutputNotFoundError(f"no output '{relpath}'")
    real_root = _trusted_root(root)
    if real_root is None:
        raise OutputNotFoundError(f"no output '{relpath}'")
    real = real_root.joinpath(*parts).resolve()
    if real != real_root and real_root not in real.parents:
        raise OutputNotFoundError(f"no output '{relpath}'")
    if not real.is_file():
        raise OutputNotFoundError(f"no output '{relpath}'")
    return real


def project_folder_name(root: Path) -> str:
    """The folder of a copy or zip that holds the files written beside the code: ``project``,
    unless the output folder ``root`` has an entry of that name (then ``project (2)`` ...)."""
    name, n = "project", 1
    while os.path.lexists(root / name):
        n += 1
        name = f"project ({n})"
    return name


def copy_outputs(
    root: Path, target: Path, project_files: ProjectFiles | None = None
) -> tuple[int, int]:
    """Copy the output folder ``root`` into ``target``; returns (files copied, bytes copied).

    ``target`` and its parents are created if needed. Files already in ``target`` are kept,
    except those with the path of an output, which are replaced; folders are merged. What is
    copied is what ``list_outputs`` lists (regular files) and the folders holding them; empty
    folders (the unused ``OUTPUT_n`` port folders every run has, for one) are left out.
    Symbolic links (and other special files) are skipped: neither followed nor copied, so the
    copy never holds anything from outside the output folder nor a link pointing out of it.
    A program that replaced its whole output folder by a link gets ``OutputsReplacedError``,
    and nothing is copied; a missing output folder copies nothing.

    With ``project_files``, the files the program wrote beside its code are copied too, into
    ``target/project/`` (see ``project_folder_name``), with the same care for links.
    """
    real = _trusted_root(root)
    if real is None:
        raise OutputsReplacedError(f"{root} was replaced by a link: the outputs are not copied")
    target.mkdir(parents=True, exist_ok=True)
    files = size = 0
    if os.path.isdir(real):
        files, size = _copy_tree(real, target)
    if project_files is not None:
        more, more_size = _copy_project_files(project_files, target / project_folder_name(real))
        files, size = files + more, size + more_size
    return files, size


def _copy_tree(real: Path, target: Path) -> tuple[int, int]:
    files = size = 0
    # fwalk opens each folder relative to its parent and does not enter links to folders, so
    # a folder swapped for a link while the copy runs is not followed either
    for dirpath, _dirnames, filenames, dir_fd in os.fwalk(real):
        folder = target / os.path.relpath(dirpath, real)
        if filenames:
            folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            copied = _copy_file(name, dir_fd, folder / name)
            if copied is not None:
                files += 1
                size += copied
    return files, size


def _copy_project_files(project_files: ProjectFiles, target: Path) -> tuple[int, int]:
    files = size = 0
    for item, source in project_files.sources():
        dest = target.joinpath(*PurePosixPath(item.path).parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        copied = _copy_file(str(source), None, dest)
        if copied is not None:
            files += 1
            size += copied
    return files, size


def _copy_file(name: str, dir_fd: int | None, dest: Path) -> int | None:
    """Copy the regular file ``name`` of the folder ``dir_fd`` (or the path ``name``) to
    ``dest`` (its size), or skip it (None) when it is a link or a special file."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.ENOENT):  # a link, a socket, or gone
            return None
        raise
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if dest.is_symlink() or dest.is_file():
            dest.unlink()  # replaced, never written through (a link there may lead anywhere)
        with open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            copied = out.tell()
    os.chmod(dest, st.st_mode & 0o777)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
    return copied


class _Spool:
    """A write-only, unseekable file for ``zipfile``: bytes written are taken out in pieces."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def iter_zip(
    root: Path, piece: int = 1 << 20, project_files: ProjectFiles | None = None
) -> Iterator[bytes]:
    """The output folder as a zip archive, produced piece by piece (memory stays bounded).

    With ``project_files``, the files written beside the code are in it too, under
    ``project/`` (see ``project_folder_name``).
    """
    import zipfile

    entries = [(root / item.path, item.path) for item in list_outputs(root)]
    if project_files is not None:
        folder = project_folder_name(root)
        entries += [(src, f"{folder}/{item.path}") for item, src in project_files.sources()]
    spool = _Spool()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for source, name in entries:
            with open(source, "rb") as src, zf.open(name, "w", force_zip64=True) as dst:
                while block := src.read(piece):
                    dst.write(block)
                    if data := spool.take():
                        yield data
            if data := spool.take():
                yield data
    if data := spool.take():
        yield data
