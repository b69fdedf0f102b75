"""The ``pyrunner`` command line: the parser and the dispatch (``run`` in ``cli.run``, the
other commands in ``cli.commands``). Imports stay lazy: a run must start fast."""

from __future__ import annotations

import argparse
import os
import sys

from .exits import EXIT_CANCELLED, EXIT_INVALID

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn


def _number(
    kind: type[float] | type[int], zero_allowed: bool = False
) -> Callable[[str], float | int]:
    """An argparse type for the command's own numbers: more than 0 (or at least 0)."""
    from ..runoptions import number

    return number(kind, minimum=0, zero_allowed=zero_allowed)


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run a project (a .zip, a folder or a .py file)",
        description="Run a project; arguments after -- go to the program.",
    )
    run.add_argument("source", help="the project: a .zip, a folder or a single .py file")
    from ..runoptions import add_run_options

    add_run_options(run)
    run.add_argument(
        "--json",
        action="store_true",
        help="print the final run record as JSON on stdout (the program's output then goes to stderr)",
    )


def _add_sweep(sub: Any) -> None:
    from .sweep import add_parser

    add_parser(sub)


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
    "sweep": _add_sweep,
    "runs": _add_runs,
    "show": _add_show,
    "logs": _add_logs,
    "outputs": _add_outputs,
    "cancel": _add_cancel,
    "rm": _add_rm,
    "env": _add_env,
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a wrong command line exits with pyrunner's own code, not 2 (which a
    program's own argparse uses)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line parser; with ``command``, only that sub-command's parser is built
    (building them all costs milliseconds at every start)."""
    parser = _Parser(
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
    """The ``pyrunner`` command; ``argv`` None: this process's own command line, and the
    process ends here (:func:`_end_process`)."""
    unblocked = _blocking_output() if argv is None else []
    try:
        code = _main(argv)
    except BaseException:  # argparse's exit, an interrupt: the reader gets its pipe back
        for fd in unblocked:
            os.set_blocking(fd, False)
        raise
    if argv is None:
        _end_process(code, unblocked)
    return code


def _blocking_output() -> list[int]:
    """Make stdout and stderr blocking while the command runs; the descriptors changed.
    A reader that made its pipe non-blocking (Node does) would otherwise lose all but the
    first 64 KiB of a long log or record: a write that cannot complete at once fails, and
    with ``PYTHONUNBUFFERED`` ``print`` and ``sys.stdout.buffer`` drop the rest silently."""
    changed = []
    for fd in (1, 2):
        try:
            if not os.get_blocking(fd):
                os.set_blocking(fd, True)
                changed.append(fd)
        except OSError:  # a closed descriptor: nothing to write to
            pass
    return changed


def _end_process(code: int, unblocked: list[int] | None = None) -> NoReturn:
    """End the command's process once its output is flushed, without the interpreter's
    teardown: freeing every module and object one by one takes ~7 ms, a tenth of a short
    run. Nothing is left to do by then: the run is recorded, the index closed, and the
    command starts no thread that must finish and registers no exit handler."""
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: what was written is
            stream.flush()
    for fd in unblocked or ():  # as the reader left it: its own writes may rely on it
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    from ..runoptions import split_program_args

    args_list, program_args = split_program_args(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command_of(args_list))
    ns = parser.parse_args(args_list)
    if ns.version:
        from .._version import __version__

        print(__version__)
        return 0
    if ns.command is None:
        parser.print_help()
        return EXIT_INVALID
    if program_args and ns.command not in ("run", "sweep"):
        parser.error("arguments after -- are only for 'run' and 'sweep'")
    import sqlite3

    from ..errors import PyRunnerError

    try:
        if ns.command == "run":
            from .run import run

            return run(ns, program_args)
        if ns.command == "sweep":
            from .sweep import sweep

            return sweep(ns, program_args)
        from ..store import RunStore

        store = RunStore(ns.home)
        from . import commands

        handler = commands.HANDLERS[ns.command]
        return handler(store, ns)
    except PyRunnerError as exc:
        print(f"pyrunner: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except sqlite3.Error as exc:
        print(f"pyrunner: error: the run index cannot be used: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # `pyrunner logs ID | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    except OSError as exc:  # an unusable --home, a full disk...: say so in one line
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"pyrunner: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_CANCELLED
