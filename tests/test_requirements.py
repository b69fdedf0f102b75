"""Requirement sources: requirements files, PEP 723 metadata, pyproject, import inference."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.requirements import (
    Requirements,
    infer_requirements,
    read_pyproject_dependencies,
    read_requirements_file,
    read_script_metadata,
)

REPO = Path(__file__).resolve().parents[1]


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _env_with_repo() -> dict[str, str]:
    """Environment for a fresh interpreter that imports this checkout."""
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


# --------------------------------------------------------------------------- requirements.txt


def test_includes_are_inlined(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "requirements.txt": "-r base.txt\nflask\n--requirement=sub/more.txt\n",
            "base.txt": "numpy\n",
            "sub/more.txt": "-r ../base.txt\n-rextra.txt\n",
            "sub/extra.txt": "rich\n",
        },
    )
    lines = read_requirements_file(tmp_path / "requirements.txt", tmp_path)
    assert lines == ["numpy", "flask", "rich"]


def test_include_cycle_is_read_once(tmp_path: Path) -> None:
    make(tmp_path, {"a.txt": "one\n-r b.txt\n", "b.txt": "two\n-r a.txt\n"})
    assert read_requirements_file(tmp_path / "a.txt", tmp_path) == ["one", "two"]


def test_include_escaping_root(tmp_path: Path) -> None:
    root = make(tmp_path / "proj", {"requirements.txt": "-r ../secret.txt\n"})
    make(tmp_path, {"secret.txt": "x\n"})
    with pytest.raises(ProjectError, match="outside the project"):
        read_requirements_file(root / "requirements.txt", root)


def test_include_missing(tmp_path: Path) -> None:
    make(tmp_path, {"requirements.txt": "-r nope.txt\n"})
    with pytest.raises(ProjectError, match=r"'nope\.txt' not found"):
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)


def test_comments_continuations_options(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "\n"
        "--index-url https://example.org/simple\n"
        "--extra-index-url https://example.org/extra  # mirror\n"
        "numpy \\\n"
        "    >=1.26  # inline comment\n"
        "pandas==2.*;python_version>='3.10'\n"
        "pkg @ https://example.org/pkg.whl#sha256=abc\n"
        "   \n"
    )
    make(tmp_path, {"requirements.txt": text})
    assert read_requirements_file(tmp_path / "requirements.txt", tmp_path) == [
        "--index-url https://example.org/simple",
        "--extra-index-url https://example.org/extra",
        "numpy     >=1.26",
        "pandas==2.*;python_version>='3.10'",
        "pkg @ https://example.org/pkg.whl#sha256=abc",
    ]


def test_local_paths_made_absolute(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "app/requirements.txt": (
                "./localpkg\n-e .\n-e ./localpkg[dev]\nfile:../libs/x\n"
                "mylib @ ./vendor/mylib\n--find-links ./wheels\n-c constraints.txt\n"
                "git+https://example.org/r.git\n"
            ),
            "app/constraints.txt": "numpy<2\n",
            "app/localpkg/pyproject.toml": "",
            "libs/x/pyproject.toml": "",
        },
    )
    app = tmp_path / "app"
    lines = read_requirements_file(app / "requirements.txt", tmp_path)
    real = app.resolve()
    assert lines == [
        str(real / "localpkg"),
        f"-e {real}",
        f"-e {real / 'localpkg'}[dev]",
        (real.parent / "libs" / "x").as_uri(),
        f"mylib @ {(real / 'vendor' / 'mylib').as_uri()}",
        f"--find-links {real / 'wheels'}",
        f"-c {real / 'constraints.txt'}",
        "git+https://example.org/r.git",
    ]


def test_undecodable_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"numpy\n\xff\xfe\xfa\n")
    with pytest.raises(ProjectError, match="UTF-8"):
        read_requirements_file(tmp_path / "requirements.txt", tmp_path)


def test_normalized() -> None:
    reqs = Requirements(("Scikit_Learn  >=1", "numpy", "numpy", "-e /x"), "requirements.txt")
    assert reqs.normalized() == ("-e /x", "numpy", "scikit-learn >=1")


# --------------------------------------------------------------------------- metadata


def test_script_metadata(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(
        "#!/usr/bin/env python\n"
        "# /// script\n"
        '# requires-python = ">=3.10"\n'
        "# dependencies = [\n"
        '#   "requests<3",\n'
        '#   "rich",\n'
        "# ]\n"
        "# ///\n"
        "import requests\n",
        encoding="utf-8",
    )
    assert read_script_metadata(script) == ["requests<3", "rich"]


def test_script_metadata_absent_or_without_dependencies(tmp_path: Path) -> None:
    plain = make(tmp_path, {"a.py": "import os\n# /// other\n# x = 1\n# ///\n"}) / "a.py"
    assert read_script_metadata(plain) is None
    bare = make(tmp_path, {"b.py": '# /// script\n# requires-python = ">=3.10"\n# ///\n'}) / "b.py"
    assert read_script_metadata(bare) == []


def test_script_metadata_malformed(tmp_path: Path) -> None:
    script = make(tmp_path, {"main.py": "# /// script\n# dependencies = [\n# ///\n"}) / "main.py"
    with pytest.raises(ProjectError, match="not valid TOML"):
        read_script_metadata(script)
    wrong = make(tmp_path, {"w.py": '# /// script\n# dependencies = "numpy"\n# ///\n'}) / "w.py"
    with pytest.raises(ProjectError, match="list of strings"):
        read_script_metadata(wrong)


def test_pyproject_dependencies(tmp_path: Path) -> None:
    good = make(tmp_path, {"a/pyproject.toml": '[project]\ndependencies = ["numpy>=1"]\n'})
    assert read_pyproject_dependencies(good / "a/pyproject.toml") == ["numpy>=1"]
    none = make(tmp_path, {"b/pyproject.toml": '[project]\nname = "x"\n'})
    assert read_pyproject_dependencies(none / "b/pyproject.toml") is None
    bad = make(tmp_path, {"c/pyproject.toml": "[project\n"})
    with pytest.raises(ProjectError, match="not valid TOML"):
        read_pyproject_dependencies(bad / "c/pyproject.toml")


# --------------------------------------------------------------------------- inference

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
        "from jupyter_pyrunner.requirements import infer_requirements\n"
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
        "import jupyter_pyrunner.project, jupyter_pyrunner.requirements\n"
        "heavy = ('pipreqs', 'jupyter_core', 'IPython')\n"
        "print(any(m.split('.')[0] in heavy for m in sys.modules))\n"
    )
    env = _env_with_repo()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "False"
