"""The ``pyrunner`` command line. Imports stay lazy: a run must start fast."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .models import RunRecord
    from .store import RunStore
    from .supervisor import Supervisor

EXIT_INVALID = 2
EXIT_TIMEOUT = 124
EXIT_CANCELLED = 130


def _number(
    kind: type[float] | type[int], zero_allowed: bool = False
) -> Callable[[str], float | int]:
    """An argparse type for the command's own numbers: more than 0 (or at least 0)."""
    from .runoptions import number

    return number(kind, minimum=0, zero_allowed=zero_allowed)


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run a project (a .zip, a folder or a .py file)",
        description="Run a project; arguments after -- go to the program.",
    )
    run.add_argument("source", help="the project: a .zip, a folder or a single .py file")
    from .runoptions import add_run_options

    add_run_options(run)
    run.add_argument(
        "--json",
        action="store_true",
        help="print the final run record as JSON on stdout (the program's output then goes to stderr)",
    )


def _add_runs(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list runs, newest first")
    runs.add_argument("--limit", type=_number(int), default=20)
    runs.add_argument("--status", help="only runs with this status")
    runs.add_argument("--json", action="store_true")


def _add_show(sub: Any) -> None:
    show = sub.add_parser("show", help="show one run's record")
    show.add_argument("run_id", metavar="ID", help="run id, a unique prefix of it, or 'last'")
    show.add_argument("--json", action="store_true")


def _add_logs(sub: Any) -> None:
    logs = sub.add_parser("logs", help="print a run's log")
    logs.add_argument("run_id", metavar="ID")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing until the run ends"
    )
    logs.add_argument(
        "--offset",
        type=_number(int, zero_allowed=True),
        default=0,
        help="start at this byte offset",
    )
    logs.add_argument(
        "--timestamps", "-t", action="store_true", help="prefix lines with time and stream"
    )


def _add_outputs(sub: Any) -> None:
    outputs = sub.add_parser("outputs", help="list a run's output files")
    outputs.add_argument("run_id", metavar="ID")
    outputs.add_argument("--json", action="store_true")


def _add_cancel(sub: Any) -> None:
    cancel = sub.add_parser("cancel", help="cancel a queued or running run")
    cancel.add_argument("run_id", metavar="ID")


def _add_rm(sub: Any) -> None:
    rm = sub.add_parser("rm", help="delete finished runs and their files")
    rm.add_argument("run_ids", metavar="ID", nargs="+")
    rm.add_argument("--force", action="store_true", help="also stop and delete live runs")


def _add_env(sub: Any) -> None:
    env = sub.add_parser("env", help="cached environments")
    env_sub = env.add_subparsers(dest="env_command", metavar="ACTION")
    env_list = env_sub.add_parser("list", help="cached environments with size and last use")
    env_list.add_argument("--json", action="store_true")
    prune = env_sub.add_parser("prune", help="evict cached environments")
    prune.add_argument(
        "--older-than", metavar="DAYS", type=_number(float), help="unused for this many days"
    )
    prune.add_argument(
        "--max-size",
        metavar="GB",
        type=_number(float, zero_allowed=True),
        help="keep the cache under this size",
    )


