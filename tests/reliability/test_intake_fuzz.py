"""Property-based fuzzing of intake: zips written byte by byte with odd names (any Unicode,
control characters, very long, ``..``, absolute, backslashes, drive letters, invalid UTF-8),
repeated names, members sharing bytes, lying sizes, truncation, zip64 records, deep nesting,
links and devices, unsupported methods, and many members.

The invariant, for every archive: intake either succeeds with every file inside the
destination (the run folder), or raises one ``PyRunnerError`` with a readable one-line message
and leaves nothing behind. Never another exception, never a path outside.

The fast tests run in ``make test``; the ``stress`` ones try many more archives.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
import unicodedata
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jupyter_pyrunner.archive import extract_zip
from jupyter_pyrunner.errors import PyRunnerError
from jupyter_pyrunner.intake import prepare_run
from jupyter_pyrunner.models import RunSpec
from jupyter_pyrunner.store import RunStore

from . import intake_zips as z

FAST = 200
STRESS = 4000
ROOT = "@ROOT@"  # replaced by the example's own temporary folder: absolute names aimed at it

_SETTINGS = {
    "deadline": None,
    "database": None,  # nothing written into the checkout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# -- strategies -------------------------------------------------------------------------------
_ODD_NAMES = [
    "..", "../x.py", "a/../../x.py", "/etc/x", f"{ROOT}/escaped.txt", "\\\\server\\share\\x",
    "..\\..\\x.py", "C:/x.py", "c:x.py", "C:\\x.py", "./", ".", "./a.py", "a/./b.py", "a//b.py",
    "", "/", "a/", "a/b/", "~/x", "x\x00y.py", "con", "a\nb.py", "a\rb", "\u202etxt.py",
    "e\u0301.py", "\u00e9.py", "__MACOSX/._a.py", "._a.py", "a/..", "a/.../b",
]  # fmt: skip
_PARTS = ["a", "b", "..", ".", "", "\u00e9", "\\", "C:", " ", "~", "\x7f", "\x01", "\u65e5"]

# ordinary names are drawn most often, so that most archives hold one odd thing at most
ordinary = st.lists(
    st.text(alphabet="abcxyz_-. \u00e9\u65e5", min_size=1, max_size=8), min_size=1, max_size=3
).map("/".join)
names = st.one_of(
    *[ordinary] * 14,
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(_ODD_NAMES),
    st.lists(st.sampled_from(_PARTS), min_size=1, max_size=6).map("/".join),
    st.text(alphabet="ab/", min_size=200, max_size=800),
    st.integers(min_value=250, max_value=1100).map(lambda n: "d/" * n + "f.py"),
    st.text(alphabet="x", min_size=250, max_size=300),
)
name_bytes = st.one_of(
    *[names.map(lambda n: n.encode("utf-8"))] * 6,
    st.binary(min_size=1, max_size=40),  # invalid UTF-8 is read as CP437
)
modes = st.sampled_from(
    [z.FILE_MODE] * 30 + [0o100755, z.DIR_MODE, 0o120777, 0o10644, 0o20644, 0o60644, 0]
)
payloads = st.one_of(
    *[st.binary(max_size=64)] * 6,
    st.sampled_from([b"", b"print('hi')\n", bytes(2 * 1024 * 1024)]),
)


@st.composite
def members(draw: st.DrawFn) -> z.Member:
    data = draw(payloads)
    method = draw(st.sampled_from([z.STORED, z.DEFLATED] * 4 + [99]))
    member = z.deflated(b"x", data) if method == z.DEFLATED else z.stored(b"x", data)
    if method == 99:
        member = replace(member, method=99)
    flags = draw(st.sampled_from([0] * 6 + [z.UTF8_FLAG, 0x01, 0x08]))
    lie = draw(st.sampled_from([0] * 10 + [-1, 1, 1 << 20]))
    return replace(
        member,
        name=draw(name_bytes),
        flags=flags,
        mode=draw(modes),
        size=max(0, member.size + lie),
    )


@st.composite
def archives(draw: st.DrawFn) -> tuple[list[z.Member], str, int]:
    """Members, then what is done to the whole archive, and a number for it."""
    items = draw(st.lists(members(), min_size=1, max_size=6))
    items.append(z.stored(b"main.py", b"print('ok')\n"))  # most archives have one good file
    mutation = draw(
        st.sampled_from(
            ["none"] * 5 + ["duplicate", "overlap", "truncate", "zip64", "prefix", "bomb"]
        )
    )
    return items, mutation, draw(st.integers(min_value=0, max_value=10**6))


def build(items: list[z.Member], mutation: str, n: int, root: str) -> bytes:
    """The bytes of the archive (``@ROOT@`` in a name becomes ``root``)."""
    items = [replace(m, name=m.name.replace(ROOT.encode(), root.encode())) for m in items]
    if mutation == "duplicate":
        twin = items[n % len(items)]
        items.append(replace(twin, packed=b"other", crc=zlib.crc32(b"other"), size=5))
    if mutation == "overlap":
        return z.assemble(items, aliases=[(items[n % len(items)], n % len(items))])
    if mutation == "zip64":
        return z.zip64(items)
    if mutation == "bomb":
        return z.quoted_overlap_bomb(2 + n % 30, bytes(1 + n % (3 * 1024 * 1024)))
    data = z.assemble(items)
    if mutation == "truncate":
        return data[: n % max(len(data), 1)]
    if mutation == "prefix":
        return b"#!/bin/sh\nexit 0\n" + data  # as a self-extracting archive starts
    return data


# -- the invariant ----------------------------------------------------------------------------
def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root``: its type and size (not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st_ = os.lstat(full)
            found[os.path.relpath(full, root)] = (stat.S_IFMT(st_.st_mode), st_.st_size)
    return found


def readable(exc: PyRunnerError) -> None:
    message = str(exc)
    assert message.strip(), "an empty message"
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < 1200, message[:200]
    assert "Traceback" not in message


def _why(exc: PyRunnerError) -> str:
    """The kind of refusal, for hypothesis's statistics."""
    text = str(exc)
    if "unsafe member" in text:
        return "unsafe: " + re.sub(r"\d+", "N", text.rsplit("(", 1)[-1].rstrip(")"))[:40]
    for word in ("zip bomb", "corrupt", "unsafe", "twice", "both be written", "not a zip",
                 "symbolic link", "device", "encrypted", "compression method", "larger than",
                 "is a file", "empty", "entry point", "too large"):  # fmt: skip
        if word in text:
            return word
    return text[:40]


