"""Sizes and durations for people, shared by every face."""

from __future__ import annotations


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
