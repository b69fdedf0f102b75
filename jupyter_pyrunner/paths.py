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
