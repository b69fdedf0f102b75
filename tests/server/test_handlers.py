"""The REST API against a real server, real uploads and real runs."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_pyrunner import RunStore

PLOT = {
    "main.py": """
        import os, pathlib
        out = pathlib.Path(os.environ["OUTPUT_FOLDER"])
        (out / "table.csv").write_text("a,b\\n1,2\\n")
        (out / "output_1" / "note.txt").write_text("port one")
        (out / "pixel.png").write_bytes(bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5c1e4"
            "4a0000000049454e44ae426082"))
        print("wrote outputs")
    """,
    "requirements.txt": "",
}


async def expect_error(call: Any, code: int) -> dict[str, Any]:
    with pytest.raises(HTTPClientError) as info:
        await call
    assert info.value.code == code, info.value.response.body if info.value.response else None
    assert info.value.response is not None
    return json.loads(info.value.response.body)  # type: ignore[no-any-return]


async def test_upload_run_log_and_outputs(api, zipped) -> None:
    archive = zipped(PLOT, name="plot")
    upload = await api.upload(archive)
    assert upload["size"] == archive.stat().st_size and len(upload["sha256"]) == 64
    created = await api.call("POST", "runs", body={"upload_id": upload["upload_id"]})
    assert created.code == 201
    run = json.loads(created.body)
    assert created.headers["Location"].endswith(f"/pyrunner/api/runs/{run['id']}")
    assert run["entry"] == "plot/main.py" and run["source_sha256"] == upload["sha256"]
    final = await api.wait(run["id"])
    assert final["status"] == "succeeded" and final["exit_code"] == 0

    log = await api.json("GET", "runs", run["id"], "log", params={"offset": 0})
    assert "wrote outputs\n" in log["text"]
    again = await api.json("GET", "runs", run["id"], "log", params={"offset": log["next_offset"]})
    assert again["text"] == "" and again["complete"] is True

    tree = await api.json("GET", "runs", run["id"], "outputs")
    assert {f["path"]: f["mime_type"] for f in tree["files"]} == {
        "table.csv": "text/csv",
        "pixel.png": "image/png",
        "output_1/note.txt": "text/plain",
    }
    png = await api.call("GET", "runs", run["id"], "outputs", "pixel.png")
    assert png.headers["Content-Type"] == "image/png" and png.body.startswith(b"\x89PNG")
    assert png.headers["Content-Disposition"].startswith("inline")
    nested = await api.call(
        "GET", "runs", run["id"], "outputs", "output_1/note.txt", params={"download": "1"}
    )
    assert nested.body == b"port one"
    assert nested.headers["Content-Disposition"].startswith('attachment; filename="note.txt"')

    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    assert bundle.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        assert sorted(zf.namelist()) == ["output_1/note.txt", "pixel.png", "table.csv"]
        assert zf.read("table.csv") == b"a,b\n1,2\n"


async def test_a_contents_folder_runs_and_outputs_are_copied_into_the_workspace(
    api, contents, jp_root_dir: Path
) -> None:
    contents("tool", PLOT)
    run = await api.json("POST", "runs", body={"path": "tool", "output_path": "results/first"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    assert (jp_root_dir / "results" / "first" / "table.csv").read_text() == "a,b\n1,2\n"


async def test_outputs_are_copied_into_a_new_contents_folder_never_over_user_files(
    api, contents, jp_root_dir: Path
) -> None:
    contents("tool", PLOT)
    run = await api.json("POST", "runs", body={"path": "tool"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    tree = await api.json("GET", "runs", run["id"], "outputs")

    copied = await api.call("POST", "runs", run["id"], "copy", body={"path": "results/plot"})
    assert copied.code == 201
    assert json.loads(copied.body) == {
        "path": "results/plot", "files": 3, "size": tree["total_size"],
        "skipped": [], "problem": None,
    }  # fmt: skip
    folder = jp_root_dir / "results" / "plot"
    assert (folder / "table.csv").read_text() == "a,b\n1,2\n"
    assert (folder / "output_1" / "note.txt").read_text() == "port one"
    assert (folder / "pixel.png").read_bytes().startswith(b"\x89PNG")

    # the folder is taken now: the next copies go beside it, the first copy is left as it is
    (folder / "table.csv").write_text("edited by the user")
    again = await api.json("POST", "runs", run["id"], "copy", body={"path": "results/plot"})
    assert again["path"] == "results/plot (2)" and again["files"] == 3
    assert (folder / "table.csv").read_text() == "edited by the user"
    assert (jp_root_dir / "results" / "plot (2)" / "table.csv").read_text() == "a,b\n1,2\n"
    third = await api.json("POST", "runs", run["id"], "copy", body={"path": "/results/plot/"})
    assert third["path"] == "results/plot (3)"

    (jp_root_dir / "empty").mkdir()  # an empty folder is used as it is
    empty = await api.json("POST", "runs", run["id"], "copy", body={"path": "empty"})
    assert empty["path"] == "empty"
    (jp_root_dir / "report").write_text("a file, not a folder")
    beside = await api.json("POST", "runs", run["id"], "copy", body={"path": "report"})
    assert beside["path"] == "report (2)"
    assert (jp_root_dir / "report").read_text() == "a file, not a folder"

    for path in ("../outside", "results/../../x"):
        error = await expect_error(
            api.json("POST", "runs", run["id"], "copy", body={"path": path}), 403
        )
        assert "outside the server's root folder" in error["message"]
    assert not (jp_root_dir.parent / "outside").exists()
    for body, words in (({}, "'path'"), ({"path": "x", "to": "y"}, "unknown field"),
                        ({"path": "/"}, "not the root itself")):  # fmt: skip
        error = await expect_error(api.json("POST", "runs", run["id"], "copy", body=body), 400)
        assert words in error["message"], (body, error)
    for missing in ("20260101-000000-abcdef", "not-an-id"):
        await expect_error(api.json("POST", "runs", missing, "copy", body={"path": "x"}), 404)
    assert not (jp_root_dir / "x").exists()


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_live_runs_cannot_be_copied_and_their_log_is_what_it_is_so_far(
    api, contents, home: Path, jp_root_dir: Path
) -> None:
    contents("slow", {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)",
                      "requirements.txt": ""})  # fmt: skip
    running = await api.json("POST", "runs", body={"path": "slow"})
    queued = await api.json("POST", "runs", body={"path": "slow"})
    assert queued["status"] == "queued"
    for run in (running, queued):
        error = await expect_error(
            api.json("POST", "runs", run["id"], "copy", body={"path": "early"}), 409
        )
        assert "copy it once it has ended" in error["message"]
    assert not (jp_root_dir / "early").exists()
    # a queued run has written nothing: its log is an empty text file, even with no file yet
    for _ in range(2):
        log = await api.call("GET", "runs", queued["id"], "log.txt")
        assert log.code == 200 and log.body == b""
        assert log.headers["Content-Type"] == "text/plain; charset=utf-8"
        (home / "runs" / queued["id"] / "log.txt").unlink(missing_ok=True)
    for run in (queued, running):
        await api.call("POST", "runs", run["id"], "cancel")
        await api.wait(run["id"])
    copied = await api.json("POST", "runs", running["id"], "copy", body={"path": "early"})
    assert copied["path"] == "early"  # once ended, a cancelled run's outputs can be copied


async def test_the_whole_log_downloads_as_a_text_file(api, contents) -> None:
    contents(
        "chatty",
        {
            "main.py": """
        import sys
        print("héllo wörld ✓", flush=True)
        print("oops", file=sys.stderr, flush=True)
        print("x" * 3_000_000, flush=True)
        print("the end")
    """,
            "requirements.txt": "",
        },
    )
    run = await api.json("POST", "runs", body={"path": "chatty"})
    final = await api.wait(run["id"])
    assert final["status"] == "succeeded"
    log = await api.call("GET", "runs", run["id"], "log.txt")
    assert log.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert log.headers["Content-Disposition"].startswith(
        f'attachment; filename="{final["name"]}-log.txt"'
    )
    assert final["name"] == "chatty"
    page = await api.json("GET", "runs", run["id"], "log", params={"max_bytes": 16 << 20})
    assert log.body.decode() == page["text"]  # the whole log, engine messages included
    printed = "".join(
        page["text"][c["start"] : c["end"]] for c in page["chunks"] if c["stream"] == "stdout"
    )
    assert printed == "héllo wörld ✓\n" + "x" * 3_000_000 + "\nthe end\n"
    await expect_error(api.call("GET", "runs", "20260101-000000-abcdef", "log.txt"), 404)


async def test_paths_outside_the_contents_root_are_forbidden(api, contents) -> None:
    contents("tool", PLOT)
    for body in ({"path": "../outside"}, {"path": "tool/../../x"}, {"path": "tool", "output_path": "../x"},
                 {"path": "tool", "inputs": ["../../etc/passwd"]}):  # fmt: skip
        error = await expect_error(api.json("POST", "runs", body=body), 403)
        assert "outside the server's root folder" in error["message"]
    # as in Jupyter's contents API, a leading slash means the root folder itself
    error = await expect_error(api.json("POST", "runs", body={"path": "/etc"}), 400)
    assert "does not exist" in error["message"]


async def test_requirements_given_in_the_body_replace_the_projects_own(api, contents) -> None:
    contents(
        "needs",
        {
            "main.py": "import six\nprint(six.__name__)",
            "requirements.txt": "nothing-of-the-sort==0\n",
        },
    )
    run = await api.json("POST", "runs", body={"path": "needs", "requirements": ["six"]})
    record = await api.wait(run["id"])
    assert record["status"] == "succeeded", record
    assert record["requirements"] == ["six"] and record["requirements_source"] == "given"
    assert record["spec"]["requirements"] == ["six"]


async def test_an_invalid_project_is_a_400_with_the_intake_message_and_leaves_nothing(
    api, contents, home: Path
) -> None:
    contents("two", {"a.py": "print(1)", "b.py": "print(2)"})
    error = await expect_error(api.json("POST", "runs", body={"path": "two"}), 400)
    assert "main.py" in error["message"] and "--entry" in error["message"]
    assert RunStore(home).count() == 0
    assert [p for p in (home / "runs").iterdir()] == []
    for body, words in (
        ({}, "exactly one of"),
        ({"path": "two", "upload_id": "f" * 32}, "exactly one of"),
        (
            {"path": "two", "timeout": -1},
            "the time limit (timeout) must be more than 0 seconds, not -1",
        ),
        ({"path": "two", "memory_mb": 10**30}, "the memory limit (memory_mb) must be at most"),
        ({"path": "two", "memory_mb": 1.5}, "must be a whole number of MB"),
        ({"path": "two", "args": "x"}, "must be a list, each item a string"),
        ({"path": "two", "args": ["a\0b"]}, "cannot contain a NUL character"),
        ({"path": "two", "args": ["x" * 100_000] * 40}, "pass big values in an input file"),
        ({"path": "two", "infer_requirements": "no"}, "must be true or false"),
        ({"path": "two", "bogus": 1}, "unknown field"),
        ({"path": "two", "cpus": -2}, "the CPUs of the run (cpus) must be more than 0"),
        ({"path": "two", "resources": {"GPU": None}}, "the resource GPU must be a number"),
        ({"path": "two", "requirements": ["-r /etc/passwd"]}, "an option or a local path"),
        ({"path": "missing"}, "does not exist"),
    ):
        error = await expect_error(api.json("POST", "runs", body=body), 400)
        assert words in error["message"], (body, error)
    error = await expect_error(api.json("POST", "runs", body={"upload_id": "0" * 32}), 404)
    assert "no upload" in error["message"]
    bad_json = await expect_error(api.call("POST", "runs", body=b"{nope"), 400)
    assert "not valid JSON" in bad_json["message"]


async def test_runs_are_listed_newest_first_with_pages(api, contents) -> None:
    contents("quick", {"main.py": "print('hi')", "requirements.txt": ""})
    ids = []
    for _ in range(3):
        run = await api.json("POST", "runs", body={"path": "quick"})
        ids.append(run["id"])
        await api.wait(run["id"])
    page = await api.json("GET", "runs", params={"limit": 2})
    assert [r["id"] for r in page["runs"]] == ids[::-1][:2] and page["total"] == 3
    rest = await api.json("GET", "runs", params={"limit": 2, "offset": 2})
    assert [r["id"] for r in rest["runs"]] == ids[:1]
    await expect_error(api.json("GET", "runs", params={"limit": 0}), 400)


async def test_cancel_and_delete(api, contents) -> None:
    contents(
        "slow",
        {"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)", "requirements.txt": ""},
    )
    run = await api.json("POST", "runs", body={"path": "slow"})
    await expect_error(api.json("DELETE", "runs", run["id"]), 409)
    cancelled = await api.call("POST", "runs", run["id"], "cancel")
    assert cancelled.code == 202
    assert (await api.wait(run["id"]))["status"] == "cancelled"
    await expect_error(api.json("POST", "runs", run["id"], "cancel"), 409)
    deleted = await api.call("DELETE", "runs", run["id"])
    assert deleted.code == 204
    await expect_error(api.json("GET", "runs", run["id"]), 404)
    await expect_error(api.json("GET", "runs", "not-an-id"), 404)


async def test_output_paths_cannot_escape_the_output_folder(
    api, contents, home: Path, jp_root_dir: Path
) -> None:
    contents(
        "links",
        {
            "main.py": """
        import os
        out = os.environ["OUTPUT_FOLDER"]
        os.symlink("/etc/passwd", os.path.join(out, "passwd"))
        os.symlink("..", os.path.join(out, "up"))
        open(os.path.join(out, "ok.txt"), "w").write("fine")
    """,
            "requirements.txt": "",
        },
    )
    run = await api.json("POST", "runs", body={"path": "links"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    tree = await api.json("GET", "runs", run["id"], "outputs")
    assert [f["path"] for f in tree["files"]] == ["ok.txt"]
    for path in ("passwd", "up/run.json", "../run.json", "%2e%2e/run.json", "output_1"):
        await expect_error(api.call("GET", "runs", run["id"], "outputs", path), 404)
    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        assert zf.namelist() == ["ok.txt"]
    copied = await api.json("POST", "runs", run["id"], "copy", body={"path": "copied"})
    assert (copied["files"], copied["size"]) == (1, 4)  # the links are not copied, nor followed
    folder = jp_root_dir / "copied"
    inside = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert [p for p in inside if not p.startswith("output_")] == ["ok.txt"]


@pytest.mark.parametrize("pyrunner_config", [{"max_upload_size": 1000}])
async def test_uploads_over_the_limit_are_refused_and_removed(api, home: Path) -> None:
    error = await expect_error(api.call("PUT", "uploads", "big.zip", body=b"x" * 5000), 413)
    assert "larger than the limit" in error["message"]
    small = await api.call("PUT", "uploads", "small.zip", body=b"x" * 10)
    assert small.code == 201

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        async def producer(write):
            for _ in range(20):
                await write(b"y" * 500)

        return producer

    with pytest.raises(HTTPClientError) as info:
        await api.fetch("pyrunner", "api", "uploads", "streamed.zip", method="PUT",
                        body_producer=chunks())  # fmt: skip
    assert info.value.code == 413
    leftovers = sorted(p.name for p in (home / "uploads").iterdir())
    assert len(leftovers) == 1  # only the small upload remains
    assert not list((home / "uploads").rglob(".partial"))


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_extra_runs_wait_in_order(api, contents) -> None:
    contents(
        "nap",
        {
            "main.py": "import time, sys\ntime.sleep(0.5)\nprint(sys.argv[1])",
            "requirements.txt": "",
        },
    )
    runs = [
        await api.json("POST", "runs", body={"path": "nap", "args": [str(i)]}) for i in range(3)
    ]
    statuses = [(await api.json("GET", "runs", r["id"]))["status"] for r in runs]
    assert statuses[1:] == ["queued", "queued"]
    assert (await api.json("GET", "runs", runs[2]["id"]))["queue_position"] == 2
    finals = [await api.wait(r["id"]) for r in runs]
    assert [f["status"] for f in finals] == ["succeeded"] * 3
    starts = [f["started"] for f in finals]
    ends = [f["finished"] for f in finals]
    assert starts == sorted(starts)
    assert starts[1] >= ends[0] - 0.05 and starts[2] >= ends[1] - 0.05  # one at a time


async def test_a_queued_run_can_be_cancelled_before_it_starts(api, contents, jp_serverapp) -> None:
    manager = jp_serverapp.web_app.settings["pyrunner_manager"]
    manager.queue.max_concurrent = 1
    contents("slow", {"main.py": "import time\ntime.sleep(30)", "requirements.txt": ""})
    first = await api.json("POST", "runs", body={"path": "slow"})
    second = await api.json("POST", "runs", body={"path": "slow"})
    assert second["status"] == "queued"
    await api.call("POST", "runs", second["id"], "cancel")
    assert (await api.wait(second["id"], timeout=5))["status"] == "cancelled"
    await api.call("POST", "runs", first["id"], "cancel")
    assert (await api.wait(first["id"]))["status"] == "cancelled"
    assert "started" not in (await api.json("GET", "runs", second["id"]))["timings"]


async def test_the_server_token_never_reaches_the_program(
    api, contents, jp_serverapp, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = jp_serverapp.identity_provider.token
    monkeypatch.setenv("JUPYTER_TOKEN", token)
    monkeypatch.setenv("JPY_API_TOKEN", "hub-token-value")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-value")
    contents(
        "spy",
        {
            "main.py": """
        import os
        seen = []
        for pid in ("self", str(os.getppid())):
            with open(f"/proc/{pid}/environ", "rb") as f:
                seen.append(f.read())
        print(seen)
    """,
            "requirements.txt": "",
        },
    )
    run = await api.json("POST", "runs", body={"path": "spy"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    log = (await api.json("GET", "runs", run["id"], "log"))["text"]
    assert "PATH=" in log  # both environments were read and printed
    assert token not in log and "hub-token-value" not in log


UNAUTHENTICATED = [
    ("GET", ("runs",)),
    ("POST", ("runs",)),
    ("GET", ("runs", "20260101-000000-abcdef")),
    ("DELETE", ("runs", "20260101-000000-abcdef")),
    ("POST", ("runs", "20260101-000000-abcdef", "cancel")),
    ("POST", ("runs", "20260101-000000-abcdef", "copy")),
    ("GET", ("runs", "20260101-000000-abcdef", "log")),
    ("GET", ("runs", "20260101-000000-abcdef", "log.txt")),
    ("GET", ("runs", "20260101-000000-abcdef", "outputs")),
    ("GET", ("runs", "20260101-000000-abcdef", "outputs", "a.txt")),
    ("GET", ("runs", "20260101-000000-abcdef", "outputs.zip")),
    ("PUT", ("uploads", "x.zip")),
]


@pytest.mark.parametrize(("method", "parts"), UNAUTHENTICATED)
async def test_every_route_needs_a_token(
    api, method: str, parts: tuple[str, ...], home: Path
) -> None:
    body = b"data" if method in ("POST", "PUT") else None
    with pytest.raises(HTTPClientError) as info:
        await api.fetch("pyrunner", "api", *parts, method=method, body=body,
                        headers={"Authorization": ""})  # fmt: skip
    assert info.value.code in (401, 403)
    assert not (home / "uploads").exists() or not any((home / "uploads").iterdir())


async def _browser_cookies(api, token: str) -> str:
    """Log in as a browser does (a form with the token), returning the session cookies."""
    jar: dict[str, str] = {}

    def keep(response: Any) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            jar[name.strip()] = value.strip()

    keep(await api.fetch("login", headers={"Authorization": ""}))
    form = f"_xsrf={jar['_xsrf']}&password={token}".encode()
    done = await api.fetch("login", method="POST", body=form, follow_redirects=False, raise_error=False,
                           headers={"Authorization": "", "Cookie": f"_xsrf={jar['_xsrf']}"})  # fmt: skip
    assert done.code == 302, done.code
    keep(done)
    assert any(name.startswith("username-") for name in jar)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def test_the_stream_needs_a_user_and_refuses_other_origins(
    jp_ws_fetch, api, contents, jp_serverapp, jp_http_port
) -> None:
    contents("quick", {"main.py": "print('hi')", "requirements.txt": ""})
    run = await api.json("POST", "runs", body={"path": "quick"})
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch(
            "pyrunner", "api", "runs", run["id"], "stream", headers={"Authorization": ""}
        )
    assert info.value.code in (401, 403)
    cookies = await _browser_cookies(api, jp_serverapp.identity_provider.token)
    # the session cookie is named after the host the browser logged in through
    browser = {"Authorization": "", "Cookie": cookies, "Host": f"127.0.0.1:{jp_http_port}"}
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream",
                          headers={**browser, "Origin": "http://evil.example"})  # fmt: skip
    assert info.value.code in (403, 404)
    same = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream",
                             headers={**browser, "Origin": f"http://127.0.0.1:{jp_http_port}"})  # fmt: skip
    first = json.loads(await same.read_message())
    assert first["type"] == "status"
    same.close()


async def test_browser_writes_need_the_xsrf_token(api, contents, jp_serverapp) -> None:
    contents("quick", {"main.py": "print('hi')", "requirements.txt": ""})
    cookies = await _browser_cookies(api, jp_serverapp.identity_provider.token)
    browser = {"Authorization": "", "Cookie": cookies}
    refused = await api.fetch("pyrunner", "api", "runs", method="POST", raise_error=False,
                              body=json.dumps({"path": "quick"}), headers=browser)  # fmt: skip
    assert refused.code == 403
    xsrf = next(part.split("=", 1)[1] for part in cookies.split("; ") if part.startswith("_xsrf="))
    accepted = await api.fetch("pyrunner", "api", "runs", method="POST", raise_error=False,
                               body=json.dumps({"path": "quick"}),
                               headers={**browser, "X-XSRFToken": xsrf})  # fmt: skip
    assert accepted.code == 201
    listed = await api.fetch("pyrunner", "api", "runs", headers=browser)  # reads need no XSRF token
    assert listed.code == 200


def _boot_and_collect_auth_warnings(make_app: Any, config: Any) -> tuple[Any, list[str]]:
    """Start a server that refuses unauthenticated access; the auth warnings it raised."""
    import warnings

    from jupyter_server.utils import JupyterServerAuthWarning

    config.ServerApp.allow_unauthenticated_access = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make_app(config=config)
    return app, [str(w.message) for w in caught if issubclass(w.category, JupyterServerAuthWarning)]


def _pyrunner_routes(app: Any) -> list[str]:
    return [rule.matcher.regex.pattern for rule in app.web_app.default_router.rules[0].target.rules
            if "pyrunner" in rule.matcher.regex.pattern]  # fmt: skip


def test_no_route_is_left_without_authentication(
    jp_configurable_serverapp, jp_server_config
) -> None:
    app, warned = _boot_and_collect_auth_warnings(jp_configurable_serverapp, jp_server_config)
    assert warned == []
    assert len(_pyrunner_routes(app)) == 14


def test_the_check_above_would_catch_an_unauthenticated_route(
    jp_configurable_serverapp, jp_server_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupyter_pyrunner.server.app as server_app
    from jupyter_pyrunner.server.base import PyRunnerHandler

    class Naked(PyRunnerHandler):
        async def get(self) -> None:
            self.finish("open to anyone")

    monkeypatch.setattr(server_app, "ROUTES", [*server_app.ROUTES, ("/pyrunner/api/naked", Naked)])
    _, warned = _boot_and_collect_auth_warnings(jp_configurable_serverapp, jp_server_config)
    assert any("Naked" in message for message in warned)


async def test_a_program_replacing_its_output_folder_by_a_link_exposes_nothing(
    api, contents, jp_root_dir: Path
) -> None:
    contents("swap", {"main.py": """
        import os, shutil
        out = os.environ["OUTPUT_FOLDER"]
        shutil.rmtree(out)
        os.symlink("/etc", out)
    """, "requirements.txt": ""})  # fmt: skip
    run = await api.json("POST", "runs", body={"path": "swap"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    tree = await api.json("GET", "runs", run["id"], "outputs")
    assert tree["files"] == []
    await expect_error(api.call("GET", "runs", run["id"], "outputs", "passwd"), 404)
    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        assert zf.namelist() == []
    error = await expect_error(
        api.json("POST", "runs", run["id"], "copy", body={"path": "got"}), 409
    )
    assert "replaced by a link" in error["message"]
    assert not (jp_root_dir / "got").exists()  # nothing copied, no folder left behind


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_the_limit_holds_when_runs_are_submitted_at_once(api, contents, home: Path) -> None:
    import asyncio

    contents("nap", {"main.py": "import time\ntime.sleep(0.4)", "requirements.txt": ""})
    await api.wait((await api.json("POST", "runs", body={"path": "nap"}))["id"])  # warm env
    runs = await asyncio.gather(*(api.json("POST", "runs", body={"path": "nap"}) for _ in range(6)))
    ids = [r["id"] for r in runs]
    store = RunStore(home)
    most = 0
    while True:
        states = [store.read(i).status.value for i in ids]
        most = max(most, sum(s in ("preparing", "running") for s in states))
        if all(s == "succeeded" for s in states):
            break
        assert all(s in ("queued", "preparing", "running", "succeeded") for s in states), states
        await asyncio.sleep(0.02)
    assert most == 1


@pytest.mark.parametrize("pyrunner_config", [{"max_concurrent_runs": 1}])
async def test_queue_positions_skip_cancelled_runs(api, contents) -> None:
    contents("slow", {"main.py": "import time\ntime.sleep(30)", "requirements.txt": ""})
    first, second, third = [await api.json("POST", "runs", body={"path": "slow"}) for _ in range(3)]
    assert (await api.json("GET", "runs", third["id"]))["queue_position"] == 2
    await api.call("POST", "runs", second["id"], "cancel")
    assert (await api.json("GET", "runs", second["id"]))["queue_position"] is None
    assert (await api.json("GET", "runs", third["id"]))["queue_position"] == 1
    for run in (third, first):
        await api.call("POST", "runs", run["id"], "cancel")
        await api.wait(run["id"])


async def test_odd_upload_names_and_values_are_handled(api, zipped) -> None:
    archive = zipped({"main.py": "print('named oddly')", "requirements.txt": ""})
    upload = await api.json("PUT", "uploads", "upload.json", body=archive.read_bytes())
    run = await api.json("POST", "runs", body={"upload_id": upload["upload_id"]})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    for raw in (b'{"upload_id": "%s", "memory_mb": NaN}', b'{"upload_id": "%s", "timeout": Infinity}',
                b'{"upload_id": "%s", "memory_mb": 0.5}'):  # fmt: skip
        body = raw.replace(b"%s", upload["upload_id"].encode())
        error = await expect_error(api.call("POST", "runs", body=body), 400)
        assert "memory_mb" in error["message"] or "timeout" in error["message"]
    error = await expect_error(api.json("POST", "runs", body={"path": "a\u0000b"}), 400)
    assert "NUL" in error["message"]


async def test_the_log_of_an_ended_run_is_complete_once_its_last_page_is_returned(
    api, contents
) -> None:
    contents("talk", {"main.py": "for i in range(200):\n    print('line', i)\n",
                      "requirements.txt": ""})  # fmt: skip
    run = await api.json("POST", "runs", body={"path": "talk"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    whole = await api.json("GET", "runs", run["id"], "log")
    assert "line 199\n" in whole["text"] and whole["complete"] is True  # nothing follows
    first = await api.json("GET", "runs", run["id"], "log", params={"max_bytes": "100"})
    assert first["next_offset"] == 100 and first["complete"] is False  # a page: more follows
    rest = await api.json("GET", "runs", run["id"], "log", params={"offset": "100"})
    assert rest["next_offset"] == whole["next_offset"] and rest["complete"] is True


BESIDE = {
    "main.py": """
        import os, pathlib
        pathlib.Path("test.png").write_bytes(bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5c1e4"
            "4a0000000049454e44ae426082"))
        os.makedirs("figures", exist_ok=True)
        pathlib.Path("figures/fig 1.pdf").write_text("%PDF-1.4")
        pathlib.Path(os.environ["OUTPUT_FOLDER"], "output_1", "port.txt").write_text("port")
    """,
    "requirements.txt": "",
}


async def test_files_written_beside_the_code_are_listed_served_zipped_and_copied(
    api, contents, jp_root_dir: Path
) -> None:
    contents("beside", BESIDE)
    run = await api.json("POST", "runs", body={"path": "beside"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"

    tree = await api.json("GET", "runs", run["id"], "outputs")
    assert [f["path"] for f in tree["files"]] == ["output_1/port.txt"]  # OUTPUT_FOLDER as ever
    assert {f["path"]: f["mime_type"] for f in tree["project_files"]} == {
        "figures/fig 1.pdf": "application/pdf",
        "test.png": "image/png",
    }
    assert tree["project_total_size"] == sum(f["size"] for f in tree["project_files"]) > 8
    assert tree["project_zip_folder"] == "project"

    png = await api.call("GET", "runs", run["id"], "outputs", "test.png",
                         params={"section": "project"})  # fmt: skip
    assert png.headers["Content-Type"] == "image/png" and png.body.startswith(b"\x89PNG")
    pdf = await api.call("GET", "runs", run["id"], "outputs", "figures/fig 1.pdf",
                         params={"section": "project", "download": "1"})  # fmt: skip
    assert pdf.body == b"%PDF-1.4" and pdf.headers["Content-Disposition"].startswith("attachment")
    for refused in ("main.py", "requirements.txt", "../../run.json"):  # the code is no output
        await expect_error(
            api.call("GET", "runs", run["id"], "outputs", refused, params={"section": "project"}),
            404,
        )
    await expect_error(api.call("GET", "runs", run["id"], "outputs", "test.png"), 404)
    await expect_error(
        api.call("GET", "runs", run["id"], "outputs", "test.png", params={"section": "x"}), 400
    )

    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        assert sorted(zf.namelist()) == [
            "output_1/port.txt",
            "project/figures/fig 1.pdf",
            "project/test.png",
        ]
        assert zf.read("project/figures/fig 1.pdf") == b"%PDF-1.4"

    copied = await api.json("POST", "runs", run["id"], "copy", body={"path": "results"})
    folder = jp_root_dir / copied["path"]
    assert copied["files"] == 3 and (folder / "project" / "test.png").is_file()
    assert (folder / "output_1" / "port.txt").is_file()


async def test_a_run_made_before_snapshots_shows_no_project_section(
    api, contents, home: Path
) -> None:
    contents("old", BESIDE)
    run = await api.json("POST", "runs", body={"path": "old"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    (RunStore(home).run_dir(run["id"]) / "project-snapshot.z").unlink()  # as runs made before
    tree = await api.json("GET", "runs", run["id"], "outputs")
    assert tree["project_files"] == [] and [f["path"] for f in tree["files"]] == [
        "output_1/port.txt"
    ]
    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        assert zf.namelist() == ["output_1/port.txt"]


ODD_NAMES = {
    "main.py": """
        import os
        def write(path, data):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, data)
            os.close(fd)
        out = os.environb[b"OUTPUT_FOLDER"]
        write(b"bad\\xffname.txt", b"beside")  # not UTF-8, beside the code
        write(b"bad\\xfename.txt", b"other")  # the same name once made readable
        write("bad\\ufffdname.txt".encode(), b"valid")  # the readable name, taken for real
        write(b"line\\nbreak\\x1b[31m.txt", b"esc")
        write(os.path.join(out, b"o\\xffut.txt"), b"out")  # not UTF-8, in OUTPUT_FOLDER
    """,
    "requirements.txt": "",
}


async def test_names_that_are_not_utf8_are_listed_zipped_and_copied_readably(
    api, contents, jp_root_dir: Path, http_server_client, jp_auth_header, jp_base_url
) -> None:
    contents("odd", ODD_NAMES)
    run = await api.json("POST", "runs", body={"path": "odd"})
    assert (await api.wait(run["id"]))["status"] == "succeeded"
    listing = await api.call("GET", "runs", run["id"], "outputs")
    assert "\\ud" not in listing.body.decode().lower()  # no lone surrogate for the browser
    tree = json.loads(listing.body)
    assert [f["path"] for f in tree["files"]] == ["o\ufffdut.txt"]
    beside = {f["path"]: f["size"] for f in tree["project_files"]}
    assert beside == {"bad\ufffdname.txt": 5, "bad\ufffdname (2).txt": 5,
                      "bad\ufffdname (3).txt": 6, "line\nbreak\x1b[31m.txt": 3}  # fmt: skip

    bundle = await api.call("GET", "runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.body)) as zf:
        zipped = {name: zf.read(name) for name in zf.namelist() if not name.endswith("/")}
    assert zipped == {
        "o\ufffdut.txt": b"out",
        "project/bad\ufffdname.txt": b"valid",  # a valid name is never changed
        "project/bad\ufffdname (2).txt": b"other",  # \xfe sorts before \xff
        "project/bad\ufffdname (3).txt": b"beside",
        "project/line\nbreak\x1b[31m.txt": b"esc",
    }

    copied = await api.json("POST", "runs", run["id"], "copy", body={"path": "odd-copy"})
    assert copied["files"] == 5
    folder = jp_root_dir / "odd-copy"
    assert (folder / "o\ufffdut.txt").read_bytes() == b"out"
    assert (folder / "project" / "bad\ufffdname (3).txt").read_bytes() == b"beside"
    listed = json.loads((await api.fetch("api", "contents", "odd-copy", "project")).body)
    assert "bad\ufffdname (3).txt" in {item["name"] for item in listed["content"]}

    # one such file cannot be named in a URL: 404, whichever way it is asked for
    base = f"{jp_base_url}pyrunner/api/runs/{run['id']}/outputs/"
    for path in ("o%FFut.txt", "o%EF%BF%BDut.txt", "bad%FFname.txt?section=project"):
        response = await http_server_client.fetch(
            base + path, headers=jp_auth_header, raise_error=False
        )
        assert response.code == 404, (path, response.code, response.body)
    served = await api.call(
        "GET", "runs", run["id"], "outputs", "bad\ufffdname.txt", params={"section": "project"}
    )
    assert served.body == b"valid"  # a valid name with U+FFFD in it is served as any other


async def test_a_runs_cpus_and_resources_are_taken_and_kept_in_its_spec(api, contents) -> None:
    contents("threads", {"main.py": "import os\nprint(os.environ['OMP_NUM_THREADS'])"})
    body = {"path": "threads", "requirements": [], "cpus": 3, "resources": {"GPU": 1}}
    run = await api.json("POST", "runs", body=body)
    ended = await api.wait(run["id"])
    assert ended["status"] == "succeeded"
    assert (ended["spec"]["cpus"], ended["spec"]["resources"]) == (3, {"GPU": 1})
    log = await api.json("GET", "runs", run["id"], "log")
    assert log["text"].endswith("3\n")
