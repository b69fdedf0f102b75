from __future__ import annotations

import threading
import time
from pathlib import Path

from jupyter_pyrunner.logfile import (
    STDERR,
    STDOUT,
    SYSTEM,
    LogWriter,
    follow,
    iter_lines,
    log_size,
    read_chunks,
    tail_offset,
)


def test_chunks_keep_order_stream_and_offsets(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"one\ntw")
        log.write(STDOUT, b"o\n")
        log.write(STDERR, b"oops\n")
        log.system("note")
    chunks, end = read_chunks(tmp_path, 0)
    assert [(c.stream, c.data) for c in chunks] == [
        ("stdout", b"one\ntwo\n"),
        ("stderr", b"oops\n"),
        ("system", b"note\n"),
    ]
    assert end == log_size(tmp_path) == len(b"one\ntwo\noops\nnote\n")
    assert [c.offset for c in chunks] == [0, 8, 13]


def test_reading_from_any_offset_replays_exactly_the_rest(tmp_path: Path) -> None:
    data = [(STDOUT, b"alpha\n"), (STDERR, b"beta\n"), (STDOUT, b"gamma\n")]
    with LogWriter(tmp_path) as log:
        for stream, chunk in data:
            log.write(stream, chunk)
    whole = b"".join(c for _, c in data)
    for offset in range(len(whole) + 1):
        chunks, end = read_chunks(tmp_path, offset)
        assert b"".join(c.data for c in chunks) == whole[offset:]
        assert end == len(whole)
    chunks, _ = read_chunks(tmp_path, 8)  # inside "beta": still attributed to stderr
    assert chunks[0].stream == "stderr"


def test_small_reads_page_through_the_log(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        for i in range(100):
            log.write(STDOUT if i % 3 else STDERR, f"line {i}\n".encode())
    offset, seen = 0, b""
    while True:
        chunks, offset = read_chunks(tmp_path, offset, max_bytes=7)
        if not chunks:
            break
        assert sum(len(c.data) for c in chunks) <= 7
        seen += b"".join(c.data for c in chunks)
    assert seen == b"".join(f"line {i}\n".encode() for i in range(100))


def test_a_split_utf8_character_waits_for_its_end(tmp_path: Path) -> None:
    text = "é".encode()
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"caf" + text[:1])
        chunks, offset = read_chunks(tmp_path, 0)
        assert b"".join(c.data for c in chunks) == b"caf" and offset == 3
        log.write(STDOUT, text[1:] + b"\n")
    chunks, offset = read_chunks(tmp_path, offset)
    assert chunks[0].text == "é\n"


def test_invalid_utf8_and_carriage_returns_are_kept(tmp_path: Path) -> None:
    raw = b"bad \xff\xfe bytes\r10%\r20%\n"
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, raw)
    chunks, _ = read_chunks(tmp_path, 0, final=True)
    assert chunks[0].data == raw
    assert "\r20%" in chunks[0].text and "\ufffd" in chunks[0].text


def test_lines_carry_the_time_and_stream_they_arrived_with(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"first\nsec", timestamp=100.0)
        log.write(STDERR, b"err\n", timestamp=101.0)
        log.write(STDOUT, b"ond\n", timestamp=102.0)
        log.write(SYSTEM, b"end\n", timestamp=103.0)
    lines = list(iter_lines(tmp_path))
    assert lines == [
        (100.0, "stdout", b"first\n"),
        (101.0, "stderr", b"err\n"),
        (100.0, "stdout", b"second\n"),
        (103.0, "system", b"end\n"),
    ]


def test_follow_replays_then_tails_a_live_writer(tmp_path: Path) -> None:
    done = threading.Event()
    log = LogWriter(tmp_path)
    log.write(STDOUT, b"before\n")

    def writer() -> None:
        for i in range(50):
            log.write(STDOUT if i % 2 else STDERR, f"{i}\n".encode())
            time.sleep(0.002)
        log.close()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    received = b"".join(c.data for c in follow(tmp_path, 0, done.is_set, poll=0.001))
    thread.join()
    assert received == b"before\n" + b"".join(f"{i}\n".encode() for i in range(50))


def test_follow_from_a_saved_offset_sees_nothing_twice(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"a\nb\n")
        log.write(STDOUT, b"c\n")
    first = next(iter(follow(tmp_path, 0, lambda: True)))
    rest = b"".join(c.data for c in follow(tmp_path, 2, lambda: True))
    assert first.data.startswith(b"a\n") and rest == b"b\nc\n"


def test_a_character_is_never_split_at_a_read_boundary(tmp_path: Path) -> None:
    text = "a" * (2**20 - 1) + "é" + "z" * 10
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, text.encode())
    offset, parts = 0, []
    while True:
        chunks, offset = read_chunks(tmp_path, offset, final=True)
        if not chunks:
            break
        parts.extend(c.text for c in chunks)
    assert "".join(parts) == text


def test_each_line_keeps_its_own_time_within_one_stream(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"one\n", timestamp=100.0)
        log.write(STDOUT, b"two\n", timestamp=160.0)
        log.write(STDOUT, b"three\n", timestamp=220.0)
    assert [ts for ts, _, _ in iter_lines(tmp_path)] == [100.0, 160.0, 220.0]


def test_a_tail_starts_at_the_first_whole_line_of_the_last_bytes(tmp_path: Path) -> None:
    assert tail_offset(tmp_path, 100) == 0  # no log yet
    with LogWriter(tmp_path) as log:
        for i in range(10):
            log.write(STDOUT, f"line {i}\n".encode())  # 7 bytes each
    assert tail_offset(tmp_path, 1000) == 0  # the whole log
    assert tail_offset(tmp_path, 14) == 56  # exactly two lines: starts at a line start
    start = tail_offset(tmp_path, 17)
    chunks, _ = read_chunks(tmp_path, start)
    assert start == 56 and "".join(c.text for c in chunks) == "line 8\nline 9\n"


def test_a_tail_inside_one_long_line_starts_on_a_character_boundary(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, "é".encode() * 100)  # 200 bytes, no line break
    start = tail_offset(tmp_path, 51)  # 149 falls inside an 'é'
    assert start == 150
    chunks, _ = read_chunks(tmp_path, start, final=True)
    assert "".join(c.text for c in chunks) == "é" * 25


def test_an_offset_past_the_end_even_the_largest_gives_nothing_and_stays(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as log:
        log.write(STDOUT, b"hello\n")
    for offset in (6, 7, 1 << 40, (1 << 63) - 1, 1 << 63, 10**30):
        assert read_chunks(tmp_path, offset, final=True) == ([], offset)


def test_a_page_of_many_small_writes_is_joined_in_linear_time(tmp_path: Path) -> None:
    expected = b"".join(b"%04d\n" % (i % 10_000) for i in range(200_000))
    with LogWriter(tmp_path) as log:
        for i in range(200_000):  # 1 MB in 200,000 writes, as a program flushing each line
            log.write(STDOUT, expected[i * 5 : i * 5 + 5])
    began = time.perf_counter()
    chunks, end = read_chunks(tmp_path, 0, max_bytes=1 << 20)
    took = time.perf_counter() - began
    assert [c.stream for c in chunks] == ["stdout"] and end == len(expected) == 1_000_000
    assert chunks[0].data == expected
    assert took < 8.0  # 0.7 s here; joined chunk by chunk (200,000 growing copies) it took 35 s