def assert_intake_holds(items: list[z.Member], mutation: str, n: int) -> None:
    """Extract into ``box/dest`` beside the archive and a bystander file; check the invariant."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        top = Path(tmp)
        archive = top / "project.zip"
        archive.write_bytes(build(items, mutation, n, tmp))
        (top / "bystander.txt").write_bytes(b"mine")
        dest = top / "box" / "dest"
        dest.mkdir(parents=True)
        before = tree(top)
        try:
            report = extract_zip(archive, dest)
        except PyRunnerError as exc:
            readable(exc)
            assert tree(top) == before, "a refusal left something behind"
            event(f"refused: {_why(exc)}")
            return
        event("extracted")
        after = tree(top)
        outside = {p for p in set(after) - set(before) if not p.startswith("box/dest/")}
        assert outside == set(), f"written outside the destination: {outside}"
        assert {p: after[p] for p in before} == before
        inside = {p: kind for p, (kind, _) in after.items() if p.startswith("box/dest/")}
        assert all(kind in (stat.S_IFREG, stat.S_IFDIR) for kind in inside.values()), inside
        files = [p for p, kind in inside.items() if kind == stat.S_IFREG]
        assert report.files == len(files)
        for p in files:
            assert os.path.realpath(top / p).startswith(str(dest.resolve()) + os.sep)


def assert_run_intake_holds(items: list[z.Member], mutation: str, n: int) -> None:
    """The same archive as a run's project, through the engine's intake."""
    with tempfile.TemporaryDirectory(prefix="fuzz-run-") as tmp:
        top = Path(tmp)
        archive = top / "project.zip"
        archive.write_bytes(build(items, mutation, n, tmp))
        store = RunStore(top / "home")
        try:
            record = prepare_run(store, RunSpec(str(archive), infer_requirements=False))
        except PyRunnerError as exc:
            readable(exc)
            event(f"refused: {_why(exc)}")
            assert store.count() == 0
            assert list(store.runs_dir.iterdir()) == [], "a refused run left its folder"
            assert sorted(p.name for p in top.iterdir()) == ["home", "project.zip"]
            return
        event("a run")
        run_dir = store.run_dir(record.id).resolve()
        for path in top.rglob("*"):
            assert path.is_relative_to(top / "home") or path == archive, path
            if path.is_relative_to(store.runs_dir) and path != store.runs_dir:
                assert path.resolve().is_relative_to(run_dir), path


# -- fast -------------------------------------------------------------------------------------
@settings(max_examples=FAST, **_SETTINGS)
@given(archives())
def test_any_archive_is_extracted_inside_or_refused_cleanly(
    case: tuple[list[z.Member], str, int],
) -> None:
    assert_intake_holds(*case)


@settings(max_examples=FAST // 3, **_SETTINGS)
@given(archives())
def test_any_project_zip_becomes_a_run_inside_its_folder_or_no_run(
    case: tuple[list[z.Member], str, int],
) -> None:
    assert_run_intake_holds(*case)


@settings(max_examples=FAST // 3, **_SETTINGS)
@given(st.lists(names, min_size=1, max_size=6), st.sampled_from([0, z.UTF8_FLAG]))
def test_odd_names_alone_are_placed_inside_or_refused(names_: list[str], flags: int) -> None:
    items = [z.stored(name, b"data", flags=flags) for name in names_]
    assert_intake_holds(items, "none", 0)


def test_one_member_more_than_the_cap_is_refused_at_once(tmp_path: Path) -> None:
    """100,001 empty members: refused from the central directory, nothing created."""
    items = [z.stored(f"f{i}", b"") for i in range(100_001)]
    archive = tmp_path / "many.zip"
    archive.write_bytes(z.zip64(items))
    dest = tmp_path / "dest"
    dest.mkdir()
    started = time.perf_counter()
    with pytest.raises(
        PyRunnerError, match="has too many members \\(100,001; the limit is 100,000\\)"
    ):
        extract_zip(archive, dest)
    assert time.perf_counter() - started < 10
    assert list(dest.iterdir()) == []


_FOLDERS = ["", "src/", "a b/", "donn\u00e9es/", "\u65e5\u672c/", "./", "./deep/er/"]
_LETTERS = st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters="/\\\0:")
good_files = st.lists(
    st.tuples(
        st.sampled_from(_FOLDERS),
        st.text(_LETTERS, min_size=1, max_size=20).filter(lambda n: not n.startswith("._")),
        st.binary(),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: unicodedata.normalize("NFC", (t[0] + t[1]).removeprefix("./")),
)


@settings(max_examples=FAST // 2, **_SETTINGS)
@given(
    good_files,
    st.sampled_from(["none", "zip64", "prefix", "dotslash"]),
    st.booleans(),
    st.booleans(),
)
def test_any_well_formed_archive_is_extracted_whole(
    files: list[tuple[str, str, bytes]], layout: str, deflate: bool, flagged: bool
) -> None:
    """Unicode names (flagged UTF-8 or not), folders given or implied, a ``./`` entry, zip64
    records, a self-extractor's prefix: all of it is extracted, each file as it was."""
    make = z.deflated if deflate else z.stored
    items = []
    for folder, name, data in files:
        member = make((folder + name + ".txt").encode(), data)
        items.append(replace(member, flags=z.UTF8_FLAG if flagged else 0))
    if layout == "dotslash":
        items.insert(0, z.stored(b"./", b""))
    data = z.zip64(items) if layout == "zip64" else z.assemble(items)
    if layout == "prefix":
        data = b"#!/bin/sh\nexit 0\n" + data
    with tempfile.TemporaryDirectory(prefix="fuzz-good-") as tmp:
        archive = Path(tmp) / "good.zip"
        archive.write_bytes(data)
        dest = Path(tmp) / "dest"
        dest.mkdir()
        report = extract_zip(archive, dest)
        assert report.files == len(files)
        for folder, name, content in files:
            path = dest / unicodedata.normalize("NFC", folder.removeprefix("./") + name + ".txt")
            assert path.read_bytes() == content


# -- stress -----------------------------------------------------------------------------------
@pytest.mark.stress
@settings(max_examples=STRESS, **_SETTINGS)
@given(archives())
def test_many_archives_are_extracted_inside_or_refused_cleanly(
    case: tuple[list[z.Member], str, int],
) -> None:
    assert_intake_holds(*case)


@pytest.mark.stress
@settings(max_examples=STRESS // 4, **_SETTINGS)
@given(archives())
def test_many_project_zips_become_a_run_inside_its_folder_or_no_run(
    case: tuple[list[z.Member], str, int],
) -> None:
    assert_run_intake_holds(*case)


@pytest.mark.stress
def test_a_zip_of_100k_members_is_extracted_whole(tmp_path: Path) -> None:
    """100,000 small members in 100 folders (zip64 end records, as writers use past 65,535)."""
    items = [z.stored(f"d{i % 100}/f{i}.txt", b"%d" % i) for i in range(100_000)]
    archive = tmp_path / "many.zip"
    archive.write_bytes(z.zip64(items))
    dest = tmp_path / "dest"
    dest.mkdir()
    report = extract_zip(archive, dest)
    assert report.files == 100_000
    assert (dest / "d7" / "f99907.txt").read_bytes() == b"99907"
