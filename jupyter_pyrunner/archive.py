"""Safe extraction of a project zip.

Every member is checked against the central directory before anything is written
(``zipplan``: unsafe names, names repeated, folders nested deeper than :data:`MAX_DEPTH`, links
and devices, encryption, member count, total size, compression ratio), then the caps are enforced
again on the bytes actually decompressed, because declared sizes can lie. On any error,
whatever this call wrote is removed again.

Declared compressed sizes can lie too: members whose data overlap (the "zip bomb without
recursion", where every member quotes the next one's header and all share one compressed
kernel) each declare a modest ratio while the archive as a whole expands millions of times.
So the local headers are read to refuse any two members sharing bytes, and the whole
archive's ratio is judged against its real size on disk.

Names are decoded as ``unzip`` decodes them (``zipnames.member_name``): Info-ZIP ``zip`` and
macOS write UTF-8 names without saying so, which ``zipfile`` alone would read as CP437.
"""

from __future__ import annotations

import contextlib
import copy
import lzma
import os
import struct
import zipfile
import zlib
from pathlib import Path

from ._core import Record
from .errors import ArchiveError
from .zipnames import member_name
from .zipplan import MAX_DEPTH, RATIO_MIN_SIZE, Member, check_layout, cut, human, plan

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import BinaryIO


__all__ = ["MAX_DEPTH", "ExtractLimits", "ExtractReport", "extract_zip", "is_zip", "member_name"]

_CHUNK = 1024 * 1024
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
)


class ExtractLimits(Record):
    """Caps that make a hostile archive fail fast instead of filling the disk."""

    _fields = ("max_total_bytes", "max_members", "max_ratio")
    __slots__ = _fields

    max_total_bytes: int
    """Total uncompressed size of all members (default 2 GiB)."""
    max_members: int
    """Number of entries in the central directory, skipped ones included (default 100 000)."""
    max_ratio: float
    """Largest uncompressed/compressed ratio, for any single member (against its compressed
    size) and for the whole archive (against the archive's size on disk), each judged only once
    the uncompressed size is over 1 MiB (default 1000)."""

    def __init__(
        self,
        max_total_bytes: int = 2 * 1024**3,
        max_members: int = 100_000,
        max_ratio: float = 1000.0,
    ) -> None:
        if min(max_total_bytes, max_members, max_ratio) <= 0:
            raise ValueError("extract limits must be positive")
        self.max_total_bytes = max_total_bytes
        self.max_members = max_members
        self.max_ratio = max_ratio


class ExtractReport(Record):
    """What :func:`extract_zip` did."""

    _fields = ("files", "bytes", "skipped")
    __slots__ = _fields

    files: int
    """Regular files written."""
    bytes: int
    """Bytes written."""
    skipped: tuple[str, ...]
    """Member names deliberately left out (macOS ``__MACOSX/`` and ``._*`` metadata)."""

    def __init__(self, files: int, bytes: int, skipped: tuple[str, ...]) -> None:
        self.files = files
        self.bytes = bytes
        self.skipped = skipped


def is_zip(path: Path) -> bool:
    """True if ``path`` is a readable file that looks like a zip archive."""
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


_DEFAULT_LIMITS = ExtractLimits()


