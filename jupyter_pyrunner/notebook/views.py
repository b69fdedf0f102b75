"""HTML and text views of runs and their outputs, for notebooks (rich) and terminals (plain).

Pure functions of records and files: the magic, the result object and the widget panel all
render through here.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import re
import time
from pathlib import Path

from ..humanize import duration_text, facts_text, record_facts, runs_table, size_text
from ..models import RunRecord, RunStatus
from ..outputs import OutputFile, is_utf8_name, shown_name

__all__ = ["duration_text", "size_text"]  # re-exported for the faces

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..handle import RunHandle
    from ..workfiles import ProjectFiles

PREVIEW_IMAGE_BYTES = 2 * 1024 * 1024
PREVIEW_TEXT_BYTES = 20_000
PREVIEW_TABLE_ROWS = 10
PREVIEW_TABLE_BYTES = 64 * 1024
PREVIEW_TABLE_COLUMNS = 30
PREVIEW_CELL_CHARS = 200
#: previews stop once this much has been embedded; more files are listed, not previewed
PREVIEW_TOTAL_BYTES = 8 * 1024 * 1024
LISTED_FILES = 500
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/svg+xml"}
TEXT_SUFFIXES = {".txt", ".log", ".md", ".json", ".py", ".yaml", ".yml", ".toml", ".ini", ".cfg"}

STATUS_COLOURS = {
    RunStatus.QUEUED: "#757575",
    RunStatus.PREPARING: "#1976d2",
    RunStatus.RUNNING: "#1976d2",
    RunStatus.SUCCEEDED: "#2e7d32",
    RunStatus.FAILED: "#c62828",
    RunStatus.CANCELLED: "#ef6c00",
    RunStatus.TIMED_OUT: "#ef6c00",
    RunStatus.ERROR: "#c62828",
}


def badge(status: RunStatus) -> str:
    colour = STATUS_COLOURS.get(status, "#757575")
    return (
        f'<span class="pyrunner-badge" style="background:{colour};color:white;border-radius:3px;'
        f'padding:1px 6px;font-size:90%">{html.escape(status.value)}</span>'
    )


def progress_html(record: RunRecord) -> str:
    """A progress bar: indeterminate while preparing, the program's own progress after."""
    label = record.message or record.status.value
    if record.status is RunStatus.PREPARING and record.message:
        label = record.message
    if record.progress is not None:
        value = f'value="{record.progress:.3f}" max="1"'
        label = f"{label} · {record.progress:.0%}"
    elif record.status.is_terminal:
        value = 'value="1" max="1"'
    else:
        value = ""  # indeterminate
    return (
        f'<div class="pyrunner-progress">{badge(record.status)} '
        f'<progress {value} style="width:40%;vertical-align:middle"></progress> '
        f"<span>{html.escape(label)}</span></div>"
    )


def progress_text(record: RunRecord) -> str:
    if record.progress is None:
        return f"[{record.status.value}] {record.message or ''}".rstrip()
    filled = int(record.progress * 30)
    return f"[{record.status.value}] [{'#' * filled}{'.' * (30 - filled)}] {record.progress:.0%}"


def summary_html(record: RunRecord) -> str:
    parts = [badge(record.status)]
    if record.exit_code is not None:
        parts.append(f"exit code {record.exit_code}")
    parts.append(duration_text(record.duration))
    if record.message and record.status is not RunStatus.SUCCEEDED:
        parts.append(html.escape(record.message))
    parts.extend(where_html(record))
    details = ""
    if record.error_details:
        details = (
            f"<pre style='max-height:12em;overflow:auto'>{html.escape(record.error_details)}</pre>"
        )
    return (
        f"<div class='pyrunner-summary'><b>{html.escape(record.name)}</b> "
        f"<code>{record.id}</code> · {' · '.join(parts)}</div>{details}"
    )


def dashboard_url(record: RunRecord) -> str | None:
    """The Dask dashboard's URL when it is one a browser may open: http or https, or a path on
    the Jupyter server (a dashboard behind its proxy, as on JupyterHub or Binder). The record is
    written by a relay, and a ``javascript:`` URL must never become a link."""
    url = record.dashboard
    if not url:
        return None
    if url.lower().startswith(("http://", "https://")) or re.match(r"/(?!/)", url):
        return url
    return None


def where_html(record: RunRecord) -> list[str]:
    """Where a run ran, for a run on a Dask cluster: its worker, a link to the dashboard."""
    parts = []
    if record.worker:
        parts.append(f"worker <code>{html.escape(record.worker)}</code>")
    url = dashboard_url(record)
    if url:
        parts.append(
            f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>Dask dashboard</a>"
        )
    return parts


