"""Sweeps: one project run once for each combination of parameter values.

A sweep is many ordinary runs of one project. Each combination of the cartesian product of
the parameters (:func:`expand`) becomes one run whose record carries ``sweep`` (the sweep's id)
and ``params`` (its combination), whose arguments have ``{name}`` replaced by the values
(:func:`substitute`) and whose environment holds ``PYRUNNER_PARAMS``, the combination as JSON
(``hostenv.program_environment``). The sweep itself is a folder of the store,
``<home>/sweeps/<id>/sweep.json`` (private, as the runs are: folders 0700, files 0600), that
names its runs in the order of the combinations.

Submission (:func:`submit_sweep`, :func:`run_sweep`) checks everything first and creates
nothing for a bad request: no parameter, an empty list of values, a name given twice or that
is not an identifier, a ``{name}`` in the arguments that is no parameter, more than
:data:`MAX_COMBINATIONS` combinations, or any combination's arguments out of the run limits.
Then every combination goes through intake, at once: the sweep is fixed when it is submitted
(the project as it was then, even if its folder changes while the sweep runs), every run id is
known (the history lists them ``queued``), and a project error surfaces before anything runs.
Intake is cheap; the environment is not, and is built once: the runs share its key, the first
one to prepare builds it and the others wait on the build lock and then reuse it.

Who starts the runs. On this machine at most ``parallel`` run at once (the CPU count by
default): a *sweep scheduler*, a detached process of its own (``sweepscheduler.py``), starts
each queued run through the local executor as an earlier one ends, and owns the runs while
they wait. It is a process rather than a thread of the caller because a sweep must outlive
its caller as a run does: ``run_sweep`` returns at once and the sweep goes on after a kernel
restart or the end of the script that started it (``pyrunner sweep`` waits for its sweep, and
cancels it on Ctrl-C). Its death is visible: its queued runs read as never started. On a
Dask cluster the scheduler hands the runs to the ``DaskExecutor`` the same way, at most
``parallel`` at once (``DASK_PARALLEL`` by default): the cluster spreads them over its
workers, and each run handed over is followed by a relay process here, so a sweep of
thousands does not start thousands of them at once.

The parts: ``sweepparams.py`` (parameters and argument templates), ``sweepstore.py`` (the
folder, adopting and cancelling), ``sweephandle.py`` (``SweepHandle``), ``sweepscheduler.py``
(the detached scheduler); this module submits, and re-exports what a face needs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import InvalidRunSpecError
from .models import RunRecord, RunSpec
from .store import RunStore, new_run_id
from .sweephandle import SweepHandle
from .sweepparams import (
    MAX_COMBINATIONS,
    check_params,
    check_placeholders,
    combination_count,
    expand,
    placeholders,
    substitute,
)
from .sweepstore import (
    CANCEL_FILE,
    adopt,
    cancel_run,
    cancel_sweep,
    list_sweeps,
    read_sweep,
    sweep_dir,
    sweeps_root,
    write_sweep,
)

#: on a Dask cluster, how many of a sweep's runs are handed over at once by default (each is
#: followed by a relay process of ~50 MB here; ``parallel`` changes it)
DASK_PARALLEL = 32

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Unpack

    from .executors import Executor
    from .sdk import RunOptions

__all__ = [
    "MAX_COMBINATIONS",
    "SweepHandle",
    "cancel_sweep",
    "check_params",
    "check_placeholders",
    "combination_count",
    "expand",
    "list_sweeps",
    "placeholders",
    "read_sweep",
    "run_sweep",
    "submit_sweep",
    "substitute",
    "sweep_dir",
]


def run_sweep(
    source: str | os.PathLike[str],
    params: Any,
    *,
    parallel: int | None = None,
    executor: Executor | None = None,
    home: str | os.PathLike[str] | None = None,
    **options: Unpack[RunOptions],
) -> SweepHandle:
    """Run ``source`` once per combination of ``params`` (``{"a": ["1", "2"], ...}``); returns
    at once, and the sweep goes on without this process. ``args`` (among ``options``, the
    options of ``start_run``) may hold ``{a}``; each run also gets ``PYRUNNER_PARAMS``. Locally
    at most ``parallel`` runs at once (default: the CPU count); with another ``executor``
    (Dask), every run is handed over at once. Bad parameters or options raise
    ``InvalidRunSpecError`` and create nothing; a bad project raises ``ProjectError``."""
    from .sdk import run_spec

    store = RunStore(home)
    spec = run_spec(source, **options)
    return submit_sweep(store, spec, params, parallel=parallel, executor=executor)


def submit_sweep(
    store: RunStore,
    spec: RunSpec,
    params: Any,
    *,
    parallel: int | None = None,
    executor: Executor | None = None,
    enqueue: Callable[[str], object] | None = None,
) -> SweepHandle:
    """``run_sweep`` for a face that has built its ``RunSpec`` (its ``args`` the templates):
    check, take every combination in, write the sweep, hand the runs over. A host with a
    queue of its own (the server, bounded by its own limit) passes ``enqueue``: it gets each
    run id, in order, and the runs stay owned by the caller until it starts them."""
    checked, specs, parallel = _checked(spec, params, parallel, _is_local(executor))
    folder, sweep_id = _new_folder(store)
    run_ids: list[str] = []
    try:
        for combo, one in zip(expand(checked), specs, strict=True):
            record = _intake(store, one)
            run_ids.append(record.id)
            store.update(record.id, sweep=sweep_id, params=combo)
            if len(run_ids) == 1:  # each run gets its own copy of the project: room for all?
                _check_room(store, record.id, len(specs))
        data = {
            "id": sweep_id,
            "name": record.name,
            "source": record.spec.source,
            "params": checked,
            "args": list(spec.args),
            "runs": run_ids,
            "created": time.time(),
            "parallel": parallel,
            "executor": "local" if _is_local(executor) else getattr(executor, "name", "?"),
            # how the sweep's scheduler rebuilds the executor (None: this machine's own)
            "executor_options": None if _is_local(executor) else _described(executor),
            "scheduler": None,
        }
        write_sweep(folder, data)
    except BaseException:  # a bad project, Ctrl-C, a full disk: nothing of the sweep stays
        _remove(store, folder, run_ids)
        raise
    if enqueue is not None:  # a host with a queue of its own (the server) starts them
        for run_id in run_ids:
            enqueue(run_id)
    else:
        _hand_over(store, folder, data, executor)
    return SweepHandle(store, sweep_id)


def _checked(
    spec: RunSpec, params: Any, parallel: Any, local: bool = True
) -> tuple[dict[str, list[str]], list[RunSpec], int]:
    """Everything a sweep is asked for, checked before anything is created: the
    parameters, ``parallel``, the run options, and each combination's run."""
    checked = check_params(params)
    if parallel is None:
        parallel = (os.cpu_count() or 1) if local else DASK_PARALLEL
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise InvalidRunSpecError(
            f"parallel must be a whole number of runs, at least 1, not {parallel!r}"
        )
    spec.validate()
    check_placeholders(spec.args, checked)
    specs = []
    for combo in expand(checked):
        one = RunSpec(**spec.to_dict())
        one.args = substitute(spec.args, combo)
        specs.append(one.validate())
    return checked, specs, parallel