#: the sub-commands, in the order of the help
_COMMANDS: dict[str, Callable[[Any], None]] = {
    "run": _add_run,
    "runs": _add_runs,
    "show": _add_show,
    "logs": _add_logs,
    "outputs": _add_outputs,
    "cancel": _add_cancel,
    "rm": _add_rm,
    "env": _add_env,
}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line parser; with ``command``, only that sub-command's parser is built
    (building them all costs milliseconds at every start)."""
    parser = argparse.ArgumentParser(
        prog="pyrunner",
        description="Run a zipped Python project in an isolated, cached environment.",
    )
    parser.add_argument(
        "--home",
        help="run store and environment cache (default: $PYRUNNER_HOME, "
        "else a 'pyrunner' folder in Jupyter's data dir)",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _COMMANDS.items():
        if command is None or name == command:
            add(sub)
    return parser


def _command_of(args: list[str]) -> str | None:
    """The sub-command ``args`` name, when that is certain without the full parser: only
    ``--home VALUE``, ``--home=VALUE`` and ``--version`` (or unambiguous abbreviations of
    them) may come before it. Otherwise None: the full parser then decides (and helps)."""
    it = iter(args)
    for arg in it:
        if not arg.startswith("-"):
            return arg if arg in _COMMANDS else None
        option, eq, _value = arg.partition("=")
        if len(option) >= 4 and "--home".startswith(option):
            if not eq:
                next(it, None)
        elif not (len(option) >= 3 and "--version".startswith(option) and not eq):
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    from .runoptions import split_program_args

    args_list, program_args = split_program_args(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command_of(args_list))
    ns = parser.parse_args(args_list)
    if ns.version:
        from ._version import __version__

        print(__version__)
        return 0
    if ns.command is None:
        parser.print_help()
        return EXIT_INVALID
    if program_args and ns.command != "run":
        parser.error("arguments after -- are only for 'run'")
    import sqlite3

    from .errors import PyRunnerError

    try:
        if ns.command == "run":
            code = _run(ns, program_args)
            if argv is None:
                # the command line's process ends now: spare it the garbage collector's full
                # passes over every object at interpreter exit (milliseconds)
                import gc

                gc.freeze()
            return code
        from .store import RunStore

        store = RunStore(ns.home)
        handler = {
            "runs": _runs,
            "show": _show,
            "logs": _logs,
            "outputs": _outputs,
            "cancel": _cancel,
            "rm": _rm,
            "env": _env,
        }[ns.command]
        return handler(store, ns)
    except PyRunnerError as exc:
        print(f"pyrunner: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except sqlite3.Error as exc:
        print(f"pyrunner: error: the run index cannot be used: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:  # an unusable --home, a full disk...: say so in one line
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"pyrunner: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    except BrokenPipeError:
        return 0


# -- run -------------------------------------------------------------------------------------
class _Terminal:
    """Relays the program's output and shows a spinner while the environment is prepared."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stdout_fd: int) -> None:
        self.stdout_fd = stdout_fd
        import threading

        self.tty = os.isatty(1) and os.isatty(2)
        self._spinning = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._drawn = False

    def write(self, stream: int, data: bytes) -> None:
        fd = self.stdout_fd if stream == 1 else 2  # 1: the program's stdout (logfile.STDOUT)
        if stream == 3 and self._spinning.is_set():  # 3: engine messages (logfile.SYSTEM)
            return  # the spinner says it better while the environment builds
        with self._lock:
            self._clear()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except BrokenPipeError:
                pass

    def _clear(self) -> None:
        if self._drawn:
            os.write(2, b"\r\x1b[2K")
            self._drawn = False

    def status(self, record: RunRecord) -> None:
        from .models import RunStatus

        building = (
            record.status is RunStatus.PREPARING and record.message == "building the environment"
        )
        if building and self.tty and self._thread is None:
            label = ", ".join(record.requirements) or "no packages"
            import threading

            self._spinning.set()
            self._thread = threading.Thread(target=self._spin, args=(label,), daemon=True)
            self._thread.start()
        elif record.status is not RunStatus.PREPARING:
            self.stop()

    def _spin(self, label: str) -> None:
        start = time.monotonic()
        if len(label) > 50:
            label = label[:47] + "..."
        i = 0
        while self._spinning.is_set():
            elapsed = time.monotonic() - start
            with self._lock:
                if not self._spinning.is_set():
                    break
                frame = self.FRAMES[i % len(self.FRAMES)]
                os.write(
                    2, f"\r\x1b[2K{frame} building environment ({label}) {elapsed:.1f}s".encode()
                )
                self._drawn = True
            i += 1
            self._stopped.wait(0.1)

    def stop(self) -> None:
        if self._spinning.is_set():
            with self._lock:
                self._spinning.clear()
                self._stopped.set()
                self._clear()


def exit_code_for(record: RunRecord) -> int:
    from .models import RunStatus

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


def _run(ns: argparse.Namespace, program_args: list[str]) -> int:
    """``pyrunner run``: intake, then supervision in this process (Ctrl-C cancels)."""
    store, supervisor, terminal = _prepare(ns, program_args)
    try:
        final = _supervise(supervisor)
    finally:
        terminal.stop()
        store.close()  # the index is done with: close it now, not in the garbage collector
    _report(final, store, as_json=ns.json)
    return exit_code_for(final)


