"""Names of zip members as ``unzip`` reads them.

The zip format marks UTF-8 names with a flag (bit 11), but Info-ZIP ``zip`` on Linux and macOS's
Finder write UTF-8 names without it, and ``zipfile`` then reads them as CP437: ``données`` would
become ``donn├⌐es`` on disk, in messages and for ``--entry``. Extraction (``archive``) uses
:func:`member_name` for every member and :func:`check_unique` so that two members never end up
as one file, whether by a repeated name or by way of decoding.
"""

from __future__ import annotations

import struct
import unicodedata
import zipfile
import zlib

from .errors import ArchiveError

__all__ = ["check_unique", "decoded_name", "member_name", "nfc", "shorten"]

_FLAG_UTF8 = 0x800  # "language encoding flag": the name is UTF-8
_UNICODE_PATH = 0x7075  # Info-ZIP Unicode Path extra field


def member_name(info: zipfile.ZipInfo) -> str:
    """The name of a member as ``unzip`` reads it, in NFC.

    An Info-ZIP Unicode Path extra field wins when its checksum matches the header's name;
    then a name flagged UTF-8 is UTF-8; an unflagged one is UTF-8 when its bytes are valid
    UTF-8 (Info-ZIP ``zip`` on Linux, macOS Finder), else CP437 (old DOS and Windows tools).
    Names are normalised to NFC: macOS writes decomposed accents (``e`` + U+0301), which on
    Linux would be another file than the ``é`` typed in the program's source.
    """
    return nfc(decoded_name(info))


def decoded_name(info: zipfile.ZipInfo) -> str:
    """The member's name as written (see :func:`member_name`), before normalisation."""
    flagged = bool(info.flag_bits & _FLAG_UTF8)
    raw = info.orig_filename.encode("utf-8" if flagged else "cp437")
    name = _unicode_path(info.extra, raw)
    if name is not None:
        return name
    if not flagged:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return info.orig_filename


def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    """The UTF-8 name of an Info-ZIP Unicode Path field (0x7075) in ``extra``, when it is
    version 1 and was written for this very name (its CRC-32 is the CRC of ``raw``)."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind != _UNICODE_PATH or len(body) < 5 or len(body) != size:
            continue
        version, crc = struct.unpack_from("<BL", body)
        if version != 1 or crc != zlib.crc32(raw):
            continue
        try:
            return body[5:].decode("utf-8") or None
        except UnicodeDecodeError:
            return None
    return None


def check_unique(
    written: dict[tuple[str, ...], str], parts: tuple[str, ...], name: str, label: str
) -> None:
    """Refuse two members that would give the same file: a name repeated (which would
    silently keep only the last one: which one a tool reads is not agreed on), ``a.txt`` and
    ``./a.txt``, or one name in two Unicode forms."""
    first = written.get(parts)
    if first is None:
        written[parts] = name
        return
    where = shorten("/".join(parts))
    if first == name:
        raise ArchiveError(f"{label}: member {where!r} appears twice; only one may be extracted")
    how = " (one name in two Unicode forms)" if nfc(first) == nfc(name) else ""
    raise ArchiveError(
        f"{label}: members {shorten(first)!r} and {shorten(name)!r} would both be written to "
        f"{where!r}{how}"
    )


def shorten(name: str, most: int = 200) -> str:
    """A name short enough for a one-line message (a member's name may be thousands long)."""
    return name if len(name) <= most else name[: most - 3] + "..."


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C (composed accents, as typed on most keyboards)."""
    return unicodedata.normalize("NFC", text)
