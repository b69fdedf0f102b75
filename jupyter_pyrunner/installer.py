"""The installer: uv (or venv + pip when uv is missing) run as a child process for a build.

It creates the virtual environment and installs the requirements into it, relays the
installer's output line by line to the run's log, stops the installer's whole process group on
cancel or interrupt, and raises with the installer's own text when it fails. What the installer
inherits from the host is decided by ``hostenv`` (role ``installer``), not here.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import BuildCancelled, EnvironmentBuildError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .environments import EnvSpec

Log = Callable[[str], None]
ShouldStop = Callable[[], bool]
REQUIREMENTS_NAME = "pyrunner-requirements.txt"


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

    def create_venv(self, path: Path, spec: EnvSpec) -> None:
        if self.uv:
            cmd = [self.uv, "venv", "--quiet", "--relocatable", "--python", spec.interpreter.path]
        else:
            cmd = [spec.interpreter.path, "-m", "venv"]
        if spec.system_site_packages:
            cmd.append("--system-site-packages")
        self.call([*cmd, str(path)], "creating the environment")

    def install(self, path: Path, requirements: tuple[str, ...]) -> None:
        reqs_file = path / REQUIREMENTS_NAME
        reqs_file.write_text("".join(f"{line}\n" for line in requirements))
        python = str(path / "bin" / "python")
        if self.uv:
            cmd = [self.uv, "pip", "install", "--python", python, "-r", str(reqs_file)]
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
            output = self._relay(proc.stdout.fileno())
            returncode = proc.wait()
            finished = True
        finally:
            if not finished:  # cancelled or interrupted: the whole group goes
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
        text = output.decode(errors="replace")
        if returncode != 0:
            raise EnvironmentBuildError(f"{what} failed", details=text.strip())
        return text

    def _relay(self, fd: int) -> bytearray:
        """Everything the installer prints, each line passed to the log as it comes."""
        output = bytearray()
        pending = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if self.should_stop is not None and self.should_stop():
                    raise BuildCancelled()
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
