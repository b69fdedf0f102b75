"""The uploads store on its own (no HTTP): streamed writes, the size limit, names, ids, pruning,
a full disk; and last, what a client sees of a refused name."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest

from jupyter_pyrunner.errors import ProjectError, UploadNotFoundError, UploadTooLargeError
from jupyter_pyrunner.server.uploads import UPLOAD_ID, UploadStore


@pytest.fixture
def uploads(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", max_size=1 << 20, ttl=3600)


def everything_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_an_upload_is_streamed_to_disk_hashed_and_found_by_its_id(uploads: UploadStore) -> None:
    blocks = [os.urandom(64 * 1024) for _ in range(5)]
    writer = uploads.new_upload("project.zip")
    partial = uploads.folder / writer.upload_id / ".partial"
    for n, block in enumerate(blocks, start=1):
        writer.write(block)
        # on disk as it arrives: at most one file buffer is held
        assert partial.stat().st_size >= n * len(block) - io.DEFAULT_BUFFER_SIZE
    assert writer.size == 5 * 64 * 1024
    with pytest.raises(UploadNotFoundError):  # not usable before it is complete
        uploads.upload_path(writer.upload_id)

    info = writer.finish()
    assert UPLOAD_ID.match(info["upload_id"])
    assert (info["filename"], info["size"]) == ("project.zip", 5 * 64 * 1024)
    assert info["sha256"] == hashlib.sha256(b"".join(blocks)).hexdigest()
    path = uploads.upload_path(info["upload_id"])
    assert path == uploads.folder / info["upload_id"] / "data" / "project.zip"
    assert path.read_bytes() == b"".join(blocks)
    assert not partial.exists()


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    uploads = UploadStore(tmp_path / "uploads", max_size=10)
    exact = uploads.new_upload("exact.zip")
    exact.write(b"x" * 10)  # the limit itself is allowed
    kept = exact.finish()["upload_id"]

    writer = uploads.new_upload("big.zip")
    writer.write(b"y" * 6)
    with pytest.raises(UploadTooLargeError, match="limit of 10 bytes"):
        writer.write(b"y" * 6)
    assert not (uploads.folder / writer.upload_id).exists()
    assert [p.name for p in uploads.folder.iterdir()] == [kept]
    with pytest.raises(UploadNotFoundError):
        uploads.upload_path(writer.upload_id)


def test_an_aborted_upload_leaves_nothing(uploads: UploadStore) -> None:
    writer = uploads.new_upload("gone.zip")
    writer.write(b"half of it")
    writer.abort()  # the client went away
    assert list(uploads.folder.iterdir()) == []
    with pytest.raises(UploadNotFoundError):
        uploads.upload_path(writer.upload_id)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\run.zip", "run.zip"),
        ("my project (v2)!.zip", "my project _v2_.zip"),
        ("..hidden.zip", "hidden.zip"),
        ("naïve.zip", "na_ve.zip"),
        ("a\x00b.zip", "a_b.zip"),
    ],
)
def test_unsafe_file_names_become_a_plain_name_inside_the_upload(
    uploads: UploadStore, given: str, kept: str
) -> None:
    writer = uploads.new_upload(given)
    writer.write(b"data")
    info = writer.finish()
    assert info["filename"] == kept
    path = uploads.upload_path(info["upload_id"])
    assert path.parent == uploads.folder / info["upload_id"] / "data" and path.name == kept
    assert everything_in(uploads.folder / info["upload_id"]) == [
        "data", f"data/{kept}", "upload.json",
    ]  # fmt: skip


@pytest.mark.parametrize("given", ["", "..", " . ", "folder/", "a\\..", "/"])
def test_names_with_nothing_usable_left_are_refused_before_anything_is_written(
    uploads: UploadStore, given: str
) -> None:
    with pytest.raises(ProjectError, match="not a usable file name"):
        uploads.new_upload(given)
    assert list(uploads.folder.iterdir()) == []


def test_uploads_older_than_the_ttl_are_pruned_and_newer_ones_kept(uploads: UploadStore) -> None:
    def finished(name: str) -> str:
        writer = uploads.new_upload(name)
        writer.write(b"zip bytes")
        return str(writer.finish()["upload_id"])

    old, new = finished("old.zip"), finished("new.zip")
    crashed = uploads.new_upload("crashed.zip")  # a partial one left by a server that died
    crashed.write(b"half")
    long_ago = time.time() - 2 * 3600
    for upload_id in (old, crashed.upload_id):
        os.utime(uploads.folder / upload_id, (long_ago, long_ago))

    assert uploads.prune() == 2
    assert [p.name for p in uploads.folder.iterdir()] == [new]
    assert uploads.upload_path(new).read_bytes() == b"zip bytes"
    with pytest.raises(UploadNotFoundError):
        uploads.upload_path(old)
    assert uploads.prune() == 0
    crashed.abort()


def test_unknown_and_malformed_upload_ids_are_not_found(uploads: UploadStore) -> None:
    writer = uploads.new_upload("real.zip")
    writer.write(b"data")
    real = writer.finish()["upload_id"]
    broken = "b" * 32  # a folder whose description is not JSON
    (uploads.folder / broken).mkdir()
    (uploads.folder / broken / "upload.json").write_text("{not json")
    for upload_id in ("0" * 32, real.upper(), real[:-1], f"../{real}", "", "upload.json", broken):
        with pytest.raises(UploadNotFoundError, match="no upload"):
            uploads.upload_path(upload_id)
    assert uploads.upload_path(real).name == "real.zip"


def test_a_name_too_long_for_a_file_is_refused_before_anything_is_written(
    uploads: UploadStore,
) -> None:
    """300 characters: the file system would refuse the name only when the upload is kept,
    after its bytes were written (a 500, and the partial upload left on disk)."""
    with pytest.raises(ProjectError, match="too long"):
        uploads.new_upload("a" * 296 + ".zip")
    assert list(uploads.folder.iterdir()) == []
    assert uploads.new_upload("a" * 251 + ".zip").filename.endswith(".zip")  # 255: kept


def test_an_upload_that_fills_the_disk_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    from jupyter_pyrunner.errors import DiskFullError

    from ..reliability.diskfill import free_bytes, small_disk

    with small_disk(tmp_path / "disk", 4) as disk:
        store = UploadStore(disk / "uploads", max_size=1 << 30)
        before = free_bytes(disk)
        writer = store.new_upload("big.zip")
        with pytest.raises(DiskFullError, match="the disk is full") as info:
            for _ in range(100):
                writer.write(os.urandom(256 * 1024))
        assert str(disk) not in str(info.value)  # no server path in the message
        assert everything_in(store.folder) == []
        assert free_bytes(disk) == before  # every byte given back
        assert store.new_upload("next.zip").filename == "next.zip"  # and the store goes on


async def test_over_http_a_300_character_name_is_a_400_as_json_and_leaves_nothing(
    api, home: Path
) -> None:
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await api.call("PUT", "uploads", "b" * 296 + ".zip", body=b"PK\x05\x06" + b"\0" * 18)
    assert info.value.code == 400  # was 500, with the partial upload left on disk
    assert info.value.response is not None
    assert "too long" in json.loads(info.value.response.body)["message"]
    assert everything_in(home / "uploads") == []
