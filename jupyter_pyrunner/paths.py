"""Where the engine keeps its data, without importing Jupyter."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def jupyter_data_dir() -> Path:
    """Jupyter's per-user data folder, found the way Jupyter finds it."""
    explicit = os.environ.get("JUPYTER_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Jupyter"
    if os.name == "nt":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / "jupyter" if appdata else home / ".jupyter" / "data"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "jupyter"


def pyrunner_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Root of the run store and environment cache: ``$PYRUNNER_HOME``, else Jupyter's data dir."""
    if explicit is not None:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("PYRUNNER_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return jupyter_data_dir() / "pyrunner"


#: the store's first-level folders: created private, and tightened when an older store is opened
PRIVATE_FOLDERS = ("runs", "envs", "cache", "uploads", "sweeps")


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (0700), made with its parents if needed;
    an existing one with looser modes is tightened. As Jupyter keeps its runtime files: runs
    hold projects, logs, outputs and uploads, which other local users must not read."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
    _tighten(path, 0o700)
    return path


def private_home(home: Path) -> Path:
    """The store's root and its first-level folders, private (see ``private_folder``); the
    files directly in the root (the index) are made 0600. A few system calls when all is in
    order: an older store is tightened once, when first opened, without walking its runs (the
    root's 0700 already keeps everything under it from other users)."""
    private_folder(home)
    for name in PRIVATE_FOLDERS:
        private_folder(home / name)
    try:
        entries = list(os.scandir(home))
    except OSError:
        return home
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            _tighten(Path(entry.path), 0o600)
    return home


def _tighten(path: Path, mode: int) -> None:
    """Remove group and other permissions beyond ``mode`` (where the filesystem keeps modes)."""
    if os.name == "nt":
        return
    try:
        current = os.lstat(path).st_mode & 0o7777
        if current & ~mode & 0o077:
            os.chmod(path, current & mode)
    except OSError:  # not ours, or a filesystem without modes: nothing more to do here
        pass
