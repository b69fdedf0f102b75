"""Requirements inferred from a project's imports, offline, cached by the sources' hash."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.environments import find_uv
from jupyter_pyrunner.inference import (
    FIX_HINT,
    explain_unresolved,
    infer_requirements,
    infer_with_origins,
)
from jupyter_pyrunner.store import RunStore

from .conftest import program_output
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


# -- the right distributions, with the imports they came from ---------------------------------
MPLOT3D_GALLERY = '''
"""3D surface (colormap), in the style of matplotlib's mplot3d gallery."""
import matplotlib.pyplot as plt
from matplotlib import cm
from matplotlib.ticker import LinearLocator
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401
import numpy as np

fig, ax = plt.subplots(subplot_kw={"projection": "3d"})
X, Y = np.meshgrid(np.arange(-5, 5, 0.25), np.arange(-5, 5, 0.25))
Z = np.sin(np.sqrt(X**2 + Y**2))
surf = ax.plot_surface(X, Y, Z, cmap=cm.coolwarm, linewidth=0, antialiased=False)
ax.zaxis.set_major_locator(LinearLocator(10))
fig.savefig("surface.png")
'''

SKIMAGE_GALLERY = '''
"""Canny edge detector, the header of scikit-image's gallery example."""
import numpy as np
import matplotlib.pyplot as plt
from scipy import ndimage as ndi

from skimage.util import random_noise
from skimage import feature

