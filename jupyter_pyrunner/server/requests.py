"""Request bodies read into what the engine takes: a ``RunSpec`` to start, a folder to copy to.

Paths in a body are contents paths (confined to the contents root) or upload ids; a body with
an unknown or missing field is a ``ProjectError`` (400). The values of a run's options are
checked by the engine (``RunSpec.validate``), with the same messages as in every face.
"""

from __future__ import annotations

from ..errors import ProjectError
from ..models import RunSpec
from .uploads import UPLOAD_ID

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from .manager import RunManager


def spec_from_request(manager: RunManager, body: dict[str, Any]) -> RunSpec:
    """The run a ``POST /runs`` body asks for, with the server's defaults filled in."""
    if not isinstance(body, dict):
        raise ProjectError("the request body must be a JSON object")
    unknown = set(body) - {
        "upload_id", "path", "entry", "args", "inputs", "timeout", "memory_mb",
        "infer_requirements", "output_path", "system_site_packages", "layout",
        "requirements", "cpus", "resources",
    }  # fmt: skip
    if unknown:
        raise ProjectError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if ("upload_id" in body) == ("path" in body):
        raise ProjectError("give exactly one of 'upload_id' or 'path'")
    source = (
        manager.uploads.upload_path(_string(body, "upload_id"))
        if "upload_id" in body
        else manager.workspace.contents_path(_string(body, "path"))
    )
    inputs = body.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise ProjectError("'inputs' must be a list of paths or upload ids")
    output_path = body.get("output_path")
    output_dir = None
    if output_path is not None:
        output_dir = str(manager.workspace.contents_path(_string(body, "output_path")))
    # the values themselves are the engine's to check (RunSpec.validate, at intake)
    return RunSpec(
        source=str(source),
        entry=body.get("entry"),
        inputs=[str(_source(manager, i)) for i in inputs],
        args=body.get("args", []),
        timeout=body.get("timeout", manager.default_timeout),
        memory_mb=body.get("memory_mb", manager.default_memory_mb),
        infer_requirements=body.get("infer_requirements", True),
        system_site_packages=body.get("system_site_packages", False),
        output_dir=output_dir,
        env_deny=list(manager.env_deny),
        layout=body.get("layout", "ports"),
        requirements=body.get("requirements"),
        cpus=body.get("cpus"),
        resources=body.get("resources"),
    )


def copy_path_from_request(body: dict[str, Any]) -> str:
    """The contents folder a ``POST /runs/{id}/copy`` body names: ``{"path": ...}``."""
    if not isinstance(body, dict):
        raise ProjectError("the request body must be a JSON object")
    unknown = set(body) - {"path"}
    if unknown:
        raise ProjectError(f"unknown field(s): {', '.join(sorted(unknown))}")
    return _string(body, "path")


def _source(manager: RunManager, item: str) -> Path:
    """An input given as an upload id or a contents path."""
    if UPLOAD_ID.match(item):
        return manager.uploads.upload_path(item)
    return manager.workspace.contents_path(item)


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ProjectError(f"'{key}' must be a non-empty string")
    return value
