"""``%pyrunner`` and ``%%pyrunner``: run a project from a notebook cell and watch it live.

Runs are started detached (they survive a kernel restart) in the same store as the CLI and the
server, and followed from the log: the program's stdout and stderr appear in the cell as they
are printed, a progress bar follows the environment build and the program's progress lines,
and the cell ends with a summary and the outputs browser. Interrupting the kernel cancels the
run and stops its whole process tree. With ``--dask ADDRESS`` (or ``PYRUNNER_DASK_SCHEDULER``)
the run executes on a Dask cluster and is followed the same way: its relay writes the log into
the same store. ``%pyrunner sweep`` runs a project once per combination of parameters and shows
a table redrawn in place; interrupting the kernel cancels every run of the sweep.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shlex
import sys
import threading
import time

from IPython.core.display import HTML
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from IPython.display import display

from ..daskexec import executor_for
from ..errors import PyRunnerError
from ..handle import RunHandle
from ..runoptions import (
    add_run_options,
    dask_address,
    number,
    spec_from_options,
    split_program_args,
)
from ..sdk import start_spec
from ..store import RunStore
from . import views
from .result import RunResult, SweepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..models import RunRecord

STATUS_INTERVAL = 0.25
#: after an interrupt, how long a sweep's runs have to stop before the cell gives up waiting
SWEEP_STOP_WAIT = 30.0
#: ``x = %pyrunner ...`` as IPython rewrites it before running the cell
_ASSIGNED = re.compile(r"=\s*get_ipython\(\)\.run_line_magic\(\s*['\"]pyrunner['\"]")
USAGE = """\
%pyrunner run SOURCE [--entry PATH] [--input PATH]... [--output-dir DIR] [--timeout S]
               [--memory MB] [--cpus N] [--resource NAME=AMOUNT]... [--requirements REQS]
               [--no-infer] [--layout ports|flat] [--background] [--dask ADDRESS] [-- ARGS...]
