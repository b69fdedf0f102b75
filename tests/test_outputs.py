"""Copying and zipping an output folder: what a program wrote, and nothing it merely points
at; names that are not UTF-8 stored readably."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jupyter_pyrunner.outputs import (
    OutputsReplacedError,
    copy_outputs,
    files_json,
    iter_zip,
    list_outputs,
)


def _tree(root: Path) -> dict[str, bytes | None]:
    """``{relative path: bytes}`` for files, None for folders; links show as ``-> target``."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = f"-> {os.readlink(path)}".encode()
        else:
            found[rel] = None if path.is_dir() else path.read_bytes()
    return found


def test_every_output_file_is_copied_with_its_folders_and_times_but_no_empty_folder(
    tmp_path: Path,
) -> None:
    out = tmp_path / "outputs"
    (out / "plots" / "deep").mkdir(parents=True)
    (out / "empty").mkdir()
    (out / "table.csv").write_text("a,b\n1,2\n")
    (out / "plots" / "deep" / "p.bin").write_bytes(os.urandom(3 << 20))  # several blocks
    (out / "table.csv").chmod(0o640)
    os.utime(out / "table.csv", (1_000_000, 1_000_000))
    target = tmp_path / "new" / "copy"

    files, size = copy_outputs(out, target)

    listed = list_outputs(out)
    assert (files, size) == (len(listed), sum(f.size for f in listed)) == (2, 8 + (3 << 20))
    assert _tree(target) == {k: v for k, v in _tree(out).items() if k != "empty"}
    assert (target / "table.csv").stat().st_mtime == 1_000_000
    assert (target / "table.csv").stat().st_mode & 0o777 == 0o640


