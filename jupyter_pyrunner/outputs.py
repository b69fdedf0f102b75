r"""A run's outputs: listing them, reaching one file safely, copying them elsewhere, zipping them.

A run has two sections of outputs: ``OUTPUT_FOLDER``'s files (listed here, kept exactly as
oSparc has them) and the files its program wrote beside its code, in its project folder
(``workfiles.py``). Copies and zips hold the first at their own paths and the second in a
folder ``project/`` (``project (2)/`` ... should ``OUTPUT_FOLDER`` hold a ``project`` of its own).

Names that are not UTF-8. A program may write a file whose name is not valid UTF-8
(``open(b"bad\xffname.txt", "wb")``). ``OutputFile.path`` keeps the true name (each undecodable
byte as a lone surrogate, as ``os.fsdecode`` gives), so the file can still be read; but no zip,
JSON document or browser can carry that name. So:

- zips, copies and JSON listings (``files_json``) hold ``stored_paths`` names: each undecodable
  byte becomes U+FFFD (``�``), a character every file system and zip tool accepts. Should that
  name be taken in its folder (by another file, or a folder), `` (2)``, `` (3)`` ... is added
  before the suffix, so two files never share a name. U+FFFD takes 3 bytes where the bad byte
  took 1, so such a name is cut (before its suffix) to the 255 bytes file systems allow.
  Valid names are never changed.
- terminals and notebook views show ``shown_name``: control characters escaped (``\n``,
  ``\x1b``...), so a name cannot break a line or send escape sequences, and undecodable bytes as
  ``\xNN``, so the user sees which byte it is.
- such a file cannot be fetched alone by URL (URLs are UTF-8): the REST API answers 404 for it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Generator, Iterable
from pathlib import Path, PurePosixPath

from ._core import Record
from .beneath import copy_sparse, open_beneath, open_fd_beneath, walk_files
from .errors import OutputNotFoundError, OutputsReplacedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO
    from zipfile import ZipFile

    from .workfiles import ProjectFiles

__all__ = [
    "CopyResult",
    "OutputFile",
    "OutputNotFoundError",
    "OutputsReplacedError",
    "copy_outputs",
    "files_json",
    "is_utf8_name",
    "iter_zip",
    "list_outputs",
    "mime_type",
    "open_beneath",
    "open_output",
    "project_folder_name",
    "resolve_output",
    "scan_outputs",
    "shown_name",
    "stored_paths",
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
        """The file for JSON: a name that is not UTF-8 is given with U+FFFD for its undecodable
        bytes (``files_json`` also keeps such names apart)."""
        return {
            "path": _replaced(self.path),
            "size": self.size,
            "mtime": self.mtime,
            "mime_type": self.mime_type,
        }


def _is_undecodable(ch: str) -> bool:
    """A lone surrogate: what ``os.fsdecode`` makes of a byte that is not UTF-8."""
    return "\ud800" <= ch <= "\udfff"


def is_utf8_name(path: str) -> bool:
    """Whether ``path`` is valid UTF-8 (it holds no undecodable byte): only such a name can be
    given in a URL, JSON or a zip as it is."""
    return not any(map(_is_undecodable, path))


def _replaced(name: str) -> str:
    """``name`` with each undecodable byte as U+FFFD."""
    if is_utf8_name(name):
        return name
    return "".join("\ufffd" if _is_undecodable(ch) else ch for ch in name)


def _escaped(ch: str) -> str:
    if ch in "\n\r\t":
        return repr(ch)[1:-1]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (os.fsdecode's surrogate escape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown_name(path: str) -> str:
    """``path`` for a terminal or a notebook: characters that are not printable (control
    characters such as a newline or ESC, invisible format characters, undecodable bytes) are
    written as Python escapes (``\\n``, ``\\x1b``, ``\\xff``). Printable names are unchanged."""
    if path.isprintable():
        return path
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in path)


#: the longest file name (one path component) most file systems and zip tools take, in bytes
NAME_MAX = 255


def _numbered(name: str, n: int) -> str:
    """``name`` with `` (n)`` before its suffix (``a.txt`` → ``a (2).txt``; n 1: no number),
    its stem cut so that the whole takes at most ``NAME_MAX`` bytes in UTF-8 (a name whose
    bad bytes became U+FFFD, 3 bytes each, may have grown past it)."""
    stem, dot, suffix = name.rpartition(".")
    if not stem or not dot or len(suffix.encode()) > NAME_MAX // 2:
        stem, suffix = name, ""  # no suffix, a name such as ".env", or no sensible one
    tail = (f" ({n})" if n > 1 else "") + (f".{suffix}" if suffix else "")
    room = NAME_MAX - len(tail.encode())
    return stem.encode()[:room].decode("utf-8", "ignore") + tail


def stored_paths(paths: Iterable[str]) -> dict[str, str]:
    """Each of ``paths`` (POSIX, relative) → the name it has in a zip, a copy or a JSON
    listing: the same for a valid name; for one with undecodable bytes, those bytes replaced
    by U+FFFD and, should that name be taken in its folder, numbered (see the module's
    docstring). The names given are unique, and depend on the set of paths alone (not their
    order): a folder keeps one name for all its files."""
    paths = list(paths)
    taken: dict[str, set[str]] = {}  # a stored folder -> the names used in it
    mapped: dict[str, str] = {"": ""}  # a true folder or file path -> its stored path
    last: dict[tuple[str, str], int] = {}  # (stored folder, name) -> the last number given
    for path in paths:  # valid names first: they keep theirs whatever the others become
        parent = ""
        for part in path.split("/"):
            if _replaced(part) != part:
                break
            taken.setdefault(parent, set()).add(part)
            parent = _joined(parent, part)
            mapped[parent] = parent
    for path in sorted(paths):  # then the others, numbered in the order of their true names
        true_parent = ""
        for part in path.split("/"):
            true_path = _joined(true_parent, part)
            if true_path not in mapped:
                parent = mapped[true_parent]
                used = taken.setdefault(parent, set())
                base = _replaced(part)
                name = _numbered(base, 1)  # cut to NAME_MAX bytes
                n = last.get((parent, base), 1)  # many alike: no search from 2 each time
                while name in used:
                    n += 1
                    name = _numbered(base, n)
                last[parent, base] = n
                used.add(name)
                mapped[true_path] = _joined(parent, name)
            true_parent = true_path
    return {path: mapped[path] for path in paths}


def _joined(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def files_json(files: list[OutputFile]) -> list[dict[str, object]]:
    """``OutputFile.to_dict`` of each file, with the names of ``stored_paths``: valid UTF-8,
    unique, the names the zip and the copies use."""
    names = stored_paths(f.path for f in files)
    return [{**f.to_dict(), "path": names[f.path]} for f in files]


def mime_type(name: str) -> str:
    import mimetypes  # here only: it reads the system's type tables

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


#: why a file with more than one name is neither served, zipped nor copied
HARD_LINK_REASON = "a hard link: its other name may be a file from outside, so it is not served"

#: a file listed but not served, zipped or copied: (path, why)
Skipped = tuple[str, str]


def scan_outputs(root: Path) -> tuple[list[OutputFile], list[Skipped]]:
    """The regular files under ``root`` (links neither followed nor listed), folders first-listed
    first and names sorted; and the files found but refused: hard links (``HARD_LINK_REASON``).

    The walk lists each folder through a descriptor of it, so a folder swapped for a link while
    it walks is not followed (``beneath.walk_files``). A program may replace its whole output
    folder by a link to elsewhere: then nothing is listed.
    """
    files: list[OutputFile] = []
    skipped: list[Skipped] = []
    real = _trusted_root(root)
    if real is None:
        return files, skipped
    for rel, st in walk_files(real):
        if st.st_nlink > 1:
            skipped.append((rel, HARD_LINK_REASON))
            continue
        files.append(OutputFile(rel, st.st_size, st.st_mtime, mime_type(rel)))
    return files, skipped


def list_outputs(root: Path) -> list[OutputFile]:
    """The files ``scan_outputs`` lists: every regular file under ``root`` with one name
    (symbolic links are not followed, hard links left out), in walk order."""
    return scan_outputs(root)[0]


def skipped_json(skipped: Iterable[Skipped]) -> list[dict[str, str]]:
    """Files listed but not served, for JSON: readable names (``_replaced``) and why."""
    return [{"path": _replaced(path), "reason": why} for path, why in skipped]


#: the longest path a message repeats (a path of thousands of characters is cut)
_SHOWN_PATH = 200


def _no_output(relpath: str) -> OutputNotFoundError:
    """The error for a path that names no output: the path shown escaped and cut short."""
    shown = shown_name(relpath)
    if len(shown) > _SHOWN_PATH:
        shown = shown[:_SHOWN_PATH] + "..."
    return OutputNotFoundError(f"no output '{shown}'")


def _relative_parts(relpath: str) -> tuple[str, ...] | None:
    """The names of ``relpath`` if it can name a file inside the outputs, else None."""
    parts = PurePosixPath(relpath.replace("\\", "/")).parts
    if not parts or relpath.startswith("/") or "\0" in relpath:
        return None
    if any(p in ("..", "") for p in parts):
        return None
    return parts


def resolve_output(root: Path, relpath: str) -> Path:
    """The path of the output file ``relpath`` as it is now (``OutputNotFoundError`` for ``..``,
    absolute paths, links, special files and hard links). A path is no promise: the program may
    swap the file for a link right after. To read an output, use ``open_output``."""
    real_root = _trusted_root(root)
    with open_output(root, relpath):  # the same checks, on the file itself
        pass
    assert real_root is not None  # (open_output refuses a root replaced by a link)
    return real_root.joinpath(*relpath.replace("\\", "/").split("/"))


def open_output(root: Path, relpath: str) -> BinaryIO:
    """One output file, open for reading (``..``, absolute paths, NUL, links, special files
    and hard links are refused with ``OutputNotFoundError``). The file is opened once, never
    through a link (see ``beneath.open_fd_beneath``): what is read is the file that was
    checked, even if the program swaps it, or a folder, for a link at the same moment."""
    parts = _relative_parts(relpath)
    if parts is None:
        raise _no_output(relpath)
    real_root = _trusted_root(root)
    try:
        if real_root is None:
            raise OSError(errno.ELOOP, "the output folder was replaced by a link")
        return open_beneath(real_root, "/".join(parts))
    except OSError:
        raise _no_output(relpath) from None


def project_folder_name(root: Path) -> str:
    """The folder of a copy or zip that holds the files written beside the code: ``project``,
    unless the output folder ``root`` has an entry of that name (then ``project (2)`` ...)."""
    name, n = "project", 1
    while os.path.lexists(root / name):
        n += 1
        name = f"project ({n})"
    return name


#: one file of a copy or a zip: the folder it is read from, its path there, its stored name
_Entry = tuple[Path, str, str]


def _entries(
    real: Path | None, project_files: ProjectFiles | None
) -> tuple[list[_Entry], list[Skipped]]:
    """What a copy or a zip of the output folder ``real`` holds, listed once: the outputs at
    their ``stored_paths``, then (with ``project_files``) the files written beside the code;
    and the files refused by the listing (hard links), with readable names and why."""
    if real is None:
        return [], []
    listed, refused = scan_outputs(real)
    names = stored_paths(item.path for item in listed)
    entries = [(real, item.path, names[item.path]) for item in listed]
    skipped = [(_replaced(path), why) for path, why in refused]
    if project_files is not None:
        project_root, written, refused = project_files.listing()
        if project_root is not None:
            folder = project_folder_name(real)
            names = stored_paths(item.path for item in written)
            entries += [(project_root, f.path, f"{folder}/{names[f.path]}") for f in written]
            skipped += [(f"{folder}/{_replaced(path)}", why) for path, why in refused]
    return entries, skipped


def _why(exc: OSError) -> str:
    """Why a file listed could not be copied or zipped, in a few words."""
    if exc.errno == errno.ENOENT:
        return "gone since it was listed"
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "replaced by a link since it was listed"
    if exc.errno == errno.EMLINK:
        return HARD_LINK_REASON
    if exc.errno == errno.EINVAL:
        return "replaced by a special file since it was listed"
    return exc.strerror or str(exc)


class CopyResult(tuple[int, int]):
    """What ``copy_outputs`` did: (files copied, bytes copied), as a pair, and ``skipped``,
    the files listed that could not be copied, each as (stored name, why). One bad file (gone,
    swapped for a link, a name the target takes not) never stops the copy of the others."""

    skipped: tuple[tuple[str, str], ...]

    def __new__(cls, files: int, size: int, skipped: Iterable[tuple[str, str]] = ()) -> CopyResult:
        made = super().__new__(cls, (files, size))
        made.skipped = tuple(skipped)
        return made

    @property
    def files(self) -> int:
        return self[0]

    @property
    def size(self) -> int:
        return self[1]

    def problem(self, to: object = None, shown: int = 5) -> str | None:
        """The files not copied (``to`` the folder, if given), in one line for a warning; None
        when every file was."""
        if not self.skipped:
            return None
        names = ", ".join(f"{shown_name(name)} ({why})" for name, why in self.skipped[:shown])
        more = f" and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
        where = f" to {shown_name(str(to))}" if to is not None else ""
        return f"{len(self.skipped)} file(s) could not be copied{where}: {names}{more}"


def copy_outputs(root: Path, target: Path, project_files: ProjectFiles | None = None) -> CopyResult:
    """Copy the output folder ``root`` into ``target``; returns (files copied, bytes copied),
    a ``CopyResult`` whose ``skipped`` tells the files that could not be copied.

    ``target`` and its parents are created if needed. Files already in ``target`` are kept,
    except those with the path of an output, which are replaced; folders are merged. What is
    copied is what ``list_outputs`` lists (regular files) and the folders holding them; empty
    folders (the unused ``OUTPUT_n`` port folders every run has, for one) are left out.
    Symbolic links (and other special files) are skipped: neither followed nor copied, so the
    copy never holds anything from outside the output folder nor a link pointing out of it
    (each file is opened once with ``open_fd_beneath`` and copied from that descriptor, so a
    file or folder swapped for a link is not followed either). Hard links are not copied (their
    other name may be outside) and are named in ``skipped``, as is a file that cannot be copied
    (gone, swapped, refused by the target). Holes of sparse files stay holes in the copy. A program that replaced its whole output folder by a link gets
    ``OutputsReplacedError``, and nothing is copied; a missing output folder copies nothing.

    With ``project_files``, the files the program wrote beside its code are copied too, into
    ``target/project/`` (see ``project_folder_name``), with the same care for links. Names that
    are not UTF-8 are given the ``stored_paths`` names, as in the zip.
    """
    real = _trusted_root(root)
    if real is None:
        # (the message names no folder: it may reach a web client)
        raise OutputsReplacedError("the output folder was replaced by a link: nothing is copied")
    target.mkdir(parents=True, exist_ok=True)
    files = size = 0
    entries, skipped = _entries(real if os.path.isdir(real) else None, project_files)
    for folder, path, stored in entries:
        try:
            fd, st = open_fd_beneath(folder, path)
        except OSError as exc:
            skipped.append((stored, _why(exc)))
            continue
        try:
            size += _copy_file(fd, st, target.joinpath(*stored.split("/")))
            files += 1
        except OSError as exc:  # the target refused it (a name too long, a folder there...)
            skipped.append((stored, exc.strerror or str(exc)))
        finally:
            os.close(fd)
    return CopyResult(files, size, skipped)


def _copy_file(src: int, st: os.stat_result, dest: Path) -> int:
    """Copy the open file ``src`` (of status ``st``) to ``dest``, with its mode, times and
    holes; returns its size. An entry at ``dest`` is replaced, never written through (a link
    there may lead anywhere)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    copied = copy_sparse(src, dest, st.st_size)
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


