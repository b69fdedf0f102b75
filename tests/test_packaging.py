"""The wheel carries the prebuilt JupyterLab extension; the installed one is enabled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import jupyter_pyrunner

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUILT = ROOT / "jupyter_pyrunner" / "labextension"
LABEXT = "share/jupyter/labextensions/jupyter-pyrunner"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_the_extension_and_the_python_package_have_one_version() -> None:
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert package["version"] == jupyter_pyrunner.__version__


def test_jupyter_lists_the_lab_extension_as_enabled_and_ok() -> None:
    result = subprocess.run(
        [str(BIN / "jupyter"), "labextension", "list"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    listing = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    line = next((ln for ln in listing.splitlines() if "jupyter-pyrunner" in ln), "")
    assert f"jupyter-pyrunner v{jupyter_pyrunner.__version__}" in line, listing
    assert "enabled" in line and "OK" in line, listing


def test_the_wheel_holds_the_prebuilt_extension_and_the_server_config(tmp_path: Path) -> None:
    if not (BUILT / "static" / "style.js").exists():
        pytest.fail("the extension is not built: run `make labextension` (make test does)")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, env=_env(), timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("jupyter_pyrunner-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        data = next(n.split("/data/")[0] for n in names if ".data/data/" in n) + "/data/"
        package = json.loads(zf.read(f"{data}{LABEXT}/package.json"))
        install = json.loads(zf.read(f"{data}{LABEXT}/install.json"))
    assert package["name"] == "jupyter-pyrunner"
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
    assert f"{data}{LABEXT}/{package['jupyterlab']['_build']['load']}" in names
    assert f"{data}{LABEXT}/schemas/jupyter-pyrunner/plugin.json" in names
    assert install["packageName"] == "jupyter-pyrunner"
    assert f"{data}etc/jupyter/jupyter_server_config.d/jupyter_pyrunner.json" in names
    # nothing of the TypeScript build tree leaks into the wheel
    assert not [n for n in names if "/node_modules/" in n or n.endswith((".ts", ".tsx"))]