def where_text(record: RunRecord) -> list[str]:
    """:func:`where_html` for a terminal."""
    parts = []
    if record.worker:
        parts.append(f"worker {record.worker}")
    if record.dashboard:
        parts.append(f"dashboard {record.dashboard}")
    return parts


def summary_text(record: RunRecord) -> str:
    bits = [f"run {record.id} ({record.name}): {record.status.value}"]
    if record.exit_code is not None:
        bits.append(f"exit code {record.exit_code}")
    bits.append(duration_text(record.duration))
    if record.message and record.status is not RunStatus.SUCCEEDED:
        bits.append(record.message)
    bits.extend(where_text(record))
    text = ", ".join(bits)
    if record.error_details:
        text += "\n" + record.error_details
    return text


def runs_html(records: list[RunRecord]) -> str:
    if not records:
        return "<p>No runs yet.</p>"
    rows = []
    for r in records:
        progress = "" if r.progress is None else f"{r.progress:.0%}"
        exit_code = "" if r.exit_code is None else str(r.exit_code)
        rows.append(
            f"<tr><td><code>{r.id}</code></td><td>{badge(r.status)}</td><td>{progress}</td>"
            f"<td>{exit_code}</td><td>{time.strftime('%Y-%m-%d %H:%M', time.localtime(r.created))}</td>"
            f"<td>{duration_text(r.duration)}</td><td>{_sweep_cell(r)}</td>"
            f"<td>{html.escape(r.name)}</td></tr>"
        )
    head = "".join(
        f"<th style='text-align:left'>{h}</th>"
        for h in ("id", "status", "progress", "exit", "created", "duration", "sweep", "name")
    )
    return f"<table class='pyrunner-runs'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _sweep_cell(record: RunRecord) -> str:
    """The sweep a run is one combination of, and that combination (``a=1 b=x``)."""
    if not record.sweep:
        return ""
    combo = " ".join(f"{k}={v}" for k, v in (record.params or {}).items())
    title = f" title='{html.escape(combo)}'" if combo else ""
    return f"<code{title}>{html.escape(record.sweep)}</code>"


def runs_text(records: list[RunRecord]) -> str:
    return runs_table(records) if records else "No runs yet."


def details_html(record: RunRecord, folder: Path) -> str:
    """One run's fields (``%pyrunner show``), those it has only: a table of name and value."""
    rows = [(name, html.escape(str(value))) for name, value in record_facts(record, folder)]
    rows = [(n, f"<code>{v}</code>" if n in ("id", "worker", "folder") else v) for n, v in rows]
    url = dashboard_url(record)
    if url:
        link = f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>{html.escape(url)}</a>"
        rows = [(n, link if n == "dashboard" else v) for n, v in rows]
    body = "".join(f"<tr><th style='text-align:left'>{n}</th><td>{v}</td></tr>" for n, v in rows)
    details = ""
    if record.error_details:
        details = f"<pre>{html.escape(record.error_details)}</pre>"
    return f"<table class='pyrunner-run'>{body}</table>{details}"


def details_text(record: RunRecord, folder: Path) -> str:
    """:func:`details_html` as ``name: value`` lines."""
    return facts_text(record, folder)


def _status_badge(status: str) -> str:
    """A badge for a status word of a sweep's row (``deleted`` is no run status)."""
    try:
        return badge(RunStatus(status))
    except ValueError:
        return f"<span class='pyrunner-badge'>{html.escape(status)}</span>"


