"""Checks of a zip before anything of it is written: its central directory (names, kinds,
methods, sizes, ratios, repeated names) and its layout on disk (members sharing bytes).

``archive.extract_zip`` calls :func:`plan` then :func:`check_layout`; what passes is written
by its writer, which counts the bytes again as they arrive.
"""

from __future__ import annotations

import itertools
import re
import stat
import struct
import zipfile

from ._core import Record
from .errors import ArchiveError
from .zipnames import check_unique, decoded_name, member_name, nfc
from .zipnames import shorten as cut

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import BinaryIO

    from .archive import ExtractLimits

__all__ = [
    "MAX_DEPTH",
    "MAX_NAME_BYTES",
    "RATIO_MIN_SIZE",
    "Member",
    "check_layout",
    "cut",
    "human",
    "plan",
]

#: how deep a member may be nested (folders in its name); far above any real project, and
#: far below what would overflow a path or the interpreter's recursion
MAX_DEPTH = 256
#: the longest name of one file or folder, in bytes (what Linux file systems accept)
MAX_NAME_BYTES = 255
#: ratios are only judged for data bigger than this
RATIO_MIN_SIZE = 1024 * 1024

_FLAG_ENCRYPTED = 0x01
_FLAG_STRONG_ENCRYPTION = 0x40
_SUPPORTED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_SPECIAL_TYPES = frozenset({stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK})
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # magic, then (after 22 bytes) name and extra lengths


class Member(Record):
    """A member to write: its entry, its name for messages, where it goes, its mode."""

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


def plan(
    zf: zipfile.ZipFile, label: str, limits: ExtractLimits, archive_size: int
) -> tuple[list[Member], list[str]]:
    """Check the whole central directory; return what to extract and what to skip."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(
            f"{label} has too many members ({len(infos):,}; the limit is {limits.max_members:,})"
        )
    members: list[Member] = []
    skipped: list[str] = []
    paths = _Paths(label)
    total = 0
    total_compressed = 0
    for info in infos:
        written_as = decoded_name(info)
        shown = nfc(written_as)
        parts, is_dir = _split_name(shown, label)
        mode = info.external_attr >> 16
        _check_kind(info, mode, shown, label)
        is_dir = is_dir or stat.S_IFMT(mode) == stat.S_IFDIR
        if not parts:  # "./": the destination itself
            continue
        if parts[0] == "__MACOSX" or (not is_dir and parts[-1].startswith("._")):
            skipped.append(shown)
            continue
        if is_dir:
            paths.add_folder(tuple(parts), shown)
            members.append(Member(info, shown, tuple(parts), "", False))
            continue
        paths.add_file(tuple(parts), written_as)
        _check_file(info, shown, label, limits)
        total += info.file_size
        total_compressed += info.compress_size
        members.append(Member(info, shown, tuple(parts[:-1]), parts[-1], bool(mode & 0o111)))
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{label} is too large when extracted ({human(total)}; "
            f"the limit is {human(limits.max_total_bytes)})"
        )
    _check_ratio(total, min(total_compressed, archive_size), label, limits)
    if not any(m.name for m in members):
        raise ArchiveError(f"{label} is empty")
    return members, skipped


def _check_kind(info: zipfile.ZipInfo, mode: int, shown: str, label: str) -> None:
    """Refuse links, devices and encrypted members."""
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise ArchiveError(f"{label}: member {shown!r} is a symbolic link, which is refused")
    if kind in _SPECIAL_TYPES:
        raise ArchiveError(
            f"{label}: member {shown!r} is a device, fifo or socket, which is refused"
        )
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise ArchiveError(f"{label}: encrypted archives are not supported")


def _check_file(info: zipfile.ZipInfo, shown: str, label: str, limits: ExtractLimits) -> None:
    """A file member's compression method, and its declared expansion (its compressed bytes
    are its own: overlaps are refused by :func:`check_layout`)."""
    if info.compress_type not in _SUPPORTED_METHODS:
        raise ArchiveError(
            f"{label}: member {shown!r} uses an unsupported compression method "
            f"({info.compress_type})"
        )
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > RATIO_MIN_SIZE and size > limits.max_ratio * packed:
        raise ArchiveError(
            f"{label} looks like a zip bomb: member {shown!r} expands "
            f"{size / packed:,.0f} times (the limit is {limits.max_ratio:,.0f})"
        )


def _check_ratio(total: int, packed: int, label: str, limits: ExtractLimits) -> None:
    """The whole archive's expansion: ``packed`` is at most its real size on disk, which
    overlapping members cannot inflate."""
    packed = max(packed, 1)
    if total > RATIO_MIN_SIZE and total > limits.max_ratio * packed:
        raise ArchiveError(
            f"{label} looks like a zip bomb: it expands "
            f"{total / packed:,.0f} times (the limit is {limits.max_ratio:,.0f})"
        )


class _Paths:
    """The paths members will take, to refuse before writing anything two members for one
    file (a repeated name, ``a.txt`` and ``./a.txt``, one name in two Unicode forms) and a
    name that is both a file and a folder."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.files: dict[tuple[str, ...], str] = {}
        self.folders: dict[tuple[str, ...], str] = {}

    def add_file(self, parts: tuple[str, ...], name: str) -> None:
        check_unique(self.files, parts, name, self.label)
        self._parents(parts[:-1], name)
        if parts in self.folders:
            self._both(name, self.folders[parts])

    def add_folder(self, parts: tuple[str, ...], name: str) -> None:
        self._parents(parts, name)

    def _parents(self, parts: tuple[str, ...], name: str) -> None:
        """Record ``parts`` and the folders above it, stopping at one already known (so a
        deep archive costs one step per new folder, not one per level per member)."""
        while parts and parts not in self.folders:
            self.folders[parts] = name
            if parts in self.files:
                self._both(self.files[parts], name)
            parts = parts[:-1]

    def _both(self, file: str, other: str) -> None:
        raise ArchiveError(
            f"{self.label}: member {cut(file)!r} is a file, but {cut(other)!r} needs a folder "
            "of that name"
        )


