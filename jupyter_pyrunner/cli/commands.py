"""The commands besides ``run``: ``runs``, ``show``, ``logs``, ``outputs``, ``cancel``, ``rm``
and ``env``, each a function of the store and the parsed arguments."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .exits import EXIT_INVALID

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..models import RunRecord
    from ..store import RunStore


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _fmt_size(size: float) -> str:
    from ..humanize import size_text

    return size_text(size)


def _runs(store: RunStore, ns: argparse.Namespace) -> int:
    records = store.list_runs(limit=ns.limit, status=ns.status)
    _follow_again(store, records)
    if ns.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    if not records:
        print("no runs yet")
        return 0
    from ..humanize import runs_table

    print(runs_table(records))
    return 0


def _follow_again(store: RunStore, records: list[RunRecord]) -> None:
    """Dask runs whose relay has stopped get a new one (``RunHandle`` does it for one run)."""
    from ..liveness import awaits_relay

    waiting = [r.id for r in records if awaits_relay(r)]
    if waiting:
        from ..daskexec import reattach

        for run_id in waiting:
            reattach(store, run_id)


def _show(store: RunStore, ns: argparse.Namespace) -> int:
    from ..handle import RunHandle

    record = RunHandle(store, store.resolve_id(ns.run_id)).record
    if ns.json:
        print(json.dumps(record.to_dict(), indent=1))
        return 0
    from ..humanize import facts_text

    print(facts_text(record, store.run_dir(record.id)))
    return 0


def _logs(store: RunStore, ns: argparse.Namespace) -> int:
    from ..handle import RunHandle
    from ..logfile import iter_lines

    run_id = store.resolve_id(ns.run_id)
    store.read(run_id)  # a clear error for a run that does not exist
    run_dir = store.run_dir(run_id)
    if ns.timestamps:
        for ts, stream, line in iter_lines(run_dir, ns.offset):
            stamp = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"
            sys.stdout.buffer.write(f"{stamp} {stream:6} ".encode() + line.rstrip(b"\n") + b"\n")
        return 0
    handle = RunHandle(store, run_id)
    chunks = handle.follow(ns.offset) if ns.follow else handle.chunks(ns.offset)
    for chunk in chunks:
        out = sys.stdout.buffer if chunk.stream == "stdout" else sys.stderr.buffer
        out.write(chunk.data)
        out.flush()
    return 0


def _outputs(store: RunStore, ns: argparse.Namespace) -> int:
    """Both sections of a run's outputs: ``OUTPUT_FOLDER``'s files, then those the program
    wrote beside its code (shown only when there are some). Names are escaped for the
    terminal, and in JSON given as the zip has them (``outputs.shown_name``, ``files_json``)."""
    from ..handle import RunHandle
    from ..outputs import files_json, shown_name
    from ..workfiles import SECTION_LABEL

    run_id = store.resolve_id(ns.run_id)
    store.read(run_id)
    handle = RunHandle(store, run_id)
    files, project_files = handle.outputs, handle.project_files
    if ns.json:
        print(
            json.dumps(
                {
                    "folder": str(handle.outputs_dir),
                    "files": files_json(files),
                    "project_folder": str(handle.project_dir),
                    "project_files": files_json(project_files),
                },
                indent=1,
            )
        )
        return 0
    print(handle.outputs_dir)
    if not files:
        print("  (no files in OUTPUT_FOLDER)" if project_files else "(no output files)")
    for f in files:
        print(f"  {_fmt_size(f.size):>9}  {shown_name(f.path)}")
    if project_files:
        print(f"{SECTION_LABEL}: {handle.project_dir}")
        for f in project_files:
            print(f"  {_fmt_size(f.size):>9}  {shown_name(f.path)}")
    return 0


def _cancel(store: RunStore, ns: argparse.Namespace) -> int:
    run_id = store.resolve_id(ns.run_id)
    store.request_cancel(run_id)  # refused with a clear message for a run that has ended
    record = store.cancel_and_wait(run_id)
    if record.status.is_terminal:
        print(f"run {run_id} {record.status.value}")
    else:
        print(f"run {run_id}: cancel requested", file=sys.stderr)
    return 0


def _rm(store: RunStore, ns: argparse.Namespace) -> int:
    for text in ns.run_ids:
        run_id = store.resolve_id(text)
        store.delete(run_id, force=ns.force)
        print(f"removed {run_id}")
    return 0


def _env(store: RunStore, ns: argparse.Namespace) -> int:
    from ..environments import EnvironmentManager

    manager = EnvironmentManager(store.home)
    if ns.env_command == "prune":
        if ns.older_than is None and ns.max_size is None:
            print("pyrunner: error: say --older-than DAYS and/or --max-size GB", file=sys.stderr)
            return EXIT_INVALID
        max_bytes = None if ns.max_size is None else int(ns.max_size * 1024**3)
        removed = manager.prune(ns.older_than, max_bytes)
        for info in removed:
            print(f"removed {info.key} ({_fmt_size(info.size)})")
        print(f"{len(removed)} environment(s) removed")
        return 0
    infos = manager.list_envs()
    if getattr(ns, "json", False):
        print(json.dumps([i.to_dict() for i in infos], indent=1))
        return 0
    if not infos:
        print("no cached environments")
        return 0
    rows = [
        [
            i.key,
            i.python_version or "?",
            _fmt_size(i.size),
            _fmt_time(i.last_used),
            "yes" if i.in_use else "",
            ", ".join(i.requirements) or "(bare)",
        ]
        for i in infos
    ]
    from ..humanize import table

    print(table(rows, ["KEY", "PYTHON", "SIZE", "LAST USED", "IN USE", "REQUIREMENTS"]))
    print(f"total {_fmt_size(sum(i.size for i in infos))} in {manager.root}")
    return 0


#: the command name → its function
HANDLERS: dict[str, Callable[[RunStore, argparse.Namespace], int]] = {
    "runs": _runs,
    "show": _show,
    "logs": _logs,
    "outputs": _outputs,
    "cancel": _cancel,
    "rm": _rm,
    "env": _env,
}
