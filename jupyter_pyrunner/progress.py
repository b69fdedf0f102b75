"""Progress from a program's output: oSparc's progress lines, and the bars of tqdm and its kin.

A line (ended by ``\\n`` or ``\\r``) that holds only a progress value updates the run's progress,
as oSparc's sidecar reads it: ``[PROGRESS] 3/10``, ``PROGRESS: 45%``, ``45%``, ``45 percent``,
``0.45`` or ``3/10`` (a bare ``0`` or ``1`` is not progress). The optional prefix is
case-insensitive.

A progress bar drawn with ``\\r`` counts too, anywhere in its line:

- tqdm: ``desc:  45%|████▌     | 45/100 [00:01<00:01, 40.1it/s]`` (``n/N`` when both are whole
  numbers, else the percentage; ``ascii=True`` bars of ``#`` too);
- alive-progress: ``|████████▌   | 45/100 [45%] in 1s``;
- rich: ``work ━━━━━━━━╺━━━━━━━━  45% 0:00:01`` or ``━━━━━━━━━━━  45/100``.

Values are returned as a fraction in ``[0, 1]``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_VALUE = (
    rb"(?:(?P<num>\d+)\s*/\s*(?P<den>\d+)"
    rb"|(?P<pct>\d+(?:\.\d+)?)\s*(?:%|percent)"
    rb"|(?P<frac>0?\.\d+|1\.0+))"
)
_LINE = rb"(?:^|(?<=[\r\n]))[ \t]*(?:\[?progress\]?:?[ \t]*)?" + _VALUE + rb"[ \t]*(?=[\r\n])"

_BLOCK = rb"\xe2\x96[\x80-\x9f]"  # U+2580..U+259F, the block elements bars are drawn with
_RICH_BAR = rb"(?:\xe2\x94\x81|\xe2\x95[\xb8\xba])"  # the heavy lines ━ ╸ ╺


def _count(name: str) -> bytes:
    """``n/N`` as a bar shows it (followed by a blank or ``[``), in groups ``NAMEnum/NAMEden``."""
    return rf"(?P<{name}num>\d+)/(?P<{name}den>\d+)(?=[ \t\r\n\[])".encode()


_TQDM = rb"(?P<tpct>\d{1,3})%%\|(?:[ #0-9]|%s)*\|[ \t]*(?:%s)?" % (_BLOCK, _count("t"))
_ALIVE = rb"\|(?:%s)+ *\|[ \t]*%s" % (_BLOCK, _count("a"))
_RICH = rb"%s+[ \t]+(?:%s|(?P<rpct>\d{1,3}(?:\.\d+)?)%%)" % (_RICH_BAR, _count("r"))
#: tqdm (the percentage, a bar between pipes, then n/N unless scaled: 1.2k/3.4k), alive-progress
#: (a bar filled from the left between pipes, then n/N), rich (heavy lines, then n/N or a %)
_BAR = b"|".join((_TQDM, _ALIVE, _RICH))
#: bytes at least one of which every bar holds (a cheap test before the search)
_BAR_MARKS = (b"|", b"\xe2\x94\x81")


def _fraction(num: bytes | None, den: bytes | None) -> float | None:
    if num is None or den is None or int(den) == 0:
        return None
    return int(num) / int(den)


def _value(match: re.Match[bytes]) -> float | None:
    if match["num"] is not None:
        return _fraction(match["num"], match["den"])
    if match["pct"] is not None:
        return float(match["pct"]) / 100.0
    return float(match["frac"])


def _bar_value(match: re.Match[bytes]) -> float | None:
    for name in ("t", "a", "r"):
        counted = _fraction(match[name + "num"], match[name + "den"])
        if counted is not None:
            return counted
    percent = match["tpct"] or match["rpct"]
    return None if percent is None else float(percent) / 100.0


def _last(
    pattern: re.Pattern[bytes],
    read: Callable[[re.Match[bytes]], float | None],
    text: bytes,
    end: int,
) -> tuple[int, float | None]:
    """(start, value) of the last match of ``pattern`` in ``text[:end]`` that gives a value."""
    found: tuple[int, float | None] = (-1, None)
    for match in pattern.finditer(text, 0, end):
        value = read(match)
        if value is not None:
            found = (match.start(), value)
    return found


@functools.cache
def _patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """The progress line and the bar, compiled when first needed: a run whose output holds
    none of their characters (see :meth:`ProgressScanner.feed`) never pays for it."""
    return re.compile(_LINE, re.IGNORECASE), re.compile(_BAR)


def last_progress(text: bytes) -> float | None:
    """The last progress value among the complete lines of ``text`` (clamped to [0, 1])."""
    line, bar = _patterns()
    at, value = _last(line, _value, text, len(text))
    complete = max(text.rfind(b"\n"), text.rfind(b"\r")) + 1  # a bar's line must be ended too
    if complete and any(mark in text for mark in _BAR_MARKS):
        bar_at, bar_value = _last(bar, _bar_value, text, complete)
        if bar_value is not None and bar_at > at:
            value = bar_value
    if value is None:
        return None
    return min(max(value, 0.0), 1.0)


class ProgressScanner:
    """Feeds on output chunks in order; remembers an unfinished line between chunks."""

    MAX_CARRY = 1024  # a progress line or bar is short; longer unfinished lines cannot be one

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
            return None  # cheap pre-filter: every progress form (bars too) holds one of these
        return last_progress(head)

    def flush(self) -> float | None:
        """Treat the unfinished last line as complete (at end of output)."""
        tail, self._carry = self._carry, b""
        return last_progress(tail + b"\n") if tail else None