#: the note a zip holds when files listed could not be put in it
MISSING_NAME = "MISSING.txt"


def iter_zip(
    root: Path, piece: int = 1 << 20, project_files: ProjectFiles | None = None
) -> Generator[bytes, None, None]:
    """The output folder as a zip archive, produced piece by piece (memory stays bounded).

    With ``project_files``, the files written beside the code are in it too, under
    ``project/`` (see ``project_folder_name``). Names that are not UTF-8 are stored as
    ``stored_paths`` gives them. Each file is opened once with ``open_beneath`` when its turn
    comes, and zipped from that descriptor: one that is gone or was swapped for a link since
    the listing is left out, and named in a ``MISSING.txt`` at the top of the zip (and its
    comment), as are hard links: the zip is sent as it is made, so the stream must go on to a
    whole archive.
    """
    import zipfile

    entries, skipped = _entries(_trusted_root(root), project_files)
    spool = _Spool()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for folder, path, stored in entries:
            try:
                src = open_beneath(folder, path)
            except OSError as exc:
                skipped.append((stored, _why(exc)))
                continue
            with src, zf.open(stored, "w", force_zip64=True) as dst:
                try:
                    while block := src.read(piece):
                        dst.write(block)
                        if data := spool.take():
                            yield data
                except OSError as exc:  # kept as far as it could be read
                    skipped.append((stored, f"cut short: {exc.strerror or exc}"))
            if data := spool.take():
                yield data
        if skipped:
            _write_missing(zf, skipped, {stored.split("/")[0] for _f, _p, stored in entries})
    if data := spool.take():
        yield data


def _write_missing(zf: ZipFile, skipped: list[tuple[str, str]], taken: set[str]) -> None:
    """Name the files left out of the zip in a note at its top (a free name) and its comment."""
    name, n = MISSING_NAME, 1
    while name in taken:
        n += 1
        name = _numbered(MISSING_NAME, n)
    lines = [f"{len(skipped)} file(s) could not be put in this zip:"]
    lines += [f"{stored}: {why}" for stored, why in skipped]
    zf.writestr(name, "\n".join(lines) + "\n")
    zf.comment = f"{len(skipped)} file(s) left out: see {name}".encode()