image = np.zeros((128, 128), dtype=float)
image[32:-32, 32:-32] = 1
image = ndi.rotate(image, 15, mode="constant")
image = ndi.gaussian_filter(image, 4)
image = random_noise(image, mode="speckle", mean=0.1, rng=0)
edges = feature.canny(image, sigma=3)
print("edge pixels:", int(edges.sum()) > 0)
'''


def test_gallery_scripts_infer_installable_distributions(tmp_path: Path) -> None:
    make(tmp_path, {"plot_surface3d.py": MPLOT3D_GALLERY, "plot_canny.py": SKIMAGE_GALLERY})
    found = dict(infer_with_origins(tmp_path))
    assert found == {
        "matplotlib": ["matplotlib", "mpl_toolkits.mplot3d"],
        "numpy": ["numpy"],
        "scikit-image": ["skimage"],
        "scipy": ["scipy"],
    }


def test_namespace_imports_are_read_to_their_second_component(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "main.py": (
                "import google\n"  # the namespace alone needs nothing
                "from google.protobuf import text_format\n"
                "from google.cloud import storage\n"
                "import azure.ai.textanalytics\n"  # not in the table: the namespace's convention
                "from ruamel.yaml import YAML\n"
                "import pkg_resources, setuptools\n"
                "from . import sibling\n"
                "from .sibling import thing\n"
            ),
        },
    )
    assert infer_with_origins(tmp_path) == [
        ("azure-ai-textanalytics", ["azure.ai.textanalytics"]),
        ("google-cloud-storage", ["google.cloud.storage"]),
        ("protobuf", ["google.protobuf"]),
        ("ruamel.yaml", ["ruamel.yaml"]),
        # setuptools 82 no longer ships pkg_resources: one line, the narrower range
        ("setuptools<82", ["pkg_resources", "setuptools"]),
    ]


def test_bio_is_biopython_not_the_unrelated_bio(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "from Bio import SeqIO\nimport Bio.PDB\n"})
    assert infer_requirements(tmp_path) == ["biopython"]


def test_a_cached_answer_from_the_old_mapping_is_not_reused(tmp_path: Path) -> None:
    project = make(tmp_path / "proj", {"main.py": "import skimage\n"})
    cache = tmp_path / "cache"
    assert infer_requirements(project, cache_dir=cache) == ["scikit-image"]
    (stored,) = cache.glob("*.json")
    assert json.loads(stored.read_text())["requirements"] == [["scikit-image", ["skimage"]]]
    # a file of the first format at the same key, as an older version wrote it, is not trusted
    stored.write_text(json.dumps({"format": 1, "requirements": ["skimage"]}))
    assert infer_requirements(project, cache_dir=cache) == ["scikit-image"]


# -- an unresolvable name, explained ----------------------------------------------------------
def _uv_install(uv: str, venv: Path, *requirements: str) -> str:
    """What uv prints when it installs ``requirements`` into ``venv`` (made on first use)."""
    if not venv.exists():
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    done = subprocess.run(
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), *requirements],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode != 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.network
def test_uv_and_pip_failures_for_an_unknown_name_are_explained(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = find_uv()
    assert uv
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    name = "mpl-toolkits"  # what pipreqs' mapping used to infer for mpl_toolkits
    uv_text = _uv_install(uv, tmp_path / "venv", "numpy", name)
    pip_text = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path / "dl"), name],
        capture_output=True,
        text=True,
        timeout=120,
    ).stderr
    assert "No matching distribution found" in pip_text
    origins = {"numpy": ["numpy"], name: ["mpl_toolkits.mplot3d"]}
    for details in (uv_text, pip_text):
        message = explain_unresolved(details, ["numpy", name], origins)
        assert message is not None, details
        assert "the package index has no 'mpl-toolkits'" in message
        assert "'import mpl_toolkits.mplot3d'" in message
        assert "requirements.txt beside the entry point" in message
        # declared (not inferred) requirements: no import to name, the file to check
        declared = explain_unresolved(details, ["numpy", name], None)
        assert declared is not None and "named in the requirements" in declared
    # a name the installer did not complain about is not blamed
    assert explain_unresolved(uv_text, ["numpy", "scipy"], {"scipy": ["scipy"]}) is None


@pytest.mark.network
def test_other_installer_failures_are_not_explained_as_unknown_names(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = find_uv()
    assert uv
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    venv = tmp_path / "venv"
    no_version = _uv_install(uv, venv, "six==0.0.0.1")  # the name exists, the version does not
    assert explain_unresolved(no_version, ["six==0.0.0.1"], {"six==0.0.0.1": ["six"]}) is None
    # skimage on the index is a placeholder whose build fails on purpose
    placeholder = _uv_install(uv, venv, "skimage")
    message = explain_unresolved(placeholder, ["skimage"], {"skimage": ["skimage"]})
    assert message is not None and "'skimage' (guessed from 'import skimage')" in message
    assert "could not be built" in message


def test_explaining_needs_an_installer_message_that_names_a_requirement() -> None:
    assert explain_unresolved("", ["numpy"], {"numpy": ["numpy"]}) is None
    network = "error: Request failed after 3 retries\n  Caused by: dns error"
    assert explain_unresolved(network, ["numpy"], {"numpy": ["numpy"]}) is None


# -- a whole run ------------------------------------------------------------------------------
@pytest.mark.network
def test_a_gallery_project_without_requirements_builds_and_runs(home: Path, project) -> None:
    src = project({"plot_surface3d.py": MPLOT3D_GALLERY, "main.py": SKIMAGE_GALLERY})
    handle = run_project(src)
    record = handle.record
    assert record.requirements_source == "inferred"
    assert record.requirements == ["matplotlib", "numpy", "scikit-image", "scipy"]
    assert record.status is RunStatus.SUCCEEDED, record.error_details or handle.log_text()
    assert program_output(handle) == "edge pixels: True\n"


@pytest.mark.network
def test_an_unknown_inferred_name_fails_the_build_with_an_explanation(home: Path, project) -> None:
    src = project({"main.py": "import pyrunner_no_such_module_xyz\n"})
    handle = run_project(src)
    record = handle.record
    assert record.status is RunStatus.ERROR and record.requirements_source == "inferred"
    store = RunStore(home)  # what the supervisor holds when the build fails
    origins = infer_with_origins(
        store.project_dir(handle.id), cache_dir=store.home / "cache" / "inference"
    )
    message = explain_unresolved(record.error_details or "", record.requirements, dict(origins))
    assert message == (
        "the package index has no 'pyrunner-no-such-module-xyz' "
        "(guessed from 'import pyrunner_no_such_module_xyz')\n" + FIX_HINT
    )
