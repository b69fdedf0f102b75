"""Sizes, durations and plain-text tables for people, shared by every face."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from .models import RunRecord


def size_text(size: float) -> str:
    """``2048`` → ``"2.0 KB"``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover  (the loop returns at GB)


def duration_text(seconds: float | None, compact: bool = False) -> str:
    """``75.2`` → ``"1 min 15 s"`` (``"1m15s"`` when ``compact``); None → ``"-"``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if compact else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if compact:
        return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def record_facts(record: RunRecord, folder: Path) -> list[tuple[str, Any]]:
    """A run's facts for people, in order, those it has (``pyrunner show``, ``%pyrunner
    show``): (name, value) pairs."""
    spec = record.spec
    asked = [
        f"{spec.timeout:g} s" if spec.timeout else None,
        f"{spec.memory_mb} MB" if spec.memory_mb else None,
        f"{spec.cpus:g} CPUs" if spec.cpus else None,
        *(f"{name}={amount:g}" for name, amount in (spec.resources or {}).items()),
    ]
    requirements = None
    if record.requirements_source is not None:
        named = ", ".join(record.requirements) or "none"
        requirements = f"{named} ({record.requirements_source})"
    facts: list[tuple[str, Any]] = [
        ("id", record.id),
        ("name", record.name),
        ("status", record.status.value),
        ("message", record.message),
        ("exit code", record.exit_code),
        ("progress", None if record.progress is None else f"{record.progress:.0%}"),
        ("source", spec.source),
        ("entry", record.entry),
        ("arguments", " ".join(spec.args) or None),
        ("limits", ", ".join(a for a in asked if a) or None),
        ("requirements", requirements),
        ("environment", record.env_key),
        ("sweep", record.sweep),
        ("parameters", " ".join(f"{k}={v}" for k, v in (record.params or {}).items()) or None),
        ("executor", record.executor),
        ("worker", record.worker),
        ("dashboard", record.dashboard),
        ("created", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))),
        ("duration", duration_text(record.duration) if record.duration is not None else None),
        ("timings", ", ".join(f"{k} {v:.3f}s" for k, v in record.timings.items()) or None),
        ("folder", folder),
    ]
    return [(name, value) for name, value in facts if value is not None]


def facts_text(record: RunRecord, folder: Path) -> str:
    """:func:`record_facts` as ``name: value`` lines, then the failure's details if any."""
    lines = [f"{name + ':':14}{value}" for name, value in record_facts(record, folder)]
    if record.error_details:
        lines.append(record.error_details)
    return "\n".join(lines)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def runs_table(records: list[RunRecord]) -> str:
    """The run history as the terminal shows it (``pyrunner runs``, ``%pyrunner runs``), with
    the sweep each run belongs to."""
    rows = [
        [
            r.id,
            r.status.value,
            "-" if r.progress is None else f"{r.progress:.0%}",
            "-" if r.exit_code is None else str(r.exit_code),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created)),
            duration_text(r.duration, compact=True),
            r.sweep or "-",
            r.name,
        ]
        for r in records
    ]
    headers = ["ID", "STATUS", "PROGRESS", "EXIT", "CREATED", "DURATION", "SWEEP", "NAME"]
    return table(rows, headers)
