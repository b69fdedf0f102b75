"""Which files of a folder belong to a project, the one rule for every reader of a project.

Intake's entry-point search, the inference of requirements from imports, the copy of a project
folder into a run, and the notebook panel's list of projects all skip the same folders: tool and
cache folders (:data:`IGNORED_DIRS`) and every hidden folder (``.git``, ``.venv`` ...). Hidden
files such as ``.env`` are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

__all__ = ["IGNORED_DIRS", "ignored_dir_name", "is_ignored", "iter_project_files"]

IGNORED_DIRS: frozenset[str] = frozenset(
    {"__MACOSX", "__pycache__", "venv", "site-packages", ".ipynb_checkpoints", "node_modules"}
)
"""Folder names never searched; every hidden folder (``.git``, ``.venv`` …) is skipped too."""


def ignored_dir_name(name: str) -> bool:
    """A folder name never searched or copied: a tool folder or a hidden one."""
    return name in IGNORED_DIRS or name.startswith(".")


def is_ignored(rel: PurePosixPath) -> bool:
    """True for a file path under an ignored or hidden folder, an ``._*`` file or a ``*.pyc``.

    The last component is taken as a file name: hidden files such as ``.env`` are kept.
    """
    parts = rel.parts
    if not parts:
        return False
    if any(ignored_dir_name(part) for part in parts[:-1]):
        return True
    name = parts[-1]
    return name in IGNORED_DIRS or name.startswith("._") or name.endswith((".pyc", ".pyo"))


def iter_project_files(root: Path) -> Iterator[PurePosixPath]:
    """Relative paths of the project's files, sorted, skipping ignored ones.

    Ignored folders are pruned (not descended) and symlinked folders are not followed.
    """
    found: list[PurePosixPath] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not ignored_dir_name(d))
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        for name in filenames:
            rel = rel_dir / name
            if not is_ignored(rel):
                found.append(rel)
    yield from sorted(found)
