"""Tests for safe zip extraction, on real archives built with ``zipfile``."""

from __future__ import annotations

import os
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from jupyter_pyrunner.archive import ExtractLimits, ExtractReport, extract_zip, is_zip
from jupyter_pyrunner.errors import ArchiveError

MIB = 1024 * 1024

Entry = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(path: Path, entries: list[Entry], method: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def typed(name: str, mode: int) -> zipfile.ZipInfo:
    """A member whose Unix mode (file type and permissions) is ``mode``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for folders)."""
    tree: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        tree[rel] = None if p.is_dir() and not p.is_symlink() else p.read_bytes()
    return tree


def central_headers(data: bytes) -> dict[str, int]:
    """Offsets of the central directory headers, by member name."""
    found: dict[str, int] = {}
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        found[data[pos + 46 : pos + 46 + name_len].decode()] = pos
        pos = data.find(b"PK\x01\x02", pos + 46 + name_len)
    return found


def local_header(data: bytes, name: str) -> int:
    pos = data.find(b"PK\x03\x04")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 26)[0]
        if data[pos + 30 : pos + 30 + name_len] == name.encode():
            return pos
        pos = data.find(b"PK\x03\x04", pos + 4)
    raise AssertionError(f"no local header for {name}")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    box = tmp_path / "box" / "dest"
    box.mkdir(parents=True)
    return box