def _prepare(
    ns: argparse.Namespace, program_args: list[str]
) -> tuple[RunStore, Supervisor, _Terminal]:
    """The run taken in (the engine validates the options), and its supervisor."""
    import gc

    # importing and preparing allocate much and free little: the garbage collector's passes
    # meanwhile would be milliseconds spent for nothing, so it waits until the program starts
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .intake import prepare_run
        from .runoptions import spec_from_options
        from .store import RunStore
        from .supervisor import Supervisor

        store = RunStore(ns.home)
        record = prepare_run(store, spec_from_options(ns.source, ns, program_args))
        terminal = _Terminal(stdout_fd=2 if ns.json else 1)
        supervisor = Supervisor(
            store, record.id, sink=terminal.write, on_status=terminal.status, subreaper=True
        )
        return store, supervisor, terminal
    finally:
        if collecting:
            gc.enable()


def _supervise(supervisor: Supervisor) -> RunRecord:
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
    from .models import RunStatus

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
    if as_json:
        print(json.dumps(final.to_dict(), indent=1))


# -- other commands ---------------------------------------------------------------------------
def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _fmt_duration(seconds: float | None) -> str:
    from .humanize import duration_text

    return duration_text(seconds, compact=True)


def _fmt_size(size: float) -> str:
    from .humanize import size_text

    return size_text(size)


def _runs(store: RunStore, ns: argparse.Namespace) -> int:
    records = store.list_runs(limit=ns.limit, status=ns.status)
    if ns.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    if not records:
        print("no runs yet")
        return 0
    from .humanize import runs_table

    print(runs_table(records))
    return 0


def _show(store: RunStore, ns: argparse.Namespace) -> int:
    record = store.get(store.resolve_id(ns.run_id))
    if ns.json:
        print(json.dumps(record.to_dict(), indent=1))
        return 0
    fields: list[tuple[str, Any]] = [
        ("id", record.id),
        ("name", record.name),
        ("status", record.status.value),
        ("message", record.message),
        ("exit code", record.exit_code),
        ("progress", None if record.progress is None else f"{record.progress:.0%}"),
        ("source", record.spec.source),
        ("entry", record.entry),
        ("arguments", " ".join(record.spec.args) or None),
        (
            "requirements",
            f"{', '.join(record.requirements) or 'none'} ({record.requirements_source})",
        ),
        ("environment", record.env_key),
        ("created", _fmt_time(record.created)),
        ("duration", _fmt_duration(record.duration)),
        ("timings", ", ".join(f"{k} {v:.3f}s" for k, v in record.timings.items()) or None),
        ("folder", store.run_dir(record.id)),
    ]
    for key, value in fields:
        if value is not None:
            print(f"{key + ':':14}{value}")
    if record.error_details:
        print(record.error_details)
    return 0


def _logs(store: RunStore, ns: argparse.Namespace) -> int:
    from .handle import RunHandle
    from .logfile import iter_lines

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
    from .outputs import list_outputs

    run_id = store.resolve_id(ns.run_id)
    store.read(run_id)
    files = list_outputs(store.outputs_dir(run_id))
    if ns.json:
        print(
            json.dumps(
                {"folder": str(store.outputs_dir(run_id)), "files": [f.to_dict() for f in files]},
                indent=1,
            )
        )
        return 0
    print(store.outputs_dir(run_id))
    if not files:
        print("(no output files)")
    for f in files:
        print(f"  {_fmt_size(f.size):>9}  {f.path}")
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
    from .environments import EnvironmentManager

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
            _fmt_size(i.size),
            _fmt_time(i.last_used),
            "yes" if i.in_use else "",
            ", ".join(i.requirements) or "(bare)",
        ]
        for i in infos
    ]
    from .humanize import table

    print(table(rows, ["KEY", "SIZE", "LAST USED", "IN USE", "REQUIREMENTS"]))
    print(f"total {_fmt_size(sum(i.size for i in infos))} in {manager.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
