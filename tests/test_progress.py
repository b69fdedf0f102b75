from __future__ import annotations

import pytest

from jupyter_pyrunner.progress import ProgressScanner, last_progress


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"[PROGRESS] 3/10\n", 0.3),
        (b"[progress]: 7/7\r", 1.0),
        (b"PROGRESS: 45%\n", 0.45),
        (b"45%\n", 0.45),
        (b"  12.5 %  \n", 0.125),
        (b"50 percent\n", 0.5),
        (b"50 PERCENT\n", 0.5),
        (b"0.45\n", 0.45),
        (b".5\n", 0.5),
        (b"1.0\n", 1.0),
        (b"150%\n", 1.0),  # clamped
    ],
)
def test_progress_forms_read_as_osparc_does(line: bytes, expected: float) -> None:
    assert last_progress(line) == pytest.approx(expected)


@pytest.mark.parametrize(
    "line",
    [b"loss 0.45\n", b"1\n", b"0\n", b"2.5\n", b"3/0\n", b"done 45% of it\n", b"[PROGRESS] 3/10"],
)
def test_other_lines_are_not_progress(line: bytes) -> None:
    assert last_progress(line) is None


def test_last_value_wins_and_carriage_returns_end_lines() -> None:
    assert last_progress(b"10%\r20%\r30%\rwork\n") == pytest.approx(0.3)


def test_scanner_joins_lines_split_across_chunks() -> None:
    scanner = ProgressScanner()
    assert scanner.feed(b"hello\n[PROG") is None
    assert scanner.feed(b"RESS] 4/8") is None
    assert scanner.feed(b"\nmore") == pytest.approx(0.5)
    assert scanner.flush() is None


def test_scanner_flush_reads_an_unterminated_last_line() -> None:
    scanner = ProgressScanner()
    assert scanner.feed(b"x\n9/10") is None
    assert scanner.flush() == pytest.approx(0.9)


def test_scanner_reads_uppercase_percent_lines() -> None:
    assert ProgressScanner().feed(b"work\n75 PERCENT\n") == pytest.approx(0.75)
