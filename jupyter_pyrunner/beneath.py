"""Reading files inside a folder that a running program controls: no link followed, opened once.

A run's program owns its output and project folders and may change them at any moment. A path
checked and then opened is no promise: between the two, ``sub`` may become a link to ``/etc``,
or ``x`` a link to the server's token file. So a file is opened in one step, relative to a
descriptor of the folder, never through a link (``openat2`` with ``RESOLVE_BENEATH`` and
``RESOLVE_NO_SYMLINKS`` where the kernel has it, else folder by folder with ``O_NOFOLLOW``),
then judged on the descriptor itself (``fstat``), and what is served, zipped or copied is read
from that descriptor.

A regular file with more than one name (a hard link) is refused as well: its other name may be
outside the folder (a program can ``os.link`` any file its user owns into its outputs), and
nothing in the file tells which name is the true one.

Copies keep holes: a sparse file of 1 GiB holding a few bytes takes a few blocks in its copy too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["copy_sparse", "open_beneath", "open_fd_beneath", "walk_files"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

#: ``openat2``'s ``resolve`` flags (linux/openat2.h)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
#: the system call's number, the same on the architectures listed (added after their tables
#: were unified); elsewhere the folder-by-folder walk is used
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}

#: the ``openat2`` call once looked up: None before, False where it cannot be used
_openat2: Callable[[int, bytes, int], int] | bool | None = None


def _load_openat2() -> Callable[[int, bytes, int], int] | bool:
    """``openat2(dirfd, path, flags) -> fd`` through ``ctypes``, or False where the kernel or
    the machine has none (the walk is then used)."""
    number = _SYS_OPENAT2.get(os.uname().machine) if sys.platform == "linux" else None
    if number is None:
        return False
    try:
        import ctypes  # here only: a run that serves no output never needs it

        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return False
    syscall.restype = ctypes.c_long

    class OpenHow(ctypes.Structure):
        _fields_ = [
            ("flags", ctypes.c_uint64),
            ("mode", ctypes.c_uint64),
            ("resolve", ctypes.c_uint64),
        ]

    resolve = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS

    def call(dirfd: int, path: bytes, flags: int) -> int:
        how = OpenHow(flags, 0, resolve)
        fd = syscall(
            ctypes.c_long(number),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(path),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return int(fd)

    return call


def _open_resolved(folder: int, parts: list[str]) -> int:
    """The file ``parts`` below the folder descriptor ``folder``, opened without following
    any link: by ``openat2`` where it works, else folder by folder."""
    global _openat2
    if _openat2 is None:
        _openat2 = _load_openat2()
    if _openat2 is not False:
        assert not isinstance(_openat2, bool)
        try:
            return _openat2(folder, os.fsencode("/".join(parts)), _FILE_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ENOSYS, errno.EPERM):  # an old kernel, or a sandbox's filter
                _openat2 = False
            elif exc.errno == errno.EXDEV:  # (cannot happen without ".."): outside is a link
                raise OSError(errno.ELOOP, "leads outside the folder") from None
            elif exc.errno != errno.EAGAIN:  # EAGAIN: a rename meanwhile; the walk decides
                raise
    return _walk_open(folder, parts)


def _walk_open(folder: int, parts: list[str]) -> int:
    """Each folder opened relative to the one before it, none of them a link (``O_NOFOLLOW``)."""
    with _parent_of(folder, parts) as parent:
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)


@contextlib.contextmanager
def _parent_of(folder: int, parts: list[str]) -> Iterator[int]:
    """The folder holding ``parts[-1]``, walked to from ``folder`` one name at a time without
    following a link; closed afterwards (``folder`` itself stays open)."""
    current = folder
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS, dir_fd=current)
            if current != folder:
                os.close(current)
            current = inner
        yield current
    finally:
        if current != folder:
            os.close(current)


def _parts(relpath: str) -> list[str]:
    """The names of a relative POSIX path; ``EINVAL`` for anything else (``..``, ``/x``, NUL)."""
    parts = relpath.split("/")
    if "\0" in relpath or any(part in ("", ".", "..") for part in parts):
        raise OSError(errno.EINVAL, "not a path inside the folder")
    return parts


def open_fd_beneath(root: str | os.PathLike[str], relpath: str) -> tuple[int, os.stat_result]:
    """The regular file ``relpath`` (POSIX, relative) of the folder ``root``: a descriptor open
    for reading, and its status taken on that descriptor.

    Neither ``root`` (its last name), nor a folder on the way, nor the file may be a link; the
    file must be a regular one (``O_NONBLOCK``: a pipe does not make the open wait) with one
    name only. ``OSError`` if not: ``ELOOP`` for a link, ``ENOENT`` for a file gone,
    ``EINVAL`` for a special file or a bad path, ``EMLINK`` for a hard link,
    ``ENAMETOOLONG`` for a name no file system takes.
    """
    parts = _parts(relpath)
    folder = os.open(root, _DIR_FLAGS)
    try:
        fd = _open_resolved(folder, parts)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            _one_name_here(folder, parts, st)
            os.set_blocking(fd, True)
            return fd, st
        except BaseException:
            os.close(fd)
            raise
    finally:
        os.close(folder)


def _one_name_here(folder: int, parts: list[str], opened: os.stat_result) -> None:
    """``EMLINK`` unless the opened file has one name only, and that name is ``parts``.

    The count alone can lie: a program that links a file from outside to ``x`` and removes the
    link again between our open and our ``fstat`` leaves us holding the outside file with one
    name, the outside one. Looking the name up again afterwards closes that: if it still names
    the same file, and that file still has one name, then at that moment the file had no name
    outside the folder (what was linked in was moved in, which the program could do anyway)."""
    if opened.st_nlink > 1:
        raise OSError(errno.EMLINK, f"a hard link (the file has {opened.st_nlink} names)")
    try:
        with _parent_of(folder, parts) as parent:
            named = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        raise OSError(errno.EMLINK, "the file lost its name while it was opened") from None
    if (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino) or named.st_nlink > 1:
        raise OSError(errno.EMLINK, "the file was linked or replaced while it was opened")


def open_beneath(root: str | os.PathLike[str], relpath: str) -> BinaryIO:
    """``open_fd_beneath``, as a file object."""
    fd, _st = open_fd_beneath(root, relpath)
    return os.fdopen(fd, "rb")


def walk_files(
    root: str | os.PathLike[str], prune: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, os.stat_result]]:
    """(POSIX path relative to ``root``, its ``lstat``) of every regular file below ``root``,
    folders first-listed first and names sorted; links neither followed nor listed.

    The walk holds a descriptor of each folder it is in and lists and opens relative to it, so a
    folder swapped for a link while it walks is left out, not followed (``os.fwalk`` checks that
    the folder it opened is the one it listed). ``prune(name)`` True leaves a folder out.
    ``root`` itself must not be a link (nothing is listed then). Folders that cannot be read
    (gone meanwhile, too deep for the descriptors at hand) are left out.
    """
    try:
        top = os.open(root, _DIR_FLAGS)
    except OSError:
        return
    try:
        for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=top):
            if prune is not None:
                dirnames[:] = [d for d in dirnames if not prune(d)]
            dirnames.sort()
            prefix = "" if dirpath == "." else dirpath[2:] + "/"
            for name in sorted(filenames):
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except OSError:  # gone since the folder was listed
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield prefix + name, st
    finally:
        os.close(top)


def copy_sparse(src: int, dest: Path, size: int) -> int:
    """Copy the first ``size`` bytes of the open file ``src`` to a new file ``dest`` (an entry
    there is replaced, never written through), keeping its holes; the bytes copied.

    Only the stretches holding data (``SEEK_DATA``/``SEEK_HOLE``) are read and written; the
    copy is then given its length, so the holes stay holes. Where the file system cannot tell
    (no ``SEEK_DATA``), the whole file is copied. A file that shrank meanwhile is copied as far
    as it goes.
    """
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    out = os.open(dest, flags, 0o600)
    try:
        reached = _copy_data(src, out, size)
        os.ftruncate(out, reached)
        return reached
    finally:
        os.close(out)


def _copy_data(src: int, out: int, size: int) -> int:
    """The data stretches of ``src`` below ``size`` written at the same offsets in ``out``; how
    far the copy reaches (``size``, unless the file ended sooner)."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(src, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from here to the end
                return size
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            start, end = pos, size  # no holes known here: all of it is data
        else:
            if start >= size:
                return size
            end = min(os.lseek(src, start, os.SEEK_HOLE), size)
        copied = _copy_range(src, out, start, end)
        if copied < end - start:  # the file ended sooner
            return start + copied
        pos = end
    return size


def _copy_range(src: int, out: int, start: int, end: int) -> int:
    """Bytes ``[start, end)`` of ``src`` to the same offsets of ``out``; how many were copied."""
    done = 0
    while start + done < end:
        left = min(end - start - done, 1 << 24)
        try:
            n = os.copy_file_range(src, out, left, start + done, start + done)
        except OSError as exc:  # across file systems, or not supported: read and write
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = _read_write(src, out, start + done, min(left, 1 << 20))
        if n == 0:
            break
        done += n
    return done


def _read_write(src: int, out: int, at: int, count: int) -> int:
    block = os.pread(src, count, at)
    view = memoryview(block)
    while view:
        written = os.pwrite(out, view, at + len(block) - len(view))
        view = view[written:]
    return len(block)
