"""A run's output folder: listing it and reaching one file safely."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ._core import Record
from .errors import PyRunnerError


class OutputNotFoundError(PyRunnerError):
    """No such output file (or the path leads outside the output folder)."""


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


def iter_zip(root: Path, piece: int = 1 << 20) -> Iterator[bytes]:
    """The output folder as a zip archive, produced piece by piece (memory stays bounded)."""
    import zipfile

    spool = _Spool()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for item in list_outputs(root):
            with (
                open(root / item.path, "rb") as src,
                zf.open(item.path, "w", force_zip64=True) as dst,
            ):
                while block := src.read(piece):
                    dst.write(block)
                    if data := spool.take():
                        yield data
            if data := spool.take():
                yield data
    if data := spool.take():
        yield data
