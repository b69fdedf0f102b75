"""``provenance.json``: a run's account of itself, written once when it ends."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ._version import __version__
from .models import RunRecord, RunStatus

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from .environments import EnvironmentManager


def write_provenance(
    run_dir: Path, record: RunRecord, final: dict[str, Any], envs: EnvironmentManager
) -> None:
    """``provenance.json``: what ran (source hash, entry, arguments, inputs), on what
    (interpreter, frozen packages, platform), and how it ended. ``final`` holds the fields of
    the ending not yet in ``record`` (status, exit code, times)."""
    uname = os.uname()  # (platform.platform() would start a subprocess)
    env = envs.get(record.env_key) if record.env_key else None
    data = {
        "pyrunner": __version__,
        "run_id": record.id,
        "source": record.spec.source,
        "source_sha256": record.source_sha256,
        "entry": record.entry,
        "args": record.spec.args,
        "inputs": record.spec.inputs,
        "requirements": record.requirements,
        "requirements_source": record.requirements_source,
        "interpreter": record.python,
        "python_version": env.meta.get("python_version") if env else None,
        "environment": record.env_key,
        "installer": env.meta.get("installer") if env else None,
        "freeze": env.freeze if env else [],
        "platform": f"{uname.sysname}-{uname.release}-{uname.machine}",
        "status": RunStatus(final["status"]).value,
        "exit_code": final.get("exit_code", record.exit_code),
        "started": record.started,
        "finished": final["finished"],
        "timings": final["timings"],
    }
    with contextlib.suppress(OSError):  # the record still holds the essentials
        (run_dir / "provenance.json").write_text(json.dumps(data, indent=1))
