"""Request bodies read into what the engine takes: a ``RunSpec`` to start, a folder to copy to.

Paths in a body are contents paths (confined to the contents root) or upload ids; a body with
an unknown field, a missing one or a value of the wrong kind is a ``ProjectError`` (400).
"""

from __future__ import annotations

import math

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
        "infer_requirements", "output_path", "system_site_packages",
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
    args = body.get("args", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise ProjectError("'inputs' must be a list of paths or upload ids")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ProjectError("'args' must be a list of strings")
    timeout = _number(body, "timeout", manager.default_timeout)
    memory = _number(body, "memory_mb", manager.default_memory_mb)
    if memory is not None and memory != int(memory):
        raise ProjectError("'memory_mb' must be a whole number of megabytes")
    output_path = body.get("output_path")
    output_dir = None
    if output_path is not None:
        output_dir = str(manager.workspace.contents_path(_string(body, "output_path")))
    entry = body.get("entry")
    if entry is not None and not isinstance(entry, str):
        raise ProjectError("'entry' must be a string")
    infer = body.get("infer_requirements", True)
    ssp = body.get("system_site_packages", False)
    if not isinstance(infer, bool) or not isinstance(ssp, bool):
        raise ProjectError("'infer_requirements' and 'system_site_packages' are true or false")
    return RunSpec(
        source=str(source),
        entry=entry,
        inputs=[str(_source(manager, i)) for i in inputs],
        args=list(args),
        timeout=float(timeout) if timeout else None,
        memory_mb=int(memory) if memory else None,
        infer_requirements=infer,
        system_site_packages=ssp,
        output_dir=output_dir,
        env_deny=list(manager.env_deny),
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


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ProjectError(f"'{key}' must be a positive number")
    return float(value)
