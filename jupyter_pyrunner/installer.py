"""The installer: uv (or venv + pip when uv is missing) run as a child process for a build,
then what was installed read back and the bytecode written.

It creates the virtual environment and installs the requirements into it, relays the
installer's output line by line to the run's log, stops the installer's whole process group on
cancel or interrupt, and raises with the installer's own text when it fails. What the installer
inherits from the host is decided by ``hostenv`` (role ``installer``), not here.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import BuildCancelled, EnvironmentBuildError

Log = Callable[[str], None]
ShouldStop = Callable[[], bool]
REQUIREMENTS_NAME = "pyrunner-requirements.txt"


#: after the installer exits, how long a process it left may keep its output open
LINGER = 0.5


class Installer:
    """Builds one environment's folder with ``uv`` (a path) or, when ``uv`` is None, venv + pip."""

    def __init__(
        self,
        uv: str | None,
        env: Mapping[str, str],
        log: Log = lambda _m: None,
        should_stop: ShouldStop | None = None,
    ) -> None:
        self.uv = uv
        self.env = dict(env)
        self.log = log
        self.should_stop = should_stop

    @property
    def name(self) -> str:
        return "uv" if self.uv else "pip"

    def create_venv(self, path: Path, python: str, system_site_packages: bool = False) -> None:
        """A virtual environment at ``path`` on the base interpreter ``python``."""
        if self.uv:
            cmd = [self.uv, "venv", "--quiet", "--relocatable", "--python", python]
        else:
            cmd = [python, "-m", "venv"]
        if system_site_packages:
            cmd.append("--system-site-packages")
        self.call([*cmd, str(path)], "creating the environment")

    def install(self, path: Path, requirements: tuple[str, ...]) -> None:
        reqs_file = path / REQUIREMENTS_NAME
        reqs_file.write_text("".join(f"{line}\n" for line in requirements))
        python = str(path / "bin" / "python")
        if self.uv:
            # copies, not links into uv's cache: an environment's files must be its own, or a
            # program editing one would change the cache and every environment linked from it
            # (and a rebuild would link the edited file again); see ``envcheck``
            cmd = [self.uv, "pip", "install", "--link-mode", "copy", "--python", python]
            cmd += ["-r", str(reqs_file)]
        else:
            cmd = [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                str(reqs_file),
            ]
        self.call(cmd, "installing the requirements")

    def call(self, cmd: list[str], what: str) -> str:
        """Run one installer step, relaying its output to the log; its output, or raise
        ``EnvironmentBuildError`` with its own error text (``BuildCancelled`` on cancel)."""
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=self.env,
        )
        assert proc.stdout is not None
        finished = False
        try:
            output = self._relay(proc.stdout.fileno(), proc)
            returncode = proc.wait()
            finished = True
        finally:
            if not finished:  # cancelled or interrupted: the whole group goes
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
            self._sweep()
        text = output.decode(errors="replace")
        if returncode != 0:
            raise EnvironmentBuildError(f"{what} failed", details=text.strip())
        return text

    def _sweep(self) -> None:
        """Stop what the step left behind. A project's build backend may start a daemon in a
        session of its own: it outlives the step, escapes its process group and is re-parented
        away, but it carries the run's marker (``process_tree.MARKER_VAR``) when the
        installer does, and the marker is how it is found. Nothing else of the run is running
        while it is being prepared."""
        from .process_tree import MARKER_VAR, kill_run

        run_id = self.env.get(MARKER_VAR)
        if run_id:
            kill_run(run_id, grace=0.5)

    def _relay(self, fd: int, proc: subprocess.Popen[bytes]) -> bytearray:
        """Everything the installer prints, each line passed to the log as it comes, until
        the pipe closes or, ``LINGER`` seconds after the installer has exited, a process it
        left behind (a build backend's daemon) still holds the pipe open."""
        output = bytearray()
        pending = b""
        exited_at: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if self.should_stop is not None and self.should_stop():
                    raise BuildCancelled()
                if proc.poll() is not None:
                    exited_at = exited_at or time.monotonic()
                    if time.monotonic() - exited_at > LINGER:
                        break
                if not sel.select(timeout=0.1):
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                output += data
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.log(line.decode(errors="replace").rstrip())
        if pending:
            self.log(pending.decode(errors="replace"))
        return output


def compile_later(python: Path, done_marker: Path, env: Mapping[str, str]) -> int:
    """Write an environment's bytecode in a detached process, then seal its manifest; its pid.

    ``PYTHONDONTWRITEBYTECODE`` may be set on the host: without ``.pyc`` files a cached
    environment would recompile its packages at every run. Compiling during the build would
    triple a cold build's time, so it happens once, right after, while runs may already start.
    The helper is ``envcheck.py`` run by the environment's own interpreter (the tag of the
    ``.pyc`` files is its own), isolated (``-I``: no variables, no script folder on the path)
    and without ``site`` (``-S``: no ``.pth`` file of the environment runs in it); it writes
    every ``.pyc`` itself and records them in the manifest (see ``envcheck``). ``done_marker``
    (in the environment's root) says ``ok``, ``partial`` or ``changed`` once it is done.
    ``env``: the installer's, without secrets, and not the run's marker, since the helper
    serves the cache and may outlive the run that built it.
    """
    from .process_tree import MARKER_VAR

    script = Path(__file__).with_name("envcheck.py")
    env_vars = {k: v for k, v in env.items() if k not in ("PYTHONDONTWRITEBYTECODE", MARKER_VAR)}
    proc = subprocess.Popen(
        [str(python), "-I", "-S", str(script), "seal", str(done_marker.parent), str(done_marker)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env_vars,
    )
    return proc.pid


def freeze(env_root: Path) -> list[str]:
    """``name==version`` of every distribution installed in the environment (as
    ``pip freeze`` prints it, ``name @ url`` for direct installs), read from the
    ``.dist-info`` folders: no installer process to start."""
    lines = []
    for site in sorted(env_root.glob("lib*/python*/site-packages")):
        for info in sorted(site.glob("*.dist-info")):
            name, version = _dist_name_version(info)
            if not name or name.lower() in ("pip", "setuptools", "wheel", "distribute"):
                continue
            url = None
            try:
                direct = json.loads((info / "direct_url.json").read_text())
                url = direct.get("url")
            except (OSError, ValueError):
                pass
            lines.append(f"{name} @ {url}" if url else f"{name}=={version}")
    return sorted(set(lines), key=str.lower)


def _dist_name_version(info: Path) -> tuple[str, str]:
    """Name and version from a ``.dist-info`` folder's METADATA (its folder name as fallback)."""
    name = version = ""
    try:
        with open(info / "METADATA", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line[5:].strip()
                elif line.startswith("Version:"):
                    version = line[8:].strip()
                elif not line.strip():
                    break  # end of the headers
    except OSError:
        pass
    if not name or not version:
        stem = info.name[: -len(".dist-info")]
        fallback_name, _, fallback_version = stem.partition("-")
        name, version = name or fallback_name, version or fallback_version
    return name, version