def check_layout(fh: BinaryIO, zf: zipfile.ZipFile, label: str, archive_size: int) -> None:
    """Refuse members whose bytes (local header and data) overlap another's, or run past the
    end of the archive, by reading each member's local header."""
    spans: list[tuple[int, int, int]] = []
    infos = zf.infolist()
    for index, info in enumerate(infos):
        start = info.header_offset
        fh.seek(start)
        head = fh.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size or head[:4] != _LOCAL_HEADER_MAGIC:
            raise ArchiveError(f"{label} is corrupt: member {_shown(info)!r} has no local header")
        _magic, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        end = start + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        if end > archive_size:
            raise ArchiveError(f"{label} is corrupt: member {_shown(info)!r} is truncated")
        spans.append((start, end, index))
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            raise ArchiveError(
                f"{label} looks like a zip bomb: members {_shown(infos[first])!r} and "
                f"{_shown(infos[second])!r} overlap (they share compressed bytes), "
                "which is refused"
            )


def _shown(info: zipfile.ZipInfo) -> str:
    return cut(member_name(info))


def _split_name(raw: str, label: str) -> tuple[list[str], bool]:
    """Split a member name into safe path parts; say whether it names a directory. ``./``
    (or ``.``) gives no parts: it names the destination itself."""

    def unsafe(why: str) -> ArchiveError:
        return ArchiveError(f"{label}: unsafe member {cut(raw)!r} ({why})")

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
        if name.rstrip("/") == ".":
            return [], True
        raise unsafe("empty path")
    if len(parts) > MAX_DEPTH:
        raise unsafe(f"nested {len(parts)} levels deep; the limit is {MAX_DEPTH}")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise unsafe(f"a name in it is longer than {MAX_NAME_BYTES} bytes")
    return parts, name.endswith("/")


def human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"
