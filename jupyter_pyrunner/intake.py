"""Intake: a validated ``RunSpec`` becomes a ``queued`` run, with its project and inputs in
place (``placement``, in the spec's layout) and its entry point and requirements resolved.
Every face starts a run through here.

An invalid project leaves nothing behind, in every face: the run it would have been is removed
(it never ran, so the history does not list it) and the error is raised for the face to show.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path, PurePosixPath

from .errors import ProjectError, PyRunnerError
from .models import RunRecord, RunSpec
from .placement import merge, place_input, place_project
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .project import Project

__all__ = ["prepare_run"]

#: where an input is put before it joins the others in the flat layout (inside the run folder)
_STAGING = "intake-staging"


def prepare_run(store: RunStore, spec: RunSpec) -> RunRecord:
    """Intake: validate, create the run, place the project, resolve the entry point and the
    requirements (from the project alone), then place the inputs.

    Invalid options raise ``InvalidRunSpecError`` before any run exists. On a project error
    the run and its files are removed, and the error is raised.
    """
    spec.validate()
    source = _absolute_paths(spec)
    t0 = time.time()
    record = store.create(spec, _run_name(source))
    try:
        placed = place_project(source, store.project_dir(record.id, spec.layout), skip=store.home)
        project = _resolve(store, record.id, spec, placed.entry)
        if project.requires_python:  # a project no Python here accepts is not a run
            from .interpreters import Interpreter

            Interpreter.find(spec.python, project.requires_python)
        input_notes = _place_inputs(store, record.id, spec)
        for note in [placed.note, *input_notes]:
            if note:
                _log(store, record.id, note)
        # inside the guard too: a record that cannot be written (a full disk) leaves no
        # half-made run for a server to start later
        return store.update(
            record.id,
            entry=project.entry.as_posix(),
            workdir=project.workdir.as_posix(),
            requirements=list(project.requirements.lines),
            requirements_source=project.requirements.source,
            requires_python=project.requires_python,
            install_project=project.install,
            source_sha256=placed.sha256,
            warnings=[placed.warning] if placed.warning else [],
            timings={"intake": round(time.time() - t0, 4)},
        )
    except BaseException as exc:  # whatever went wrong, the run must not stay half-made
        _abandon(store, record.id)
        if isinstance(exc, PyRunnerError) or not isinstance(exc, Exception):
            raise
        raise ProjectError(_message_for(exc)) from exc


def _absolute_paths(spec: RunSpec) -> Path:
    """Make the spec's paths absolute (the run may be supervised from another folder); the
    project's path, which must exist."""
    source = Path(spec.source).expanduser()
    if not source.exists():
        raise ProjectError(f"'{spec.source}' does not exist")
    source = source.absolute()
    spec.source = str(source)
    spec.inputs = [str(Path(p).expanduser().absolute()) for p in spec.inputs]
    if spec.output_dir:
        spec.output_dir = str(Path(spec.output_dir).expanduser().absolute())
    return source


def _run_name(source: Path) -> str:
    return source.name[:-4] if source.name.lower().endswith(".zip") else source.name


def _place_inputs(store: RunStore, run_id: str, spec: RunSpec) -> list[str]:
    """The inputs on ports 2 to 5; in the flat layout beside the project, in ``inputs/``.
    Returns what placing them had to say (special files left out...)."""
    inputs = store.inputs_dir(run_id)
    notes: list[str] = []
    if spec.layout != "flat":
        for port, item in enumerate(spec.inputs, start=2):
            what = f"input {port - 1}"
            note = place_input(Path(item), inputs / f"input_{port}", what, skip=store.home)
            notes += [note] if note else []
        return notes
    staging = store.run_dir(run_id) / _STAGING
    owners: dict[PurePosixPath, str] = {}
    for number, item in enumerate(spec.inputs, start=1):
        staging.mkdir()
        try:
            note = place_input(Path(item), staging, f"input {number}", skip=store.home)
            notes += [note] if note else []
            merge(staging, inputs, f"input {number} ({Path(item).name})", owners)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return notes


def _resolve(store: RunStore, run_id: str, spec: RunSpec, implied_entry: str | None) -> Project:
    """The project's entry point and requirements; ``implied_entry`` is the script a single
    ``.py`` source names, used when the user named no entry."""
    from .project import resolve_project

    return resolve_project(
        store.project_dir(run_id, spec.layout),
        entry=spec.entry if spec.entry is not None else implied_entry,
        infer=spec.infer_requirements,
        cache_dir=store.home / "cache" / "inference",
        requirements=spec.requirements,
        loose=implied_entry is not None,
    )


def _log(store: RunStore, run_id: str, message: str) -> None:
    """An engine message in the run's log, before its supervisor takes over."""
    from .logfile import LogWriter

    with LogWriter(store.run_dir(run_id)) as log:
        log.system(f"pyrunner: {message}")


def _message_for(exc: BaseException) -> str:
    if isinstance(exc, PyRunnerError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted while reading the project"
    if isinstance(exc, OSError):
        return f"cannot read the project: {exc}"
    return f"cannot read the project: {type(exc).__name__}: {exc}"


def _abandon(store: RunStore, run_id: str) -> None:
    """Remove the run that intake could not complete, with whatever was placed of it."""
    store.delete(run_id, force=True)
