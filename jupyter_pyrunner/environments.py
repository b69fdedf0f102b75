"""Isolated environments, built with uv (or venv + pip), cached by what they contain.

An environment's key is a hash of the normalized requirements, the interpreter (real path and
version) and the ``system_site_packages`` switch. It is built in a temporary folder and renamed
into place, so a half-built environment is never seen; an exclusive file lock makes two runs
asking for the same key build it once. Runs hold a shared lock while they use an environment, so
``prune`` never removes one in use.

Bytecode: the build does not compile (that would triple the cold build time); right after the
environment is in place a detached ``compileall`` writes the ``.pyc`` files once, so later runs
start as fast as in a normally installed venv even when ``PYTHONDONTWRITEBYTECODE`` is set.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sysconfig
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ._core import Record, sha256
from .errors import BuildCancelled, EnvironmentBuildError
from .hostenv import Role, host_environment
from .installer import Installer, compile_later, freeze
from .interpreters import Interpreter

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any


META_NAME = "pyrunner-env.json"
LAST_USED = ".last-used"
COMPILED = ".compiled"

Log = Callable[[str], None]
ShouldStop = Callable[[], bool]


class EnvSpec(Record):
    _fields = ("requirements", "interpreter", "system_site_packages")
    __slots__ = _fields

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

    @property
    def key(self) -> str:
        material = json.dumps(
            {
                "requirements": sorted(set(self.requirements)),
                "python": self.interpreter.path,
                "version": self.interpreter.version,
                "system_site_packages": self.system_site_packages,
                "platform": sysconfig.get_platform(),
            },
            sort_keys=True,
        )
        return sha256(material.encode()).hexdigest()[:24]


class Environment(Record):
    _fields = ("key", "path", "meta")
    __slots__ = _fields

    key: str
    path: Path
    meta: dict[str, Any]

    def __init__(self, key: str, path: Path, meta: dict[str, Any]) -> None:
        self.key = key
        self.path = path
        self.meta = meta

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def freeze(self) -> list[str]:
        return list(self.meta.get("freeze", []))


class EnvInfo(Record):
    _fields = ("key", "path", "size", "created", "last_used", "requirements", "python", "in_use")
    __slots__ = _fields

    key: str
    path: Path
    size: int
    created: float
    last_used: float
    requirements: list[str]
    python: str
    in_use: bool

    def __init__(
        self,
        key: str,
        path: Path,
        size: int,
        created: float,
        last_used: float,
        requirements: list[str],
        python: str,
        in_use: bool,
    ) -> None:
        self.key = key
        self.path = path
        self.size = size
        self.created = created
        self.last_used = last_used
        self.requirements = requirements
        self.python = python
        self.in_use = in_use

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``path`` as a string)."""
        return {
            "key": self.key,
            "path": str(self.path),
            "size": self.size,
            "created": self.created,
            "last_used": self.last_used,
            "requirements": list(self.requirements),
            "python": self.python,
            "in_use": self.in_use,
        }


