"""The shipped OpenAPI description matches the live server, route by route and body by body."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from tornado.httpclient import HTTPClientError, HTTPResponse
from werkzeug.datastructures import Headers, ImmutableMultiDict

import jupyter_pyrunner
from jupyter_pyrunner.server.app import ROUTES

SPEC_PATH = Path(jupyter_pyrunner.__file__).parent / "api" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
#: a second, independent reading of the description: openapi-core validates the document itself
#: (as OpenAPI 3.1) and then whole responses, binary bodies included, where ``validate`` below
#: only checks JSON bodies against their schemas
OPENAPI = OpenAPI.from_dict(SPEC)
RUN_ID = "20260101-000000-abcdef"
BINARY = bytes(range(256))  # not UTF-8: what a 3.0-style `type: string` schema rejects


def validate(path: str, method: str, status: int, body: Any) -> None:
    """Check ``body`` against the documented JSON response for this route and status."""
    operation = SPEC["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": SPEC["components"]})


@dataclass
class CoreRequest:
    """A request the test client sent, as openapi-core reads one (its ``Request`` protocol,
    with the route's template given, as web frameworks give theirs)."""

    host_url: str
    path: str
    path_pattern: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class CoreResponse:
    """A response the server sent, as openapi-core reads one."""

    status_code: int
    headers: Headers
    content_type: str
    data: bytes


def core_exchange(response: HTTPResponse, template: str) -> tuple[CoreRequest, CoreResponse]:
    """The live exchange behind ``response``, for openapi-core: the server's base URL is cut
    from the path, and the path parameters are those the route's own pattern captures (an
    output's path may hold slashes, which OpenAPI path templates cannot match)."""
    url = urlsplit(response.request.url)
    path = unquote(url.path)
    api_path = path[path.index("/pyrunner/api/") :]
    match = next(m for pattern, _ in ROUTES if (m := re.fullmatch(pattern, api_path)))
    request_headers = Headers(list(response.request.headers.get_all()))
    request = CoreRequest(
        host_url=f"{url.scheme}://{url.netloc}",
        path=api_path,
        path_pattern=template,
        method=response.request.method.lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query)),
            header=request_headers,
            path=match.groupdict(),
        ),
        content_type=request_headers.get("Content-Type", "").lower(),
        body=response.request.body,
    )
    headers = Headers(list(response.headers.get_all()))
    core_response = CoreResponse(
        status_code=response.code,
        headers=headers,
        content_type=headers.get("Content-Type", "").lower(),
        data=response.body,
    )
    return request, core_response


def validate_with_openapi_core(response: HTTPResponse, template: str) -> None:
    """Check the whole response (status, content type, body of any kind) with openapi-core."""
    OPENAPI.validate_response(*core_exchange(response, template))


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
    response = await _fetch(api, method, template, status, parts, **kw)
    data = json.loads(response.body) if response.body else None
    if data is not None:
        validate(template, method, status, data)
    return data


async def _fetch(
    api, method: str, template: str, status: int, parts: tuple[str, ...], **kw: Any
) -> HTTPResponse:
    """The response, whatever its status, checked by openapi-core against ``template``."""
    try:
        response = await api.call(method, *parts, **kw)
    except HTTPClientError as exc:
        assert exc.response is not None
        response = exc.response
    assert response.code == status, (method, parts, response.code, response.body)
    validate_with_openapi_core(response, template)
    if response.code < 400:  # the error cases send bad requests on purpose
        OPENAPI.validate_request(core_exchange(response, template)[0])
    return response


@pytest.mark.parametrize("pyrunner_config", [{"max_upload_size": 100_000}])
async def test_live_responses_match_the_description(api, zipped, jp_ws_fetch) -> None:
    archive = zipped(
        {
            "main.py": "import os\nout = os.environ['OUTPUT_FOLDER']\n"
            "open(out + '/r.txt', 'w').write('1')\nos.mkdir(out + '/sub')\n"
            "open(out + '/sub/data.bin', 'wb').write(bytes(range(256)))\nprint('[PROGRESS] 1/1')",
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
    assert copied == {"path": "out", "files": 2, "size": 257, "skipped": [], "problem": None}
    await _call(api, "POST", copy, 400, (*base, "copy"), body={"to": "out"})
    await _call(api, "POST", copy, 403, (*base, "copy"), body={"path": "../out"})
    await _call(api, "POST", copy, 404, ("runs", RUN_ID, "copy"), body={"path": "out"})
    log_txt = "/pyrunner/api/runs/{run_id}/log.txt"
    log = await _fetch(api, "GET", log_txt, 200, (*base, "log.txt"))
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
    output = "/pyrunner/api/runs/{run_id}/outputs/{path}"
    text = await _fetch(api, "GET", output, 200, (*base, "outputs", "r.txt"))
    assert text.body == b"1" and text.headers["Content-Type"].startswith("text/plain")
    binary = await _fetch(api, "GET", output, 200, (*base, "outputs", "sub", "data.bin"),
                          params={"download": "1"})  # fmt: skip
    assert binary.body == BINARY
    assert binary.headers["Content-Disposition"].startswith("attachment")
    outputs_zip = "/pyrunner/api/runs/{run_id}/outputs.zip"
    zipped_outputs = await _fetch(api, "GET", outputs_zip, 200, (*base, "outputs.zip"))
    assert zipped_outputs.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped_outputs.body)) as archive_read:
        assert archive_read.read("sub/data.bin") == BINARY
    await _call(api, "POST", "/pyrunner/api/runs/{run_id}/cancel", 409, (*base, "cancel"))
    await _call(api, "DELETE", "/pyrunner/api/runs/{run_id}", 204, base)
    await _call(api, "DELETE", "/pyrunner/api/runs/{run_id}", 404, base)
    await _call(api, "GET", "/pyrunner/api/runs/{run_id}/outputs.zip", 404, (*base, "outputs.zip"))
