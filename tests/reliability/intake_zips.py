"""Zips written byte by byte, as hostile tools write them: any name bytes, members sharing
bytes (overlaps), members quoting each other's headers (the "zip bomb without recursion"),
truncation, zip64 records and many members. ``zipfile`` refuses to write most of these."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

STORED = 0
DEFLATED = 8
FILE_MODE = 0o100644
DIR_MODE = 0o40755
UTF8_FLAG = 0x800

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")


@dataclass
class Member:
    """One member as written: its name bytes, the bytes stored for it, and what they expand to."""

    name: bytes
    packed: bytes
    crc: int
    size: int
    method: int = STORED
    flags: int = 0
    mode: int = FILE_MODE
    extra: bytes = b""


def stored(name: str | bytes, data: bytes, *, mode: int | None = None, flags: int = 0) -> Member:
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    if mode is None:
        mode = DIR_MODE if raw.endswith(b"/") else FILE_MODE
    return Member(raw, data, zlib.crc32(data), len(data), STORED, flags, mode)


def deflated(name: str | bytes, data: bytes) -> Member:
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(data) + packer.flush()
    return Member(raw, packed, zlib.crc32(data), len(data), DEFLATED)


def local_header(m: Member) -> bytes:
    fixed = _LOCAL.pack(b"PK\x03\x04", 20, m.flags, m.method, 0, 0x21, m.crc, len(m.packed),
                        m.size, len(m.name), len(m.extra))  # fmt: skip
    return fixed + m.name + m.extra


def central_header(m: Member, offset: int) -> bytes:
    fixed = _CENTRAL.pack(b"PK\x01\x02", 0x031E, 20, m.flags, m.method, 0, 0x21, m.crc,
                          len(m.packed), m.size, len(m.name), len(m.extra), 0, 0, 0,
                          m.mode << 16, offset)  # fmt: skip
    return fixed + m.name + m.extra


def end_record(count: int, central: bytes, at: int) -> bytes:
    return _END.pack(b"PK\x05\x06", 0, 0, count, count, len(central), at, 0)


def assemble(members: list[Member], aliases: Sequence[tuple[Member, int]] = ()) -> bytes:
    """A zip of ``members`` one after the other; each alias is one more central entry whose
    local header is that of member number ``index`` (so both share its bytes)."""
    body = bytearray()
    offsets = []
    for m in members:
        offsets.append(len(body))
        body += local_header(m) + m.packed
    central = bytearray()
    for m, offset in zip(members, offsets, strict=True):
        central += central_header(m, offset)
    for m, index in aliases:
        central += central_header(m, offsets[index])
    count = len(members) + len(aliases)
    return bytes(body + central + end_record(count, bytes(central), len(body)))


def zip64(members: list[Member]) -> bytes:
    """A zip whose end records are zip64 ones (the classic record says 0xFFFF / 0xFFFFFFFF),
    as writers do past 65,535 members or 4 GiB."""
    body = bytearray()
    central = bytearray()
    for m in members:
        central += central_header(m, len(body))
        body += local_header(m) + m.packed
    at = len(body)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, len(members),
                        len(members), len(central), at)  # fmt: skip
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at + len(central), 1)
    end = _END.pack(b"PK\x05\x06", 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(body + central + end64 + locator + end)


def quoted_overlap_bomb(count: int, kernel: bytes) -> bytes:
    """David Fifield's "zip bomb without recursion": every member's deflate stream begins with
    a stored block quoting the next member's local header, then runs on into that member's own
    stream, so all ``count`` members share one compressed ``kernel`` and member ``i`` expands to
    the headers after it plus the whole kernel. The central directory declares honest sizes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed_kernel = packer.compress(kernel) + packer.flush()
    names = [f"m{i:05d}.bin".encode() for i in range(count)]
    headers: list[bytes] = [b""] * count
    members: list[Member] = [Member(b"", b"", 0, 0)] * count
    tail = b""  # the headers quoted after member i (LH_{i+1} .. LH_{n-1})
    packed = packed_kernel
    for i in reversed(range(count)):
        crc = zlib.crc32(kernel, zlib.crc32(tail))
        members[i] = Member(names[i], packed, crc, len(tail) + len(kernel), DEFLATED)
        headers[i] = local_header(members[i])
        quote = headers[i]
        block = b"\x00" + struct.pack("<HH", len(quote), len(quote) ^ 0xFFFF)
        # member i-1's stream: a stored block quoting this header, then this member's stream
        packed = block + quote + packed
        tail = quote + tail
    body = bytearray()
    offsets = []
    for i in range(count):
        offsets.append(len(body))
        body += headers[i]
        if i + 1 < count:
            quote = headers[i + 1]
            body += b"\x00" + struct.pack("<HH", len(quote), len(quote) ^ 0xFFFF)
    body += packed_kernel
    central = bytearray()
    for m, offset in zip(members, offsets, strict=True):
        central += central_header(m, offset)
    return bytes(body + central + end_record(count, bytes(central), len(body)))