def test_links_and_special_files_are_neither_followed_nor_copied(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("private")
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "ok.txt").write_text("fine")
    (out / "key.txt").symlink_to(secret / "key.txt")
    (out / "secrets").symlink_to(secret, target_is_directory=True)
    (out / "up").symlink_to("..")
    (out / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(out / "pipe")  # reading it would wait for ever

    files, size = copy_outputs(out, tmp_path / "copy")

    assert (files, size) == (1, 4)
    assert _tree(tmp_path / "copy") == {"ok.txt": b"fine"}


def test_an_existing_target_is_merged_into_and_links_in_it_are_replaced(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "result.txt").write_text("new")
    (out / "notes.txt").write_text("from the run")
    target = tmp_path / "target"
    target.mkdir()
    (target / "mine.txt").write_text("the user's")
    (target / "result.txt").write_text("old")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    (target / "notes.txt").symlink_to(elsewhere)

    assert copy_outputs(out, target) == (2, len("new") + len("from the run"))

    assert _tree(target) == {"mine.txt": b"the user's", "notes.txt": b"from the run",
                             "result.txt": b"new"}  # fmt: skip
    assert elsewhere.read_text() == "untouched"  # the link was replaced, not written through


def test_an_output_folder_replaced_by_a_link_is_refused_and_nothing_is_made(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "passwd").write_text("root:x:0:0")
    run = tmp_path / "run"
    run.mkdir()
    (run / "outputs").symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(OutputsReplacedError, match="replaced by a link") as info:
        copy_outputs(run / "outputs", tmp_path / "copy")

    assert isinstance(info.value, OSError)  # what the notebook's copy_to has always raised
    assert not (tmp_path / "copy").exists()


def test_a_missing_output_folder_copies_nothing(tmp_path: Path) -> None:
    assert copy_outputs(tmp_path / "never-made", tmp_path / "copy") == (0, 0)
    assert (tmp_path / "copy").is_dir()


def _write_raw(path: bytes, data: bytes) -> None:
    """A file whose name is given as bytes, as a program may write it (not always UTF-8)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _odd_output_folder(tmp_path: Path) -> Path:
    out = tmp_path / "outputs"
    (out / "deep").mkdir(parents=True)
    raw = bytes(out)
    _write_raw(raw + b"/bad\xffname.txt", b"one")
    _write_raw(raw + b"/bad\xfename.txt", b"two")
    _write_raw(f"{out}/bad\ufffdname.txt".encode(), b"valid")
    os.mkdir(raw + b"/dir\xff")
    _write_raw(raw + b"/dir\xff/inner.txt", b"inner")
    _write_raw(raw + b"/deep/line\nbreak.txt", b"nl")
    return out


ODD_STORED = {
    "bad\ufffdname.txt": b"valid",  # a valid name keeps it
    "bad\ufffdname (2).txt": b"two",  # b"\xfe" sorts before b"\xff"
    "bad\ufffdname (3).txt": b"one",
    "dir\ufffd/inner.txt": b"inner",
    "deep/line\nbreak.txt": b"nl",
}


def test_names_that_are_not_utf8_are_zipped_readably_and_never_share_a_name(
    tmp_path: Path,
) -> None:
    import io
    import zipfile

    out = _odd_output_folder(tmp_path)
    data = b"".join(iter_zip(out))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {name: zf.read(name) for name in zf.namelist()} == ODD_STORED


def test_names_that_are_not_utf8_are_copied_under_the_names_of_the_zip(tmp_path: Path) -> None:
    out = _odd_output_folder(tmp_path)
    target = tmp_path / "copy"
    assert copy_outputs(out, target) == (5, sum(map(len, ODD_STORED.values())))
    assert {k: v for k, v in _tree(target).items() if v is not None} == ODD_STORED
    for path in target.rglob("*"):
        os.fsencode(path).decode("utf-8")  # every name in the copy is UTF-8


def test_the_json_listing_gives_the_names_of_the_zip(tmp_path: Path) -> None:
    import json

    listed = files_json(list_outputs(_odd_output_folder(tmp_path)))
    assert sorted(f["path"] for f in listed) == sorted(ODD_STORED)
    json.dumps(listed, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


# -- files that change between the listing and the reading -------------------------------------
def _zip_names(data: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _swap_for_link(folder: Path, to: Path) -> None:
    """What a program may do while its outputs are read: put a link where a folder was."""
    folder.rename(folder.with_name(folder.name + ".old"))
    folder.symlink_to(to, target_is_directory=True)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A folder outside the run with a file of the name the program wrote (as /etc/hostname)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "hostname").write_text("private")
    return folder


def test_a_folder_swapped_for_a_link_after_the_listing_is_not_zipped_through(
    tmp_path: Path, secret: Path
) -> None:
    out = tmp_path / "outputs"
    (out / "sub").mkdir(parents=True)
    (out / "a.txt").write_text("first")
    (out / "sub" / "hostname").write_text("mine")
    pieces = iter_zip(out)
    first = next(pieces)  # listed, and a.txt begun
    _swap_for_link(out / "sub", secret)

    names = _zip_names(first + b"".join(pieces))

    assert b"private" not in names.values()
    assert names["a.txt"] == b"first"
    assert "sub/hostname" not in names
    assert names["MISSING.txt"] == (
        b"1 file(s) could not be put in this zip:\nsub/hostname: replaced by a link since it"
        b" was listed\n"
    )


def test_a_file_deleted_while_zipping_is_left_out_and_the_zip_stays_whole(
    tmp_path: Path,
) -> None:
    import io
    import zipfile

    out = tmp_path / "outputs"
    out.mkdir()
    for name in ("a.bin", "b.bin", "c.bin"):
        (out / name).write_bytes(os.urandom(3 << 20))
    (out / "MISSING.txt").write_text("an output of this name")
    pieces = iter_zip(out)
    first = next(pieces)
    (out / "b.bin").unlink()

    data = first + b"".join(pieces)

    names = _zip_names(data)
    assert sorted(names) == ["MISSING (2).txt", "MISSING.txt", "a.bin", "c.bin"]
    assert names["MISSING.txt"] == b"an output of this name"
    assert b"b.bin: gone since it was listed" in names["MISSING (2).txt"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.comment == b"1 file(s) left out: see MISSING (2).txt"


def test_a_copy_does_not_follow_a_folder_swapped_for_a_link_after_the_listing(
    tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_pyrunner import outputs

    out = tmp_path / "outputs"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "hostname").write_text("mine")
    (out / "z.txt").write_text("z")
    listing = outputs.scan_outputs

    def list_then_swap(root: Path) -> tuple:
        listed = listing(root)
        if (out / "sub").is_dir() and not (out / "sub").is_symlink():
            _swap_for_link(out / "sub", secret)
        return listed

    monkeypatch.setattr(outputs, "scan_outputs", list_then_swap)
    copied = copy_outputs(out, tmp_path / "copy")

    assert _tree(tmp_path / "copy") == {"z.txt": b"z"}
    assert copied == (1, 1)
    assert copied.skipped == (("sub/hostname", "replaced by a link since it was listed"),)


def test_one_file_the_target_refuses_is_skipped_and_reported_the_rest_copied(
    tmp_path: Path,
) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (out / name).write_text(name)
    target = tmp_path / "copy"
    (target / "b.txt").mkdir(parents=True)  # the user's folder, where an output goes

    copied = copy_outputs(out, target)

    assert copied == (2, 10)
    assert (target / "a.txt").read_text() == "a.txt" and (target / "c.txt").read_text() == "c.txt"
    assert copied.skipped == (("b.txt", "Is a directory"),)
    assert copied.problem() == "1 file(s) could not be copied: b.txt (Is a directory)"
    assert copied.problem(to="/x") == "1 file(s) could not be copied to /x: b.txt (Is a directory)"


def test_one_output_is_opened_never_through_a_link_swapped_in_after_the_listing(
    tmp_path: Path, secret: Path
) -> None:
    from jupyter_pyrunner.outputs import OutputNotFoundError, open_output

    out = tmp_path / "outputs"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "hostname").write_text("mine")
    (out / "fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(out / "fifo")
    assert [f.path for f in list_outputs(out)] == ["sub/hostname"]
    with open_output(out, "sub/hostname") as f:
        assert f.read() == b"mine"

    _swap_for_link(out / "sub", secret)

    for path in ("sub/hostname", "fifo", "sub/../sub/hostname", "/etc/hostname"):
        with pytest.raises(OutputNotFoundError, match="no output"):
            open_output(out, path).close()


# -- a file swapped for a link while it is opened, hard links, odd paths, holes --------------------
MARKER = b"SECRET-MARKER-7f3a"


@pytest.fixture(params=["openat2", "walk"])
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a file is opened beneath its folder: ``openat2`` (where the kernel has it)
    and the folder-by-folder walk every system has."""
    from jupyter_pyrunner import beneath

    if request.param == "walk":
        monkeypatch.setattr(beneath, "_openat2", False)
    else:
        monkeypatch.setattr(beneath, "_openat2", None)  # looked up afresh
        if beneath._load_openat2() is False:
            pytest.skip("this kernel has no openat2")
    return str(request.param)


def _flip(out: Path, target: Path, stop: threading.Event) -> int:
    """As a hostile program: ``out/x`` a file, then a link to ``target``, as fast as it can."""
    flips = 0
    x, tmp_file, tmp_link = out / "x", out / ".x.file", out / ".x.link"
    while not stop.is_set():
        tmp_file.write_bytes(b"mine")
        os.replace(tmp_file, x)
        tmp_link.symlink_to(target)
        os.replace(tmp_link, x)
        flips += 1
    return flips


def test_a_file_flipped_with_a_link_to_a_secret_is_never_read_through_the_link(
    tmp_path: Path, resolution: str
) -> None:
    from jupyter_pyrunner.outputs import OutputNotFoundError, open_output

    secret_file = tmp_path / "token"
    secret_file.write_bytes(MARKER)
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "x").write_bytes(b"mine")
    stop = threading.Event()
    flipper = threading.Thread(target=_flip, args=(out, secret_file, stop))
    flipper.start()
    served = refused = 0
    try:
        for _ in range(3000):
            try:
                with open_output(out, "x") as f:
                    assert MARKER not in f.read()
                served += 1
            except OutputNotFoundError:
                refused += 1
        for _ in range(30):
            members = _zip_names(b"".join(iter_zip(out)))  # (deflated: read, not searched raw)
            assert not any(MARKER in data for data in members.values())
    finally:
        stop.set()
        flipper.join()
    assert served and refused  # the race was real: both sides were met


