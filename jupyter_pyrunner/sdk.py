"""The Python API every face uses: prepare a run, run it here or start it detached, follow it."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import ProjectError, PyRunnerError
from .logfile import LogChunk, follow, read_chunks
from .models import RunRecord, RunSpec, RunStatus
from .store import INPUT_PORTS, RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from .executors import Executor
    from .outputs import OutputFile
    from .supervisor import OutputSink

MAX_USER_INPUTS = INPUT_PORTS - 1  # port 1 carries the project, as on oSparc


class RunHandle:
    """A run in a store: its record, log and outputs, live or finished."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.id = run_id

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} {self.record.status.value}>"

    @property
    def record(self) -> RunRecord:
        return self.store.get(self.id)

    @property
    def status(self) -> RunStatus:
        return self.record.status

    @property
    def exit_code(self) -> int | None:
        return self.record.exit_code

    @property
    def run_dir(self) -> Path:
        return self.store.run_dir(self.id)

    @property
    def outputs_dir(self) -> Path:
        return self.store.outputs_dir(self.id)

    @property
    def done(self) -> bool:
        return self.record.status.is_terminal

    @property
    def outputs(self) -> list[OutputFile]:
        """The output files (path, size, mtime, MIME type), sorted by path."""
        from .outputs import list_outputs

        return list_outputs(self.outputs_dir)

    @property
    def log(self) -> str:
        """The whole log as text: the program's output and the engine's messages."""
        return self.log_text()

    def log_text(self) -> str:
        """The whole log as text (undecodable bytes replaced)."""
        parts: list[str] = []
        offset = 0
        while True:
            chunks, offset = read_chunks(self.run_dir, offset, final=True)
            if not chunks:
                return "".join(parts)
            parts.extend(c.text for c in chunks)

    def follow(self, offset: int = 0) -> Iterator[LogChunk]:
        """Log chunks from ``offset``: the past first, then live until the run ends."""
        return follow(self.run_dir, offset, lambda: self.done)

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> RunRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.record
            if record.status.is_terminal:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.id} still {record.status.value}")
            time.sleep(poll)

    def cancel(self) -> RunRecord:
        return self.store.request_cancel(self.id)


def _sha256(path: Path) -> str:
    import hashlib  # here only: loading OpenSSL costs milliseconds at every start

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _copy_folder(src: Path, dest: Path, *, project: bool, skip: Path | None) -> None:
    """Copy a folder. For a project, tool folders (``.git``, ``.venv``, ``__pycache__``...) are
    left out, as intake ignores them; hidden files such as ``.env`` are kept. ``skip`` is the
    store itself, should it live inside the folder."""
    from .project import IGNORED_DIRS

    skip_real = skip.resolve() if skip is not None else None

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = set()
        for name in names:
            full = Path(folder) / name
            if (
                (skip_real is not None and full.resolve() == skip_real)
                or (project and full.is_dir() and (name in IGNORED_DIRS or name.startswith(".")))
                or (project and name.endswith(".pyc"))
            ):
                left_out.add(name)
        return left_out

    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)


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


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def prepare_run(store: RunStore, spec: RunSpec, *, keep_failed: bool = True) -> RunRecord:
    """Intake: create the run, place project and inputs, resolve entry point and requirements.

    On a project error the run is kept as an ``error`` record with nothing half-extracted (or
    removed entirely when ``keep_failed`` is false), and the error is raised.
    """
    from .project import resolve_project

    source = Path(spec.source).expanduser()
    if len(spec.inputs) > MAX_USER_INPUTS:
        raise ProjectError(
            f"{len(spec.inputs)} inputs given, but there are {MAX_USER_INPUTS} input ports "
            "(input_2..input_5); put several files in one folder or zip to pass more"
        )
    if not source.exists():
        raise ProjectError(f"'{spec.source}' does not exist")
    name = source.name[:-4] if source.name.lower().endswith(".zip") else source.name
    spec.source = str(source.absolute())
    spec.inputs = [str(Path(p).expanduser().absolute()) for p in spec.inputs]
    if spec.output_dir:
        spec.output_dir = str(Path(spec.output_dir).expanduser().absolute())
    t0 = time.time()
    record = store.create(spec, name)
    project_dir = store.project_dir(record.id)
    try:
        sha = _place(source, project_dir, "project", project=True, skip=store.home)
        for port, item in enumerate(spec.inputs, start=2):
            dest = store.inputs_dir(record.id) / f"input_{port}"
            _place(Path(item), dest, f"input {port - 1}", project=False, skip=store.home)
        project = resolve_project(
            project_dir,
            entry=spec.entry,
            infer=spec.infer_requirements,
            cache_dir=store.home / "cache" / "inference",
        )
    except BaseException as exc:  # whatever went wrong, the run must not stay half-made
        if isinstance(exc, PyRunnerError):
            message = str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            message = "interrupted while reading the project"
        elif isinstance(exc, OSError):
            message = f"cannot read the project: {exc}"
        else:
            message = f"cannot read the project: {type(exc).__name__}: {exc}"
        for port in range(1, INPUT_PORTS + 1):
            _clear(store.inputs_dir(record.id) / f"input_{port}")
        if keep_failed:
            now = time.time()
            store.update(
                record.id,
                status=RunStatus.ERROR,
                message=message,
                started=t0,
                finished=now,
                timings={"intake": round(now - t0, 4), "total": round(now - t0, 4)},
            )
        else:
            store.delete(record.id, force=True)
        if isinstance(exc, PyRunnerError) or not isinstance(exc, Exception):
            raise
        raise ProjectError(message) from exc
    return store.update(
        record.id,
        entry=project.entry.as_posix(),
        workdir=project.workdir.as_posix(),
        requirements=list(project.requirements.lines),
        requirements_source=project.requirements.source,
        source_sha256=sha,
        timings={"intake": round(time.time() - t0, 4)},
    )


