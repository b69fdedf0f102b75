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
from .interpreters import Interpreter

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EnvSpec", "bare_names", "content_digest", "covering_spec"]


class EnvSpec(Record):
    """What an environment is made of: requirement lines, base interpreter, and whether the
    host's site-packages show through. Equal specs share one cached environment."""

    _fields = ("requirements", "interpreter", "system_site_packages")
    __slots__ = (*_fields, "_key")

    requirements: tuple[str, ...]
    interpreter: Interpreter
    system_site_packages: bool

    def __init__(
        self,
        requirements: tuple[str, ...],
        interpreter: Interpreter,
        system_site_packages: bool = False,
    ) -> None:
        self.requirements = requirements
        self.interpreter = interpreter
        self.system_site_packages = system_site_packages
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The cache key. A local path in a requirement (``./pkg`` read as
        ``/.../runs/<id>/inputs/input_1/pkg``, a constraints file, a wheel folder) counts by
        its content, not its place: each run has its own copy of the project, and two runs of
        the same project must share one environment."""
        if self._key is None:
            material = json.dumps(
                {
                    "requirements": sorted({_keyed_by_content(r) for r in self.requirements}),
                    "python": self.interpreter.path,
                    "version": self.interpreter.version,
                    "system_site_packages": self.system_site_packages,
                    "platform": sysconfig.get_platform(),
                },
                sort_keys=True,
            )
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


def content_digest(path: Path) -> str:
    """A digest of a file, or of a folder's files (names and bytes, in a fixed order)."""
    import hashlib

    digest = hashlib.sha256()
    if path.is_file():
        files = [(path.name, path)]
    else:
        files = []
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _DIGEST_SKIP)
            for name in sorted(names):
                if not name.endswith(".pyc"):
                    full = Path(folder) / name
                    files.append((full.relative_to(path).as_posix(), full))
    for name, full in files:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        with contextlib.suppress(OSError), open(full, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


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
        candidate = EnvSpec(requirements, spec.interpreter, spec.system_site_packages)
        if candidate.key != key:
            continue  # built for another platform, or by another version of pyrunner
        rank = (len(names - wanted), -last_used, candidate)
        if best is None or rank[:2] < best[:2]:
            best = rank
    return best[2] if best is not None else None
