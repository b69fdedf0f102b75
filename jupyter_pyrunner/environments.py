"""Isolated environments, built with uv (or venv + pip), cached by what they contain.

An environment's key is a hash of the normalized requirements, the interpreter (real path and
version) and the ``system_site_packages`` switch. It is built in a temporary folder and renamed
into place, so a half-built environment is never seen; an exclusive file lock makes two runs
asking for the same key build it once. Runs hold a shared lock while they use an environment, so
``prune`` never removes one in use.

Bytecode: the build does not compile (that would triple the cold build time); right after the
environment is in place a detached helper writes the ``.pyc`` files once, so later runs
start as fast as in a normally installed venv even when ``PYTHONDONTWRITEBYTECODE`` is set.

Integrity: a program can write into the environment it runs in, which later runs share. The
build ends with a manifest of the environment's files (``envcheck``), made read-only; each
reuse checks it first. An environment that changed is rebuilt, with a line in the run's log
saying so; one whose only change is bytecode is repaired (the foreign ``.pyc`` deleted).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ._core import Record
from .envspec import EnvSpec as EnvSpec
from .envspec import covering_spec
from .errors import BuildCancelled, EnvironmentBuildError
from .hostenv import Role, host_environment
from .installer import Installer, compile_later, freeze
from .interpreters import Interpreter as Interpreter
from .paths import private_folder

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any


META_NAME = "pyrunner-env.json"
LAST_USED = ".last-used"
#: touched when every file was found as built, after a use that no other run overlapped
VERIFIED = ".verified"
COMPILED = ".compiled"

Log = Callable[[str], None]
ShouldStop = Callable[[], bool]


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
    _fields = (
        "key",
        "path",
        "size",
        "created",
        "last_used",
        "requirements",
        "python",
        "in_use",
        "python_version",
    )
    __slots__ = _fields

    key: str
    path: Path
    size: int
    created: float
    last_used: float
    requirements: list[str]
    python: str
    in_use: bool
    #: the interpreter's full version, such as ``3.11.7``
    python_version: str

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
        python_version: str = "",
    ) -> None:
        self.key = key
        self.path = path
        self.size = size
        self.created = created
        self.last_used = last_used
        self.requirements = requirements
        self.python = python
        self.in_use = in_use
        self.python_version = python_version

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
            "python_version": self.python_version,
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


def _unverified(env: Environment) -> bool:
    """Whether a use of ``env`` since its last full check did not end with one (its
    supervisor died, or a run is still using it): the next reuse then checks every file.
    File times tick in steps of a few milliseconds: a use that began in the tick of the last
    check counts as unchecked."""
    try:
        verified = (env.path / VERIFIED).stat().st_mtime_ns
        return verified <= (env.path / LAST_USED).stat().st_mtime_ns
    except OSError:
        return True


def remove_tree(path: Path) -> None:
    """Delete a folder tree that may be read-only (an environment is made so after its build):
    each folder gets its owner's write permission back first."""
    for folder, _dirs, _files in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(folder, os.lstat(folder).st_mode | 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _extra(covering: EnvSpec, spec: EnvSpec) -> str:
    extra = sorted(set(covering.requirements) - set(spec.requirements))
    return ", ".join(extra) if extra else "nothing more"


class EnvironmentManager:
    """The environment cache under ``<home>/envs``."""

    def __init__(self, home: Path, *, use_uv: bool = True, compile_bytecode: bool = True) -> None:
        self.root = home / "envs"
        private_folder(home)
        private_folder(self.root)  # what a run installed is its user's business only
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
        self,
        key: str,
        mode: int,
        should_stop: ShouldStop | None = None,
        on_wait: Log | None = None,
        why: str = "which another run is building",
        ready: Callable[[], bool] | None = None,
    ) -> Iterator[int | None]:
        """Hold the lock of ``key`` in ``mode``; yields the lock's file descriptor. While it
        waits, ``ready`` (when given) is asked too: once it says yes, the wait ends without the
        lock and None is yielded (a run waiting to build an environment that another run has
        just built must not wait, holding nothing, until that other run's program ends too:
        the builder keeps a shared lock on it while its program runs)."""
        with open(self._lock_path(key), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait(f"waiting for environment {key}, {why}…")
                while True:
                    if should_stop and should_stop():
                        raise BuildCancelled() from None
                    if ready is not None and ready():
                        yield None
                        return
                    try:
                        fcntl.flock(f.fileno(), mode | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        time.sleep(0.05)
            try:
                yield f.fileno()
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
        *,
        on_wait: Log | None = None,
        cover: bool = False,
    ) -> Iterator[tuple[Environment, bool]]:
        """The environment for ``spec`` (built if needed), held for the caller's use.

        Between finding an environment and locking it, ``prune`` may remove it: then it is
        looked up (or built) again. ``installer_env`` and ``on_wait``: see :meth:`ensure`.
        ``cover``: for requirements that were inferred, not declared, a cached environment
        that already holds them all may serve instead of a new build (:meth:`find_covering`).
        """
        built_any = False
        for _attempt in range(5):
            chosen = spec
            if cover and self.get(spec.key) is None:
                covering = self.find_covering(spec)
                if covering is not None:
                    chosen = covering
                    log(
                        f"using environment {covering.key}, which already holds "
                        f"{', '.join(spec.requirements)} (and {_extra(covering, spec)})"
                    )
            env, built = self.ensure(chosen, log, should_stop, on_build, installer_env, on_wait)
            built_any = built_any or built
            with self._flock(env.key, fcntl.LOCK_SH) as lock:
                assert lock is not None  # (no ``ready``: the lock itself is waited for)
                if self.get(env.key) is None:
                    continue  # pruned meanwhile
                with contextlib.suppress(OSError):
                    (env.path / LAST_USED).touch()
                try:
                    yield env, built_any
                finally:
                    self._after_use(env, lock, log)
                return
        raise EnvironmentBuildError("the environment kept disappearing while being prepared")

    def find_covering(self, spec: EnvSpec, max_extra: int = 2) -> EnvSpec | None:
        """A cached environment that can stand in for ``spec``, as its spec; None if none can.

        Only for requirements inferred from imports, which name packages without versions:
        the program needs each of them installed, not an exact set. A candidate must be built
        on the same interpreter with the same options, must have been asked for every one of
        them by name (not merely carry it as a dependency of something else), and may have
        been asked for at most ``max_extra`` other packages, so that a small project does not
        end up in a large unrelated environment. Declared requirements never use this: their
        exact set is the user's word. The closest candidate wins, then the most recent.
        """
        return covering_spec(spec, ((e.meta, e.key, used) for e, used in self._cached()), max_extra)

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
        on_wait: Log | None = None,
    ) -> tuple[Environment, bool]:
        """The environment for ``spec``, built if needed. Returns it and whether it was built.

        ``on_build`` is called when a build really starts (not for a cached environment).
        ``installer_env`` is what the installer inherits (see ``hostenv.Role.INSTALLER``): the
        run's own, so that its deny list holds; by default the host's, less the secrets.
        When another process is building the same environment, the wait is logged and
        ``on_wait`` (if given) receives the same message, for the run's status.
        """
        key = spec.key
        found = self.get(key)
        if found is not None and self._problem(found, log, full=_unverified(found)) is None:
            return found, False

        def waiting(message: str) -> None:
            log(message)
            if on_wait is not None:
                on_wait(message)

        def built_meanwhile() -> bool:
            return self.get(key) is not None

        why = "which another run is building"
        ready: Callable[[], bool] | None = built_meanwhile
        if found is not None:  # changed: rebuilt once the runs still using it have ended
            why = "changed by an earlier run, to be rebuilt once the runs using it end"
            ready = None
        with self._flock(key, fcntl.LOCK_EX, should_stop, waiting, why, ready) as lock:
            found = self.get(key)  # built (or rebuilt) by another process while we waited
            if found is not None:
                problem = self._problem(found, log, full=_unverified(found))
                if problem is None:
                    return found, False
                log(problem)
            if lock is None:  # nothing is built or discarded without the lock: wait for it
                return self.ensure(spec, log, should_stop, on_build, installer_env, on_wait)
            if found is not None:
                self._discard(found.path)
            if on_build is not None:
                on_build()
            return self._build(spec, self.installer(installer_env, log, should_stop)), True

    def _problem(self, env: Environment, log: Log, *, full: bool) -> str | None:
        """Why ``env`` must not be reused (a sentence for the run's log), or None when it is
        as built (``full``: every file checked, else folders and start-up files: see
        ``envcheck``). Bytecode written into it since is deleted here, and said in the log."""
        from .envcheck import check, repair

        finding = check(str(env.path), full=full)
        if finding is None:
            return None
        if finding.kind == "bytecode" and repair(str(env.path)):
            log(
                f"environment {env.key}: {finding.reason} by an earlier run; "
                "removed (Python reads the checked source instead)"
            )
            return None
        if finding.kind == "unverifiable":
            return f"environment {env.key} {finding.reason}: it is rebuilt"
        return (
            f"environment {env.key} was changed by an earlier run ({finding.reason}): it is rebuilt"
        )

    def _after_use(self, env: Environment, lock: int, log: Log) -> None:
        """Once a run is done with ``env`` (its program has ended), check every file: what the
        run changed is found now, and the next reuse, which checks folders and start-up
        files only, rebuilds it (the manifest says why). When no other run overlapped this
        one, the environment is stamped verified; otherwise the next reuse checks every file
        itself, since a run still going may change it yet."""
        from . import envcheck

        try:
            finding = envcheck.check(str(env.path), full=True)
            if (
                finding is not None
                and finding.kind == "bytecode"
                and envcheck.repair(str(env.path))
            ):
                log(f"environment {env.key}: {finding.reason} by this run; removed")
                finding = None
            if finding is not None:
                envcheck.mark_changed(str(env.path), finding.reason)
                log(
                    f"environment {env.key} was changed by this run ({finding.reason}): "
                    "the next run rebuilds it"
                )
                return
            try:  # from shared to exclusive, refused while another run holds it
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            (env.path / VERIFIED).touch()
        except OSError:  # removed meanwhile, a full disk: the next reuse checks every file
            pass

    def installer(
        self,
        installer_env: Mapping[str, str] | None = None,
        log: Log = lambda _m: None,
        should_stop: ShouldStop | None = None,
    ) -> Installer:
        """The installer this cache builds with (uv, else pip), with its settings."""
        return Installer(self.uv, self.installer_settings(installer_env), log, should_stop)

    def installer_settings(self, installer_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The installer's environment: ``installer_env`` (the host's, as ``hostenv`` gives it
        to the installer, by default) plus never downloading a Python, never asking a question,
        uv's cache where linking from it works, and pip's index settings where uv has none of
        its own (uv does not read pip's: see ``pipconfig``). It decides which packages an
        environment gets, so a run reads it before looking for one (without finding uv)."""
        from .pipconfig import carry_over

        base = host_environment(Role.INSTALLER) if installer_env is None else installer_env
        env = dict(base)
        env.update(carry_over(base, cache=self.root.parent / "cache" / "pip-config.json"))
        env.setdefault("UV_PYTHON_DOWNLOADS", "never")
        env.setdefault("UV_CACHE_DIR", str(self._uv_cache_dir()))
        env["PIP_NO_INPUT"] = "1"
        return env

    def _build(self, spec: EnvSpec, installer: Installer) -> Environment:
        """Build in a temporary folder, then rename it into place: never seen half-built."""
        from . import envcheck

        tmp = self.root / f".build-{spec.key}-{os.urandom(4).hex()}"
        started = time.time()
        try:
            installer.create_venv(tmp, spec.interpreter.path, spec.system_site_packages)
            if spec.requirements:
                installer.install(tmp, spec.requirements)
            meta = self._describe(spec, installer, tmp, time.time() - started)
            (tmp / LAST_USED).touch()
            (tmp / VERIFIED).touch()
            # read-only, then recorded: what each reuse checks (sealed by the bytecode helper)
            envcheck.prepare(str(tmp), bytecode_later=self.compile_bytecode)
            envcheck.write(str(tmp), envcheck.snapshot(str(tmp), sealed=not self.compile_bytecode))
            final = self._move_into_place(tmp, spec.key)
        except BaseException:
            remove_tree(tmp)
            raise
        env = Environment(spec.key, final, meta)
        if self.compile_bytecode:
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
            "index": spec.index,
            "installer": installer.name,
            "created": time.time(),
            "build_seconds": round(seconds, 3),
            "freeze": freeze(path),
        }
        (path / META_NAME).write_text(json.dumps(meta, indent=1))
        return meta

    def _move_into_place(self, tmp: Path, key: str) -> Path:
        final = self.root / key
        if final.exists():  # a leftover without metadata, or a changed one: safe to replace
            self._discard(final)
        os.rename(tmp, final)
        return final

    def _discard(self, path: Path) -> None:
        """Remove an environment the caller holds exclusively: renamed away at once (readers
        never see it half-deleted), then deleted."""
        trash = self.root / f".trash-{path.name}-{os.urandom(4).hex()}"
        os.rename(path, trash)
        remove_tree(trash)

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

    def _cached(self) -> Iterator[tuple[Environment, float]]:
        """Each complete environment in the cache, with when it was last used."""
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
            yield env, last_used

    def list_envs(self) -> list[EnvInfo]:
        """The complete environments in the cache, measured."""
        return [
            EnvInfo(
                key=env.key,
                path=env.path,
                size=_dir_size(env.path),
                created=float(env.meta.get("created", 0)),
                last_used=last_used,
                requirements=list(env.meta.get("requirements", [])),
                python=f"{env.meta.get('python')} ({env.meta.get('python_version')})",
                in_use=self._busy(env.key),
                python_version=str(env.meta.get("python_version", "")),
            )
            for env, last_used in self._cached()
        ]

    def remove(self, key: str) -> bool:
        """Remove one environment unless a run is using it."""
        with open(self._lock_path(key), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                self._discard(self.root / key)
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
                remove_tree(path)
        for path in self.root.glob(".trash-*"):  # a removal interrupted half-way
            remove_tree(path)
        return removed
