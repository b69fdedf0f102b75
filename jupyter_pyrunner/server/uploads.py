"""Uploaded archives: streamed to disk as they arrive, kept until used or too old.

Each upload is a folder ``<uploads>/<id>/`` holding ``data/<filename>`` and ``upload.json``
(name, size, sha256, time). While it streams in, its bytes go to ``.partial``; an upload is
known (``upload_path``) only once ``upload.json`` is written. An upload that fails leaves
nothing behind: over the size limit, on a full disk (``DiskFullError``, which the server
answers with 507), or with a name no file system takes (refused before anything is written).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DiskFullError, ProjectError, UploadNotFoundError, UploadTooLargeError
from ..faults import DISK_FULL, is_unwritable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: what an upload id looks like (and what tells it from a contents path)
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._ -]+")
#: the longest upload name kept, in bytes (file systems take 255 at most)
MAX_NAME_BYTES = 255


@dataclass
class UploadWriter:
    """Receives an upload's bytes as they arrive, hashing and counting; never holds them."""

    upload_id: str
    folder: Path
    filename: str
    limit: int
    size: int = 0
    _digest: Any = field(default_factory=hashlib.sha256)
    _file: Any = None

    def __post_init__(self) -> None:
        with self._undone_on_error():
            (self.folder / "data").mkdir(parents=True)
            self._file = open(self.folder / ".partial", "wb")  # noqa: SIM115

    def write(self, data: bytes) -> None:
        """Append a block; over the limit, the upload is removed and ``UploadTooLargeError``
        raised (``DiskFullError`` when the disk is full)."""
        self.size += len(data)
        if self.size > self.limit:
            self.abort()
            raise UploadTooLargeError(f"the upload is larger than the limit of {self.limit} bytes")
        self._digest.update(data)
        with self._undone_on_error():
            self._file.write(data)

    def finish(self) -> dict[str, Any]:
        """Keep the upload: ``{"upload_id", "filename", "size", "sha256", "created"}``."""
        with self._undone_on_error():
            self._file.close()
            os.replace(self.folder / ".partial", self.folder / "data" / self.filename)
            info = {
                "upload_id": self.upload_id,
                "filename": self.filename,
                "size": self.size,
                "sha256": self._digest.hexdigest(),
                "created": time.time(),
            }
            (self.folder / "upload.json").write_text(json.dumps(info))
        return info

    @contextlib.contextmanager
    def _undone_on_error(self) -> Iterator[None]:
        """Whatever fails inside removes the upload; a full disk is ``DiskFullError``."""
        try:
            yield
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError) and is_unwritable(exc):
                raise DiskFullError(
                    f"{DISK_FULL}: the upload could not be stored ({exc.strerror})"
                ) from None
            raise

    def abort(self) -> None:
        """Drop whatever arrived so far, folder and all."""
        if self._file is not None and not self._file.closed:
            with contextlib.suppress(OSError):  # (closing flushes: a full disk refuses it)
                self._file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class UploadStore:
    """The uploads folder: new uploads, finished ones by id, and removal of old ones."""

    def __init__(self, folder: Path, *, max_size: int, ttl: float = 24 * 3600) -> None:
        self.folder = folder
        self.max_size = max_size
        self.ttl = ttl
        self.folder.mkdir(parents=True, exist_ok=True)

    def new_upload(self, filename: str) -> UploadWriter:
        """A writer for a new upload; the name is reduced to a safe base name."""
        name = safe_filename(filename)
        upload_id = secrets.token_hex(16)
        return UploadWriter(upload_id, self.folder / upload_id, name, self.max_size)

    def upload_path(self, upload_id: str) -> Path:
        """The file of a finished upload; ``UploadNotFoundError`` for anything else."""
        if not UPLOAD_ID.match(upload_id):
            raise UploadNotFoundError(f"no upload '{upload_id}'")
        try:
            info = json.loads((self.folder / upload_id / "upload.json").read_text())
        except (OSError, ValueError):
            raise UploadNotFoundError(f"no upload '{upload_id}'") from None
        return self.folder / upload_id / "data" / str(info["filename"])

    def prune(self) -> int:
        """Remove uploads older than ``ttl`` (and partial ones left by a crash); how many."""
        removed = 0
        cutoff = time.time() - self.ttl
        for folder in self.folder.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except OSError:
                continue
        return removed


def safe_filename(filename: str) -> str:
    """The base name of ``filename`` (``/`` or ``\\`` separated) with odd characters as ``_``."""
    name = _UNSAFE_CHARACTERS.sub("_", os.path.basename(filename.replace("\\", "/"))).strip(" .")
    if not name:
        raise ProjectError(f"'{filename}' is not a usable file name")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ProjectError(
            f"the file name is too long ({len(name)} characters; at most {MAX_NAME_BYTES})"
        )
    return name
