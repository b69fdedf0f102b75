"""Intake: a validated ``RunSpec`` becomes a ``queued`` run, with its project and inputs in
place and its entry point and requirements resolved. Every face starts a run through here.

An invalid project leaves nothing half-made: the run is kept as an ``error`` record with its
message (or removed), and the error is raised for the face to show.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .errors import ProjectError, PyRunnerError
from .models import INPUT_PORTS, RunRecord, RunSpec, RunStatus
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .project import Project

__all__ = ["prepare_run"]


def prepare_run(store: RunStore, spec: RunSpec, *, keep_failed: bool = True) -> RunRecord:
    """Intake: validate, create the run, place project and inputs, resolve the entry point and
    the requirements.

    Invalid options raise ``InvalidRunSpecError`` before any run exists. On a project error
    the run is kept as an ``error`` record with nothing half-extracted (or removed entirely
    when ``keep_failed`` is false), and the error is raised.
    """
    spec.validate()
    source = _absolute_paths(spec)
    t0 = time.time()
    record = store.create(spec, _run_name(source))
    try:
        sha = _place_project_and_inputs(store, record.id, source, spec.inputs)
        project = _resolve(store, record.id, spec)
    except BaseException as exc:  # whatever went wrong, the run must not stay half-made
        _abandon(store, record.id, _message_for(exc), t0, keep_failed)
        if isinstance(exc, PyRunnerError) or not isinstance(exc, Exception):
            raise
        raise ProjectError(_message_for(exc)) from exc
    return store.update(
        record.id,
        entry=project.entry.as_posix(),
        workdir=project.workdir.as_posix(),
        requirements=list(project.requirements.lines),
        requirements_source=project.requirements.source,
        requires_python=project.requires_python,
        install_project=project.install,
        source_sha256=sha,
        timings={"intake": round(time.time() - t0, 4)},
    )


def _absolute_paths(spec: RunSpec) -> Path:
    """Make the spec's paths absolute (the run may be supervised from another folder); the
    project's path, which must exist."""
    source = Path(spec.source).expanduser()
    if not source.exists():
        raise ProjectError(f"'{spec.source}' does not exist")
    spec.source = str(source.absolute())
    spec.inputs = [str(Path(p).expanduser().absolute()) for p in spec.inputs]
    if spec.output_dir:
        spec.output_dir = str(Path(spec.output_dir).expanduser().absolute())
    return source


def _run_name(source: Path) -> str:
    return source.name[:-4] if source.name.lower().endswith(".zip") else source.name


def _place_project_and_inputs(
    store: RunStore, run_id: str, source: Path, inputs: list[str]
) -> str | None:
    """The project on port 1, the inputs on ports 2 to 5; the project archive's sha256."""
    sha = _place(source, store.project_dir(run_id), "project", project=True, skip=store.home)
    for port, item in enumerate(inputs, start=2):
        dest = store.inputs_dir(run_id) / f"input_{port}"
        _place(Path(item), dest, f"input {port - 1}", project=False, skip=store.home)
    return sha


def _resolve(store: RunStore, run_id: str, spec: RunSpec) -> Project:
    from .project import resolve_project

    return resolve_project(
        store.project_dir(run_id),
        entry=spec.entry,
        infer=spec.infer_requirements,
        cache_dir=store.home / "cache" / "inference",
    )


def _message_for(exc: BaseException) -> str:
    if isinstance(exc, PyRunnerError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted while reading the project"
    if isinstance(exc, OSError):
        return f"cannot read the project: {exc}"
    return f"cannot read the project: {type(exc).__name__}: {exc}"


def _abandon(store: RunStore, run_id: str, message: str, t0: float, keep: bool) -> None:
    """Empty the run's input ports, then keep the run as an ``error`` record or remove it."""
    for port in range(1, INPUT_PORTS + 1):
        _clear(store.inputs_dir(run_id) / f"input_{port}")
    if not keep:
        store.delete(run_id, force=True)
        return
    now = time.time()
    store.update(
        run_id,
        status=RunStatus.ERROR,
        message=message,
        started=t0,
        finished=now,
        timings={"intake": round(now - t0, 4), "total": round(now - t0, 4)},
    )


# -- placing files -----------------------------------------------------------------------------
def _place(source: Path, dest: Path, what: str, *, project: bool, skip: Path | None) -> str | None:
    """Put a zip (extracted), folder or file into ``dest``; returns the archive's sha256."""
    if source.is_dir():
        _copy_folder(source, dest, project=project, skip=skip)
        return None
    if not source.is_file():
        raise ProjectError(f"{what} '{source}' does not exist")
    from .archive import extract_zip, is_zip

    if source.suffix.lower() == ".zip" or is_zip(source):
        extract_zip(source, dest)
        return _sha256(source)
    shutil.copy2(source, dest / source.name)
    return None


def _copy_folder(src: Path, dest: Path, *, project: bool, skip: Path | None) -> None:
    """Copy a folder. For a project, the folders intake ignores (``projectfiles``) and
    ``.pyc`` files are left out; hidden files such as ``.env`` are kept. ``skip`` is the
    store itself, should it live inside the folder."""
    from .projectfiles import ignored_dir_name

    skip_real = skip.resolve() if skip is not None else None

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = set()
        for name in names:
            full = Path(folder) / name
            if (
                (skip_real is not None and full.resolve() == skip_real)
                or (project and full.is_dir() and ignored_dir_name(name))
                or (project and name.endswith(".pyc"))
            ):
                left_out.add(name)
        return left_out

    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    import hashlib  # here only: loading OpenSSL costs milliseconds at every start

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
