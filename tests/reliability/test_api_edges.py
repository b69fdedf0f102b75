"""The REST API and the log stream at their edges: odd paths, huge numbers, odd names, hard
links, big log pages. Each answer is a clean 4xx with the JSON error shape (or a correct empty
answer), never a traceback, never a server folder in its message; a zip is whole or cut off."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..server import conftest as _server
from ..server.conftest import Api

# the server fixtures (a real Jupyter server with the extension, on a store of the test's own)
api = _server.api
contents = _server.contents
jp_server_config = _server.jp_server_config
pyrunner_config = _server.pyrunner_config

MARKER = "SECRET-MARKER-5c1e"

#: a run that writes odd names and a hard link to a file of the test's own
ODD = {
    "main.py": """
        import os
        out = os.environ["OUTPUT_FOLDER"]
        open(os.path.join(out, "ok.txt"), "w").write("fine")
        open(os.path.join(out, "two\\r\\nlines.txt"), "w").write("crlf")
        with open(os.path.join(os.fsencode(out), b"bad\\xffname.txt"), "wb") as f:
            f.write(b"not utf-8")
        os.link({token!r}, os.path.join(out, "token.json"))
        print("done")
    """,
    "requirements.txt": "",
}


async def expect_error(call: Any, code: int) -> dict[str, Any]:
    """The JSON error of a refused call: ``{"message", "reason"}``, and the status asked."""
    with pytest.raises(HTTPClientError) as info:
        await call
    response = info.value.response
    assert info.value.code == code, response.body if response else None
    assert response is not None
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert set(body) == {"message", "reason"} and "Traceback" not in body["message"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A file outside every run folder with a secret in it, as the server's own token file."""
    path = tmp_path / "outside" / "jpserver-1.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"token": MARKER}))
    return path


async def ended_odd_run(api: Api, contents: Any, token_file: Path) -> dict[str, Any]:
    """A run of ``ODD``, ended (a fixture cannot await: the server's loop runs the test)."""
    contents("odd", {**ODD, "main.py": ODD["main.py"].replace("{token!r}", repr(str(token_file)))})
    run = await api.json("POST", "runs", body={"path": "odd"})
    final = await api.wait(run["id"], timeout=120)
    assert final["status"] == "succeeded", final
    return final


async def test_odd_output_paths_are_a_clean_404(api: Api, contents: Any, token_file: Path) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    outputs = ("runs", odd_run["id"], "outputs")
    for path in ("a.txt\0.png", "ok.txt\0", "a" * 5000, "d/" * 2000 + "x", "ok.txt/" + "b" * 300):
        error = await expect_error(api.call("GET", *outputs, path), 404)
        assert len(error["message"]) < 300 and "\0" not in error["message"]
    for path in ("a.txt\0.png", "a" * 5000):
        await expect_error(api.call("GET", *outputs, path, params={"section": "project"}), 404)


async def test_huge_or_negative_numbers_are_a_clean_400_or_an_empty_page(
    api: Api, contents: Any, token_file: Path
) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    for params in ({"offset": str(10**30)}, {"offset": "-1"}, {"limit": str(10**30)},
                   {"limit": "-1"}, {"limit": "0"}, {"offset": "9" * 5000}):  # fmt: skip
        await expect_error(api.call("GET", "runs", params=params), 400)
    page = await api.json("GET", "runs", params={"offset": str((1 << 63) - 1), "limit": "500"})
    assert page["runs"] == [] and page["total"] == 1

    log = ("runs", odd_run["id"], "log")
    for offset in (str(1 << 63), str(10**30), "-1", "-9223372036854775808"):
        await expect_error(api.call("GET", *log, params={"offset": offset}), 400)
    last = (1 << 63) - 1
    page = await api.json("GET", *log, params={"offset": str(last)})
    assert (page["text"], page["chunks"], page["next_offset"]) == ("", [], last)
    assert page["complete"] is True  # the run has ended: nothing will come there
    await expect_error(api.call("GET", *log, params={"max_bytes": "0"}), 400)


async def test_a_stream_from_the_largest_offset_ends_and_closes(
    api: Api, contents: Any, token_file: Path, jp_ws_fetch: Any
) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    last = (1 << 63) - 1
    ws = await jp_ws_fetch("pyrunner", "api", "runs", odd_run["id"], "stream",
                           params={"offset": str(last)})  # fmt: skip
    messages = []
    while (raw := await asyncio.wait_for(ws.read_message(), timeout=20)) is not None:
        messages.append(json.loads(raw))
    assert [m["type"] for m in messages] == ["status", "end"]
    assert messages[-1]["next_offset"] == last
    for offset in (str(1 << 63), str(10**30), "²"):
        with pytest.raises(HTTPClientError) as info:
            await jp_ws_fetch("pyrunner", "api", "runs", odd_run["id"], "stream",
                              params={"offset": offset})  # fmt: skip
        assert info.value.code == 400


async def test_odd_names_download_and_zip_whole(api: Api, contents: Any, token_file: Path) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    outputs = ("runs", odd_run["id"], "outputs")
    got = await api.call("GET", *outputs, "two\r\nlines.txt", params={"download": "1"})
    assert got.body == b"crlf"
    disposition = got.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith('attachment; filename="two__lines.txt"')
    assert "filename*=UTF-8''two%0D%0Alines.txt" in disposition

    zipped = await api.call("GET", "runs", odd_run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in zf.namelist() if n != "MISSING.txt"} == {
            "ok.txt": b"fine",
            "two\r\nlines.txt": b"crlf",
            "bad\ufffdname.txt": b"not utf-8",
        }


