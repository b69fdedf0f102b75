"""A hostile program races the server over its own outputs: it flips ``outputs/x`` between a
regular file and a link (symbolic, or hard) to a secret outside the run, as fast as it can,
while a client downloads ``x`` and ``outputs.zip`` over and over. No answer may hold the secret.

The figures (requests, how many were served, refused, leaked) are printed: ``pytest -s``.

    .venv/bin/python -m pytest -q -p no:cacheprovider -s tests/reliability/test_output_races.py
    (with ``-m stress`` for the long form: 3,000 GET and 100 zips per kind of link)
"""

from __future__ import annotations

import asyncio
import io
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

MARKER = b"SECRET-MARKER-9d41"

#: the hostile program: ``x`` a file, then a link to the secret, until told to stop
FLIPPER = """
    import os, pathlib, time
    out = os.environ["OUTPUT_FOLDER"]
    x = os.path.join(out, "x")
    pathlib.Path(x).write_bytes(b"mine")
    deadline = time.time() + 600
    flips = 0
    while not os.path.exists({stop!r}) and time.time() < deadline:
        with open(x + ".file", "wb") as f:
            f.write(b"mine")
        os.replace(x + ".file", x)
        {link}({secret!r}, x + ".link")
        os.replace(x + ".link", x)
        flips += 1
    print("flips", flips)
"""

LINKS = {"symlink": "os.symlink", "hardlink": "os.link"}


def _zip_members(data: bytes) -> dict[str, bytes]:
    """Every member of a zip, uncompressed (a secret deflated would not show in the raw bytes)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


async def _race(api: Api, contents: Any, tmp_path: Path, kind: str, gets: int, zips: int) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(MARKER)
    stop = tmp_path / "stop"
    main = FLIPPER.format(stop=str(stop), secret=str(secret), link=LINKS[kind])
    contents("flipper", {"main.py": main, "requirements.txt": ""})
    run = await api.json("POST", "runs", body={"path": "flipper"})
    run_id = run["id"]
    try:
        for _ in range(1200):  # the program has begun flipping once x is listed
            tree = await api.json("GET", "runs", run_id, "outputs")
            if any(f["path"] == "x" for f in tree["files"]):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(
                f"the program never wrote x: {await api.json('GET', 'runs', run_id)}"
            )
        served = refused = leaked = 0
        for _ in range(gets):
            try:
                response = await api.call("GET", "runs", run_id, "outputs", "x")
            except HTTPClientError as exc:
                assert exc.code == 404, exc
                refused += 1
                continue
            leaked += MARKER in response.body
            served += response.body == b"mine"
        zipped_x = zip_leaks = 0
        for _ in range(zips):
            members = _zip_members((await api.call("GET", "runs", run_id, "outputs.zip")).body)
            zip_leaks += any(MARKER in data for data in members.values())
            zipped_x += members.get("x") == b"mine"
    finally:
        stop.touch()
    final = await api.wait(run_id, timeout=120)
    print(
        f"\n{kind}: {gets} GET outputs/x: {served} served the file, {refused} refused, "
        f"{leaked} leaked; {zips} zips: {zipped_x} held x, {zip_leaks} leaked"
    )
    assert final["status"] == "succeeded", final
    assert (leaked, zip_leaks) == (0, 0)
    assert refused and served + refused == gets  # the link was met, and never served


@pytest.mark.parametrize("kind", sorted(LINKS))
async def test_a_file_flipped_with_a_link_to_a_secret_is_never_served(
    api: Api, contents: Any, tmp_path: Path, kind: str
) -> None:
    await _race(api, contents, tmp_path, kind, gets=300, zips=10)


@pytest.mark.stress
@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", sorted(LINKS))
async def test_three_thousand_downloads_and_a_hundred_zips_during_the_flips_leak_nothing(
    api: Api, contents: Any, tmp_path: Path, kind: str
) -> None:
    await _race(api, contents, tmp_path, kind, gets=3000, zips=100)
