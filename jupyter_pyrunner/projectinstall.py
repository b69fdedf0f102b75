"""The project itself, installed for one run, as ``uv run`` installs the project it runs in.

A project whose ``pyproject.toml`` makes it a package (a src layout, a script in a subfolder
importing the project's package) needs the package importable. The cached environment holds
the project's dependencies and is shared by every run with the same ones, so the project is
not installed into it: it is installed, without its dependencies, into a folder of the run
(``<run>/site``), which the program finds on its ``PYTHONPATH``. The environment stays as it
was built, and each run gets exactly the code it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import EnvironmentBuildError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .environments import Environment, EnvironmentManager

__all__ = ["SITE_NAME", "install_project"]

#: the run's folder that holds the installed project
SITE_NAME = "site"


def install_project(
    manager: EnvironmentManager,
    env: Environment,
    project_dir: Path,
    install: str,
    target: Path,
    *,
    log: Callable[[str], None] = lambda _m: None,
    should_stop: Callable[[], bool] | None = None,
    installer_env: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> Path:
    """Install the project in ``install`` (a folder of ``project_dir``, as the record's
    ``install_project`` says) without its dependencies, which ``env`` holds, into ``target``
    for ``env``'s interpreter; returns ``target``, the folder to put on the program's
    ``PYTHONPATH``.

    Raises ``EnvironmentBuildError`` saying which project could not be installed, with the
    installer's own output as details (``BuildCancelled`` on cancel).

    ``run_id``: the run this is for. The installer and everything it starts (the project's
    own build backend, and whatever that leaves running, detached or not) then carry the
    run's marker, and what is still running when the installer is done is stopped at once.
    """
    folder = project_dir / install
    shown = "the project" if install in ("", ".") else f"the project in '{install}'"
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise EnvironmentBuildError(f"cannot install {shown}: it has no pyproject.toml or setup.py")
    if run_id is not None:
        installer_env = _marked(installer_env, run_id)
    installer = manager.installer(installer_env, log, should_stop)
    target.mkdir(parents=True, exist_ok=True)
    if installer.uv:
        cmd = [installer.uv, "pip", "install", "--python", str(env.python)]
    else:
        cmd = [str(env.python), "-m", "pip", "install", "--disable-pip-version-check"]
    cmd += ["--no-deps", "--target", str(target), str(folder)]
    try:
        installer.call(cmd, "installing the project")
    except EnvironmentBuildError as exc:
        raise EnvironmentBuildError(
            f"installing {shown} failed (see the details); fix its build settings, or "
            "remove its [build-system] table to run it without installing it",
            details=exc.details,
        ) from None
    return target


def _marked(installer_env: Mapping[str, str] | None, run_id: str) -> dict[str, str]:
    """The installer's environment (the host's, less the secrets, by default) with the run's
    marker, by which ``process_tree`` finds every process of the run."""
    from .hostenv import Role, host_environment
    from .process_tree import MARKER_VAR

    base = host_environment(Role.INSTALLER) if installer_env is None else installer_env
    return {**base, MARKER_VAR: run_id}
