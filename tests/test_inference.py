"""Requirements inferred from a project's imports, offline, cached by the sources' hash."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner.inference import infer_requirements

from .test_requirements import make

REPO = Path(__file__).resolve().parents[1]


def _env_with_repo() -> dict[str, str]:
    """Environment for a fresh interpreter that imports this checkout."""
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


PROJECT = {
    "main.py": (
        "from __future__ import annotations\n"
        "import os, json\n"
        "import sys\n"
        "import numpy as np\n"
        "from sklearn.svm import SVC\n"
        "from PIL import Image\n"
        "import yaml\n"
        "import helpers\n"
        "import mypkg.core\n"
        "sys.path.insert(0, 'utils')\n"
        "import tools\n"
    ),
    "helpers.py": "import json\n",
    "mypkg/__init__.py": "from .core import run\nfrom . import core\n",
    "mypkg/core.py": "import numpy\nimport collections.abc\n",
    "utils/tools.py": "import logging\n",
    "broken.py": "import pandas\ndef oops(:\n",
    ".venv/lib/site.py": "import torch\n",
    "__MACOSX/._main.py": "import tensorflow\n",
}


def test_infer_requirements(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    make(tmp_path, PROJECT)
    handlers = list(logging.getLogger().handlers)
    result = infer_requirements(tmp_path)
    assert {name.lower() for name in result} == {"numpy", "scikit-learn", "pillow", "pyyaml"}
    assert result == sorted(result, key=str.lower)
    assert logging.getLogger().handlers == handlers
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_infer_empty_project(tmp_path: Path) -> None:
    assert infer_requirements(tmp_path) == []


def test_infer_cache(tmp_path: Path) -> None:
    project = make(tmp_path / "proj", PROJECT)
    cache = tmp_path / "cache"
    first = infer_requirements(project, cache_dir=cache)
    stored = list(cache.glob("*.json"))
    assert len(stored) == 1
    assert infer_requirements(project, cache_dir=cache) == first

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from jupyter_pyrunner.inference import infer_requirements\n"
        "result = infer_requirements(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))\n"
        "print(','.join(result), 'pipreqs' in sys.modules)\n"
    )
    env = _env_with_repo()
    done = subprocess.run(
        [sys.executable, "-c", code, str(project), str(cache)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout.split() == [",".join(first), "False"]

    # A change to any Python file is a new key.
    (project / "main.py").write_text("import requests\n", encoding="utf-8")
    changed = infer_requirements(project, cache_dir=cache)
    assert {name.lower() for name in changed} == {"numpy", "requests"}
    assert len(list(cache.glob("*.json"))) == 2


def test_import_is_light() -> None:
    code = (
        "import sys\n"
        "import jupyter_pyrunner.project, jupyter_pyrunner.requirements, jupyter_pyrunner.inference\n"
        "heavy = ('pipreqs', 'jupyter_core', 'IPython')\n"
        "print(any(m.split('.')[0] in heavy for m in sys.modules))\n"
    )
    env = _env_with_repo()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "False"