def _check_room(store: RunStore, first: str, count: int) -> None:
    """Every run of a sweep holds its own copy of the project and inputs (a program may write
    beside its code, and one run must not change what another runs): refuse a sweep whose
    copies would not fit on the disk, from the size of the first (``DiskFullError``)."""
    import shutil

    from .errors import DiskFullError

    inputs = store.inputs_dir(first)
    size = sum(
        os.lstat(os.path.join(folder, name)).st_blocks * 512
        for folder, _dirs, files in os.walk(inputs)
        for name in files
    )
    needed = size * (count - 1)
    free = shutil.disk_usage(store.runs_dir).free
    if needed > free:
        from .humanize import size_text

        raise DiskFullError(
            f"the sweep's {count} runs each need their own copy of the project and inputs "
            f"({size_text(size)}): {size_text(needed)} more, and the disk has "
            f"{size_text(free)} free"
        )


def _new_folder(store: RunStore) -> tuple[Path, str]:
    root = sweeps_root(store)
    while True:
        sweep_id = new_run_id()
        try:
            (root / sweep_id).mkdir(mode=0o700)
            return root / sweep_id, sweep_id
        except FileExistsError:
            continue


def _intake(store: RunStore, spec: RunSpec) -> RunRecord:
    from .intake import prepare_run

    return prepare_run(store, spec)


def _remove(store: RunStore, folder: Path, run_ids: list[str]) -> None:
    """Undo a submission that could not complete: its runs (none has started) and folder."""
    import contextlib
    import shutil

    for run_id in run_ids:
        with contextlib.suppress(Exception):
            store.delete(run_id, force=True)
    shutil.rmtree(folder, ignore_errors=True)


def _described(executor: Executor | None) -> dict[str, Any] | None:
    """The executor as the sweep's scheduler rebuilds it (``DaskExecutor.description``);
    None for one it cannot rebuild."""
    describe = getattr(executor, "description", None)
    return None if describe is None else dict(describe())


def _is_local(executor: Executor | None) -> bool:
    from .executors import LocalExecutor

    return executor is None or type(executor) is LocalExecutor


def _hand_over(
    store: RunStore, folder: Path, data: dict[str, Any], executor: Executor | None
) -> None:
    """Start the sweep's scheduler and make it the owner of the queued runs before returning
    (so that they never look abandoned when this process ends now). An executor of another
    kind, which the scheduler could not rebuild, gets every run now; those it could not take
    are cancelled, not left queued."""
    if _is_local(executor) or data["executor_options"] is not None:
        _start_scheduler(store, folder, data, getattr(executor, "python", None))
        return
    assert executor is not None
    for done, run_id in enumerate(data["runs"]):
        try:
            executor.submit(store, run_id)
        except BaseException:
            for left in data["runs"][done:]:
                cancel_run(store, left)
            raise


def _start_scheduler(
    store: RunStore, folder: Path, data: dict[str, Any], python: str | None
) -> None:
    """``python -m jupyter_pyrunner.sweepscheduler HOME ID`` in a session of its own. It
    waits until its stdin closes: by then each queued run names it as its owner (or this
    process has died, and it adopts the rest itself)."""
    import subprocess
    import sys
    import threading

    from .hostenv import Role, host_environment
    from .liveness import process_identity

    deny = store.read(data["runs"][0]).spec.env_deny
    log = os.open(folder / "scheduler.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [
                *(python or sys.executable, "-m", "jupyter_pyrunner.sweepscheduler"),
                str(store.home),
                data["id"],
            ],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd=folder,
            env=host_environment(Role.SUPERVISOR, deny),  # no secrets: as a run's supervisor
        )
    finally:
        os.close(log)
    assert proc.stdin is not None
    handed = False
    try:
        identity = process_identity(proc.pid)
        for run_id in data["runs"]:
            adopt(store, run_id, identity)
        data["scheduler"] = identity
        write_sweep(folder, data)
        handed = True
    finally:
        if not handed:  # Ctrl-C (or a failure) mid-way: the scheduler cancels the whole sweep
            (folder / CANCEL_FILE).touch()
        proc.stdin.close()
    # not ours to wait for, but a zombie until reaped: a thread reaps it when it ends
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