def _spec(
    source: str | os.PathLike[str],
    entry: str | None,
    inputs: Iterable[str | os.PathLike[str]],
    args: Sequence[str],
    timeout: float | None,
    memory_mb: int | None,
    python: str | None,
    infer_requirements: bool,
    system_site_packages: bool,
    output_dir: str | os.PathLike[str] | None,
    env_deny: Sequence[str],
) -> RunSpec:
    return RunSpec(
        source=os.fspath(source),
        entry=entry,
        inputs=[os.fspath(i) for i in inputs],
        args=list(args),
        timeout=timeout,
        memory_mb=memory_mb,
        python=python,
        infer_requirements=infer_requirements,
        system_site_packages=system_site_packages,
        output_dir=os.fspath(output_dir) if output_dir else None,
        env_deny=list(env_deny),
    )


def run_project(
    source: str | os.PathLike[str],
    *,
    entry: str | None = None,
    inputs: Iterable[str | os.PathLike[str]] = (),
    args: Sequence[str] = (),
    timeout: float | None = None,
    memory_mb: int | None = None,
    python: str | None = None,
    infer_requirements: bool = True,
    system_site_packages: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    env_deny: Sequence[str] = (),
    home: str | os.PathLike[str] | None = None,
    on_output: OutputSink | None = None,
) -> RunHandle:
    """Run a project here and wait for it. Project errors raise ``ProjectError``; the program's
    own failure does not raise: look at ``handle.status`` and ``handle.exit_code``."""
    store = RunStore(home)
    spec = _spec(
        source,
        entry,
        inputs,
        args,
        timeout,
        memory_mb,
        python,
        infer_requirements,
        system_site_packages,
        output_dir,
        env_deny,
    )
    record = prepare_run(store, spec)
    from .supervisor import Supervisor

    Supervisor(store, record.id, sink=on_output).run()
    return RunHandle(store, record.id)


def start_run(
    source: str | os.PathLike[str],
    *,
    entry: str | None = None,
    inputs: Iterable[str | os.PathLike[str]] = (),
    args: Sequence[str] = (),
    timeout: float | None = None,
    memory_mb: int | None = None,
    python: str | None = None,
    infer_requirements: bool = True,
    system_site_packages: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    env_deny: Sequence[str] = (),
    home: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
) -> RunHandle:
    """Prepare a run and hand it to an executor (a detached local supervisor by default);
    returns at once. Follow it with ``handle.follow()``, wait with ``handle.wait()``."""
    store = RunStore(home)
    spec = _spec(
        source,
        entry,
        inputs,
        args,
        timeout,
        memory_mb,
        python,
        infer_requirements,
        system_site_packages,
        output_dir,
        env_deny,
    )
    record = prepare_run(store, spec)
    if executor is None:
        from .executors import LocalExecutor

        executor = LocalExecutor()
    executor.submit(store, record.id)
    return RunHandle(store, record.id)