def test_a_hard_link_to_a_file_outside_is_neither_listed_served_zipped_nor_copied(
    tmp_path: Path,
) -> None:
    from jupyter_pyrunner.outputs import (
        HARD_LINK_REASON,
        OutputNotFoundError,
        open_output,
        scan_outputs,
    )

    token = tmp_path / "runtime" / "jpserver-1.json"
    token.parent.mkdir()
    token.write_bytes(b'{"token": "' + MARKER + b'"}')
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "ok.txt").write_text("fine")
    os.link(token, out / "token.json")  # what a program can do with any file its user owns

    assert [f.path for f in list_outputs(out)] == ["ok.txt"]
    assert scan_outputs(out)[1] == [("token.json", HARD_LINK_REASON)]
    with pytest.raises(OutputNotFoundError):
        open_output(out, "token.json")
    names = _zip_names(b"".join(iter_zip(out)))
    assert set(names) == {"ok.txt", "MISSING.txt"} and MARKER not in b"".join(names.values())
    assert b"token.json: a hard link" in names["MISSING.txt"]
    copied = copy_outputs(out, tmp_path / "copy")
    assert _tree(tmp_path / "copy") == {"ok.txt": b"fine"}
    assert copied.skipped == (("token.json", HARD_LINK_REASON),)


