"""Safe extraction of a project zip.

Every member is checked against the central directory before anything is written
(unsafe names, links and devices, encryption, member count, total size, compression
ratio), then the caps are enforced again on the bytes actually decompressed, because
declared sizes can lie. On any error, whatever this call wrote is removed again.

Names are decoded as ``unzip`` decodes them (``zipnames.member_name``): Info-ZIP ``zip`` and
macOS write UTF-8 names without saying so, which ``zipfile`` alone would read as CP437.
"""

from __future__ import annotations

import contextlib
import copy
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from ._core import Record
from .errors import ArchiveError
from .zipnames import check_unique, decoded_name, member_name, nfc

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import BinaryIO


__all__ = ["ExtractLimits", "ExtractReport", "extract_zip", "is_zip", "member_name"]

_MIB = 1024 * 1024
_CHUNK = _MIB
_RATIO_MIN_SIZE = _MIB  # ratios are only judged for data bigger than this

_FLAG_ENCRYPTED = 0x01
_FLAG_STRONG_ENCRYPTION = 0x40
_SUPPORTED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_SPECIAL_TYPES = frozenset({stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK})
_DRIVE = re.compile(r"^[A-Za-z]:")
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
    """Largest uncompressed/compressed ratio, for the whole archive and for any single
    member, each judged only once its uncompressed size is over 1 MiB (default 1000)."""

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


class _Member(Record):
    _fields = ("info", "shown", "parent", "name", "executable")
    __slots__ = _fields

    info: zipfile.ZipInfo
    shown: str  # the member's name as decoded (see member_name), for messages
    parent: tuple[str, ...]
    name: str  # last path component; "" for a directory entry
    executable: bool

    def __init__(
        self,
        info: zipfile.ZipInfo,
        shown: str,
        parent: tuple[str, ...],
        name: str,
        executable: bool,
    ) -> None:
        self.info = info
        self.shown = shown
        self.parent = parent
        self.name = name
        self.executable = executable


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
    is not a zip, is empty, corrupt, encrypted or unsafe, exceeds ``limits``, or would
    overwrite a file already in ``dest``; in that case everything this call wrote into
    ``dest`` is removed again. Members all under one top folder are kept as they are.
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
        zf = _open_zip(fh, label)
        with zf:
            members, skipped = _plan(zf, label, limits)
            writer = _Writer(zf, label, root, limits)
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


def _plan(
    zf: zipfile.ZipFile, label: str, limits: ExtractLimits
) -> tuple[list[_Member], list[str]]:
    """Check the whole central directory; return what to extract and what to skip."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(
            f"{label} has too many members ({len(infos):,}; the limit is {limits.max_members:,})"
        )
    members: list[_Member] = []
    skipped: list[str] = []
    written: dict[tuple[str, ...], str] = {}
    total = 0
    total_compressed = 0
    for info in infos:
        written_as = decoded_name(info)
        shown = nfc(written_as)
        parts, is_dir = _split_name(shown, label)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise ArchiveError(f"{label}: member {shown!r} is a symbolic link, which is refused")
        if kind in _SPECIAL_TYPES:
            raise ArchiveError(
                f"{label}: member {shown!r} is a device, fifo or socket, which is refused"
            )
        if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise ArchiveError(f"{label}: encrypted archives are not supported")
        is_dir = is_dir or kind == stat.S_IFDIR
        if parts[0] == "__MACOSX" or (not is_dir and parts[-1].startswith("._")):
            skipped.append(shown)
            continue
        if is_dir:
            members.append(_Member(info, shown, tuple(parts), "", False))
            continue
        check_unique(written, tuple(parts), written_as, label)
        if info.compress_type not in _SUPPORTED_METHODS:
            raise ArchiveError(
                f"{label}: member {shown!r} uses an unsupported compression method "
                f"({info.compress_type})"
            )
        size, packed = info.file_size, info.compress_size
        if size > _RATIO_MIN_SIZE and size > limits.max_ratio * max(packed, 1):
            raise ArchiveError(
                f"{label} looks like a zip bomb: member {shown!r} expands "
                f"{size / max(packed, 1):,.0f} times (the limit is {limits.max_ratio:,.0f})"
            )
        total += size
        total_compressed += packed
        members.append(_Member(info, shown, tuple(parts[:-1]), parts[-1], bool(mode & 0o111)))
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{label} is too large when extracted ({_human(total)}; "
            f"the limit is {_human(limits.max_total_bytes)})"
        )
    if total > _RATIO_MIN_SIZE and total > limits.max_ratio * max(total_compressed, 1):
        raise ArchiveError(
            f"{label} looks like a zip bomb: it expands "
            f"{total / max(total_compressed, 1):,.0f} times (the limit is {limits.max_ratio:,.0f})"
        )
    if not any(m.name for m in members):
        raise ArchiveError(f"{label} is empty")
    return members, skipped


def _split_name(raw: str, label: str) -> tuple[list[str], bool]:
    """Split a member name into safe path parts; say whether it names a directory."""

    def unsafe(why: str) -> ArchiveError:
        return ArchiveError(f"{label}: unsafe member {raw!r} ({why})")

    if "\x00" in raw:
        raise unsafe("name contains a NUL byte")
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise unsafe("absolute path")
    if _DRIVE.match(name):
        raise unsafe("absolute path with a drive letter")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise unsafe("path goes up with '..'")
    if not parts:
        raise unsafe("empty path")
    return parts, name.endswith("/")


class _Writer:
    """Writes planned members under ``root`` and remembers what it created."""

    def __init__(self, zf: zipfile.ZipFile, label: str, root: str, limits: ExtractLimits):
        self.zf = zf
        self.label = label
        self.root = root
        self.limits = limits
        self.files = 0
        self.total = 0
        self.dirs: dict[tuple[str, ...], str] = {(): root}
        self.created_dirs: list[str] = []
        self.created_files: set[str] = set()

    def extract(self, member: _Member) -> None:
        """Create a directory entry, or write one file, checking sizes as bytes arrive."""
        parent = self._directory(member.parent, member.shown)
        if not member.name:
            return
        target = os.path.join(parent, member.name)
        self._write(member, target)
        self.files += 1

    def _directory(self, parts: tuple[str, ...], raw: str) -> str:
        """Real path of the directory ``parts`` under root, created if needed."""
        known = self.dirs.get(parts)
        if known is not None:
            return known
        parent = self._directory(parts[:-1], raw)
        path = os.path.join(parent, parts[-1])
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

    def _write(self, member: _Member, target: str) -> None:
        info = member.info
        raw = member.shown
        flags = _WRITE_FLAGS if target in self.created_files else _WRITE_FLAGS | os.O_EXCL
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
        allowed = min(declared, self.limits.max_total_bytes - self.total)
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

    def _too_big(self, raw: str, over_declared: bool) -> ArchiveError:
        if over_declared:
            return ArchiveError(
                f"{self.label}: member {raw!r} is larger than its declared size; "
                "the archive is corrupt or malicious"
            )
        return ArchiveError(
            f"{self.label} is too large when extracted "
            f"(the limit is {_human(self.limits.max_total_bytes)})"
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


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"
