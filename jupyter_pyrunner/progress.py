"""Progress lines, as oSparc's sidecar reads them from a program's output.

A line (ended by ``\\n`` or ``\\r``) that holds only a progress value updates the run's progress:
``[PROGRESS] 3/10``, ``PROGRESS: 45%``, ``45%``, ``45 percent``, ``0.45`` or ``3/10`` (a bare ``0`` or ``1`` is not progress). The optional
prefix is case-insensitive. Values are returned as a fraction in ``[0, 1]``.
"""

from __future__ import annotations

import re

_VALUE = (
    rb"(?:(?P<num>\d+)\s*/\s*(?P<den>\d+)"
    rb"|(?P<pct>\d+(?:\.\d+)?)\s*(?:%|percent)"
    rb"|(?P<frac>0?\.\d+|1\.0+))"
)
PROGRESS_LINE = re.compile(
    rb"(?:^|(?<=[\r\n]))[ \t]*(?:\[?progress\]?:?[ \t]*)?" + _VALUE + rb"[ \t]*(?=[\r\n])",
    re.IGNORECASE,
)


def _value(match: re.Match[bytes]) -> float | None:
    if match["num"] is not None:
        den = int(match["den"])
        return None if den == 0 else int(match["num"]) / den
    if match["pct"] is not None:
        return float(match["pct"]) / 100.0
    return float(match["frac"])


def last_progress(text: bytes) -> float | None:
    """The last progress value among the complete lines of ``text`` (clamped to [0, 1])."""
    value: float | None = None
    for match in PROGRESS_LINE.finditer(text):
        found = _value(match)
        if found is not None:
            value = found
    if value is None:
        return None
    return min(max(value, 0.0), 1.0)


class ProgressScanner:
    """Feeds on output chunks in order; remembers an unfinished line between chunks."""

    MAX_CARRY = 256  # a progress line is short; longer unfinished lines cannot be one

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, chunk: bytes) -> float | None:
        """Return the last progress value completed by this chunk, if any."""
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if cut < 0:
            self._carry = (self._carry + chunk)[-self.MAX_CARRY :]
            return None
        head = self._carry + chunk[: cut + 1]
        self._carry = chunk[cut + 1 :][-self.MAX_CARRY :]
        if not (
            b"%" in head or b"/" in head or b"." in head or b"ercent" in head or b"ERCENT" in head
        ):
            return None  # cheap pre-filter: every progress form holds one of these
        return last_progress(head)

    def flush(self) -> float | None:
        """Treat the unfinished last line as complete (at end of output)."""
        tail, self._carry = self._carry, b""
        return last_progress(tail + b"\n") if tail else None