def extract_zip(
    archive: Path, dest: Path, limits: ExtractLimits = _DEFAULT_LIMITS
) -> ExtractReport:
    """Extract ``archive`` into the existing directory ``dest``, safely.

    Raises :class:`ArchiveError` (one line, naming the offending member) if the archive
    is not a zip, is empty, corrupt, encrypted or unsafe, has overlapping or repeated
    members, exceeds ``limits``, or would overwrite a file already in ``dest``; in that case
    everything this call wrote into ``dest`` is removed again. Members all under one top
    folder are kept as they are. A ``./`` entry (some tools write one) stands for ``dest``.
    """
    label = archive.name or str(archive)
    if not dest.is_dir():
        raise ArchiveError(f"cannot extract {label}: the destination is not a directory")
    root = os.path.realpath(dest)
    try:
        fh = open(archive, "rb")  # noqa: SIM115 - closed below, after ZipFile
    except FileNotFoundError:
        raise ArchiveError(f"{label} does not exist") from None
    except IsADirectoryError:
        raise ArchiveError(f"{label} is a directory, not a zip archive") from None
    except OSError as exc:
        raise ArchiveError(f"cannot read {label}: {exc.strerror or exc}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        zf = _open_zip(fh, label)
        with zf:
            members, skipped = plan(zf, label, limits, size)
            check_layout(fh, zf, label, size)
            writer = _Writer(zf, label, root, limits, size)
            try:
                for member in members:
                    writer.extract(member)
            except BaseException:
                writer.undo()
                raise
    return ExtractReport(files=writer.files, bytes=writer.total, skipped=tuple(skipped))


def _open_zip(fh: BinaryIO, label: str) -> zipfile.ZipFile:
    """Parse the central directory, telling "not a zip" apart from "damaged zip"."""
    try:
        return zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        fh.seek(0)
        if fh.read(len(_LOCAL_HEADER_MAGIC)) != _LOCAL_HEADER_MAGIC:
            raise ArchiveError(f"{label} is not a zip archive") from None
        if "not a zip file" in str(exc):
            detail = "truncated or damaged (central directory not found)"
        else:
            detail = _one_line(exc)
        raise ArchiveError(f"{label} is corrupt: {detail}") from None
    except _READ_ERRORS as exc:
        raise ArchiveError(f"{label} is corrupt: {_one_line(exc)}") from None


class _Writer:
    """Writes planned members under ``root`` and remembers what it created."""

    def __init__(
        self, zf: zipfile.ZipFile, label: str, root: str, limits: ExtractLimits, size: int
    ) -> None:
        self.zf = zf
        self.label = label
        self.root = root
        self.limits = limits
        #: the most the archive may expand to, by its ratio cap against its size on disk
        self.ratio_allows = max(RATIO_MIN_SIZE, int(limits.max_ratio * max(size, 1)))
        self.files = 0
        self.total = 0
        self.dirs: dict[tuple[str, ...], str] = {(): root}
        self.created_dirs: list[str] = []
        self.created_files: set[str] = set()

    def extract(self, member: Member) -> None:
        """Create a directory entry, or write one file, checking sizes as bytes arrive."""
        parent = self._directory(member.parent, cut(member.shown))
        if not member.name:
            return
        target = os.path.join(parent, member.name)
        self._write(member, target)
        self.files += 1

    def _directory(self, parts: tuple[str, ...], raw: str) -> str:
        """Real path of the directory ``parts`` under root, created (with the folders above
        it) if needed; a loop, not recursion, however deep the member."""
        known = self.dirs.get(parts)
        if known is not None:
            return known
        depth = len(parts)
        while parts[: depth - 1] not in self.dirs:
            depth -= 1
        for level in range(depth, len(parts) + 1):
            path = self._make(parts[:level], raw)
        return path

    def _make(self, parts: tuple[str, ...], raw: str) -> str:
        """Create the folder ``parts``, whose parent is known."""
        path = os.path.join(self.dirs[parts[:-1]], parts[-1])
        try:
            os.mkdir(path)
        except FileExistsError:
            real = os.path.realpath(path)
            if not _inside(real, self.root):
                raise ArchiveError(
                    f"{self.label}: member {raw!r} would be written outside the destination"
                ) from None
            if not os.path.isdir(real):
                raise ArchiveError(
                    f"{self.label}: member {raw!r} needs a folder where a file exists"
                ) from None
            path = real
        except OSError as exc:
            raise ArchiveError(
                f"{self.label}: cannot create a folder for member {raw!r}: {exc.strerror or exc}"
            ) from None
        else:
            self.created_dirs.append(path)
        self.dirs[parts] = path
        return path

    def _write(self, member: Member, target: str) -> None:
        info = member.info
        raw = cut(member.shown)
        flags = _WRITE_FLAGS | os.O_EXCL  # a name repeated in the archive was refused before
        perm = 0o755 if member.executable else 0o644
        try:
            fd = os.open(target, flags, perm)
        except FileExistsError:
            raise ArchiveError(
                f"{self.label}: member {raw!r} would overwrite something already in the destination"
            ) from None
        except OSError as exc:
            raise ArchiveError(
                f"{self.label}: cannot write member {raw!r}: {exc.strerror or exc}"
            ) from None
        self.created_files.add(target)
        declared = info.file_size
        allowed = min(declared, self._room())
        # Left alone, zipfile quietly stops at the declared size and then fails on the
        # CRC. Let it run one byte past what is allowed, without its CRC check, so the
        # count below catches an oversized member, and check the CRC here instead.
        probe = copy.copy(info)
        probe.file_size = allowed + 1
        del probe.CRC
        written = 0
        crc = 0
        try:
            with open(fd, "wb") as dst:
                os.fchmod(fd, perm)
                try:
                    src = self.zf.open(probe)
                except _READ_ERRORS as exc:
                    raise self._corrupt(raw, exc) from None
                with src:
                    read = src.read
                    write = dst.write
                    while True:
                        try:
                            chunk = read(_CHUNK)
                        except _READ_ERRORS as exc:
                            raise self._corrupt(raw, exc) from None
                        if not chunk:
                            break
                        written += len(chunk)
                        if written > allowed:
                            raise self._too_big(raw, written > declared)
                        crc = zlib.crc32(chunk, crc)
                        write(chunk)
        except OSError as exc:
            raise ArchiveError(
                f"{self.label}: cannot write member {raw!r}: {exc.strerror or exc}"
            ) from None
        finally:
            self.total += written
        if crc != info.CRC:
            raise ArchiveError(f"{self.label} is corrupt: bad CRC-32 for member {raw!r}")

    def _room(self) -> int:
        """How many more bytes may be written: within the total cap, and within the ratio
        cap judged against the archive's size on disk (overlaps were refused before, so this
        holds anyway: it is checked again as the bytes arrive, as every cap is)."""
        return min(self.limits.max_total_bytes, self.ratio_allows) - self.total

    def _too_big(self, raw: str, over_declared: bool) -> ArchiveError:
        if over_declared:
            return ArchiveError(
                f"{self.label}: member {raw!r} is larger than its declared size; "
                "the archive is corrupt or malicious"
            )
        if self.ratio_allows < self.limits.max_total_bytes:
            return ArchiveError(
                f"{self.label} looks like a zip bomb: it expands more than "
                f"{self.limits.max_ratio:,.0f} times its size"
            )
        return ArchiveError(
            f"{self.label} is too large when extracted "
            f"(the limit is {human(self.limits.max_total_bytes)})"
        )

    def _corrupt(self, raw: str, exc: BaseException) -> ArchiveError:
        return ArchiveError(f"{self.label} is corrupt: member {raw!r}: {_one_line(exc)}")

    def undo(self) -> None:
        """Remove every file and folder this writer created (best effort)."""
        for path in self.created_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for path in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        self.created_files.clear()
        self.created_dirs.clear()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
