"""Member names are decoded as ``unzip`` decodes them, with every protection kept.

The archives are written byte by byte (``zipfile`` always sets the UTF-8 flag for a non-ASCII
name, so it cannot write what Info-ZIP ``zip`` and macOS write), and once with the real ``zip``
command when it is installed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest

from jupyter_pyrunner.archive import extract_zip, member_name
from jupyter_pyrunner.errors import ArchiveError

UTF8_FLAG = 0x800


class Raw:
    """One member as its bytes are written: the name field, flags and extra field."""

    def __init__(self, name: bytes, data: bytes = b"", flags: int = 0, extra: bytes = b""):
        self.name, self.data, self.flags, self.extra = name, data, flags, extra


def raw_zip(path: Path, members: list[Raw]) -> Path:
    """A stored (uncompressed) zip whose names are exactly the bytes given."""
    body = bytearray()
    central = bytearray()
    for m in members:
        offset = len(body)
        crc = zlib.crc32(m.data)
        size = len(m.data)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, m.flags, 0, 0, 0x21,
                            crc, size, size, len(m.name), len(m.extra))  # fmt: skip
        body += m.name + m.extra + m.data
        mode = 0o40755 if m.name.endswith(b"/") else 0o100644
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, m.flags, 0, 0, 0x21,
                               crc, size, size, len(m.name), len(m.extra), 0, 0, 0,
                               mode << 16, offset)  # fmt: skip
        central += m.name + m.extra
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(body), 0)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(body + central + end))
    return path


def unicode_path(name: str, for_header: bytes) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075) naming ``name`` for a header name."""
    body = struct.pack("<BL", 1, zlib.crc32(for_header)) + name.encode()
    return struct.pack("<HH", 0x7075, len(body)) + body


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def test_unflagged_utf8_names_are_utf8_and_others_cp437(tmp_path: Path, dest: Path) -> None:
    archive = raw_zip(
        tmp_path / "in.zip",
        [
            Raw("données/".encode()),
            Raw("données/résumé.csv".encode(), b"a,b\n"),
            Raw("日本語.txt".encode(), b"jp"),
            Raw(b"caf\x82.txt", b"dos"),  # CP437: 0x82 is e-acute, and not valid UTF-8
            Raw("flagged-ü.txt".encode(), b"f", flags=UTF8_FLAG),
        ],
    )
    extract_zip(archive, dest)
    assert tree(dest) == sorted(
        ["données", "données/résumé.csv", "日本語.txt", "café.txt", "flagged-ü.txt"]
    )
    assert (dest / "données" / "résumé.csv").read_bytes() == b"a,b\n"


def test_a_matching_unicode_path_field_wins_and_a_stale_one_is_ignored(
    tmp_path: Path, dest: Path
) -> None:
    archive = raw_zip(
        tmp_path / "in.zip",
        [
            Raw(b"_.txt", b"new", extra=unicode_path("日本.txt", b"_.txt")),
            # renamed by a tool that kept the old field: its CRC is of another name
            Raw(b"kept.txt", b"old", extra=unicode_path("stale.txt", b"before.txt")),
        ],
    )
    extract_zip(archive, dest)
    assert tree(dest) == ["kept.txt", "日本.txt"]


def test_macos_archive_names_become_nfc_and_metadata_is_skipped(tmp_path: Path, dest: Path) -> None:
    nfd = unicodedata.normalize("NFD", "projet/données.csv")
    assert nfd != "projet/données.csv"
    archive = raw_zip(
        tmp_path / "mac.zip",
        [
            Raw(b"projet/"),
            Raw(nfd.encode(), b"x,y\n"),
            Raw(b"__MACOSX/"),
            Raw(b"__MACOSX/projet/"),
            Raw(("__MACOSX/projet/._" + nfd.split("/")[1]).encode(), b"\x00\x05\x16\x07"),
        ],
    )
    report = extract_zip(archive, dest)
    assert tree(dest) == ["projet", "projet/données.csv"]
    assert report.skipped == (
        "__MACOSX/",
        "__MACOSX/projet/",
        "__MACOSX/projet/._données.csv",
    )


def test_member_name_decodes_what_zipfile_reads(tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "in.zip", [Raw("résumé.txt".encode())])
    (info,) = zipfile.ZipFile(archive).infolist()
    assert info.filename != "résumé.txt"  # zipfile's own CP437 reading
    assert member_name(info) == "résumé.txt"


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        ("é.txt", unicodedata.normalize("NFD", "é.txt"), "two Unicode forms"),
        ("a.txt", "./a.txt", ""),
    ],
)
def test_two_names_for_one_file_are_refused(
    tmp_path: Path, dest: Path, first: str, second: str, why: str
) -> None:
    archive = raw_zip(tmp_path / "dup.zip", [Raw(first.encode(), b"1"), Raw(second.encode(), b"2")])
    with pytest.raises(ArchiveError, match="would both be written to") as caught:
        extract_zip(archive, dest)
    assert why in str(caught.value)
    assert tree(dest) == []


@pytest.mark.parametrize(
    "member",
    [
        Raw("../évasion.txt".encode(), b"x"),
        Raw(b"safe.txt", b"x", extra=unicode_path("../evil.txt", b"safe.txt")),
        Raw(b"safe.txt", b"x", extra=unicode_path("/tmp/evil.txt", b"safe.txt")),
    ],
)
def test_decoded_names_are_checked_like_any_other(tmp_path: Path, dest: Path, member: Raw) -> None:
    archive = raw_zip(tmp_path / "in" / "evil.zip", [Raw(b"ok.py", b"ok"), member])
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract_zip(archive, dest)
    assert tree(dest) == []
    assert tree(tmp_path) == ["dest", "in", "in/evil.zip"]


def test_an_archive_made_by_the_zip_command(tmp_path: Path, dest: Path) -> None:
    """Info-ZIP's zip (installed by ``make test``) writes UTF-8 names without the flag."""
    assert shutil.which("zip"), "Info-ZIP zip is missing: `make test` installs it"
    source = tmp_path / "src"
    (source / "données").mkdir(parents=True)
    (source / "données" / "résumé.csv").write_text("a\n")
    (source / "main.py").write_text("print('hi')\n")
    archive = tmp_path / "made.zip"
    subprocess.run(
        ["zip", "-q", "-r", str(archive), "données", "main.py"],
        cwd=source,
        check=True,
        env={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    flags = [i.flag_bits & UTF8_FLAG for i in zipfile.ZipFile(archive).infolist()]
    assert flags == [0, 0, 0]  # as users' archives come: UTF-8 names, no flag
    extract_zip(archive, dest)
    assert tree(dest) == ["données", "données/résumé.csv", "main.py"]
