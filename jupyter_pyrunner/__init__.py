"""Run a zipped Python project in an isolated, cached environment.

The public names are imported on first use, so ``import jupyter_pyrunner`` stays cheap.
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from .daskexec import DaskExecutor
    from .environments import EnvironmentManager
    from .errors import (
        ArchiveError,
        EnvironmentBuildError,
        InvalidRunSpecError,
        ProjectError,
        PyRunnerError,
        RunNotFoundError,
        RunStateError,
    )
    from .executors import Executor, LocalExecutor
    from .handle import RunHandle
    from .intake import prepare_run
    from .models import RunRecord, RunSpec, RunStatus
    from .notebook.panel import RunnerPanel
    from .notebook.result import RunResult
    from .sdk import run_project, start_run
    from .store import RunStore
    from .sweeps import SweepHandle, run_sweep

_EXPORTS = {
    "RunHandle": "handle",
    "prepare_run": "intake",
    "run_project": "sdk",
    "start_run": "sdk",
    "EnvironmentManager": "environments",
    "ArchiveError": "errors",
    "EnvironmentBuildError": "errors",
    "InvalidRunSpecError": "errors",
    "ProjectError": "errors",
    "PyRunnerError": "errors",
    "RunNotFoundError": "errors",
    "RunStateError": "errors",
    "DaskExecutor": "daskexec",
    "Executor": "executors",
    "LocalExecutor": "executors",
    "RunRecord": "models",
    "RunSpec": "models",
    "RunStatus": "models",
    "RunStore": "store",
    "RunnerPanel": "notebook.panel",
    "RunResult": "notebook.result",
    "SweepHandle": "sweeps",
    "run_sweep": "sweeps",
}

__all__ = [
    "ArchiveError",
    "DaskExecutor",
    "EnvironmentBuildError",
    "EnvironmentManager",
    "Executor",
    "InvalidRunSpecError",
    "LocalExecutor",
    "ProjectError",
    "PyRunnerError",
    "RunHandle",
    "RunNotFoundError",
    "RunRecord",
    "RunResult",
    "RunSpec",
    "RunStateError",
    "RunStatus",
    "RunStore",
    "RunnerPanel",
    "SweepHandle",
    "__version__",
    "prepare_run",
    "run_project",
    "run_sweep",
    "start_run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_pyrunner' has no attribute {name!r}")
    import importlib  # here: importing it costs a little at every start

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tells Jupyter Server where the extension lives (imported only by the server)."""
    from .server.app import PyRunnerApp

    return [{"module": "jupyter_pyrunner.server.app", "app": PyRunnerApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension lives (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-pyrunner"}]


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext jupyter_pyrunner`` registers the ``%pyrunner`` magics."""
    from .notebook import load_ipython_extension as load

    load(shell)