def find_uv() -> str | None:
    """The uv binary shipped by the ``uv`` package, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


class EnvironmentManager:
    """The environment cache under ``<home>/envs``."""

    def __init__(self, home: Path, *, use_uv: bool = True, compile_bytecode: bool = True) -> None:
        self.root = home / "envs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._uv: str | None = None
        self._uv_known = not use_uv  # uv is looked for when first needed (building), not here
        self.compile_bytecode = compile_bytecode
        self.helper_pids: list[int] = []

    @property
    def uv(self) -> str | None:
        """The uv binary that builds environments; None to build with venv + pip."""
        if not self._uv_known:
            self._uv = find_uv()
            self._uv_known = True
        return self._uv

    @uv.setter
    def uv(self, value: str | None) -> None:
        self._uv = value
        self._uv_known = True

    # -- locking -----------------------------------------------------------------------------
    def _lock_path(self, key: str) -> Path:
        return self.root / f".{key}.lock"

    @contextlib.contextmanager
    def _flock(
        self, key: str, mode: int, should_stop: ShouldStop | None = None, on_wait: Log | None = None
    ) -> Iterator[None]:
        with open(self._lock_path(key), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait("waiting for another run that is building the same environment…")
                while True:
                    if should_stop and should_stop():
                        raise BuildCancelled() from None
                    try:
                        fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def using(self, env: Environment) -> Iterator[Environment]:
        """Hold ``env`` for a run: it will not be pruned meanwhile."""
        with self._flock(env.key, fcntl.LOCK_SH):
            with contextlib.suppress(OSError):
                (env.path / LAST_USED).touch()
            yield env

    @contextlib.contextmanager
    def acquire(
        self,
        spec: EnvSpec,
        log: Log = lambda _m: None,
        should_stop: ShouldStop | None = None,
        on_build: Callable[[], object] | None = None,
        installer_env: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[Environment, bool]]:
        """The environment for ``spec`` (built if needed), held for the caller's use.

        Between finding an environment and locking it, ``prune`` may remove it: then it is
        looked up (or built) again. ``installer_env``: see :meth:`ensure`.
        """
        built_any = False
        for _attempt in range(5):
            env, built = self.ensure(spec, log, should_stop, on_build, installer_env)
            built_any = built_any or built
            with self._flock(env.key, fcntl.LOCK_SH):
                if self.get(env.key) is None:
                    continue  # pruned meanwhile
                with contextlib.suppress(OSError):
                    (env.path / LAST_USED).touch()
                yield env, built_any
                return
        raise EnvironmentBuildError("the environment kept disappearing while being prepared")

    # -- lookup and build --------------------------------------------------------------------
    def get(self, key: str) -> Environment | None:
        """The complete environment with this key, if it is in the cache."""
        path = self.root / key
        try:
            meta = json.loads((path / META_NAME).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return Environment(key, path, meta)

    def ensure(
        self,
        spec: EnvSpec,
        log: Log = lambda _m: None,
        should_stop: ShouldStop | None = None,
        on_build: Callable[[], object] | None = None,
        installer_env: Mapping[str, str] | None = None,
    ) -> tuple[Environment, bool]:
        """The environment for ``spec``, built if needed. Returns it and whether it was built.

        ``on_build`` is called when a build really starts (not for a cached environment).
        ``installer_env`` is what the installer inherits (see ``hostenv.Role.INSTALLER``): the
        run's own, so that its deny list holds; by default the host's, less the secrets.
        """
        key = spec.key
        found = self.get(key)
        if found is not None:
            return found, False
        with self._flock(key, fcntl.LOCK_EX, should_stop, log):
            found = self.get(key)  # built by another process while we waited
            if found is not None:
                return found, False
            if on_build is not None:
                on_build()
            base = host_environment(Role.INSTALLER) if installer_env is None else installer_env
            installer = Installer(self.uv, self._installer_settings(base), log, should_stop)
            return self._build(spec, installer), True

    def _installer_settings(self, base: Mapping[str, str]) -> dict[str, str]:
        """The installer's environment: ``base`` plus never downloading a Python, never asking
        a question, and uv's cache where linking from it works."""
        env = dict(base)
        env.setdefault("UV_PYTHON_DOWNLOADS", "never")
        env.setdefault("UV_CACHE_DIR", str(self._uv_cache_dir()))
        env["PIP_NO_INPUT"] = "1"
        return env

    def _build(self, spec: EnvSpec, installer: Installer) -> Environment:
        """Build in a temporary folder, then rename it into place: never seen half-built."""
        tmp = self.root / f".build-{spec.key}-{os.urandom(4).hex()}"
        started = time.time()
        try:
            installer.create_venv(tmp, spec.interpreter.path, spec.system_site_packages)
            if spec.requirements:
                installer.install(tmp, spec.requirements)
            meta = self._describe(spec, installer, tmp, time.time() - started)
            final = self._move_into_place(tmp, spec.key)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        env = Environment(spec.key, final, meta)
        (final / LAST_USED).touch()
        if self.compile_bytecode and spec.requirements:
            self.helper_pids.append(compile_later(env.python, env.path / COMPILED, installer.env))
        return env

    def _describe(
        self, spec: EnvSpec, installer: Installer, path: Path, seconds: float
    ) -> dict[str, Any]:
        """Write ``pyrunner-env.json``: what the environment holds and how it was made."""
        meta = {
            "key": spec.key,
            "requirements": list(spec.requirements),
            "python": spec.interpreter.path,
            "python_version": spec.interpreter.version,
            "system_site_packages": spec.system_site_packages,
            "installer": installer.name,
            "created": time.time(),
            "build_seconds": round(seconds, 3),
            "freeze": freeze(path),
        }
        (path / META_NAME).write_text(json.dumps(meta, indent=1))
        return meta

    def _move_into_place(self, tmp: Path, key: str) -> Path:
        final = self.root / key
        if final.exists():  # a leftover without metadata: never complete, safe to replace
            shutil.rmtree(final)
        os.rename(tmp, final)
        return final

    def _uv_cache_dir(self) -> Path:
        """uv's usual cache, unless it sits on another filesystem than the environments: uv then
        copies every file instead of linking it, so keep a cache beside them instead."""
        xdg = os.environ.get("XDG_CACHE_HOME")
        default = (Path(xdg) if xdg else Path.home() / ".cache") / "uv"
        probe = default if default.exists() else default.parent
        try:
            same = probe.stat().st_dev == self.root.stat().st_dev
        except OSError:
            same = False
        return default if same else self.root.parent / "cache" / "uv"

    # -- housekeeping ------------------------------------------------------------------------
    def _busy(self, key: str) -> bool:
        with open(self._lock_path(key), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False

    def list_envs(self) -> list[EnvInfo]:
        infos = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or not path.is_dir():
                continue
            env = self.get(path.name)
            if env is None:
                continue
            try:
                last_used = (path / LAST_USED).stat().st_mtime
            except FileNotFoundError:
                last_used = float(env.meta.get("created", 0))
            infos.append(
                EnvInfo(
                    key=env.key,
                    path=path,
                    size=_dir_size(path),
                    created=float(env.meta.get("created", 0)),
                    last_used=last_used,
                    requirements=list(env.meta.get("requirements", [])),
                    python=f"{env.meta.get('python')} ({env.meta.get('python_version')})",
                    in_use=self._busy(env.key),
                )
            )
        return infos

    def remove(self, key: str) -> bool:
        """Remove one environment unless a run is using it."""
        with open(self._lock_path(key), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                path = self.root / key
                trash = self.root / f".trash-{key}-{os.urandom(4).hex()}"
                os.rename(path, trash)  # atomically gone for readers, then deleted
                shutil.rmtree(trash, ignore_errors=True)
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return True

    def prune(
        self, older_than_days: float | None = None, max_size_bytes: int | None = None
    ) -> list[EnvInfo]:
        """Evict environments unused for ``older_than_days``, then the least recently used until
        the cache fits in ``max_size_bytes``. Environments in use are kept. Returns the removed."""
        envs = sorted(self.list_envs(), key=lambda e: e.last_used)
        removed: list[EnvInfo] = []
        if older_than_days is not None:
            cutoff = time.time() - older_than_days * 86400
            for info in envs:
                if info.last_used < cutoff and not info.in_use and self.remove(info.key):
                    removed.append(info)
        if max_size_bytes is not None:
            remaining = [e for e in envs if e not in removed]
            total = sum(e.size for e in remaining)
            for info in remaining:
                if total <= max_size_bytes:
                    break
                if not info.in_use and self.remove(info.key):
                    removed.append(info)
                    total -= info.size
        # leftovers of interrupted builds
        for path in self.root.glob(".build-*"):
            key = path.name.split("-")[1]
            if not self._busy(key):
                shutil.rmtree(path, ignore_errors=True)
        return removed
