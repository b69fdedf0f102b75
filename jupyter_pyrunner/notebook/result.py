"""What ``r = %pyrunner run ...`` gives the next cell: a run, its log and its outputs; and
``s = %pyrunner sweep ...``: a sweep and its table."""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..handle import RunHandle
from ..outputs import copy_outputs, open_output
from ..sweephandle import SweepHandle
from ..workfiles import ProjectFiles
from . import views

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any


def download_url(run_id: str) -> str:
    """The server extension's zip of a run's outputs, relative to the Jupyter server's root."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return f"{prefix.rstrip('/')}/pyrunner/api/runs/{run_id}/outputs.zip?download=1"


class RunResult(RunHandle):
    """A run seen from a notebook: a ``RunHandle`` (``status``, ``exit_code``, ``outputs_dir``,
    ``log``, ``outputs``, ``project_files``, ``wait()``, ``cancel()``) that can also ``open``
    and ``copy_to`` its outputs, and displays as a summary and an outputs browser (both
    sections: ``OUTPUT_FOLDER``'s files and those written beside the code)."""

    def __init__(self, handle: RunHandle) -> None:
        super().__init__(handle.store, handle.id)

    @property
    def handle(self) -> RunHandle:
        return self

    def open(self, path: str, mode: str = "r", *, project: bool = False, **kwargs: Any) -> IO[Any]:
        """Open one output file for reading, as text (``mode="r"``, ``kwargs`` as for
        ``io.TextIOWrapper``: ``encoding``, ``errors``, ``newline``) or bytes (``"rb"``);
        with ``project=True``, one of ``project_files``, the files written beside the code.
        ``..``, links and special files are refused, and no link the program swaps in is
        followed (the file is opened step by step from the run's folder)."""
        if mode not in ("r", "rt", "rb"):
            raise ValueError(f"outputs are opened for reading ('r' or 'rb'), not {mode!r}")
        if project:
            raw = ProjectFiles.of_run(self.store, self.id).open(path)
        else:
            raw = open_output(self.outputs_dir, path)
        return raw if mode == "rb" else io.TextIOWrapper(raw, **kwargs)

    def copy_to(self, folder: str | os.PathLike[str]) -> Path:
        """Copy every output into ``folder`` (created if needed, merged into if it exists);
        returns it. The files written beside the code go into its ``project/`` folder. Links
        the program left among its outputs are skipped; if it replaced its whole output folder
        by a link, nothing is copied and ``OSError`` is raised."""
        target = Path(folder).expanduser().absolute()
        copy_outputs(self.outputs_dir, target, ProjectFiles.of_run(self.store, self.id))
        return target

    def __repr__(self) -> str:
        return views.summary_text(self.record)

    def _repr_html_(self) -> str:
        record = self.record
        if not record.status.is_terminal:
            return views.progress_html(record) + views.summary_html(record)
        return views.summary_html(record) + views.run_outputs_html(self, download_url(self.id))


class SweepResult(SweepHandle):
    """What ``s = %pyrunner sweep ...`` gives the next cell: a ``SweepHandle`` (``runs``,
    ``rows()``, ``table()``, ``wait()``, ``cancel()``, ``done``) that displays as the sweep's
    table."""

    def __init__(self, handle: SweepHandle) -> None:
        super().__init__(handle.store, handle.id)

    @property
    def handle(self) -> SweepHandle:
        return self

    def views(self) -> tuple[str, str]:
        """The table now: (HTML, text)."""
        from ..sweephandle import summary_text

        rows, names = self.rows(), list(self.params)
        counts: dict[str, int] = {}
        for row in rows:  # counted from the same reading as the rows
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = summary_text(counts)
        return (
            views.sweep_html(self.id, names, rows, summary),
            views.sweep_text(self.id, names, rows, summary),
        )

    def __repr__(self) -> str:
        return self.views()[1]

    def _repr_html_(self) -> str:
        return self.views()[0]
