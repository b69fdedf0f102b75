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


BLOCKS = "█" * 4 + "▌" + " " * 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # tqdm, as it writes to a pipe: the bar after a carriage return, n/N when whole numbers
        (f"\rsim:  45%|{BLOCKS}| 45/100 [00:01<00:01, 40.1it/s]\r", 0.45),
        (f"\r  0%|{' ' * 10}| 0/5 [00:00<?, ?it/s]\r", 0.0),
        ("\r 33%|###3      | 1/3 [00:00<00:00, 279620.27it/s]\n", 1 / 3),  # ascii=True
        (f"\r 75%|{BLOCKS}| 1.50k/2.00k [00:00<00:00, 12.3Mit/s]\r", 0.75),  # unit_scale
        (f"\r100%|{'█' * 10}| 5/5 [00:00<00:00, 98.05it/s]\n", 1.0),
        # alive-progress and rich, as they end when not on a terminal
        (f"|{'█' * 40}| 5/5 [100%] in 0.1s (99.02/s) \n", 1.0),
        (f"|{BLOCKS}| 9/20 [45%] in 1s\n", 0.45),
        (f"work {'━' * 18}╺{'━' * 21}  45% 0:00:01\n", 0.45),
        (f"x {'━' * 40} 4/16\n", 0.25),
    ],
)
def test_progress_bars_count_like_progress_lines(text: str, expected: float) -> None:
    assert last_progress(text.encode()) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "\r3it [00:00, 98536.00it/s]\n",  # tqdm without a total: no fraction to show
        "| name | 50% | 1/2 |\n",  # a table is not a bar
        "|   | 1/2 |\n",
        "a|b|c 3/4\n",
        f"\r 45%|{BLOCKS}| 45/100",  # unfinished: the next update or the end completes it
    ],
)
def test_other_text_with_bars_and_pipes_is_not_progress(text: str) -> None:
    assert last_progress(text.encode()) is None


def test_the_last_of_bars_and_lines_wins() -> None:
    bar = f"\r 45%|{BLOCKS}| 45/100 [00:01<00:01]".encode()
    assert last_progress(b"[PROGRESS] 1/10\n" + bar + b"\n") == pytest.approx(0.45)
    assert last_progress(bar + b"\n[PROGRESS] 1/10\n") == pytest.approx(0.1)


def test_a_bar_split_across_chunks_is_read_when_the_next_update_comes() -> None:
    scanner = ProgressScanner()
    first = f"\rsim:  45%|{BLOCKS}| 45/100 [00:01<00:01, 40.1it/s]".encode()
    second = f"\rsim:  46%|{BLOCKS}| 46/100 [00:01<00:01, 40.1it/s]".encode()
    assert scanner.feed(first[:20]) is None
    assert scanner.feed(first[20:]) is None
    assert scanner.feed(second) == pytest.approx(0.45)
    assert scanner.flush() == pytest.approx(0.46)