async def test_a_hard_link_to_a_file_outside_is_never_served(
    api: Api, contents: Any, token_file: Path, jp_root_dir: Path
) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    run_id = odd_run["id"]
    tree = await api.json("GET", "runs", run_id, "outputs")
    assert "token.json" not in [f["path"] for f in tree["files"]]
    assert [s["path"] for s in tree["skipped"]] == ["token.json"]
    assert "hard link" in tree["skipped"][0]["reason"]
    await expect_error(api.call("GET", "runs", run_id, "outputs", "token.json"), 404)
    zipped = await api.call("GET", "runs", run_id, "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as zf:
        assert "token.json" not in zf.namelist()
        assert not any(MARKER.encode() in zf.read(name) for name in zf.namelist())
        assert b"token.json: a hard link" in zf.read("MISSING.txt")
    copied = await api.json("POST", "runs", run_id, "copy", body={"path": "copied"})
    assert copied["skipped"] == ["token.json"] and "hard link" in copied["problem"]
    assert not (jp_root_dir / "copied" / "token.json").exists()
    assert all(MARKER not in p.read_text(errors="replace")
               for p in (jp_root_dir / "copied").rglob("*") if p.is_file())  # fmt: skip


async def test_no_refusal_shows_a_server_folder(
    api: Api, contents: Any, token_file: Path, home: Path, jp_root_dir: Path
) -> None:
    odd_run = await ended_odd_run(api, contents, token_file)
    from jupyter_pyrunner import RunStore

    outputs = RunStore(home).outputs_dir(odd_run["id"])
    moved = outputs.with_name("outputs.real")
    outputs.rename(moved)
    outputs.symlink_to(moved, target_is_directory=True)  # a program replaced its outputs
    refusals = [
        await expect_error(api.call("GET", "runs", "20200101-000000-abcdef"), 404),
        await expect_error(api.call("GET", "runs", "20200101-000000-abcdef", "log"), 404),
        await expect_error(api.call("GET", "runs", odd_run["id"], "outputs", "nope.txt"), 404),
        await expect_error(
            api.call("POST", "runs", odd_run["id"], "copy", body={"path": "c2"}), 409
        ),
        await expect_error(api.call("POST", "runs", body={"path": "no/such/project"}), 400),
    ]
    folders = {str(home), os.path.realpath(home), str(jp_root_dir), os.path.expanduser("~")}
    for error in refusals:
        assert not any(folder in error["message"] for folder in folders), error
    assert "<run store>" in refusals[0]["message"]


def test_server_folders_are_taken_out_of_messages_whole_names_only() -> None:
    from jupyter_pyrunner.server.base import without_server_paths

    folders = [("/srv/store", "<run store>"), ("/home/ann", "~"), ("/home/ann", "<contents>")]
    assert (
        without_server_paths("no run 'x' in /srv/store.", folders) == "no run 'x' in <run store>."
    )
    assert (
        without_server_paths("'/srv/store/runs/x' is gone", folders)
        == "'<run store>/runs/x' is gone"
    )
    assert (
        without_server_paths("/srv/store.bak and /srv/stores", folders)
        == "/srv/store.bak and /srv/stores"
    )
    assert without_server_paths("(/home/ann/notes)", folders) == "(~/notes)"


# -- a big log page: the text sent once, memory bounded -------------------------------------------
TOKEN = "edges-token"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class _Server:
    """``jupyter server`` as a process of its own, as a client meets it: its memory is its own."""

    def __init__(self, work: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.root = work / "root"
        self.root.mkdir(parents=True)
        env = {**os.environ, "PYRUNNER_HOME": str(work / "home")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             f"--port={self.port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root}",
             f"--IdentityProvider.token={TOKEN}", "--ServerApp.log_level=WARN",
             "--ServerApp.jpserver_extensions=jupyter_pyrunner=True"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/api/status")
                return
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "no server"
                time.sleep(0.1)

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", body, method=method)
        request.add_header("Authorization", f"token {TOKEN}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()  # type: ignore[no-any-return]

    def get(self, path: str) -> Any:
        return json.loads(self.call("GET", path))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_ten_pages_of_a_16_mb_log_send_the_text_once_in_bounded_memory(
    tmp_path: Path, home: Path
) -> None:
    server = _Server(tmp_path)
    try:
        folder = server.root / "loud"
        folder.mkdir()
        (folder / "main.py").write_text(
            "import sys\nfor i in range(16):\n    sys.stdout.write(('%07d ' % i) * 131072)\n"
        )  # 16 MiB in 1 MiB writes
        (folder / "requirements.txt").write_text("")
        run = json.loads(server.call("POST", "/pyrunner/api/runs", b'{"path": "loud"}'))
        path = f"/pyrunner/api/runs/{run['id']}"
        while server.get(path)["status"] in ("queued", "preparing", "running"):
            time.sleep(0.1)
        assert server.get(path)["status"] == "succeeded"
        server.get(f"{path}/log?max_bytes=1024")  # warm: every module the answer needs loaded
        before = peak = _rss_kib(server.proc.pid)
        pages = []
        for _ in range(10):
            raw = server.call("GET", f"{path}/log?max_bytes={16 << 20}")
            peak = max(peak, _rss_kib(server.proc.pid))
            page = json.loads(raw)
            pages.append((len(raw), page["next_offset"], page["text"], page["chunks"]))
            del raw, page
        grown = (_rss_kib(server.proc.pid) - before) / 1024
        print(
            f"\nten 16 MiB log pages: the server grew by {grown:.0f} MB (peak +{(peak - before) / 1024:.0f} MB)"
        )
        assert grown < 64
        for size, next_offset, text, chunks in pages:
            assert next_offset <= 4 << 20  # a page is 4 MiB at most: continue from next_offset
            assert size < len(text) + 64 * 1024  # the text once, not twice
            assert text[chunks[-1]["start"] : chunks[-1]["end"]].endswith("0000003 ")
    finally:
        server.stop()
