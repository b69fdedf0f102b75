"""The Python interpreter an environment is built on: the current one, one named by the user, or
one found on the machine that satisfies the project's ``requires-python``.

An interpreter is known by its real path and full version, both part of an environment's key.

Finding another Python: uv (which builds the environments) only looks on ``PATH``, where pyenv
puts shims that fail unless a version is selected, and it is slow to ask (~0.7 s). So the
places where Pythons are installed are read directly: pyenv's ``versions`` folder, uv's own
managed Pythons, then ``PATH``. A folder's name gives its version without starting it; only the
interpreter chosen is started once (~10 ms) to confirm its version and real path, and that
result is kept for the life of the process (a refusal too; a probe is cut off after 3 s or
4 KiB of output, so a program that merely carries a Python's name cannot stall intake).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._core import Record
from .errors import EnvironmentBuildError, ProjectError

__all__ = ["Interpreter", "available_pythons"]

_PYENV_NAME = re.compile(r"^(\d+\.\d+\.\d+)$")
_UV_NAME = re.compile(r"^cpython-(\d+\.\d+\.\d+)-")
_PATH_NAME = re.compile(r"^python3(\.\d+)?$")


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
    def find(cls, python: str | None, requires: str | None = None) -> Interpreter:
        """The interpreter to build on.

        ``python`` (``--python``: a path or a command) is used when given, and must satisfy
        ``requires`` (the project's ``requires-python``). Otherwise the current interpreter
        when it satisfies ``requires``, else the newest matching Python found on the machine
        (:func:`available_pythons`). A ``ProjectError`` says what was asked and what exists.
        """
        if python:
            chosen = _probe(python)
            if requires and not _accepts(requires, chosen.version):
                raise ProjectError(
                    f"the project requires Python {requires}, but '{python}' is Python "
                    f"{chosen.version}; pass a matching --python, or leave --python out "
                    "to let pyrunner choose one."
                )
            return chosen
        current = cls.current()
        if not requires or _accepts(requires, current.version):
            return current
        return cls.matching(requires)

    @classmethod
    def matching(cls, requires: str) -> Interpreter:
        """The newest Python on the machine that satisfies ``requires``, or a ProjectError
        naming the requirement and the Pythons found. The installations whose folder tells
        their version are tried first; ``PATH`` (whose Pythons must be started to tell)
        only when none of them matches."""
        installed = _installed()
        for stage in (installed, _on_path(skip=[p for p, _ in installed])):
            chosen = _first_match(requires, stage)
            if chosen is not None:
                return chosen
        found = available_pythons()
        listing = ", ".join(sorted({v for _, v in found}, key=_sort_key, reverse=True)) or "none"
        raise ProjectError(
            f"the project requires Python {requires}, and no Python on this machine matches "
            f"(found: {listing}). Install a matching Python (for example with pyenv or "
            "'uv python install'), or pass --python PATH."
        )


def _first_match(requires: str, candidates: list[tuple[str, str]]) -> Interpreter | None:
    """The newest of ``candidates`` whose version (confirmed by starting it) matches."""
    for path, version in sorted(candidates, key=lambda c: _sort_key(c[1]), reverse=True):
        if not _accepts(requires, version):
            continue
        try:
            probed = _probe(path)
        except EnvironmentBuildError:
            continue  # a broken installation: try the next one
        if _accepts(requires, probed.version):
            return probed
    return None


def _accepts(requires: str, version: str) -> bool:
    from .versionspec import version_matches

    try:
        return version_matches(requires, version)
    except ValueError as exc:
        raise ProjectError(
            f"requires-python '{requires}' is not a version specifier ({exc}); "
            "write it as, for example, '>=3.10'."
        ) from None


def _sort_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _version_folders(root: Path, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """``(python path, version)`` of the installations in ``root`` whose folder name gives
    the version (virtual environments, which pyenv keeps there too, are left out)."""
    found = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
            continue
        for name in ("python3", "python"):
            exe = os.path.join(entry.path, "bin", name)
            if os.access(exe, os.X_OK):
                found.append((exe, match.group(1)))
                break
    return found


def _is_binary(path: str) -> bool:
    """True for a real executable; False for a script such as a pyenv shim, which fails
    unless a version is selected for the folder it runs in."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _on_path(skip: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(path, version)`` of the ``python3.X`` binaries on ``PATH`` (started to ask),
    except those that are the same file as one of ``skip``."""
    seen = {os.path.realpath(p) for p in skip}
    found = []
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            names = sorted(n for n in os.listdir(folder) if _PATH_NAME.match(n))
        except OSError:
            continue
        for name in names:
            exe = os.path.join(folder, name)
            real = os.path.realpath(exe)
            if real in seen or not _is_binary(exe):
                continue
            seen.add(real)
            try:
                found.append((exe, _probe(exe).version))
            except EnvironmentBuildError:
                continue
    return found


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _uv_pythons_dir() -> Path:
    configured = os.environ.get("UV_PYTHON_INSTALL_DIR")
    if configured:
        return Path(configured)
    data = os.environ.get("XDG_DATA_HOME")
    return (Path(data) if data else Path.home() / ".local" / "share") / "uv" / "python"


def _installed() -> list[tuple[str, str]]:
    """The current interpreter, pyenv's and uv's Pythons: versions known without starting
    them."""
    current = Interpreter.current()
    return [
        (current.path, current.version),
        *_version_folders(_pyenv_root() / "versions", _PYENV_NAME),
        *_version_folders(_uv_pythons_dir(), _UV_NAME),
    ]


def available_pythons() -> list[tuple[str, str]]:
    """``(path, version)`` of the Pythons pyrunner can build on, newest first, each real
    interpreter once: the current one, pyenv's, uv's managed ones, those on ``PATH``."""
    installed = _installed()
    candidates = installed + _on_path(skip=[p for p, _ in installed])
    seen: set[str] = set()
    unique = []
    for path, version in candidates:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append((path, version))
    return sorted(unique, key=lambda item: _sort_key(item[1]), reverse=True)


_PROBE = (
    "import sys, os; "
    "print(os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable)); "
    "print('.'.join(map(str, sys.version_info[:3])))"
)


#: how long a candidate Python may take to say its version, and how much it may write
PROBE_TIMEOUT = 3.0
PROBE_OUTPUT = 4096
#: what each probed file said, by (path, mtime): an Interpreter, or why it cannot serve
_probed: dict[tuple[str, int], Interpreter | str] = {}


def _probe(python: str) -> Interpreter:
    """Start ``python`` once to learn its real base path and version (``-I -S``: no site, no
    user settings, ~10 ms instead of ~30).

    Anything named like a Python may be asked (a ``python3.X`` on ``PATH``, ``--python``), so
    the probe reads nothing from stdin, may write at most :data:`PROBE_OUTPUT` bytes and must
    answer within :data:`PROBE_TIMEOUT` seconds, else it is killed. Every answer, a refusal
    too, is kept per file and modification time: a bad file costs one probe, not one per
    question."""
    found = shutil.which(python) or python
    try:
        key = (os.path.abspath(found), os.stat(found).st_mtime_ns)
    except OSError as exc:
        raise EnvironmentBuildError(
            f"cannot use '{python}' as the Python interpreter: {exc.strerror or exc}"
        ) from None
    if key not in _probed:
        if len(_probed) >= 256:
            _probed.clear()
        _probed[key] = _ask_version(found)
    answer = _probed[key]
    if isinstance(answer, str):
        raise EnvironmentBuildError(f"cannot use '{python}' as the Python interpreter: {answer}")
    return answer


def _ask_version(exe: str) -> Interpreter | str:
    """Run the probe in ``exe``: its Interpreter, or why it cannot serve as one."""
    try:
        proc = subprocess.Popen(
            [exe, "-I", "-S", "-c", _PROBE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # whatever it starts is killed with it
        )
    except OSError as exc:
        return str(exc.strerror or exc)
    try:
        out, trouble = _bounded_read(proc)
    finally:
        _end_probe(proc)
    if trouble:
        return trouble
    if proc.returncode:
        return f"it exited with code {proc.returncode} when asked its version"
    lines = out.decode(errors="replace").split("\n")
    if len(lines) < 2 or not lines[0] or not lines[1][:1].isdigit():
        return "it did not run as one"
    return Interpreter(lines[0], lines[1])


def _bounded_read(proc: subprocess.Popen[bytes]) -> tuple[bytes, str | None]:
    """The probe's output until it ends: (output, None), or (partial, why it was cut off)."""
    import selectors
    import time

    assert proc.stdout is not None
    deadline = time.monotonic() + PROBE_TIMEOUT
    out = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return out, f"it did not answer within {PROBE_TIMEOUT:g} s when asked its version"
            chunk = os.read(proc.stdout.fileno(), PROBE_OUTPUT + 1)
            if not chunk:
                break
            out += chunk
            if len(out) > PROBE_OUTPUT:
                return out, (
                    f"it wrote more than {PROBE_OUTPUT} bytes when asked its version "
                    "(it is not a Python)"
                )
    try:
        proc.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        return out, f"it did not end within {PROBE_TIMEOUT:g} s when asked its version"
    return out, None


def _end_probe(proc: subprocess.Popen[bytes]) -> None:
    """Kill the probe and all it started (its own session) unless it ended and was reaped by
    :func:`_bounded_read` (until reaped, its pid, the group's id, cannot be reused)."""
    import signal

    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
