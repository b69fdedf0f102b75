"""The Python interpreter an environment is built on: the current one, or one named by the user.

An interpreter is known by its real path and full version, both part of an environment's key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache

from ._core import Record
from .errors import EnvironmentBuildError


class Interpreter(Record):
    """A base interpreter: its real path and its full version."""

    _fields = ("path", "version")
    __slots__ = _fields

    path: str  # real path of the base interpreter
    version: str  # full version, e.g. "3.11.7"

    def __init__(self, path: str, version: str) -> None:
        self.path = path
        self.version = version

    @classmethod
    def current(cls) -> Interpreter:
        base = getattr(sys, "_base_executable", None) or sys.executable
        return cls(os.path.realpath(base), ".".join(map(str, sys.version_info[:3])))

    @classmethod
    def find(cls, python: str | None) -> Interpreter:
        """The interpreter named by ``--python`` (a path or a command), or the current one."""
        if not python:
            return cls.current()
        return _probe(python)


@lru_cache(maxsize=16)
def _probe(python: str) -> Interpreter:
    found = shutil.which(python) or python
    script = "import sys, os; print(os.path.realpath(getattr(sys, '_base_executable', sys.executable))); print('.'.join(map(str, sys.version_info[:3])))"
    try:
        out = subprocess.run(
            [found, "-c", script], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentBuildError(
            f"cannot use '{python}' as the Python interpreter: {exc}"
        ) from None
    if len(out) < 2 or not out[0] or not out[1][:1].isdigit():
        raise EnvironmentBuildError(
            f"cannot use '{python}' as the Python interpreter: it did not run as one"
        )
    return Interpreter(out[0], out[1])
