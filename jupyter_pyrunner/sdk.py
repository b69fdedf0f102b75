"""The Python API: run a project here and wait, or start it detached and follow it.

``run_project`` and ``start_run`` take the same run options (:class:`RunOptions`); both build a
``RunSpec``, which the engine validates once at intake (``intake.prepare_run``).
"""

from __future__ import annotations

import os

from .handle import RunHandle
from .intake import prepare_run
from .models import RunSpec
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, TypedDict, Unpack

    from .capture import OutputSink
    from .executors import Executor

__all__ = ["RunHandle", "prepare_run", "run_project", "run_spec", "start_run", "start_spec"]


if TYPE_CHECKING:  # (for the type checker only: importing typing costs milliseconds at start)

    class RunOptions(TypedDict, total=False):
        """What a run may be asked for, beside its source (all optional)."""

        #: the entry point, relative to the project (default: oSparc's rules)
        entry: str | None
        #: files, folders or zips for input ports 2 to 5
        inputs: Iterable[str | os.PathLike[str]]
        #: the program's arguments
        args: Sequence[str]
        #: seconds before the program is stopped
        timeout: float | None
        #: memory limit of the program, in MB
        memory_mb: int | None
        #: the interpreter to build the environment on (a path or a command)
        python: str | None
        #: without declared requirements, guess them from the imports (default) or install nothing
        infer_requirements: bool
        #: let the program see the base interpreter's packages
        system_site_packages: bool
        #: copy the outputs here when the run ends
        output_dir: str | os.PathLike[str] | None
        #: patterns of environment variables withheld, beside the built-in ones
        env_deny: Sequence[str]
        #: "ports" (the project in INPUT_1, inputs in INPUT_2..5) or "flat" (all in INPUT_FOLDER)
        layout: str
        #: requirements to install instead of the project's own (``[]``: none at all)
        requirements: Sequence[str] | None
        #: CPUs the program needs (threads of numerical libraries; on Dask, a restriction)
        cpus: float | None
        #: Dask worker resources the run needs, such as ``{"GPU": 1}``
        resources: Mapping[str, float] | None


#: the keys of ``RunOptions``: the fields of a ``RunSpec`` beside its source
OPTION_NAMES = frozenset(RunSpec._fields) - {"source"}


def run_spec(source: str | os.PathLike[str], **options: Unpack[RunOptions]) -> RunSpec:
    """The ``RunSpec`` of ``source`` with ``options`` (paths as strings; not validated yet)."""
    unknown = options.keys() - OPTION_NAMES
    if unknown:
        raise TypeError(f"unexpected run option(s): {', '.join(sorted(unknown))}")
    output_dir = options.get("output_dir")
    requirements = options.get("requirements")
    return RunSpec(
        source=os.fspath(source),
        entry=options.get("entry"),
        inputs=_listed(options.get("inputs", ()), os.fspath),
        args=_listed(options.get("args", ())),
        timeout=options.get("timeout"),
        memory_mb=options.get("memory_mb"),
        python=options.get("python"),
        infer_requirements=options.get("infer_requirements", True),
        system_site_packages=options.get("system_site_packages", False),
        output_dir=os.fspath(output_dir) if output_dir else None,
        env_deny=_listed(options.get("env_deny", ())),
        layout=options.get("layout", "ports"),
        requirements=None if requirements is None else _listed(requirements),
        cpus=options.get("cpus"),
        resources=_mapped(options.get("resources")),
    )


def _mapped(value: Any) -> Any:
    """A mapping as a dict; anything else as it is, for ``RunSpec.validate`` to refuse."""
    from collections.abc import Mapping

    return dict(value) if isinstance(value, Mapping) else value


def _listed(value: Any, each: Any = None) -> Any:
    """A list or tuple as a list (``each`` applied to its items); anything else as it is, for
    ``RunSpec.validate`` to refuse (a string is not split into letters)."""
    if not isinstance(value, list | tuple):
        return value
    return [each(v) if each is not None and isinstance(v, str | os.PathLike) else v for v in value]


def run_project(
    source: str | os.PathLike[str],
    *,
    home: str | os.PathLike[str] | None = None,
    on_output: OutputSink | None = None,
    executor: Executor | None = None,
    **options: Unpack[RunOptions],
) -> RunHandle:
    """Run a project here and wait for it. Invalid options and project errors raise
    (``ProjectError``); the program's own failure does not raise: look at ``handle.status``
    and ``handle.exit_code``. ``on_output(stream, data)`` sees the output as it comes.
    ``executor``: run it there instead (a Dask cluster), and wait here all the same."""
    store = RunStore(home)
    record = prepare_run(store, run_spec(source, **options))
    if executor is not None:
        return _run_elsewhere(store, record.id, executor, on_output)
    from .supervisor import Supervisor

    Supervisor(store, record.id, sink=on_output).run()
    return RunHandle(store, record.id)


def _run_elsewhere(
    store: RunStore, run_id: str, executor: Executor, on_output: OutputSink | None
) -> RunHandle:
    """``run_project`` through an executor: its log followed here until the run ends; Ctrl-C
    cancels the run and waits for it to stop, as a run supervised here does."""
    from .logfile import STDOUT, STREAM_NAMES

    ids = {name: number for number, name in STREAM_NAMES.items()}
    executor.submit(store, run_id)
    handle = RunHandle(store, run_id)
    try:
        for chunk in handle.follow():
            if on_output is not None:
                on_output(ids.get(chunk.stream, STDOUT), chunk.data)
        handle.wait()
    except KeyboardInterrupt:
        handle.cancel_and_wait(keep_waiting_on_interrupt=True)
    return handle


def start_run(
    source: str | os.PathLike[str],
    *,
    home: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
    **options: Unpack[RunOptions],
) -> RunHandle:
    """Prepare a run and hand it to an executor (a detached local supervisor by default);
    returns at once. Follow it with ``handle.follow()``, wait with ``handle.wait()``."""
    return start_spec(run_spec(source, **options), home=home, executor=executor)


def start_spec(
    spec: RunSpec,
    *,
    home: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
) -> RunHandle:
    """``start_run`` for a face that has built its ``RunSpec`` already (the magic does)."""
    store = RunStore(home)
    record = prepare_run(store, spec)
    if executor is None:
        from .executors import LocalExecutor

        executor = LocalExecutor()
    executor.submit(store, record.id)
    return RunHandle(store, record.id)
