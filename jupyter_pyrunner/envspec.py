"""What an environment is made of (:class:`EnvSpec`) and its cache key, which counts local
packages by their content; and which cached environments may stand in for inferred requirements.
"""

from __future__ import annotations

import contextlib
import json
import os
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from ._core import Record, sha256
from .errors import ProjectError
from .interpreters import Interpreter

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DIGEST_MAX_BYTES",
    "DIGEST_MAX_ENTRIES",
    "EnvSpec",
    "bare_names",
    "content_digest",
    "covering_spec",
]


class EnvSpec(Record):
    """What an environment is made of: requirement lines, base interpreter, whether the
    host's site-packages show through, and the package index it is built from (``index``:
    ``pipconfig.index_key``, empty for the public index). Equal specs share one cached
    environment."""

    _fields = ("requirements", "interpreter", "system_site_packages", "index")
    __slots__ = (*_fields, "_key")

    requirements: tuple[str, ...]
    interpreter: Interpreter
    system_site_packages: bool
    index: str

    def __init__(
        self,
        requirements: tuple[str, ...],
        interpreter: Interpreter,
        system_site_packages: bool = False,
        index: str = "",
    ) -> None:
        self.requirements = requirements
        self.interpreter = interpreter
        self.system_site_packages = system_site_packages
        self.index = index
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The cache key. A local path in a requirement (``./pkg`` read as
        ``/.../runs/<id>/inputs/input_1/pkg``, a constraints file, a wheel folder) counts by
        its content, not its place: each run has its own copy of the project, and two runs of
        the same project must share one environment."""
        if self._key is None:
            made_of: dict[str, Any] = {
                "requirements": sorted({_keyed_by_content(r) for r in self.requirements}),
                "python": self.interpreter.path,
                "version": self.interpreter.version,
                "system_site_packages": self.system_site_packages,
                "platform": sysconfig.get_platform(),
            }
            if self.index:  # the public index keeps the keys it always had
                made_of["index"] = self.index
            material = json.dumps(made_of, sort_keys=True)
            self._key = sha256(material.encode()).hexdigest()[:24]
        return self._key


def _keyed_by_content(line: str) -> str:
    """``line`` with each absolute local path (or ``file://`` URL) in it replaced by a digest
    of what it holds."""
    if "/" not in line:
        return line  # nothing local: the usual case, kept cheap
    words = []
    for word in line.split():
        path, extras = word, ""
        if path.endswith("]") and "[" in path:
            path, extras = path[: path.index("[")], path[path.index("[") :]
        if path.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = unquote(urlparse(path).path)
        if path.startswith("/") and os.path.exists(path):
            word = f"content:{content_digest(Path(path))}{extras}"
        words.append(word)
    return " ".join(words)


#: what a local package's digest leaves out: caches and tool folders that do not change it
_DIGEST_SKIP = {".git", ".hg", ".svn", "__pycache__", ".venv", ".mypy_cache", ".pytest_cache"}
#: a local package of more entries (files, folders, links) than this is refused: reading it
#: would take long, and no package is that big (a path to a whole tree is a mistake)
DIGEST_MAX_ENTRIES = 20_000
#: a local package whose files hold more bytes than this is keyed by their names, sizes and
#: modification times instead of their bytes, so that a key stays cheap to compute
DIGEST_MAX_BYTES = 128 * 1024 * 1024


class _Entry(Record):
    """One thing in a local package, as ``lstat`` saw it (links are never followed)."""

    _fields = ("name", "path", "kind", "size", "mtime_ns", "device", "inode")
    __slots__ = _fields

    name: str  # relative to the package, POSIX form
    path: str
    kind: str  # "f" a regular file, "d" a folder, "l" a link (its target is hashed)
    size: int
    mtime_ns: int
    device: int
    inode: int

    def __init__(self, name: str, path: str, st: os.stat_result) -> None:
        import stat

        self.name = name
        self.path = path
        self.kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self.device = st.st_dev
        self.inode = st.st_ino


def content_digest(path: Path) -> str:
    """A digest of a file, or of a folder's files (names and bytes, in a fixed order).

    It must end, and soon, whatever the path holds: ``path`` itself is followed, but the links
    it holds are hashed as their target's text, never followed (no loop, no way out); fifos, sockets and devices are left
    out (opening a fifo waits for a writer forever); each file is opened without following a
    link and without blocking, and read only up to the size ``lstat`` gave (``/proc`` files
    say 0). Past :data:`DIGEST_MAX_ENTRIES` entries a ``ProjectError`` says so; past
    :data:`DIGEST_MAX_BYTES` the files count by name, size and modification time instead of
    bytes (a copied project keeps its times; an extracted zip does not, so each run of one
    may build its own environment then).
    """
    from ._core import sha256

    entries = _entries(Path(os.path.realpath(path)))
    size = sum(e.size for e in entries if e.kind == "f")
    by_content = size <= DIGEST_MAX_BYTES
    digest = sha256(expected_size=size if by_content else 0)
    digest.update(b"content\0" if by_content else b"names-sizes-times\0")
    for entry in entries:
        digest.update(f"{entry.kind} {entry.name}\0".encode("utf-8", "surrogateescape"))
        if entry.kind == "l":
            with contextlib.suppress(OSError):
                digest.update(os.fsencode(os.readlink(entry.path)))
        elif entry.kind == "f" and by_content:
            _hash_file(digest, entry)
        elif entry.kind == "f":
            digest.update(f"{entry.size} {entry.mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _entries(top: Path) -> list[_Entry]:
    """What ``top`` holds (or ``top`` itself, a file or a link), in a fixed order; folders in
    :data:`_DIGEST_SKIP`, ``.pyc`` files and anything but files, folders and links left out."""
    import stat

    try:
        st = os.lstat(top)
    except OSError:
        return []
    if not stat.S_ISDIR(st.st_mode):
        keep = stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
        return [_Entry(top.name, str(top), st)] if keep else []
    found: list[_Entry] = []
    pending = [("", str(top))]
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # unreadable: the installer will say so
        subfolders = []
        for child in children:
            name = f"{prefix}{child.name}"
            try:
                st = child.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if child.name in _DIGEST_SKIP:
                    continue
                subfolders.append((f"{name}/", child.path))
            elif not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue  # a fifo, a socket, a device: nothing a package is built from
            elif child.name.endswith(".pyc"):
                continue
            found.append(_Entry(name, child.path, st))
            if len(found) > DIGEST_MAX_ENTRIES:
                raise ProjectError(
                    f"the local package '{top}' holds more than {DIGEST_MAX_ENTRIES:,} "
                    "files and folders; name the package's own folder in the requirements, "
                    "not a folder above it."
                )
        pending.extend(reversed(subfolders))  # depth first, in name order
    return found


def _hash_file(digest: Any, entry: _Entry) -> None:
    """Add ``entry``'s bytes (up to the size ``lstat`` gave) to ``digest``; a file that is
    gone, unreadable or no longer the one ``lstat`` saw adds a mark instead."""
    import stat

    if entry.size == 0:
        return  # nothing to read (``/proc`` files say so too): not even opened
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(entry.path, flags)
    except OSError:
        digest.update(b"\1unreadable")
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (entry.device, entry.inode):
            digest.update(b"\1replaced")
            return
        left = entry.size
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    except OSError:
        digest.update(b"\1unreadable")
    finally:
        os.close(fd)


def bare_names(requirements: tuple[str, ...]) -> set[str] | None:
    """The canonical names of ``requirements`` when every line is a bare package name (as
    inference writes them); None when any line pins, points somewhere or sets an option."""
    import re

    names = set()
    for line in requirements:
        text = line.strip()
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?", text):
            return None
        names.add(re.sub(r"[-_.]+", "-", text).lower())
    return names


def _same_base(meta: dict[str, Any], spec: EnvSpec) -> bool:
    """True when an environment described by ``meta`` has ``spec``'s interpreter and options."""
    return (
        meta.get("python") == spec.interpreter.path
        and meta.get("python_version") == spec.interpreter.version
        and bool(meta.get("system_site_packages")) == spec.system_site_packages
        and meta.get("index", "") == spec.index
    )


def covering_spec(
    spec: EnvSpec, cached: Iterable[tuple[dict[str, Any], str, float]], max_extra: int
) -> EnvSpec | None:
    """The spec of the cached environment (``(meta, key, last used)`` each) that may stand in
    for ``spec``: see ``EnvironmentManager.find_covering`` for the rule."""
    wanted = bare_names(spec.requirements)
    if not wanted:
        return None
    best: tuple[int, float, EnvSpec] | None = None
    for meta, key, last_used in cached:
        if not _same_base(meta, spec):
            continue
        requirements = tuple(meta.get("requirements", []))
        names = bare_names(requirements)
        if names is None or not wanted <= names or len(names - wanted) > max_extra:
            continue
        candidate = EnvSpec(requirements, spec.interpreter, spec.system_site_packages, spec.index)
        if candidate.key != key:
            continue  # built for another platform, or by another version of pyrunner
        rank = (len(names - wanted), -last_used, candidate)
        if best is None or rank[:2] < best[:2]:
            best = rank
    return best[2] if best is not None else None
