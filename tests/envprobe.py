"""A project that reports what each process of its run inherited from the host.

- The **installer**: the project requires a local package whose build backend (in the package
  itself, with no build requirements, so nothing is downloaded) writes the installer's
  environment to a file when uv or pip loads it.
- The **program** prints its own environment's secrets as JSON on stdout.
- The **detached supervisor** is the program's parent: the program reads its parent's
  environment from ``/proc``, as any program could.

Shared by the tests of every entry point (CLI, API, server, magic).
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import write_project

#: what the tests put in the host's environment: secrets denied by default, one by the
#: run's own deny list (``AWS_*``), one harmless variable that must reach everyone
SECRETS = {
    "JUPYTER_TOKEN": "server-token",
    "AWS_SECRET_X": "aws-secret",
    "JUPYTER_RUNTIME_DIR": "/run/the-servers-connection-files",
}
HARMLESS = {"PROBE_HARMLESS": "kept"}
RUN_DENY = ["AWS_*"]

_BACKEND = """
import base64, hashlib, json, os, zipfile

with open({out!r}, "w") as f:
    json.dump(dict(os.environ), f)


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "envprobe-0.1-py3-none-any.whl"
    files = {{
        "envprobe_pkg.py": b"VALUE = 1\\n",
        "envprobe-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: envprobe\\nVersion: 0.1\\n",
        "envprobe-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\\nGenerator: envprobe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        ),
    }}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    record.append("envprobe-0.1.dist-info/RECORD,,")
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr("envprobe-0.1.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
"""

_PYPROJECT = """
[build-system]
requires = []
build-backend = "envprobe_backend"
backend-path = ["."]

[project]
name = "envprobe"
version = "0.1"
"""

_MAIN = """
import json, os
names = {names!r}
parent = {{}}
with open(f"/proc/{{os.getppid()}}/environ", "rb") as f:
    for item in f.read().split(b"\\0"):
        key, _, value = item.decode(errors="replace").partition("=")
        parent[key] = value
print("ENVPROBE " + json.dumps({{
    "program": {{n: os.environ.get(n) for n in names}},
    "parent": {{n: parent.get(n) for n in names}},
    "parent_cmdline": open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().decode(errors="replace"),
}}))
"""


def make_probe_project(root: Path, installer_report: Path) -> Path:
    """The project folder; the installer's environment will be written to ``installer_report``."""
    names = sorted([*SECRETS, *HARMLESS])
    return write_project(
        root,
        {
            "main.py": _MAIN.format(names=names),
            "requirements.txt": "./envprobe\n",
            "envprobe/pyproject.toml": _PYPROJECT,
            "envprobe/envprobe_backend.py": _BACKEND.format(out=str(installer_report)),
        },
    )


def program_report(log: str) -> dict[str, dict[str, str | None]]:
    """The program's report, from the run's log."""
    for line in log.splitlines():
        if line.startswith("ENVPROBE "):
            return json.loads(line[len("ENVPROBE ") :])  # type: ignore[no-any-return]
    raise AssertionError(f"the program printed no report; the log:\n{log}")


def installer_environment(installer_report: Path) -> dict[str, str]:
    assert installer_report.exists(), "the installer never loaded the probe's build backend"
    return json.loads(installer_report.read_text())  # type: ignore[no-any-return]


def assert_no_secrets(env: dict[str, str | None] | dict[str, str], who: str) -> None:
    for name in SECRETS:
        assert env.get(name) is None, f"{who} was given {name}"
    for name, value in HARMLESS.items():
        assert env.get(name) == value, f"{who} lost the harmless {name}"