def test_a_file_given_a_second_name_after_the_listing_is_not_zipped(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "a.bin").write_bytes(os.urandom(3 << 20))
    (out / "b.txt").write_text("b")
    pieces = iter_zip(out)
    first = next(pieces)  # listed, and a.bin begun
    os.link(out / "b.txt", tmp_path / "elsewhere")  # judged on the descriptor, not the listing
    names = _zip_names(first + b"".join(pieces))
    assert "b.txt" not in names and b"b.txt: a hard link" in names["MISSING.txt"]
    assert names["a.bin"] == (out / "a.bin").read_bytes()


@pytest.mark.parametrize("path", ["a.txt\0.png", "a" * 5000, "d/" * 2500 + "x", "a\0/../b"])
def test_a_path_with_nul_or_thousands_of_characters_names_no_output(
    tmp_path: Path, path: str
) -> None:
    from jupyter_pyrunner.outputs import OutputNotFoundError, open_output, resolve_output

    out = tmp_path / "outputs"
    out.mkdir()
    (out / "a.txt").write_text("a")
    for call in (open_output, resolve_output):
        with pytest.raises(OutputNotFoundError) as caught:
            call(out, path)
        assert len(str(caught.value)) < 300 and "\0" not in str(caught.value)


def test_a_sparse_output_is_copied_with_its_holes(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    size = 1 << 30
    with open(out / "sparse.bin", "wb") as f:
        f.write(b"head")
        f.seek(size // 2)
        f.write(b"middle")
        f.truncate(size)
    if os.stat(out / "sparse.bin").st_blocks * 512 > 1 << 20:
        pytest.skip("this file system does not keep holes")

    assert copy_outputs(out, tmp_path / "copy") == (1, size)

    copy = tmp_path / "copy" / "sparse.bin"
    assert copy.stat().st_size == size
    assert copy.stat().st_blocks * 512 < 1 << 20  # a few blocks, not 1 GiB
    with open(copy, "rb") as f:
        assert f.read(4) == b"head"
        f.seek(size // 2 - 2)
        assert f.read(10) == b"\0\0middle\0\0"
        f.seek(size - 1)
        assert f.read() == b"\0"


def test_a_copy_of_a_file_with_data_to_its_end_is_exact(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    data = os.urandom(3 << 20)
    with open(out / "mixed.bin", "wb") as f:
        f.write(data[: 1 << 20])
        f.seek(2 << 20)
        f.write(data[2 << 20 :])
    copy_outputs(out, tmp_path / "copy")
    expected = data[: 1 << 20] + bytes(1 << 20) + data[2 << 20 :]
    assert (tmp_path / "copy" / "mixed.bin").read_bytes() == expected
