"""``RunnerPanel``: an ipywidgets panel to pick a project, run it and watch it, in a notebook."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import ipywidgets as w

from ..errors import PyRunnerError
from ..handle import RunHandle
from ..projectfiles import ignored_dir_name
from ..sdk import start_run
from ..store import RunStore
from . import views
from .result import RunResult, download_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

UPLOAD_NOTE = (
    "Uploads through this panel travel inside kernel messages: keep them under about 10 MB. "
    "For bigger projects, put the zip in the workspace and choose it above (or use the "
    "JupyterLab Python Runner panel, which streams uploads to disk)."
)


def find_projects(folder: Path, depth: int = 2) -> list[str]:
    """Zips and folders holding Python files under ``folder`` (relative paths), for the chooser."""
    found: list[str] = []

    def walk(current: Path, level: int) -> None:
        try:
            entries = sorted(current.iterdir())
        except OSError:
            return
        if current != folder and any(e.suffix == ".py" for e in entries if e.is_file()):
            found.append(str(current.relative_to(folder)) + "/")
        for entry in entries:
            if ignored_dir_name(entry.name):  # the folders intake skips, for the same reasons
                continue
            if entry.is_file() and entry.suffix.lower() == ".zip":
                found.append(str(entry.relative_to(folder)))
            elif entry.is_dir() and level < depth:
                walk(entry, level + 1)

    walk(folder, 0)
    return found


class RunnerPanel(w.VBox):
    """Choose or upload a project, set inputs, arguments and a time limit, run it, watch the
    live log and progress, browse the outputs; re-open recent runs."""

    max_log_lines = 500

    def __init__(self, folder: str | None = None, home: str | None = None, **kwargs: Any) -> None:
        self.folder = Path(folder or ".").absolute()
        self.home = home
        self.store = RunStore(home)
        self.result: RunResult | None = None
        self._lines: collections.deque[tuple[str, str]] = collections.deque(
            maxlen=self.max_log_lines
        )
        self._dropped = False
        self._watcher: threading.Thread | None = None
        self._generation = 0  # the run being shown; an older watcher thread stops on a change
        self._uploaded_paths: list[str] = []
        self._make_choosers()
        self._make_run_controls()
        self._make_results()
        self._connect()
        super().__init__(self._rows(), **kwargs)
        self.refresh()

    def _make_choosers(self) -> None:
        """What to run: the project, an upload, inputs, arguments and a time limit."""
        self.source = w.Dropdown(description="Project", options=[], layout=w.Layout(width="60%"))
        self.refresh_button = w.Button(
            description="Refresh", icon="refresh", layout=w.Layout(width="auto")
        )
        self.upload = w.FileUpload(accept=".zip", multiple=False, description="Upload zip")
        self.upload_note = w.HTML(f"<small>{UPLOAD_NOTE}</small>")
        self.inputs = w.Text(
            description="Inputs", placeholder="paths, comma-separated (ports 2 to 5)"
        )
        self.args = w.Text(description="Arguments", placeholder="passed to the program")
        self.timeout = w.BoundedFloatText(description="Timeout (s)", value=0, min=0, max=7 * 86400)

    def _make_run_controls(self) -> None:
        """Run and Cancel, the status line and the progress bar."""
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = w.Button(
            description="Cancel", button_style="warning", icon="stop", disabled=True
        )
        self.status = w.HTML("")
        self.progress = w.FloatProgress(value=0, min=0, max=1, layout=w.Layout(width="50%"))

    def _make_results(self) -> None:
        """The live log, the outputs, copying them, and the recent runs."""
        self.log_view = w.Output(
            layout=w.Layout(max_height="320px", overflow="auto", border="1px solid #ddd")
        )
        self.full_log = w.Button(
            description="Show full log", layout=w.Layout(width="auto"), disabled=True
        )
        self.outputs = w.HTML("")
        self.copy_target = w.Text(
            description="Copy to", placeholder="a folder of the workspace", value="outputs"
        )
        self.copy_button = w.Button(description="Copy to workspace", icon="copy", disabled=True)
        self.history = w.Dropdown(description="Recent", options=[], layout=w.Layout(width="60%"))
        self.open_button = w.Button(description="Open", layout=w.Layout(width="auto"))

    def _connect(self) -> None:
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.run_button.on_click(lambda _b: self.run())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.full_log.on_click(lambda _b: self.show_full_log())
        self.copy_button.on_click(lambda _b: self.copy_outputs())
        self.open_button.on_click(
            lambda _b: self.open_run(self.history.value) if self.history.value else None
        )
        self.upload.observe(self._uploaded, names="value")

    def _rows(self) -> list[w.Widget]:
        return [
            w.HBox([self.source, self.refresh_button]),
            w.HBox([self.upload, self.upload_note]),
            self.inputs,
            self.args,
            self.timeout,
            w.HBox([self.run_button, self.cancel_button]),
            w.HBox([self.status, self.progress]),
            self.log_view,
            self.full_log,
            self.outputs,
            w.HBox([self.copy_target, self.copy_button]),
            w.HBox([self.history, self.open_button]),
        ]

    # -- choosing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        chosen = self.source.value
        self.source.options = [*self._uploaded_paths, *find_projects(self.folder)]
        if chosen in self.source.options:
            self.source.value = chosen
        self.history.options = [
            (f"{r.id} · {r.name} · {r.status.value}", r.id) for r in self.store.list_runs(limit=15)
        ]

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = Path(item["name"]).name
        target_dir = self.store.home / "panel-uploads"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / name
        target.write_bytes(bytes(item["content"]))
        if str(target) not in self._uploaded_paths:
            self._uploaded_paths.insert(0, str(target))
        self.refresh()
        self.source.value = str(target)

    # -- running -------------------------------------------------------------------------------
    def run(self) -> RunResult | None:
        """Start the chosen project (the Run button); returns at once."""
        if not self.source.value:
            self._message("Choose or upload a project first.")
            return None
        source = Path(self.source.value)
        if not source.is_absolute():
            source = self.folder / source
        inputs = [p.strip() for p in self.inputs.value.split(",") if p.strip()]
        import shlex

        try:
            args = shlex.split(self.args.value)
            handle = start_run(
                source,
                inputs=[str(self.folder / p) for p in inputs],
                args=args,
                timeout=self.timeout.value or None,
                home=self.home,
            )
        except (PyRunnerError, ValueError) as exc:
            self._message(str(exc))
            return None
        self._attach(RunResult(handle))
        return self.result

    def open_run(self, run_id: str) -> RunResult:
        """Show an earlier (or running) run: its log, progress and outputs."""
        self._attach(RunResult(RunHandle(self.store, run_id)))
        assert self.result is not None
        return self.result

    def cancel(self) -> None:
        if self.result is not None and not self.result.done:
            try:
                self.result.cancel()
            except PyRunnerError as exc:
                self._message(str(exc))

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Block until the shown run has ended and the panel has caught up (for scripts)."""
        if self._watcher is not None:
            self._watcher.join(timeout)
        return self.result

    def copy_outputs(self) -> Path | None:
        """Copy the shown run's outputs into the chosen folder of the workspace."""
        if self.result is None:
            return None
        target = Path(self.copy_target.value.strip() or "outputs")
        if not target.is_absolute():
            target = self.folder / target
        try:
            copied = self.result.copy_to(target)
        except OSError as exc:
            self._message(f"cannot copy the outputs: {exc}")
            return None
        import html

        self.status.value += f" <span>copied to <code>{html.escape(str(copied))}</code></span>"
        return copied

    def show_full_log(self, limit: int = 10 * 1024 * 1024) -> None:
        """The whole log in the log area (its first ``limit`` bytes for a huge one)."""
        if self.result is None:
            return
        from ..logfile import LOG_NAME, log_size

        text = self.result.log_text(limit)
        if log_size(self.result.run_dir) > limit:
            text += f"\n… (the log goes on: it is in {self.result.run_dir / LOG_NAME})\n"
        self.log_view.outputs = ()
        self.log_view.append_stdout(text)

    # -- following -----------------------------------------------------------------------------
    def _message(self, text: str) -> None:
        import html

        self.status.value = f"<span style='color:#c62828'>{html.escape(text)}</span>"

    def _attach(self, result: RunResult) -> None:
        self._generation += 1
        self.result = result
        self._lines.clear()
        self._dropped = False
        self.log_view.outputs = ()
        self.outputs.value = ""
        self.full_log.disabled = True
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        self._watcher = threading.Thread(
            target=self._follow, args=(result, self._generation), daemon=True
        )
        self._watcher.start()

    def _append(self, stream: str, text: str) -> None:
        """Keep the last ``max_log_lines`` lines in the browser, whatever the flood."""
        for line in text.splitlines(keepends=True):
            if len(self._lines) == self._lines.maxlen:
                self._dropped = True
            self._lines.append((stream, line))
        if self._dropped:
            tail = "".join(line for _, line in self._lines)
            self.log_view.outputs = (
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": "… (earlier lines: Show full log)\n" + tail,
                },
            )
        elif stream == "stderr":
            self.log_view.append_stderr(text)
        else:
            self.log_view.append_stdout(text)

    def _show(self, record: Any) -> None:
        self.status.value = views.badge(record.status) + (
            f" {views.duration_text(record.duration)}" if record.started else ""
        )
        if record.progress is not None:
            self.progress.value = record.progress
            self.progress.bar_style = ""
        elif not record.status.is_terminal:
            self.progress.bar_style = "info"

    def _follow(self, result: RunResult, generation: int) -> None:
        last = 0.0
        current = lambda: generation == self._generation  # noqa: E731
        try:
            for chunk in result.handle.follow():
                if not current():
                    return  # another run is shown now
                if chunk.stream in ("stdout", "stderr"):
                    self._append(chunk.stream, chunk.text)
                now = time.monotonic()
                if now - last > 0.25:
                    last = now
                    self._show(result.record)
        except PyRunnerError as exc:  # the run was deleted meanwhile, say
            if current():
                self._message(str(exc))
            return
        finally:
            if current():
                self._finish_view(result)

    def _finish_view(self, result: RunResult) -> None:
        try:
            record = result.record
        except PyRunnerError as exc:
            self._message(str(exc))
            return
        self._show(record)
        if record.status.value == "succeeded":
            self.progress.value = 1.0
            self.progress.bar_style = "success"
        elif record.status.is_terminal:
            self.progress.bar_style = "danger"
        self.outputs.value = views.summary_html(record) + views.run_outputs_html(
            result, download_url(result.id)
        )
        self.full_log.disabled = False
        self.copy_button.disabled = False
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        self.refresh()