%pyrunner sweep SOURCE --param a=1,2 [--param b=x,y]... [--parallel N] [run options] [-- ARGS {a}...]
%pyrunner show ID
%pyrunner runs [--limit N]        %pyrunner logs ID      %pyrunner outputs ID [--copy-to DIR]
%pyrunner cancel ID               %pyrunner env list     %pyrunner panel
%%pyrunner [--requirements "numpy pandas"] [run options]   (the cell is the project's main.py)"""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{message}\n\n{USAGE}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise _UsageError(USAGE)  # -h


def _run_parser(cell: bool = False) -> _Parser:
    parser = _Parser(prog="%%pyrunner" if cell else "%pyrunner run", add_help=True)
    if not cell:
        parser.add_argument("source")
    add_run_options(parser)  # the same options as ``pyrunner run``
    parser.add_argument("--infer-requirements", action="store_true", help="the default")
    parser.add_argument("--background", action="store_true")
    return parser


def _sweep_parser() -> _Parser:
    parser = _Parser(prog="%pyrunner sweep", add_help=True)
    parser.add_argument("source")
    parser.add_argument("--param", metavar="NAME=V1,V2,...", action="append", default=[],
                        dest="params")  # fmt: skip
    parser.add_argument("--parallel", metavar="N", type=number(int, minimum=0))
    add_run_options(parser)  # the run options, --dask among them
    return parser


class _View:
    """Something to display: HTML in a notebook, text in a terminal."""

    def __init__(self, html: str, text: str) -> None:
        self.html, self.text = html, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


#: a sweep's parameter names on its line, and a ``{name}`` placeholder that is not doubled
_SWEPT = re.compile(r"--param(?:=|\s+)\s*['\"]?([A-Za-z_]\w*)=")
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")


@magics_class
class PyRunnerMagics(Magics):
    """The ``%pyrunner`` line magic and the ``%%pyrunner`` cell magic."""

    @property
    def rich(self) -> bool:
        """In a kernel (rich displays that can be updated), not a terminal IPython."""
        return "ZMQ" in type(self.shell).__name__

    @property
    def store(self) -> RunStore:
        return RunStore()

    @no_var_expand  # type: ignore[untyped-decorator]
    @needs_local_scope  # type: ignore[untyped-decorator]
    @line_cell_magic  # type: ignore[untyped-decorator]
    def pyrunner(
        self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None
    ) -> Any:
        line = self._expand(line, local_ns)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return self._error(f"cannot read the arguments: {exc}")
        try:
            if cell is not None:
                return self._cell(words, cell)
            command, rest = (words[0], words[1:]) if words else ("help", [])
            handlers: dict[str, Callable[[list[str]], Any]] = {
                "run": self._run, "runs": self._runs, "logs": self._logs, "outputs": self._outputs,
                "cancel": self._cancel, "env": self._env, "panel": self._panel,
                "show": self._show, "sweep": self._sweep,
            }  # fmt: skip
            handler = handlers.get(command)
            if handler is None:
                print(USAGE)
                return None
            return handler(rest)
        except _UsageError as exc:
            print(exc, file=sys.stderr)
        except PyRunnerError as exc:
            return self._error(str(exc))
        return None

    def _expand(self, line: str, local_ns: dict[str, Any] | None) -> str:
        """The notebook's variables in the line (``{expression}``, ``$name``), as IPython
        expands any magic's line, except a sweep's own placeholders: in ``%pyrunner sweep ...
        --param rate=1,2 -- --rate {rate}``, ``{rate}`` is each run's value, also when the
        notebook has a variable ``rate``. ``local_ns``: the variables of the code that called
        the magic (a function's, inside one). A line that cannot be expanded is taken as written."""
        from IPython.utils.text import DollarFormatter

        swept = set(_SWEPT.findall(line)) if line.lstrip().startswith("sweep") else set()
        guarded = _PLACEHOLDER.sub(
            lambda m: "{" + m.group(0) + "}" if m.group(1) in swept else m.group(0), line
        )
        namespace = {**(self.shell.user_ns if self.shell is not None else {}), **(local_ns or {})}
        try:
            expanded = DollarFormatter().vformat(guarded, args=[], kwargs=namespace)
        except Exception:  # as IPython does: a line it cannot expand is left as it is
            return line
        return str(expanded)

    def _error(self, message: str) -> None:
        """One clear message, never a traceback from this code."""
        if self.rich:
            import html

            display(
                HTML(f"<div style='color:#c62828'><b>pyrunner:</b> {html.escape(message)}</div>")
            )
        else:
            print(f"pyrunner: {message}", file=sys.stderr)

    # -- run ---------------------------------------------------------------------------------
    def _run(self, words: list[str], source: str | None = None) -> RunResult | None:
        words, program_args = split_program_args(words)
        ns = _run_parser(cell=source is not None).parse_args(words)
        # the engine validates the options: its message is shown as any other (``_error``)
        executor = executor_for(dask_address(ns))
        spec = spec_from_options(source or ns.source, ns, program_args)
        handle = start_spec(spec, executor=executor)
        result = RunResult(handle)
        if ns.background:
            self._background(result)
        else:
            self._follow(result)
        # the run has been shown already: give it back only to a cell that keeps it
        # (``r = %pyrunner run ...``), so that a bare ``%pyrunner run`` does not show it twice
        return result if self._assigned() else None

    def _assigned(self) -> bool:
        cells = self.shell.user_ns.get("_ih") or [""] if self.shell is not None else [""]
        return bool(_ASSIGNED.search(cells[-1]))

    def _cell(self, words: list[str], body: str) -> RunResult | None:
        words, program_args = split_program_args(words)
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        folder = RunStore().home / "cells" / f"cell-{digest[:10]}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "main.py").write_text(body)
        return self._run([*words, "--", *program_args] if program_args else words, str(folder))

    def _follow(self, result: RunResult) -> RunResult:
        """Relay the log into the cell until the run ends; an interrupt cancels the run."""
        handle: RunHandle = result.handle
        bar = (
            display(_View(views.progress_html(result.record), ""), display_id=True)
            if self.rich
            else None
        )
        shown: tuple[Any, ...] = ()
        last_check = 0.0
        record = result.record

        def refresh(force: bool = False) -> None:
            nonlocal shown, last_check, record
            now = time.monotonic()
            if not force and now - last_check < STATUS_INTERVAL:
                return
            last_check = now
            record = handle.record
            if record.state != shown:
                shown = record.state
                if bar is not None:
                    bar.update(_View(views.progress_html(record), ""))
                elif not self.rich and record.progress is not None:
                    print(views.progress_text(record), file=sys.stderr)

        try:
            for chunk in handle.follow():
                if chunk.stream == "stdout":
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
                elif chunk.stream == "stderr":
                    sys.stderr.write(chunk.text)
                    sys.stderr.flush()
                elif not self.rich:
                    sys.stderr.write(chunk.text)
                refresh()
        except KeyboardInterrupt:
            self._stop(handle)
        refresh(force=True)
        record = handle.record
        if bar is not None:
            bar.update(_View(views.progress_html(record), ""))
        self._show_end(result, record)
        return result

    def _stop(self, handle: RunHandle) -> None:
        """The kernel was interrupted: cancel the run and wait until its processes are gone."""
        print("\npyrunner: interrupted, cancelling the run…", file=sys.stderr)
        handle.cancel_and_wait(30, keep_waiting_on_interrupt=True)

    def _show_end(self, result: RunResult, record: RunRecord) -> None:
        if self.rich:
            display(
                HTML(views.summary_html(record) + views.run_outputs_html(result, _download(result)))
            )
        else:
            print(views.summary_text(record))
            print(views.run_outputs_text(result))

    def _background(self, result: RunResult) -> RunResult:
        """Return at once; a display of the run updates itself until the run ends."""
        if not self.rich:
            print(f"pyrunner: run {result.id} started in the background", file=sys.stderr)
            return result
        shown = display(_View(views.progress_html(result.record), ""), display_id=True)

        def watch() -> None:
            try:
                follow()
            except Exception as exc:  # a thread's error must not land in whichever cell runs now
                shown.update(
                    _View(f"<i>pyrunner: stopped following {result.id}: {exc}</i>", str(exc))
                )

        def follow() -> None:
            for record in result.changes(STATUS_INTERVAL):
                body = views.progress_html(record) + views.summary_html(record)
                if record.status.is_terminal:
                    body = views.summary_html(record) + views.run_outputs_html(
                        result, _download(result)
                    )
                shown.update(_View(body, views.summary_text(record)))

        threading.Thread(target=watch, name=f"pyrunner-{result.id}", daemon=True).start()
        return result

    # -- sweep -------------------------------------------------------------------------------
    def _sweep(self, words: list[str]) -> SweepResult | None:
        """Submit one run per combination, show the table until every run has ended."""
        from ..cli.sweep import parse_params
        from ..sweeps import submit_sweep

        words, program_args = split_program_args(words)
        ns = _sweep_parser().parse_args(words)
        executor = executor_for(dask_address(ns))
        spec = spec_from_options(ns.source, ns, program_args)
        handle = submit_sweep(
            self.store, spec, parse_params(ns.params), parallel=ns.parallel, executor=executor
        )
        result = SweepResult(handle)
        self._watch_sweep(result)
        return result if self._assigned() else None

    def _watch_sweep(self, result: SweepResult) -> None:
        """Redraw the table in place while runs change; an interrupt cancels them all."""
        html, text = result.views()
        shown = display(_View(html, text), display_id=True) if self.rich else None
        try:
            while not result.done:
                time.sleep(STATUS_INTERVAL)
                html, text = result.views()
                if shown is not None:
                    shown.update(_View(html, text))
        except KeyboardInterrupt:
            self._stop_sweep(result)
        html, text = result.views()
        if shown is not None:
            shown.update(_View(html, text))
        else:  # a terminal IPython: the final table only
            print(text)

    def _stop_sweep(self, result: SweepResult) -> None:
        """The kernel was interrupted: cancel every run, wait until they have stopped (a
        second interrupt does not stop the wait, which is bounded)."""
        print("\npyrunner: interrupted, cancelling every run of the sweep…", file=sys.stderr)
        result.cancel()
        deadline = time.monotonic() + SWEEP_STOP_WAIT
        while time.monotonic() < deadline:
            try:
                result.wait(max(0.0, deadline - time.monotonic()))
                return
            except KeyboardInterrupt:
                continue
            except TimeoutError:
                break
        print("pyrunner: some runs did not stop in time; they are still being cancelled",
              file=sys.stderr)  # fmt: skip

    # -- other commands ------------------------------------------------------------------------
    def _show(self, words: list[str]) -> None:
        """One run's fields: where it ran (worker, dashboard), its sweep, its timings."""
        store, run_id, _ = self._one(words, "%pyrunner show")
        record, folder = store.get(run_id), store.run_dir(run_id)
        display(_View(views.details_html(record, folder), views.details_text(record, folder)))

    def _runs(self, words: list[str]) -> None:
        parser = _Parser(prog="%pyrunner runs")
        parser.add_argument("--limit", type=int, default=20)
        ns = parser.parse_args(words)
        records = self.store.list_runs(limit=ns.limit)
        display(_View(views.runs_html(records), views.runs_text(records)))

    def _one(self, words: list[str], prog: str) -> tuple[RunStore, str, argparse.Namespace]:
        parser = _Parser(prog=prog)
        parser.add_argument("run_id")
        if prog.endswith("outputs"):
            parser.add_argument("--copy-to")
        ns = parser.parse_args(words)
        store = self.store
        run_id = store.resolve_id(ns.run_id)
        store.read(run_id)
        return store, run_id, ns

    def _logs(self, words: list[str]) -> None:
        store, run_id, _ = self._one(words, "%pyrunner logs")
        for chunk in RunHandle(store, run_id).chunks():
            (sys.stdout if chunk.stream == "stdout" else sys.stderr).write(chunk.text)

    def _outputs(self, words: list[str]) -> RunResult | None:
        store, run_id, ns = self._one(words, "%pyrunner outputs")
        result = RunResult(RunHandle(store, run_id))
        if ns.copy_to:
            target = result.copy_to(ns.copy_to)
            print(f"outputs copied to {target}")
        display(
            _View(
                views.run_outputs_html(result, _download(result)),
                views.run_outputs_text(result),
            )
        )
        return result if self._assigned() else None

    def _cancel(self, words: list[str]) -> None:
        store, run_id, _ = self._one(words, "%pyrunner cancel")
        store.request_cancel(run_id)  # refused with a clear message for a run that has ended
        print(f"run {run_id}: {store.cancel_and_wait(run_id).status.value}")

    def _env(self, words: list[str]) -> None:
        if words[:1] != ["list"]:
            raise _UsageError(USAGE)
        from ..environments import EnvironmentManager

        infos = EnvironmentManager(self.store.home).list_envs()
        display(_View(views.envs_html(infos), views.envs_text(infos)))

    def _panel(self, words: list[str]) -> Any:
        from .panel import RunnerPanel

        panel = RunnerPanel()
        display(panel)
        return None


def _download(result: RunResult) -> str:
    from .result import download_url

    return download_url(result.id)
