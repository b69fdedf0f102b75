"""Attacks on the faster start and capture: the command's own output through a reader's
non-blocking pipe, pip's settings cache damaged by hand. Real ``pyrunner`` processes, real
runs and real pip.conf files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_pyrunner.pipconfig import pip_settings

from ..server import conftest as _server
from ..server.conftest import Api
from .test_api_edges import expect_error

# the server fixtures (a real Jupyter server with the extension, on a store of the test's own)
api = _server.api
contents = _server.contents
jp_server_config = _server.jp_server_config
pyrunner_config = _server.pyrunner_config

LINES = 40_000  # 2.6 MB of log: forty times what a pipe holds
PROGRAM = f"""
for i in range({LINES}):
    print(f"line {{i:08d}} " + "x" * 50)
"""


def read_slowly_from_a_nonblocking_pipe(cmd: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``cmd`` with a stdout the reader made non-blocking (as Node does with its pipes),
    read it only after a pause and then in small sips; stderr goes to a file."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    with open(os.devnull, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=w, stderr=err, env=env)
    os.close(w)
    time.sleep(1.0)  # the pipe fills, the writer meets EAGAIN
    data = bytearray()
    with os.fdopen(r, "rb", buffering=0) as reader:
        while chunk := reader.read(16384):
            data += chunk
            time.sleep(0.0005)
    return proc.wait(timeout=120), bytes(data)


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_non_blocking_reader_gets_every_line_of_the_command(
    home: Path, project, unbuffered: str
) -> None:
    """``pyrunner run`` (the live relay) and ``pyrunner logs`` deliver every line to a reader
    whose pipe is non-blocking, and only then exit 0. Before: the relay stopped with
    "internal error: BlockingIOError"; ``logs`` exited 0 after 65,536 bytes when
    ``PYTHONUNBUFFERED`` was set, and 120 with a traceback otherwise."""
    folder = project({"main.py": PROGRAM})
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    cli = [sys.executable, "-m", "jupyter_pyrunner.cli"]
    code, out = read_slowly_from_a_nonblocking_pipe([*cli, "run", str(folder), "--no-infer"], env)
    assert code == 0
    assert out.count(b"\n") == LINES and out.endswith(f"line {LINES - 1:08d} {'x' * 50}\n".encode())
    code, out = read_slowly_from_a_nonblocking_pipe([*cli, "logs", "last"], env)
    assert code == 0
    assert out.count(b"\n") == LINES


def test_the_readers_pipe_is_left_non_blocking_as_it_was(home: Path) -> None:
    """The command makes its output blocking only while it runs: the reader's side of a
    shared descriptor gets back the mode it chose."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_pyrunner.cli", "runs"], stdout=w, timeout=60
    )
    assert done.returncode == 0
    assert os.get_blocking(w) is False
    os.close(r)
    os.close(w)


DAMAGED = [
    '{"%s": 5}',
    '{"%s": {"stat": SIG, "sections": ["global"]}}',
    '{"%s": {"stat": SIG, "sections": {"global": 5}}}',
    '{"%s": {"stat": SIG, "sections": {"elsewhere": {"index-url": "http://x/"}}}}',
    '{"%s": {"stat": SIG, "sections": {"global": {"index-url": 7}}}}',
    '{"%s": {"stat": SIG}}',
    "[1, 2]",
    "not json",
    "\x00\xff",
]


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_pip_settings_cache_is_read_again_not_trusted(
    tmp_path: Path, damage: str
) -> None:
    """Every run reads pip's settings through a cache file in the store; one damaged by a
    crash, a disk or a hand (right signature, wrong shape) is parsed from the pip.conf files
    again. Before: AttributeError, KeyError or TypeError, a run ending with a traceback (6 of
    these 9)."""
    home = tmp_path / "home"
    conf = home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[global]\nindex-url = http://mirror.example/simple\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    st = conf.stat()
    signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
    cache = tmp_path / "pip-config.json"
    text = damage.replace("SIG", json.dumps(signature))
    cache.write_bytes((text % str(conf) if "%s" in text else text).encode("latin-1"))
    found = pip_settings(env, str(tmp_path / "prefix"), cache=cache)
    assert found["index-url"] == "http://mirror.example/simple"
    assert found == pip_settings(env, str(tmp_path / "prefix"))  # as without a cache
    again = pip_settings(env, str(tmp_path / "prefix"), cache=cache)  # the cache, repaired
    assert again == found


async def test_copying_outputs_to_a_name_too_long_is_a_clean_400(
    api: Api, contents: Any, jp_root_dir: Path
) -> None:
    """``POST /runs/{id}/copy`` with a folder name no file system takes. Before: 500 and a
    traceback in the server's log (``OSError: [Errno 36] File name too long``)."""
    contents("short", {"main.py": "print('hi')\n", "requirements.txt": ""})
    run = await api.json("POST", "runs", body={"path": "short"})
    assert (await api.wait(run["id"], timeout=120))["status"] == "succeeded"
    for path in ("x" * 5000, "a/" + "y" * 300, "z" * 256 + "/inner"):
        error = await expect_error(
            api.call("POST", "runs", run["id"], "copy", body={"path": path}), 400
        )
        assert "too long" in error["message"] and len(error["message"]) < 200
    copied = await api.json("POST", "runs", run["id"], "copy", body={"path": "fine"})
    assert copied["path"] == "fine" and (jp_root_dir / "fine").is_dir()