def refused(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> str:
    """Extract, expecting a one-line ArchiveError and no trace left anywhere.

    The archive sits in ``root/in`` and dest is ``root/box/dest``, so the snapshot of
    ``root`` covers dest, its parent and anything an escaping path could reach there.
    """
    root = archive.parent.parent
    assert dest.parent.parent == root
    before = snapshot(root)
    assert before
    with pytest.raises(ArchiveError) as caught:
        if limits is None:
            extract_zip(archive, dest)
        else:
            extract_zip(archive, dest, limits)
    message = str(caught.value)
    assert message
    assert "\n" not in message
    assert snapshot(root) == before
    return message


# -- normal extraction -------------------------------------------------------------


def test_extracts_nested_project_as_is(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "project.zip",
        [
            ("proj/main.py", b"print('hi')\n"),
            ("proj/pkg/__init__.py", b""),
            ("proj/pkg/deep/data.csv", b"a,b\n1,2\n" * 1000),
            (typed("proj/run.sh", stat.S_IFREG | 0o755), b"#!/bin/sh\necho hi\n"),
            (typed("proj/notes.txt", stat.S_IFREG | 0o600), b"notes"),
            ("proj/empty/", b""),
        ],
    )
    report = extract_zip(archive, dest)

    assert report == ExtractReport(files=5, bytes=12 + 0 + 8000 + 18 + 5, skipped=())
    assert (dest / "proj" / "main.py").read_bytes() == b"print('hi')\n"
    assert (dest / "proj" / "pkg" / "__init__.py").read_bytes() == b""
    assert (dest / "proj" / "pkg" / "deep" / "data.csv").read_bytes() == b"a,b\n1,2\n" * 1000
    assert (dest / "proj" / "empty").is_dir()
    assert sorted(p.name for p in dest.iterdir()) == ["proj"]
    assert stat.S_IMODE((dest / "proj" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "proj" / "notes.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "proj" / "main.py").stat().st_mode) == 0o644


def test_stored_bzip2_and_lzma_members(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "in" / "methods.zip"
    archive.parent.mkdir()
    payload = bytes(range(256)) * 50
    with zipfile.ZipFile(archive, "w") as zf:
        for method in (zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            zf.writestr(f"m{method}.bin", payload, compress_type=method)
    report = extract_zip(archive, dest)
    assert report.files == 3
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        assert (dest / f"m{method}.bin").read_bytes() == payload


def test_windows_backslash_names(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "win.zip",
        [("proj\\src\\app.py", b"x = 1\n"), ("proj\\README.txt", b"read me")],
    )
    report = extract_zip(archive, dest)
    assert report.files == 2
    assert (dest / "proj" / "src" / "app.py").read_bytes() == b"x = 1\n"
    assert (dest / "proj" / "README.txt").read_bytes() == b"read me"
    assert not any("\\" in p.name for p in dest.rglob("*"))


def test_macos_metadata_is_skipped_and_reported(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "mac.zip",
        [
            ("proj/app.py", b"pass\n"),
            ("__MACOSX/", b""),
            ("__MACOSX/proj/._app.py", b"\x00\x05\x16\x07"),
            ("proj/._app.py", b"\x00\x05\x16\x07"),
        ],
    )
    report = extract_zip(archive, dest)
    assert report.files == 1
    assert report.skipped == ("__MACOSX/", "__MACOSX/proj/._app.py", "proj/._app.py")
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["proj", "proj/app.py"]


def test_a_repeated_member_name_is_refused(tmp_path: Path, dest: Path) -> None:
    """Which copy a tool reads is not agreed on (``unzip`` asks, ``zipfile`` takes the last):
    a project must not mean two things."""
    archive = tmp_path / "in" / "dup.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("a.txt", b"first version")
        zf.writestr("a.txt", b"second")
    message = refused(archive, dest)
    assert message == "dup.zip: member 'a.txt' appears twice; only one may be extracted"


def test_keeps_existing_content_and_reuses_existing_folders(tmp_path: Path, dest: Path) -> None:
    (dest / "proj").mkdir()
    (dest / "keep.txt").write_bytes(b"mine")
    archive = make_zip(tmp_path / "in" / "p.zip", [("proj/new.py", b"new")])
    extract_zip(archive, dest)
    assert (dest / "proj" / "new.py").read_bytes() == b"new"
    assert (dest / "keep.txt").read_bytes() == b"mine"


# -- unsafe members ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "a/../../evil.txt",
        "proj/../../evil.txt",
        "..\\evil.txt",
        "C:/evil.txt",
        "c:\\evil.txt",
        "\\evil.txt",
    ],
)
def test_rejects_escaping_names(tmp_path: Path, dest: Path, name: str) -> None:
    archive = make_zip(tmp_path / "in" / "evil.zip", [("proj/ok.py", b"ok"), (name, b"pwned")])
    assert name in zipfile.ZipFile(archive).namelist()
    message = refused(archive, dest)
    assert message.startswith(f"evil.zip: unsafe member {name!r} (")
    assert not (tmp_path / "box" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_rejects_absolute_path(tmp_path: Path, dest: Path) -> None:
    target = tmp_path / "box" / "absolute-evil.txt"
    name = target.as_posix()
    assert name.startswith("/")
    archive = make_zip(tmp_path / "in" / "abs.zip", [("ok.py", b"ok"), (name, b"pwned")])
    assert zipfile.ZipFile(archive).namelist()[1] == name
    message = refused(archive, dest)
    assert "absolute path" in message
    assert not target.exists()


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (stat.S_IFLNK, "symbolic link"),
        (stat.S_IFCHR, "device"),
        (stat.S_IFBLK, "device"),
        (stat.S_IFIFO, "fifo"),
        (stat.S_IFSOCK, "socket"),
    ],
)
def test_rejects_links_and_special_files(tmp_path: Path, dest: Path, kind: int, words: str) -> None:
    archive = make_zip(
        tmp_path / "in" / "special.zip",
        [("proj/ok.py", b"ok"), (typed("proj/thing", kind | 0o777), b"../../outside")],
    )
    message = refused(archive, dest)
    assert "'proj/thing'" in message
    assert words in message


def test_rejects_nul_in_name(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "in" / "nul.zip", [("ok.py", b"ok"), ("evilXname.py", b"x")])
    data = archive.read_bytes()
    assert data.count(b"evilXname") == 2  # local header and central directory
    archive.write_bytes(data.replace(b"evilXname", b"evil\x00name"))
    message = refused(archive, dest)
    assert "NUL" in message
    assert "'evil\\x00name.py'" in message


def test_rejects_symlink_already_in_dest_pointing_outside(tmp_path: Path, dest: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "link").symlink_to(outside, target_is_directory=True)
    archive = make_zip(tmp_path / "in" / "p.zip", [("a.py", b"a"), ("link/x.py", b"x")])
    with pytest.raises(ArchiveError, match="outside the destination") as caught:
        extract_zip(archive, dest)
    assert "\n" not in str(caught.value)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["link"]


def test_never_overwrites_existing_file_and_cleans_up(tmp_path: Path, dest: Path) -> None:
    (dest / "proj").mkdir()
    (dest / "proj" / "keep.txt").write_bytes(b"mine")
    archive = make_zip(
        tmp_path / "in" / "p.zip",
        [("proj/new.py", b"new"), ("proj/sub/x.py", b"x"), ("proj/keep.txt", b"theirs")],
    )
    with pytest.raises(ArchiveError, match="would overwrite") as caught:
        extract_zip(archive, dest)
    assert "'proj/keep.txt'" in str(caught.value)
    assert (dest / "proj" / "keep.txt").read_bytes() == b"mine"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["proj", "proj/keep.txt"]


def test_file_and_folder_with_the_same_name(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "in" / "clash.zip", [("a", b"file"), ("a/b.py", b"x")])
    message = refused(archive, dest)
    assert "'a/b.py'" in message


# -- limits ------------------------------------------------------------------------


def test_too_many_members(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "in" / "many.zip", [(f"f{i}.txt", b"x") for i in range(4)])
    message = refused(archive, dest, ExtractLimits(max_members=3))
    assert "too many members" in message
    assert extract_zip(archive, dest, ExtractLimits(max_members=4)).files == 4


def test_declared_total_too_large(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "in" / "big.zip", [("a.bin", b"a" * 600), ("b.bin", b"b" * 600)])
    message = refused(archive, dest, ExtractLimits(max_total_bytes=1000))
    assert message == "big.zip is too large when extracted (1.2 KiB; the limit is 1000 bytes)"
    assert extract_zip(archive, dest, ExtractLimits(max_total_bytes=1200)).bytes == 1200


def test_member_ratio_only_judged_above_one_mib(tmp_path: Path, dest: Path) -> None:
    limits = ExtractLimits(max_ratio=10)
    small = make_zip(tmp_path / "in" / "small.zip", [("zeros.bin", bytes(MIB // 2))])
    assert extract_zip(small, dest, limits).bytes == MIB // 2
    (dest / "zeros.bin").unlink()
    big = make_zip(tmp_path / "in" / "big.zip", [("ok.py", b"ok"), ("zeros.bin", bytes(2 * MIB))])
    message = refused(big, dest, limits)
    assert "zip bomb" in message
    assert "'zeros.bin'" in message


def test_whole_archive_ratio(tmp_path: Path, dest: Path) -> None:
    entries: list[Entry] = [(f"z{i}.bin", bytes(256 * 1024)) for i in range(8)]
    archive = make_zip(tmp_path / "in" / "many-zeros.zip", entries)
    message = refused(archive, dest, ExtractLimits(max_ratio=10))
    assert "zip bomb" in message
    assert extract_zip(archive, dest, ExtractLimits(max_ratio=2000)).files == 8


@pytest.fixture(scope="module")
def gib_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One member of 1 GiB of zeros, deflated by zipfile itself (about 1 MB)."""
    path = tmp_path_factory.mktemp("bomb") / "in" / "bomb.zip"
    path.parent.mkdir()
    chunk = bytes(MIB)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.bin", "w", force_zip64=True) as out,
    ):
        for _ in range(1024):
            out.write(chunk)
    return path


def test_gib_zip_bomb_refused_fast(gib_bomb: Path) -> None:
    info = zipfile.ZipFile(gib_bomb).infolist()[0]
    assert info.file_size == 1024 * MIB
    assert gib_bomb.stat().st_size < 2 * MIB
    dest = gib_bomb.parent.parent / "box" / "dest"
    dest.mkdir(parents=True)
    start = time.perf_counter()
    message = refused(gib_bomb, dest)
    assert time.perf_counter() - start < 1.0
    assert "zip bomb" in message


@pytest.mark.parametrize(
    ("extra", "limits", "expected"),
    [
        ([("b.py", b"b"), ("c.py", b"c")], ExtractLimits(max_members=2), "too many members"),
        ([("big.bin", b"x" * 5000)], ExtractLimits(max_total_bytes=4000), "too large"),
        ([("zeros.bin", bytes(2 * MIB))], ExtractLimits(max_ratio=10), "zip bomb"),
        ([("../evil.py", b"e")], None, "unsafe member"),
        ([(typed("link", stat.S_IFLNK | 0o777), b"/")], None, "symbolic link"),
    ],
    ids=["members", "size", "ratio", "name", "symlink"],
)
def test_checks_run_before_anything_is_written(
    tmp_path: Path, dest: Path, extra: list[Entry], limits: ExtractLimits | None, expected: str
) -> None:
    # The first member already exists in dest: writing it would fail with "would
    # overwrite", so getting the check's own message proves nothing was written first.
    (dest / "first.py").write_bytes(b"already here")
    archive = make_zip(tmp_path / "in" / "p.zip", [("first.py", b"new"), *extra])
    message = refused(archive, dest, limits)
    assert expected in message
    assert "overwrite" not in message


# -- sizes that lie ----------------------------------------------------------------


def lie_about_size(archive: Path, name: str, fake_size: int) -> None:
    """Rewrite ``name``'s uncompressed size in its local and central headers."""
    data = bytearray(archive.read_bytes())
    struct.pack_into("<I", data, central_headers(bytes(data))[name] + 24, fake_size)
    struct.pack_into("<I", data, local_header(bytes(data), name) + 22, fake_size)
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_member_bigger_than_declared_is_stopped_while_writing(
    tmp_path: Path, dest: Path, method: int
) -> None:
    real = os.urandom(300_000)
    archive = make_zip(
        tmp_path / "in" / "liar.zip",
        [("proj/first.py", b"written, then removed"), ("proj/liar.bin", real)],
        method,
    )
    lie_about_size(archive, "proj/liar.bin", 1000)
    assert zipfile.ZipFile(archive).getinfo("proj/liar.bin").file_size == 1000
    message = refused(archive, dest)
    assert "'proj/liar.bin' is larger than its declared size" in message


# -- not a zip, empty, corrupt -----------------------------------------------------


def test_not_a_zip(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "in" / "project.zip"
    archive.parent.mkdir()
    archive.write_text("print('I am not a zip')\n")
    assert refused(archive, dest) == "project.zip is not a zip archive"


def test_missing_archive(tmp_path: Path, dest: Path) -> None:
    with pytest.raises(ArchiveError, match=r"^nothing\.zip does not exist$"):
        extract_zip(tmp_path / "nothing.zip", dest)


def test_dest_must_be_a_directory(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "p.zip", [("a.py", b"a")])
    with pytest.raises(ArchiveError, match="not a directory"):
        extract_zip(archive, tmp_path / "missing")


@pytest.mark.parametrize(
    "entries",
    [[], [("__MACOSX/._x", b"meta"), ("._y", b"meta")], [("proj/", b""), ("proj/sub/", b"")]],
    ids=["no-members", "only-metadata", "only-folders"],
)
def test_empty_zip(tmp_path: Path, dest: Path, entries: list[Entry]) -> None:
    archive = make_zip(tmp_path / "in" / "project.zip", entries)
    assert refused(archive, dest) == "project.zip is empty"


def test_truncated_zip(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "project.zip", [(f"f{i}.bin", os.urandom(2000)) for i in range(5)]
    )
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    message = refused(archive, dest)
    assert message.startswith("project.zip is corrupt: ")


def test_bad_crc(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "project.zip",
        [("good.py", b"fine"), ("bad.txt", b"hello world")],
        zipfile.ZIP_STORED,
    )
    data = archive.read_bytes()
    assert data.count(b"hello world") == 1
    archive.write_bytes(data.replace(b"hello world", b"hellO world"))
    message = refused(archive, dest)
    assert message == "project.zip is corrupt: bad CRC-32 for member 'bad.txt'"


def test_damaged_deflate_stream(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "project.zip",
        [("good.py", b"fine"), ("bad.txt", b"some text that compresses " * 400)],
    )
    data = bytearray(archive.read_bytes())
    start = local_header(bytes(data), "bad.txt") + 30 + len("bad.txt")
    data[start : start + 40] = b"\xff" * 40
    archive.write_bytes(bytes(data))
    message = refused(archive, dest)
    assert message.startswith("project.zip is corrupt: member 'bad.txt': ")


def test_encrypted_flag(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "in" / "project.zip", [("a.py", b"a"), ("secret.txt", b"s")])
    data = bytearray(archive.read_bytes())
    for name in ("a.py", "secret.txt"):
        data[central_headers(bytes(data))[name] + 8] |= 0x01
        data[local_header(bytes(data), name) + 6] |= 0x01
    archive.write_bytes(bytes(data))
    assert zipfile.ZipFile(archive).getinfo("secret.txt").flag_bits & 0x01
    assert refused(archive, dest) == "project.zip: encrypted archives are not supported"


# -- is_zip ------------------------------------------------------------------------


def test_is_zip(tmp_path: Path) -> None:
    real = make_zip(tmp_path / "real.zip", [("a.py", b"a")])
    empty = make_zip(tmp_path / "empty.zip", [])
    text = tmp_path / "text.zip"
    text.write_text("not a zip")
    assert is_zip(real)
    assert is_zip(empty)
    assert not is_zip(text)
    assert not is_zip(tmp_path / "missing.zip")
    assert not is_zip(tmp_path)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ExtractLimits(max_ratio=0)
