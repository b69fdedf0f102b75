"""A sweep's folder in the store, ``<home>/sweeps/<id>/sweep.json`` (private as the runs:
folders 0700, files 0600), and the actions on its runs that the submitter, the scheduler and
the handle share: adopting a queued run, cancelling the sweep."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import RunNotFoundError, RunStateError
from .models import RunStatus
from .store import RUN_ID, RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

SWEEP_FILE = "sweep.json"
#: present in a sweep's folder when someone asked to cancel it (the scheduler starts no more)
CANCEL_FILE = "cancel"


def sweeps_root(store: RunStore) -> Path:
    """``<home>/sweeps``, private as the store's other folders."""
    from .paths import private_folder

    return private_folder(store.home / "sweeps")


def sweep_dir(store: RunStore, sweep_id: str) -> Path:
    if not isinstance(sweep_id, str) or not RUN_ID.match(sweep_id):
        raise RunNotFoundError(f"'{str(sweep_id)[:40]}' is not a sweep id")
    return store.home / "sweeps" / sweep_id


def read_sweep(store: RunStore, sweep_id: str) -> dict[str, Any]:
    """The sweep's ``sweep.json`` (``RunNotFoundError`` when there is no such sweep)."""
    try:
        data: dict[str, Any] = json.loads((sweep_dir(store, sweep_id) / SWEEP_FILE).read_text())
    except FileNotFoundError:
        raise RunNotFoundError(f"no sweep '{sweep_id}' in {store.home}") from None
    return data


def write_sweep(folder: Path, data: dict[str, Any]) -> None:
    """``sweep.json`` replaced at once, readable by its owner only."""
    path = folder / SWEEP_FILE
    tmp = folder / f".{SWEEP_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def list_sweeps(store: RunStore, limit: int = 50) -> list[str]:
    """Sweep ids, newest first."""
    root = store.home / "sweeps"
    if not root.is_dir():
        return []
    names = sorted((p.name for p in root.iterdir() if RUN_ID.match(p.name)), reverse=True)
    return [n for n in names if (root / n / SWEEP_FILE).exists()][:limit]


def adopt(store: RunStore, run_id: str, identity: dict[str, Any]) -> None:
    """Make the process ``identity`` names the owner of the run, if it is still queued."""
    with store.locked(run_id):
        record = store.read(run_id)
        if record.status is RunStatus.QUEUED and record.supervisor != identity:
            record.supervisor = identity
            record.executor = "local"
            store.save(record)


def cancel_run(store: RunStore, run_id: str) -> None:
    import contextlib

    with contextlib.suppress(RunStateError, RunNotFoundError):  # it has ended, or was deleted
        store.request_cancel(run_id)


def cancel_sweep(store: RunStore, sweep_id: str) -> None:
    """Cancel every run of the sweep that has not ended, and tell its scheduler to start no
    more; returns at once (``SweepHandle.cancel_and_wait`` waits)."""
    folder = sweep_dir(store, sweep_id)
    data = read_sweep(store, sweep_id)
    (folder / CANCEL_FILE).touch()
    for run_id in data["runs"]:
        cancel_run(store, run_id)