def sweep_html(sweep_id: str, names: list[str], rows: list[dict[str, Any]], summary: str) -> str:
    """A sweep's live table (``%pyrunner sweep``): one row per combination, its parameters,
    status, progress, exit code, duration and run, under a line that counts the statuses."""
    body = []
    for row in rows:
        progress = row.get("progress")
        bar = (
            ""
            if progress is None
            else f"<progress value='{progress:.3f}' max='1' style='width:6em'></progress> "
            f"{progress:.0%}"
        )
        exit_code = "" if row.get("exit_code") is None else str(row["exit_code"])
        cells = [html.escape(str(row[n])) for n in names]
        cells += [_status_badge(row["status"]), bar, exit_code, duration_text(row["duration"])]
        cells.append(f"<code>{html.escape(row['run'])}</code>")
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th style='text-align:left'>{html.escape(h)}</th>"
        for h in [*names, "status", "progress", "exit", "duration", "run"]
    )
    return (
        f"<div class='pyrunner-sweep'><div><b>sweep</b> <code>{html.escape(sweep_id)}</code> · "
        f"{html.escape(summary)}</div><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def sweep_text(sweep_id: str, names: list[str], rows: list[dict[str, Any]], summary: str) -> str:
    """:func:`sweep_html` for a terminal."""
    from ..humanize import table

    lines = [
        [str(row[n]) for n in names]
        + [
            row["status"],
            "-" if row.get("progress") is None else f"{row['progress']:.0%}",
            "-" if row.get("exit_code") is None else str(row["exit_code"]),
            duration_text(row["duration"], compact=True),
            row["run"],
        ]
        for row in rows
    ]
    headers = [*names, "STATUS", "PROGRESS", "EXIT", "DURATION", "RUN"]
    return f"sweep {sweep_id}: {summary}\n{table(lines, headers)}"


def _preview(root: Path, item: OutputFile) -> str:
    path = root / item.path
    try:
        if item.mime_type in IMAGE_TYPES and item.size <= PREVIEW_IMAGE_BYTES:
            data = base64.b64encode(path.read_bytes()).decode()
            return (
                f"<img src='data:{item.mime_type};base64,{data}' "
                f"alt='{html.escape(shown_name(item.path))}' "
                "style='max-width:100%;max-height:400px'>"
            )
        if path.suffix.lower() in (".csv", ".tsv"):
            return _table_preview(path, "\t" if path.suffix.lower() == ".tsv" else ",")
        if path.suffix.lower() in TEXT_SUFFIXES or item.mime_type.startswith("text/"):
            with open(path, "rb") as f:
                raw = f.read(PREVIEW_TEXT_BYTES)
            text = raw.decode("utf-8", errors="replace")
            if path.suffix.lower() == ".json" and item.size <= PREVIEW_TEXT_BYTES:
                with contextlib.suppress(ValueError):
                    text = json.dumps(json.loads(text), indent=2)[:PREVIEW_TEXT_BYTES]
            more = " …" if item.size > PREVIEW_TEXT_BYTES else ""
            return f"<pre style='max-height:20em;overflow:auto'>{html.escape(text)}{more}</pre>"
    except OSError as exc:
        return f"<i>cannot read: {html.escape(str(exc))}</i>"
    return ""


def _table_preview(path: Path, delimiter: str) -> str:
    """The first rows of a table, read from its first 64 KiB only, cells and columns capped."""
    with open(path, "rb") as f:
        head = f.read(PREVIEW_TABLE_BYTES).decode("utf-8", errors="replace")
    if len(head) >= PREVIEW_TABLE_BYTES and "\n" in head:
        head = head[: head.rfind("\n") + 1]  # whole lines only
    rows: list[list[str]] = []
    try:
        for i, row in enumerate(csv.reader(io.StringIO(head), delimiter=delimiter)):
            if i > PREVIEW_TABLE_ROWS:
                break
            rows.append([cell[:PREVIEW_CELL_CHARS] for cell in row[:PREVIEW_TABLE_COLUMNS]])
    except csv.Error as exc:
        return f"<i>not shown as a table: {html.escape(str(exc))}</i>"
    if not rows:
        return "<i>empty</i>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    more = f"<i>first {PREVIEW_TABLE_ROWS} rows</i>" if len(rows) > PREVIEW_TABLE_ROWS else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _file_link(download_url: str | None, path: str, section: str) -> str:
    """A file's download link: it sits beside the zip's URL (``?section=project`` for a file
    written beside the code). A name that is not UTF-8 has none: no URL can name it (the
    file is in the zip)."""
    if not download_url:
        return ""
    if not is_utf8_name(path):
        return " · <i>in the zip only (its name is not UTF-8)</i>"
    from urllib.parse import quote

    base = download_url.split("outputs.zip", 1)[0]
    query = "section=project&download=1" if section == "project" else "download=1"
    href = f"{base}outputs/{quote(path)}?{query}"
    return f" · <a href='{html.escape(href)}' download>download</a>"


def _files_html(
    root: Path, files: list[OutputFile], download_url: str | None, section: str = "outputs"
) -> list[str]:
    """One entry per file (the first ``LISTED_FILES``), previews within the byte budget."""
    items = []
    budget = PREVIEW_TOTAL_BYTES
    for item in files[:LISTED_FILES]:
        preview = _preview(root, item) if budget > 0 else ""
        budget -= len(preview)
        head = (
            f"<code>{html.escape(shown_name(item.path))}</code> <span style='color:#757575'>"
            f"{size_text(item.size)} · {html.escape(item.mime_type)}</span>"
            f"{_file_link(download_url, item.path, section)}"
        )
        if preview:
            items.append(f"<details open><summary>{head}</summary>{preview}</details>")
        else:
            items.append(f"<div>{head}</div>")
    if len(files) > LISTED_FILES:
        items.append(f"<div><i>and {len(files) - LISTED_FILES} more files</i></div>")
    return items


def outputs_html(root: Path, files: list[OutputFile], download_url: str | None = None) -> str:
    """The outputs browser: a tree with sizes, previews of images, tables and text, a download
    link per file and one for all of them (``download_url`` is the zip's; files sit beside it)."""
    if not files:
        return "<p>No output files.</p>"
    total = size_text(sum(f.size for f in files))
    link = (
        f" · <a href='{html.escape(download_url)}' download>download all as zip</a>"
        if download_url
        else ""
    )
    return (
        f"<div class='pyrunner-outputs'><div><b>Outputs</b> ({len(files)} files, {total}) "
        f"<code>{html.escape(str(root))}</code>{link}</div>"
        f"{''.join(_files_html(root, files, download_url))}</div>"
    )


def project_files_html(root: Path, files: list[OutputFile], download_url: str | None = None) -> str:
    """The section of files the program wrote beside its code (none: nothing is shown)."""
    if not files:
        return ""
    from ..workfiles import SECTION_LABEL

    total = size_text(sum(f.size for f in files))
    return (
        f"<div class='pyrunner-project-files'><div><b>Files {html.escape(SECTION_LABEL)}</b> "
        f"({len(files)} files, {total}) <code>{html.escape(str(root))}</code></div>"
        f"{''.join(_files_html(root, files, download_url, 'project'))}</div>"
    )


def run_outputs_html(handle: RunHandle, download_url: str | None = None) -> str:
    """A run's outputs, both sections: ``OUTPUT_FOLDER``'s files, then those written beside
    the code. The zip at ``download_url`` holds both (the second under ``project/``)."""
    project_files = handle.project_files
    outputs = handle.outputs
    if not outputs and project_files:
        first = (
            f"<p>No files in OUTPUT_FOLDER <code>{html.escape(str(handle.outputs_dir))}</code>"
            + (
                f" · <a href='{html.escape(download_url)}' download>download all as zip</a>"
                if download_url
                else ""
            )
            + "</p>"
        )
    else:
        first = outputs_html(handle.outputs_dir, outputs, download_url)
    return first + project_files_html(handle.project_dir, project_files, download_url)


def outputs_text(root: Path, files: list[OutputFile]) -> str:
    if not files:
        return f"{root}\n(no output files)"
    return "\n".join([str(root), *_file_lines(files)])


def project_files_text(root: Path, files: list[OutputFile]) -> str:
    """The files written beside the code, as lines (none: an empty string)."""
    if not files:
        return ""
    from ..workfiles import SECTION_LABEL

    lines = [f"{SECTION_LABEL}: {root}"]
    return "\n".join([*lines, *_file_lines(files)])


def _file_lines(files: list[OutputFile]) -> list[str]:
    """One line per file, its name escaped (``shown_name``): a newline or an escape sequence
    in a name can neither split the line nor reach the terminal."""
    return [f"  {size_text(f.size):>9}  {shown_name(f.path)}" for f in files]


def run_outputs_text(handle: RunHandle) -> str:
    """A run's outputs as text, both sections."""
    text = outputs_text(handle.outputs_dir, handle.outputs)
    beside = project_files_text(handle.project_dir, handle.project_files)
    return f"{text}\n{beside}" if beside else text


def zip_bytes(root: Path, project_files: ProjectFiles | None = None) -> bytes:
    """All outputs as one zip archive (for a download link or a copy); with ``project_files``,
    the files written beside the code too, under ``project/``."""
    from ..outputs import iter_zip

    buffer = io.BytesIO()
    for piece in iter_zip(root, project_files=project_files):
        buffer.write(piece)
    return buffer.getvalue()


def envs_html(infos: list[Any]) -> str:
    if not infos:
        return "<p>No cached environments.</p>"
    rows = "".join(
        f"<tr><td><code>{html.escape(i.key)}</code></td><td>{size_text(i.size)}</td>"
        f"<td>{time.strftime('%Y-%m-%d %H:%M', time.localtime(i.last_used))}</td>"
        f"<td>{html.escape(', '.join(i.requirements)) or '(bare)'}</td></tr>"
        for i in infos
    )
    return (
        "<table><thead><tr><th>key</th><th>size</th><th>last used</th><th>requirements</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def envs_text(infos: list[Any]) -> str:
    lines = [
        f"{i.key}  {size_text(i.size):>9}  {', '.join(i.requirements) or '(bare)'}" for i in infos
    ]
    return "\n".join(lines) or "No cached environments."
