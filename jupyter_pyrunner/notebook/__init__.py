"""The notebook face: the ``%pyrunner`` magic, run results, and the ``RunnerPanel`` widget."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .magics import PyRunnerMagics

    shell.register_magics(PyRunnerMagics)
