"""The shipped OpenAPI description matches the live server, route by route and body by body."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tornado.httpclient import HTTPClientError

import jupyter_pyrunner
from jupyter_pyrunner.server.app import ROUTES

SPEC_PATH = Path(jupyter_pyrunner.__file__).parent / "api" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
RUN_ID = "20260101-000000-abcdef"


def validate(path: str, method: str, status: int, body: Any) -> None:
    """Check ``body`` against the documented JSON response for this route and status."""
    operation = SPEC["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": SPEC["components"]})


def example_url(template: str) -> str:
    return (
        template.replace("{run_id}", RUN_ID)
        .replace("{filename}", "p.zip")
        .replace("{path}", "a/b.txt")
    )


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes = [re.compile(pattern + "$") for pattern, _ in ROUTES]
    documented = list(SPEC["paths"])
    for template in documented:
        url = example_url(template)
        matching = [r for r in routes if r.match(url)]
        assert matching, f"{template} is documented but not served"
    for pattern, handler in ROUTES:
        regex = re.compile(pattern + "$")
        assert any(regex.match(example_url(t)) for t in documented), f"{pattern} is not documented"
        methods = {m.lower() for m in handler.SUPPORTED_METHODS if m.lower() in handler.__dict__}
        template = next(t for t in documented if regex.match(example_url(t)))
        served = {m for m in methods if m in ("get", "post", "put", "delete")}
        assert served == set(SPEC["paths"][template]) - {"parameters"}, template


async def _call(
    api, method: str, template: str, status: int, parts: tuple[str, ...], **kw: Any
) -> Any:
    try:
        response = await api.call(method, *parts, **kw)
        code, body = response.code, response.body
    except HTTPClientError as exc:
        assert exc.response is not None
        code, body = exc.code, exc.response.body
    assert code == status, (method, parts, code, body)
    data = json.loads(body) if body else None
    if data is not None:
        validate(template, method, status, data)
    return data


@pytest.mark.parametrize("pyrunner_config", [{"max_upload_size": 100_000}])
async def test_live_responses_match_the_description(api, zipped, jp_ws_fetch) -> None:
    archive = zipped(
        {
            "main.py": "import os\nopen(os.environ['OUTPUT_FOLDER'] + '/r.txt', 'w').write('1')\nprint('[PROGRESS] 1/1')",
            "requirements.txt": "",
        }
    )
    upload = await _call(api, "PUT", "/pyrunner/api/uploads/{filename}", 201, ("uploads", "p.zip"),
                         body=archive.read_bytes())  # fmt: skip
    await _call(
        api,
        "PUT",
        "/pyrunner/api/uploads/{filename}",
        413,
        ("uploads", "big.zip"),
        body=b"x" * 200_000,
    )
    run = await _call(
        api, "POST", "/pyrunner/api/runs", 201, ("runs",), body={"upload_id": upload["upload_id"]}
    )
    await _call(
        api, "POST", "/pyrunner/api/runs", 400, ("runs",), body={"path": "x", "upload_id": "y"}
    )
    await _call(api, "POST", "/pyrunner/api/runs", 403, ("runs",), body={"path": "../x"})
    ws = await jp_ws_fetch("pyrunner", "api", "runs", run["id"], "stream")
    kinds = {"log": "StreamLog", "status": "StreamStatus", "end": "StreamEnd"}
    while (raw := await ws.read_message()) is not None:
        message = json.loads(raw)
        jsonschema.validate(message, {"$ref": f"#/components/schemas/{kinds[message['type']]}",
                                      "components": SPEC["components"]})  # fmt: skip
    await api.wait(run["id"])
    base = ("runs", run["id"])
    await _call(api, "GET", "/pyrunner/api/runs", 200, ("runs",))
    await _call(api, "GET", "/pyrunner/api/runs", 400, ("runs",), params={"offset": "-1"})
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}", 200, base)
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}", 404, ("runs", RUN_ID))
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}/log", 200, (*base, "log"))
    await _call(
        api, "GET", "/pyrunner/api/runs/{run_id}/log", 400, (*base, "log"), params={"offset": "x"}
    )
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}/outputs", 200, (*base, "outputs"))
    copy = "/pyrunner/api/runs/{run_id}/copy"
    copied = await _call(api, "POST", copy, 201, (*base, "copy"), body={"path": "out"})
    assert copied == {"path": "out", "files": 1, "size": 1, "skipped": [], "problem": None}
    await _call(api, "POST", copy, 400, (*base, "copy"), body={"to": "out"})
    await _call(api, "POST", copy, 403, (*base, "copy"), body={"path": "../out"})
    await _call(api, "POST", copy, 404, ("runs", RUN_ID, "copy"), body={"path": "out"})
    log_txt = "/pyrunner/api/runs/{run_id}/log.txt"
    log = await api.call("GET", *base, "log.txt")
    documented = SPEC["paths"][log_txt]["get"]["responses"]["200"]["content"]
    assert log.headers["Content-Type"].split(";")[0] in documented
    assert b"[PROGRESS] 1/1" in log.body
    await _call(api, "GET", log_txt, 404, ("runs", RUN_ID, "log.txt"))
    await _call(
        api,
        "GET",
        "/pyrunner/api/runs/{run_id}/outputs/{path}",
        404,
        (*base, "outputs", "nope.txt"),
    )
    tree = await _call(api, "GET", "/pyrunner/api/runs/{run_id}/outputs", 200, (*base, "outputs"))
    assert tree["project_files"] == [] and tree["project_zip_folder"] == "project"
    for section, status in (("project", 404), ("elsewhere", 400)):
        await _call(api, "GET", "/pyrunner/api/runs/{run_id}/outputs/{path}", status,
                    (*base, "outputs", "r.txt"), params={"section": section})  # fmt: skip
    await _call(api, "POST", "/pyrunner/api/runs/{run_id}/cancel", 409, (*base, "cancel"))
    await _call(api, "DELETE", "/pyrunner/api/runs/{run_id}", 204, base)
    await _call(api, "DELETE", "/pyrunner/api/runs/{run_id}", 404, base)
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}/outputs.zip", 404, (*base, "outputs.zip"))
