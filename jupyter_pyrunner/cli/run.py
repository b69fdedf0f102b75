"""``pyrunner run``: intake, then supervision in this process, shown in the terminal."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from .exits import EXIT_CANCELLED, EXIT_INVALID, EXIT_TIMEOUT

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from ..daskrelay import Relay
    from ..models import RunRecord
    from ..store import RunStore
    from ..supervisor import Supervisor
    from .terminal import Terminal


def exit_code_for(record: RunRecord) -> int:
    from ..models import RunStatus

    if record.status is RunStatus.SUCCEEDED:
        return 0
    if record.status is RunStatus.TIMED_OUT:
        return EXIT_TIMEOUT
    if record.status is RunStatus.CANCELLED:
        return EXIT_CANCELLED
    if record.status is RunStatus.ERROR:
        return EXIT_INVALID
    code = record.exit_code
    if code is None:
        return 1
    return 128 - code if code < 0 else code or 1


def run(ns: argparse.Namespace, program_args: list[str]) -> int:
    """``pyrunner run``: intake, then supervision in this process (Ctrl-C cancels)."""
    store, supervisor, terminal = _prepare(ns, program_args)
    try:
        final = _supervise(supervisor)
    finally:
        terminal.stop()
        terminal.end_line()
        store.close()  # the index is done with: close it now, not in the garbage collector
    _report(final, store, as_json=ns.json)
    return exit_code_for(final)


def _prepare(
    ns: argparse.Namespace, program_args: list[str]
) -> tuple[RunStore, Supervisor | Relay, Terminal]:
    """The run taken in (the engine validates the options), and its supervisor."""
    import gc

    # importing and preparing allocate much and free little: the garbage collector's passes
    # meanwhile would be milliseconds spent for nothing, so it waits until the program starts
    collecting = gc.isenabled()
    gc.disable()
    try:
        from ..intake import prepare_run
        from ..runoptions import spec_from_options
        from ..store import RunStore
        from ..supervisor import Supervisor

        store = RunStore(ns.home)
        record = prepare_run(store, spec_from_options(ns.source, ns, program_args))
        from .terminal import Terminal

        terminal = Terminal(stdout_fd=2 if ns.json else 1)
        from ..runoptions import dask_address

        address = dask_address(ns)
        if address:  # on a Dask cluster: its relay runs here, in the foreground
            from ..daskexec import foreground_relay

            relay = foreground_relay(store, record.id, address, terminal.write, terminal.status)
            return store, relay, terminal
        supervisor = Supervisor(
            store, record.id, sink=terminal.write, on_status=terminal.status, subreaper=True
        )
        return store, supervisor, terminal
    finally:
        if collecting:
            gc.enable()


def _supervise(supervisor: Supervisor | Relay) -> RunRecord:
    """Run it here; SIGINT, SIGTERM and SIGHUP cancel it (its whole process tree stops)."""
    previous = {
        sig: signal.signal(sig, lambda *_: supervisor.interrupt())
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        return supervisor.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(final: RunRecord, store: RunStore, *, as_json: bool) -> None:
    """Warnings, the engine's error, a one-line summary on stderr; the record with --json."""
    from ..models import RunStatus
    from ..workfiles import SECTION_LABEL

    for warning in final.warnings:
        print(f"pyrunner: warning: {warning}", file=sys.stderr)
    if final.status is RunStatus.ERROR:
        print(f"pyrunner: error: {final.message}", file=sys.stderr)
        if final.error_details:
            print(final.error_details, file=sys.stderr)
    where = final.spec.output_dir or str(store.outputs_dir(final.id))
    summary = f"pyrunner: run {final.id} {final.status.value}"
    if final.status is RunStatus.FAILED and final.message:
        summary += f" ({final.message})"
    if final.duration is not None:
        summary += f" in {final.duration:.2f} s"
    print(f"{summary}; outputs: {where}", file=sys.stderr)
    beside = _project_files(final, store)
    if beside:
        folder = (
            f"{final.spec.output_dir}/project"
            if final.spec.output_dir
            else store.project_dir(final.id)
        )
        print(f"pyrunner: {len(beside)} file(s) {SECTION_LABEL}: {folder}", file=sys.stderr)
    if as_json:
        print(json.dumps({**final.to_dict(), "locations": locations(final, store)}, indent=1))


def _project_files(record: RunRecord, store: RunStore) -> list[str]:
    """The files the program wrote beside its code (paths in the project folder)."""
    from ..outputs import files_json
    from ..workfiles import ProjectFiles

    return [str(f["path"]) for f in files_json(ProjectFiles.of_run(store, record.id).files())]


def locations(record: RunRecord, store: RunStore) -> dict[str, Any]:
    """Where a run's files are, for ``--json``: its folder, the project's folder and the
    program's working folder, the outputs folder with the files in it, and where the outputs
    were copied (``--output-dir``)."""
    from ..outputs import files_json, list_outputs

    outputs = store.outputs_dir(record.id)
    project = store.project_dir(record.id)
    return {
        "run_dir": str(store.run_dir(record.id)),
        "project_dir": str(project),
        "workdir": str(project / record.workdir) if record.workdir is not None else None,
        "outputs_dir": str(outputs),
        "output_files": [str(f["path"]) for f in files_json(list_outputs(outputs))],
        "project_files": _project_files(record, store),
        "copied_to": record.spec.output_dir,
    }
