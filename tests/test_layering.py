"""One engine, thin faces: the core imports nothing from Jupyter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import jupyter_pyrunner

FACES = {"server", "notebook", "cli"}


def test_the_core_imports_nothing_from_jupyter() -> None:
    package = Path(jupyter_pyrunner.__file__).parent
    core = [m.name for m in pkgutil.iter_modules([str(package)]) if m.name not in FACES]
    assert {"sdk", "supervisor", "store", "environments", "project"} <= set(core)
    script = (
        "import sys\n"
        + "".join(f"import jupyter_pyrunner.{name}\n" for name in core)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'jupyter_server', 'jupyter_core', 'jupyter_client', 'IPython', 'ipywidgets', 'ipykernel', "
        "'tornado', 'traitlets', 'nbformat'})\n"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
