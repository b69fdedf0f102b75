"""The environment's key reads local packages by content: whatever a path holds (a fifo, a
link loop, a link to a device, a whole tree), reading it must end, and soon.

Every call that could block forever runs in a child process with a timeout, so that a
regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_pyrunner import envspec
from jupyter_pyrunner.envspec import EnvSpec, content_digest
from jupyter_pyrunner.errors import ProjectError
from jupyter_pyrunner.interpreters import Interpreter

#: far more than a digest of a few small files takes, far less than "forever"
PROMPT = 60


def _digest_in_child(*lines: str) -> tuple[str, float]:
    """The key of an environment made of ``lines``, computed in a child process (killed after
    :data:`PROMPT` seconds), and how long it took."""
    code = (
        "import sys\n"
        "from jupyter_pyrunner.envspec import EnvSpec\n"
        "from jupyter_pyrunner.interpreters import Interpreter\n"
        "print(EnvSpec(tuple(sys.argv[1:]), Interpreter.current()).key)\n"
    )
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, *lines],
            capture_output=True,
            text=True,
            timeout=PROMPT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"computing the key of {lines} did not end within {PROMPT} s")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), time.monotonic() - started


def _package(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '1'\n")
    (root / "p.py").write_text("A = 1\n")
    return root


def test_a_fifo_in_a_local_package_is_left_out_not_opened(tmp_path: Path) -> None:
    pkg = _package(tmp_path / "pkg")
    os.mkfifo(pkg / "pipe")  # opening it for reading would wait for a writer forever
    key, seconds = _digest_in_child(str(pkg))
    assert seconds < PROMPT
    os.unlink(pkg / "pipe")
    assert key == _digest_in_child(str(pkg))[0]  # the fifo counted for nothing
    os.mkfifo(tmp_path / "alone")
    _digest_in_child(f"-c {tmp_path / 'alone'}")  # a fifo named itself: ends too


def test_links_are_hashed_as_links_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("one\n")
    pkg = _package(tmp_path / "pkg")
    os.symlink(pkg / "loop-b", pkg / "loop-a")  # a loop: a -> b -> a
    os.symlink(pkg / "loop-a", pkg / "loop-b")
    os.symlink("/dev/zero", pkg / "zeros")  # followed, it never ends
    os.symlink("/", pkg / "root")  # followed, the whole machine
    os.symlink(outside, pkg / "out")
    before, seconds = _digest_in_child(str(pkg))
    assert seconds < PROMPT
    outside.write_text("two\n")  # what a link points to outside the package is not read
    assert _digest_in_child(str(pkg))[0] == before
    os.unlink(pkg / "out")
    os.symlink(tmp_path / "elsewhere.txt", pkg / "out")  # where it points counts
    assert _digest_in_child(str(pkg))[0] != before


def test_two_copies_share_a_key_and_an_edit_changes_it(tmp_path: Path) -> None:
    first, second = _package(tmp_path / "a" / "pkg"), _package(tmp_path / "b" / "pkg")
    (first / "__pycache__").mkdir()
    (first / "__pycache__" / "p.cpython-311.pyc").write_bytes(b"cache")
    assert content_digest(first) == content_digest(second)
    (second / "p.py").write_text("A = 2\n")
    assert content_digest(first) != content_digest(second)


def test_a_tree_past_the_entry_cap_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _package(tmp_path / "pkg")
    for i in range(30):
        (pkg / f"m{i}.py").write_text("")
    monkeypatch.setattr(envspec, "DIGEST_MAX_ENTRIES", 20)
    with pytest.raises(ProjectError, match="holds more than 20 files and folders"):
        content_digest(pkg)
    with pytest.raises(ProjectError, match="name the package's own folder"):
        EnvSpec((str(pkg),), Interpreter.current()).key  # noqa: B018 (the key is computed)


def test_past_the_byte_cap_files_count_by_size_and_time_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _package(tmp_path / "pkg")
    data = pkg / "model.bin"
    data.write_bytes(b"a" * 4096)
    monkeypatch.setattr(envspec, "DIGEST_MAX_BYTES", 1024)
    before = content_digest(pkg)
    stat = data.stat()
    data.write_bytes(b"b" * 4096)  # same size, same time: not read, so not seen
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert content_digest(pkg) == before
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: seen
    assert content_digest(pkg) != before
    monkeypatch.setattr(envspec, "DIGEST_MAX_BYTES", 1 << 20)  # under the cap: by bytes
    assert content_digest(pkg) != before


_RUN = """
import sys, time
from jupyter_pyrunner import run_project
from jupyter_pyrunner.errors import ProjectError
try:
    handle = run_project(sys.argv[1])
except ProjectError as exc:
    print("REFUSED", exc)
else:
    print("ENDED", handle.status.value, handle.record.message)
"""


@pytest.mark.parametrize("line", ["{fifodir}", "-e {fifodir}", "-e ../../.."])
def test_a_run_naming_a_path_out_of_the_project_ends_at_once_with_a_clear_error(
    home: Path, tmp_path: Path, line: str
) -> None:
    """A real run (the store of ``home``, in a child process with a timeout): a requirements
    file naming a folder out of the project that holds a fifo, or the store's own ``runs``
    folder seen from the run's copy of the project, is refused before anything is read."""
    fifodir = tmp_path / "attack" / "fifodir"
    fifodir.mkdir(parents=True)
    os.mkfifo(fifodir / "pipe")
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("print('never')\n")
    (project / "requirements.txt").write_text(line.format(fifodir=fifodir) + "\n")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(project)],
            capture_output=True,
            text=True,
            timeout=PROMPT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not end within {PROMPT} s")
    assert done.stdout.startswith("REFUSED 'requirements.txt', line 1: "), done
    assert "leads outside the project folder" in done.stdout
    assert time.monotonic() - started < PROMPT
