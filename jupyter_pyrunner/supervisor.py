"""The supervisor: owns one run from environment to exit, and writes down everything.

It builds or reuses the environment, starts the program in its own session with the oSparc
variables, captures stdout and stderr in chunks (never line by line) into the run log, reads
progress lines, enforces timeout, memory limit and cancel by stopping the whole process tree, and
records the outcome. It runs inside the caller (the CLI) or as a detached process
(``python -m jupyter_pyrunner.supervisor``) that outlives whoever started the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from . import process_tree
from .argfolders import expand_folders
from .capture import OutputCapture, OutputSink
from .environments import Environment, EnvironmentManager, EnvSpec
from .errors import BuildCancelled, EnvironmentBuildError, PyRunnerError
from .faults import disk_full_message, is_unwritable, reserve_end
from .hostenv import Role, host_environment, program_environment
from .interpreters import Interpreter
from .limits import Limits, child_setup, final_outcome, run_cgroup
from .liveness import process_identity
from .logfile import SYSTEM, LogWriter
from .models import RunRecord, RunStatus
from .provenance import write_provenance
from .store import RunStore

TYPE_CHECKING = False  # typing costs milliseconds at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from .cgroups import MemoryCgroup

__all__ = ["OutputSink", "Supervisor", "main"]

PROGRESS_SAVE_INTERVAL = 0.2
CHECK_INTERVAL = 0.1
KILL_GRACE = 2.0
#: over the memory limit, the program has this long to end after SIGTERM
MEMORY_GRACE = 0.5
#: after the program exits, how long a descendant may keep its output open before it is stopped
LINGER = 0.5
#: how many times the ending is written when not even its reserve takes it (a second apart, more)
END_ATTEMPTS = 4


class Supervisor:
    """Takes a prepared run (status ``queued``, project in ``input_1``) to its end.

    ``subreaper`` is for a process dedicated to the run (the CLI, a detached supervisor): it
    adopts the run's orphaned daemons, which makes them cheap to find and lets it collect them.
    A long-lived host (a kernel, a server) leaves it off.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        sink: OutputSink | None = None,
        envs: EnvironmentManager | None = None,
        base_env: dict[str, str] | None = None,
        on_status: Callable[[RunRecord], None] | None = None,
        subreaper: bool = False,
        on_cluster: bool = False,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.run_dir = store.run_dir(run_id)
        self.sink = sink
        self.envs = envs or EnvironmentManager(store.home)
        self.base_env = dict(os.environ) if base_env is None else base_env
        self.on_status = on_status
        self.subreaper = subreaper and process_tree.become_subreaper()
        #: a Dask worker runs it: the scheduler has placed it by its resources
        self.on_cluster = on_cluster
        self._interrupted = False
        self._last_cancel_check = 0.0
        self._capture: OutputCapture | None = None
        #: the run's cgroup while its program runs (every process of the run is in it)
        self._cgroup: MemoryCgroup | None = None
        self._project: Path | None = None

    def _project_dir(self) -> Path:
        """The run's project folder (its place depends on the layout, read once)."""
        if self._project is None:
            self._project = self.store.project_dir(self.run_id)
        return self._project

    def _update(self, **changes: Any) -> RunRecord:
        """Change the record as the run goes; on a full disk the change stays unwritten and the
        run goes on (its ending is written defensively: see :meth:`_end`)."""
        try:
            record = self.store.update(self.run_id, **changes)
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            record = self.store.read(self.run_id)
            for key, value in changes.items():
                setattr(record, key, value)
        if self.on_status is not None and changes.keys() & {"status", "progress", "message"}:
            self.on_status(record)
        return record

    def _say(self, log: LogWriter, message: str) -> None:
        """An engine message: into the log, and to the caller's terminal when there is one.

        It starts a line of its own: after a progress bar's ``\\r`` or an unfinished line of
        the program, a line break comes first (in the log and the sink alike, which get the
        same bytes in the same order)."""
        text = f"pyrunner: {message}"
        if self._capture is not None and self._capture.mid_line:
            text = "\n" + text
            self._capture.mid_line = False
        log.system(text)
        if self.sink is not None:
            self.sink(SYSTEM, (text + "\n").encode())

    # -- cancel ------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Cancel from within this process (a signal handler may call it)."""
        self._interrupted = True

    def _cancelled(self) -> bool:
        if self._interrupted:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= CHECK_INTERVAL:
            self._last_cancel_check = now
            self._interrupted = self.store.cancel_requested(self.run_id)
        return self._interrupted

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> RunRecord:
        claimed = self.store.claim(self.run_id, process_identity())
        if claimed is None:  # cancelled (or taken) before it could start
            return self.store.get(self.run_id)
        record = claimed
        reserve_end(self.run_dir)  # room for its ending, should the disk fill up (see faults)
        if self.on_status is not None:
            self.on_status(record)
        with LogWriter(self.run_dir) as log:
            try:
                record = self._run(record, log)
            except KeyboardInterrupt:
                # interrupted while preparing (a kernel's stop button): nothing may keep running
                with contextlib.suppress(OSError):
                    self._say(log, "interrupted")
                self._stop_everything()
                record = self._finish(record, RunStatus.CANCELLED, message="interrupted")
            except BaseException as exc:
                if is_unwritable(exc):
                    # the disk filled up (the log, most likely): the run cannot go on. Nothing
                    # more goes into the log, where writing failed; what is in it stays
                    why = getattr(exc, "strerror", None) or str(exc)
                    self._stop_everything()
                    message = f"the run could not go on ({why}) and was stopped"
                    return self._finish(
                        record, RunStatus.FAILED, message=disk_full_message(message)
                    )
                # the engine itself failed: say so in the record rather than leave it running
                message = str(exc) if isinstance(exc, PyRunnerError) else f"internal error: {exc!r}"
                with contextlib.suppress(OSError):
                    self._say(log, message)
                self._stop_everything()
                record = self._finish(record, RunStatus.ERROR, message=message)
                if not isinstance(exc, PyRunnerError):
                    raise
            finally:
                if self.subreaper:
                    process_tree.reap_orphans(skip=self.envs.helper_pids)
        return record

    def _stop_everything(self) -> None:
        self._kill(None, None, grace=0.5)

    def _kill(
        self, root_pid: int | None, pgid: int | None, grace: float, skip: Iterable[int] = ()
    ) -> None:
        """Stop the run's processes (:func:`.process_tree.kill_run`). A subreaper supervisor's
        descendants are all the run's, but for its own helpers (an environment's bytecode
        compiler): a daemon that dropped the run's variables is found too. ``skip``: pids not
        to reap (a ``Popen`` child, waited for by its owner)."""
        helpers = self.envs.helper_pids
        process_tree.kill_run(
            self.run_id,
            root_pid,
            pgid,
            grace=grace,
            skip=[*skip, *helpers],
            everywhere=not self.subreaper,
            reap=self.subreaper,
            spare=helpers,
        )
        if self._cgroup is not None:  # whatever is still in the run's cgroup is the run's
            self._cgroup.stop(grace)

    def _run(self, record: RunRecord, log: LogWriter) -> RunRecord:
        spec = record.spec
        t0 = time.time()
        if record.requirements_source == "inferred":
            shown = ", ".join(record.requirements) or "nothing to install"
            self._say(log, f"no requirements given; inferred from the imports: {shown}")
        try:
            interpreter = Interpreter.find(spec.python, record.requires_python)
            installer_env = host_environment(Role.INSTALLER, spec.env_deny, self.base_env)
            installer_env[process_tree.MARKER_VAR] = self.run_id  # its leftovers are the run's
            from .pipconfig import index_key, index_summary

            settings = self.envs.installer_settings(installer_env)  # pip's index too
            env_spec = EnvSpec(
                tuple(record.requirements),
                interpreter,
                spec.system_site_packages,
                index_key(settings),
            )
            index = index_summary(settings)
            with self.envs.acquire(
                env_spec,
                log=log.system,
                should_stop=self._cancelled,
                on_build=lambda: self._building(log, index),
                installer_env=installer_env,
                on_wait=self._waiting,
                cover=record.requirements_source == "inferred",
            ) as (env, built):
                env_seconds = time.time() - t0
                if built:
                    self._say(log, f"environment {env.key} built in {env_seconds:.1f} s")
                site = self._install_project(record, env, log, installer_env)
                record = self._update(
                    message=None,
                    env_key=env.key,
                    python=interpreter.path,
                    timings={**record.timings, "environment": round(time.time() - t0, 4)},
                )
                if self._cancelled():
                    return self._finish(
                        record, RunStatus.CANCELLED, message="cancelled before start"
                    )
                return self._execute(record, env.python, env.path, log, site)
        except BuildCancelled:
            return self._finish(record, RunStatus.CANCELLED, message="cancelled while preparing")
        except EnvironmentBuildError as exc:
            explained = self._explain_build_failure(record, exc.details)
            self._say(log, explained or f"{exc}")
            return self._finish(
                record,
                RunStatus.ERROR,
                message=f"could not build the environment: {explained or exc}",
                error_details=exc.details,
            )

    def _building(self, log: LogWriter, index: str | None) -> None:
        """The environment is being built: the record says so, and the log says from which
        package index when it is not the public one (credentials masked)."""
        if index:
            self._say(log, f"building the environment from {index}")
        self._update(message="building the environment")

    def _waiting(self, message: str) -> None:
        """Another run is building the environment this one needs: the record says so."""
        self._update(message=message)

    def _install_project(
        self, record: RunRecord, env: Environment, log: LogWriter, installer_env: dict[str, str]
    ) -> Path | None:
        """The project itself, when its pyproject makes it installable, installed for this
        run only (beside the shared environment); the folder for the program's path."""
        if record.install_project is None:
            return None
        from .projectinstall import SITE_NAME, install_project

        return install_project(
            self.envs,
            env,
            self._project_dir(),
            record.install_project,
            self.run_dir / SITE_NAME,
            log=log.system,
            should_stop=self._cancelled,
            installer_env=installer_env,
            run_id=self.run_id,
        )

    def _explain_build_failure(self, record: RunRecord, details: str | None) -> str | None:
        """When a requirement cannot be had from the index, a message naming it (and, when it
        was guessed, the import it came from) and how to give the right one; else None."""
        from .inference import explain_unresolved, infer_with_origins

        origins = None
        if record.requirements_source == "inferred":
            found = infer_with_origins(
                self._project_dir(),
                cache_dir=self.store.home / "cache" / "inference",
            )
            origins = dict(found)
        return explain_unresolved(details or "", list(record.requirements), origins)

    def _execute(
        self,
        record: RunRecord,
        python: Path,
        env_path: Path,
        log: LogWriter,
        site: Path | None = None,
    ) -> RunRecord:
        spec = record.spec
        env = program_environment(self.base_env, self.store.run_dir(self.run_id), record, env_path)
        if site is not None:  # the project itself, installed for this run only
            env["PYTHONPATH"] = str(site)
        if spec.resources and not self.on_cluster:
            asked = ", ".join(f"{name}={amount:g}" for name, amount in spec.resources.items())
            self._say(log, f"note: {asked} is asked of Dask workers; here, nothing checks it")
        memory = spec.memory_mb * 1024 * 1024 if spec.memory_mb else None
        cgroup = self._cgroup = run_cgroup(self.run_id, memory)
        try:
            return self._start_and_supervise(record, python, env, log, memory, cgroup)
        except BaseException:
            self._remove_cgroup(cgroup, log)
            raise
        finally:
            self._cgroup = None

    def _remove_cgroup(self, cgroup: MemoryCgroup | None, log: LogWriter) -> None:
        """No cgroup outlives its run (its processes are stopped by now)."""
        if cgroup is not None and not cgroup.remove():
            self._say(log, f"warning: the run's cgroup {cgroup.path} could not be removed")

    def _snapshot(self, log: LogWriter) -> None:
        """Note the files beside the code before the program starts, so those it writes
        there are found afterwards; a failure costs that list, never the run."""
        try:
            from .workfiles import take_snapshot

            take_snapshot(self._project_dir(), self.run_dir)
        except OSError as exc:
            self._say(log, f"warning: the files beside the code could not be listed: {exc}")

    def _start_and_supervise(
        self,
        record: RunRecord,
        python: Path,
        env: dict[str, str],
        log: LogWriter,
        memory: int | None,
        cgroup: MemoryCgroup | None,
    ) -> RunRecord:
        spec = record.spec
        project = self._project_dir()
        assert record.entry is not None and record.workdir is not None
        args = expand_folders(spec.args, env)  # $OUTPUT_FOLDER...: the run's own folders
        self._snapshot(log)
        t0 = time.time()
        proc = subprocess.Popen(
            [str(python), str(project / record.entry), *args],
            cwd=project / record.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=child_setup(cgroup),
        )
        if cgroup is not None and not cgroup.holds(proc.pid):
            self._remove_cgroup(cgroup, log)
            cgroup = self._cgroup = None  # it could not join: the watcher measures it instead
        record = self._update(
            status=RunStatus.RUNNING,
            pid=proc.pid,
            pid_start=process_tree.process_start_time(proc.pid),
            timings={**record.timings, "start": round(t0 - (record.started or t0), 4)},
        )
        limits = Limits(spec.timeout, memory, spec.memory_mb, cgroup if memory else None)
        try:
            outcome, message = self._pump(record, proc, log, limits)
        finally:
            returncode = proc.wait() if proc.poll() is not None else self._kill_now(proc)
        run_seconds = time.time() - t0
        # the program is done: whatever it left behind goes too (an orphan of the run was
        # re-parented to a subreaper supervisor, so its own descendants are enough to look at)
        self._kill(None, proc.pid, grace=0.5)
        outcome, message, exit_code = self._outcome(outcome, message, returncode, limits, log)
        self._remove_cgroup(cgroup, log)
        return self._finish(
            record,
            outcome,
            message=message,
            exit_code=exit_code,
            timings={**record.timings, "run": round(run_seconds, 4)},
        )

    def _outcome(
        self,
        stopped: RunStatus | None,
        why: str | None,
        returncode: int,
        limits: Limits,
        log: LogWriter,
    ) -> tuple[RunStatus, str | None, int]:
        """The run's status, message and exit code (:func:`.limits.final_outcome`); a program the
        kernel killed at the memory cgroup's limit was stopped by that limit."""
        if stopped is None and limits.cgroup is not None and limits.cgroup.oom_killed():
            stopped, why = RunStatus.FAILED, limits.memory_message()
            self._say(log, why)
        return final_outcome(stopped, why, returncode)

    def _kill_now(self, proc: subprocess.Popen[bytes]) -> int:
        self._kill(proc.pid, proc.pid, grace=0.2, skip=[proc.pid])
        return proc.wait()

    def _pump(
        self, record: RunRecord, proc: subprocess.Popen[bytes], log: LogWriter, limits: Limits
    ) -> tuple[RunStatus | None, str | None]:
        """Relay output until the program has ended (or was stopped); returns (status, reason).

        The loop lives as long as the program does, not as long as its output pipes: a program
        that closes its stdout and stderr is still timed, cancelled and measured.
        """
        capture = self._capture = OutputCapture(proc, log, self.sink)
        saved_progress: float | None = None
        last_save = last_check = 0.0
        outcome: tuple[RunStatus, str] | None = None
        exited_at: float | None = None
        try:
            while True:
                try:
                    capture.pump(CHECK_INTERVAL)
                except KeyboardInterrupt:  # Ctrl-C or a kernel interrupt in this thread: cancel
                    self._interrupted = True
                now = time.monotonic()
                if capture.progress != saved_progress and now - last_save >= PROGRESS_SAVE_INTERVAL:
                    self._update(progress=capture.progress)
                    saved_progress, last_save = capture.progress, now
                if now - last_check < CHECK_INTERVAL and capture.open:
                    continue
                last_check = now
                if proc.poll() is not None:  # the program has ended: its outcome is its own
                    if not capture.open:
                        break
                    exited_at = exited_at or now
                    if self._linger_over(proc, now - exited_at):
                        break
                    continue
                if outcome is None:
                    outcome = self._limit_reached(limits, proc, now)
                    if outcome is not None:
                        self._say(log, outcome[1])
                        # over the memory limit, every moment counts: a short grace
                        grace = KILL_GRACE if outcome[0] is not RunStatus.FAILED else MEMORY_GRACE
                        self._stop_program(proc, grace=grace)
        finally:
            progress = capture.close()
        if progress != saved_progress:
            self._update(progress=progress)
        return outcome if outcome is not None else (None, None)

    def _limit_reached(
        self, limits: Limits, proc: subprocess.Popen[bytes], now: float
    ) -> tuple[RunStatus, str] | None:
        """Cancel, the time limit or the memory limit, whichever applies first: (status, why)."""
        if self._cancelled():
            reason = self.store.stop_reason(self.run_id)  # a stop that is no user's cancel
            return (RunStatus.FAILED, reason) if reason else (RunStatus.CANCELLED, "cancelled")
        if limits.timed_out(now):
            return RunStatus.TIMED_OUT, f"stopped after the time limit of {limits.timeout:g} s"
        over = limits.memory_exceeded(
            now,
            lambda: process_tree.tree_memory(
                self.run_id,
                proc.pid,
                proc.pid,
                everywhere=not self.subreaper,
                spare=self.envs.helper_pids,
            ),
        )
        return (RunStatus.FAILED, over) if over is not None else None

    def _linger_over(self, proc: subprocess.Popen[bytes], since_exit: float) -> bool:
        """The program has ended but a descendant still holds its output open: give it
        ``LINGER`` seconds, then stop it and drain the pipes; True when nothing more will come."""
        if since_exit <= LINGER:
            return False
        self._kill(None, proc.pid, grace=0.2)
        return since_exit > LINGER + 3.0

    def _stop_program(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        """SIGTERM to every process of the run, ``grace`` seconds, then SIGKILL."""
        self._kill(proc.pid, proc.pid, grace=grace, skip=[proc.pid])

    # -- endings -----------------------------------------------------------------------------
    def _finish(self, record: RunRecord, status: RunStatus, **changes: Any) -> RunRecord:
        """Copy the outputs, write the provenance, then set the final status (in that order,
        so whoever sees the run ended finds everything in place)."""
        record = self.store.read(self.run_id)
        finished = time.time()
        timings = dict(changes.pop("timings", record.timings))
        timings["total"] = round(finished - (record.started or record.created), 4)
        if status is RunStatus.SUCCEEDED and record.progress is not None:
            changes.setdefault("progress", 1.0)
        warnings = list(record.warnings)
        problem = self._copy_outputs(record)
        if problem:
            warnings.append(problem)
        final = {"status": status, "finished": finished, "timings": timings, **changes}
        write_provenance(self.run_dir, record, final, self.envs)
        return self._end(warnings=warnings, **final)

    def _end(self, **final: Any) -> RunRecord:
        """Write the run's ending, defensively (``RunStore.save_ending``): on a full disk the
        message says so and the ending (status, the program's exit code, the cause) goes over
        the end reserve made when the run started, which needs no new space; readers see it at
        once and the server's housekeeping copies it into the record once there is room.
        Should not even that be possible, it tries again for a few seconds. A run someone
        else has ended meanwhile (a Dask relay, for a worker it took for lost) keeps that
        ending: an ending is never written over."""
        for attempt in range(END_ATTEMPTS):
            with self.store.locked(self.run_id):
                record = self.store.read(self.run_id)
                if record.status.is_terminal:  # ended by its relay (the worker was lost)
                    break
                for key, value in final.items():
                    setattr(record, key, value)
                kept = self.store.save_ending(record)
            if kept != "lost":
                break
            time.sleep(attempt + 1)
        if self.on_status is not None:
            self.on_status(record)
        return record

    def _copy_outputs(self, record: RunRecord) -> str | None:
        target = record.spec.output_dir
        if not target:
            return None
        from .outputs import copy_outputs
        from .workfiles import ProjectFiles

        try:
            project_files = ProjectFiles.of_run(self.store, self.run_id)
            copied = copy_outputs(self.store.outputs_dir(self.run_id), Path(target), project_files)
        except (OSError, ValueError) as exc:  # OutputsReplacedError is one; a bad name
            return f"the outputs could not be copied to {target}: {exc}"
        return copied.problem(to=target)  # None when every file was copied


def main(argv: list[str] | None = None) -> int:
    """Entry point of a detached supervisor: ``python -m jupyter_pyrunner.supervisor HOME ID``."""
    args = sys.argv[1:] if argv is None else argv
    home, run_id = args[0], args[1]
    store = RunStore(home)
    supervisor = Supervisor(store, run_id, subreaper=True)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.interrupt())
    signal.signal(signal.SIGINT, lambda *_: supervisor.interrupt())
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
